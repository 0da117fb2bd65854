package restic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultGrace is how long a cancelled restic may take to remove its lock
// before its process group is killed.
const DefaultGrace = 30 * time.Second

// Runner runs restic. Each method starts one restic process, so one
// repository open (and, for most commands, one lock); the first call on a
// Runner also runs `restic version` once (no repository access) and caches
// the result for the version branches.
//
// restic runs in its own process group: a terminal's Ctrl-C reaches it only
// through the context, as SIGINT. A Runner may be used from several
// goroutines; do not copy it after first use.
type Runner struct {
	// Bin is the restic executable. Empty means "restic" looked up on this
	// process's PATH.
	Bin string
	// Env is restic's complete environment: repository, password (or
	// password file or command), backend credentials, RESTIC_CACHE_DIR,
	// HOME, PATH... Nothing is inherited from this process. Secrets reach
	// restic only this way (and through BackupOptions.CommandEnv), never argv.
	Env []string
	// Dir is restic's working directory: relative backup paths are resolved
	// from it. Empty means this process's.
	Dir string
	// Scrub replaces the secret values in a message by ***. Every message
	// kept in an error or passed to OnStderr goes through it. Nil keeps
	// messages as they are.
	Scrub func(string) string
	// OnStderr receives each readable line restic writes on stderr, scrubbed
	// (JSON lines rendered as text, progress lines dropped). It is called
	// from another goroutine, one line at a time.
	OnStderr func(line string)
	// Grace is how long restic may take to clean up (remove its lock) after
	// the SIGINT that a cancelled context sends, before its process group is
	// killed. Zero means DefaultGrace.
	Grace time.Duration

	// credential runs restic as another user (tests of unreadable files).
	credential *syscall.Credential

	mu      sync.Mutex
	version *Version
}

// job is one restic run.
type job struct {
	op     string
	args   []string // global flags, the command and its arguments
	env    []string // added to Runner.Env
	stdin  io.Reader
	stdout func(io.Reader) error // reads stdout; an error stops restic
	onItem func(item string)     // the item of each JSON error line on stderr
	dumper bool                  // --stdin-from-command
}

func (r *Runner) bin() string {
	if r.Bin == "" {
		return "restic"
	}
	return r.Bin
}

func (r *Runner) grace() time.Duration {
	if r.Grace <= 0 {
		return DefaultGrace
	}
	return r.Grace
}

// environ is Runner.Env plus extra, never nil: exec.Cmd inherits this
// process's environment when Env is nil.
func (r *Runner) environ(extra []string) []string {
	env := make([]string, 0, len(r.Env)+len(extra))
	env = append(env, r.Env...)
	return append(env, extra...)
}

// run runs one restic process. When ctx ends, restic gets SIGINT (so it
// removes its lock) and, if it has not exited after the grace period, its
// whole process group gets SIGKILL (so a --stdin-from-command child dies
// too). It returns nil on exit 0, the stdout reader's error if that stopped
// restic, else an *Error.
func (r *Runner) run(ctx context.Context, j job) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: j.op, ExitCode: -1, Class: ClassInterrupted, Message: "not started: " + err.Error(), err: err}
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()

	cmd := exec.CommandContext(runCtx, r.bin(), j.args...)
	cmd.Env = r.environ(j.env)
	cmd.Dir = r.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: r.credential}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	grace := r.grace()
	cmd.WaitDelay = grace // also bounds the wait for pipes held open by orphans

	log := &stderrLog{scrub: r.Scrub, onLine: r.OnStderr, onItem: j.onItem}
	errLines := &lineWriter{line: log.line}
	cmd.Stderr = errLines

	// Stdin goes through a pipe of our own: exec's copying goroutine would
	// make Wait block on a Read of the caller's reader after restic exited.
	var stdinR, stdinW *os.File
	switch in := j.stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = in
	default:
		var err error
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			return r.startError(j.op, err)
		}
		cmd.Stdin = stdinR
	}
	var outR *io.PipeReader
	var outW *io.PipeWriter
	if j.stdout != nil {
		outR, outW = io.Pipe()
		cmd.Stdout = outW
	}

	if err := cmd.Start(); err != nil {
		if stdinR != nil {
			stdinR.Close()
			stdinW.Close()
		}
		if ctx.Err() != nil {
			return &Error{Op: j.op, ExitCode: -1, Class: ClassInterrupted, Message: "not started: " + ctx.Err().Error(), err: ctx.Err()}
		}
		return r.startError(j.op, err)
	}
	var stdinErr atomic.Pointer[error]
	if stdinR != nil {
		stdinR.Close()
		go func() {
			if err := feed(stdinW, j.stdin); err != nil {
				// Closing stdin would tell restic the stream is complete,
				// and it would save what it got: stop it instead.
				stdinErr.Store(&err)
				stop()
				return
			}
			stdinW.Close()
		}()
	}
	decoded := make(chan error, 1)
	var waited, stoppedEarly atomic.Bool
	if outR != nil {
		go func() {
			err := j.stdout(outR)
			if err != nil {
				stoppedEarly.Store(!waited.Load())
				stop()
			}
			_, _ = io.Copy(io.Discard, outR)
			decoded <- err
		}()
	}
	exited := make(chan struct{})
	go killGroupAfterGrace(runCtx, exited, cmd.Process.Pid, grace)

	waitErr := cmd.Wait()
	waited.Store(true)
	close(exited)
	if stdinW != nil {
		stdinW.Close() // a copy still blocked writing fails now
	}
	var readErr error
	if outW != nil {
		outW.Close()
		readErr = <-decoded
	}
	errLines.flush()

	var stopped callerError
	if errors.As(readErr, &stopped) {
		return fmt.Errorf("restic %s: %w", j.op, stopped.err)
	}
	if err := stdinErr.Load(); err != nil {
		return fmt.Errorf("restic %s: read stdin: %w", j.op, *err)
	}
	state := cmd.ProcessState
	if state == nil {
		return r.startError(j.op, waitErr)
	}
	code := state.ExitCode()
	// A failing restic often prints nothing or half a document: then its
	// exit code and stderr say more than the decoder's complaint, unless
	// the decoder stopped restic while it ran.
	if readErr != nil && (code == 0 || stoppedEarly.Load()) {
		return fmt.Errorf("restic %s: %w", j.op, readErr)
	}
	if code == 0 {
		return nil
	}
	o := outcome{code: code, interrupted: ctx.Err() != nil, dumper: j.dumper, version: r.cached(), stderr: log}
	msg := log.message()
	if code < 0 && !o.interrupted {
		msg = strings.TrimSpace(msg + " (restic " + state.String() + ")")
	}
	return &Error{Op: j.op, ExitCode: code, Class: classify(o), Message: msg}
}

// feed copies r to restic's stdin w. It returns only r's errors: a write
// error means restic stopped reading, which its exit code explains.
func feed(w io.Writer, r io.Reader) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// callerError is an error of the caller's callback (or writer), which
// stopped restic: it is returned as it is, whatever restic's exit code.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// killGroupAfterGrace kills the process group pgid when ctx ended more than
// grace ago and the process has not exited.
func killGroupAfterGrace(ctx context.Context, exited <-chan struct{}, pgid int, grace time.Duration) {
	select {
	case <-exited:
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-exited:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

func (r *Runner) startError(op string, err error) error {
	msg := err.Error()
	if r.Scrub != nil {
		msg = r.Scrub(msg)
	}
	return &Error{Op: op, ExitCode: -1, Class: ClassFailed, Message: "cannot start restic: " + msg, err: err}
}

// lineWriter splits what it is written into lines. A line longer than
// maxLineBytes is cut there and the rest of it dropped.
type lineWriter struct {
	buf  []byte
	skip bool // inside the dropped rest of a long line
	line func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !w.skip {
			room := maxLineBytes - len(w.buf)
			if len(chunk) > room {
				chunk = chunk[:room]
				w.skip = true
			}
			w.buf = append(w.buf, chunk...)
		}
		if i < 0 {
			break
		}
		w.emit()
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) emit() {
	w.line(string(w.buf))
	w.buf = w.buf[:0]
	w.skip = false
}

func (w *lineWriter) flush() {
	if len(w.buf) > 0 || w.skip {
		w.emit()
	}
}

// readLines calls fn with each line of r without its line ending, however
// long; the slice is valid only during the call.
func readLines(r io.Reader, fn func([]byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if line = bytes.TrimRight(line, "\r\n"); len(line) > 0 {
			if ferr := fn(line); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
