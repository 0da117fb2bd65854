package restic

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/process"
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
	dumper string                // the --stdin-from-command dumper's name
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

// run runs one restic process (see package process): when ctx ends,
// restic gets SIGINT (so it removes its lock) and, if it has not exited
// after the grace period, its whole process group gets SIGKILL (so a
// --stdin-from-command child dies too). It returns nil on exit 0, the
// stdout reader's error if that stopped restic, else an *Error.
func (r *Runner) run(ctx context.Context, j job) error {
	if err := ctx.Err(); err != nil {
		return notStarted(j.op, err)
	}
	log := &stderrLog{scrub: r.Scrub, onLine: r.OnStderr, onItem: j.onItem}
	var mu sync.Mutex // restic's stderr and its dumper's come in at once
	line := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		log.line(s)
	}
	errLines := &lineWriter{line: line}
	c := process.Cmd{Path: r.bin(), Args: j.args, Env: r.environ(j.env), Dir: r.Dir, Stdin: j.stdin, Stderr: errLines,
		Signal: syscall.SIGINT, SignalLeader: true, Grace: r.grace(), Credential: r.credential}
	var out *stdoutReader
	if j.stdout != nil {
		out = newStdoutReader(j.stdout)
		c.Stdout = out.w
	}
	var dumper *dumperStderr
	if j.dumper != "" {
		var err error
		if dumper, err = newDumperStderr(j.dumper, line); err != nil {
			return r.startError(j.op, err)
		}
		c.ExtraFiles = []*os.File{dumper.w}
	}
	p, err := process.Start(ctx, c)
	if dumper != nil {
		dumper.started(err == nil)
	}
	if err != nil {
		if ctx.Err() != nil {
			return notStarted(j.op, ctx.Err())
		}
		return r.startError(j.op, err)
	}
	if out != nil {
		go out.read(p.Stop)
	}
	res, waitErr := p.Wait()
	var readErr error
	if out != nil {
		readErr = out.finish()
	}
	if dumper != nil {
		dumper.finish(r.grace())
	}
	errLines.flush()
	return r.outcome(ctx, j, res, waitErr, readErr, out != nil && out.stoppedEarly.Load(), log)
}

// dumperStderr reads a --stdin-from-command dumper's stderr from a pipe
// of its own (see dumperShim), to its end: all of it reaches the log.
type dumperStderr struct {
	r, w *os.File
	done chan struct{}
}

func newDumperStderr(name string, line func(string)) (*dumperStderr, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	d := &dumperStderr{r: r, w: w, done: make(chan struct{})}
	lines := &lineWriter{line: func(s string) { line("subprocess " + name + ": " + s) }}
	go func() {
		defer close(d.done)
		_, _ = io.Copy(lines, r)
		lines.flush()
	}()
	return d, nil
}

// started closes this process's end of the pipe: restic and the dumper
// hold the others, so the reader ends when both have exited.
func (d *dumperStderr) started(ok bool) {
	d.w.Close()
	if !ok {
		d.r.Close()
		<-d.done
	}
}

// finish waits, once restic exited, for the rest of the dumper's stderr;
// a grandchild that escaped with the pipe holds it at most grace.
func (d *dumperStderr) finish(grace time.Duration) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-d.done:
	case <-t.C:
	}
	d.r.Close()
	<-d.done
}

// outcome turns how restic ended into run's error.
func (r *Runner) outcome(ctx context.Context, j job, res *process.Result, waitErr, readErr error, stoppedEarly bool, log *stderrLog) error {
	var stopped callerError
	if errors.As(readErr, &stopped) {
		return fmt.Errorf("restic %s: %w", j.op, stopped.err)
	}
	if res.StdinErr != nil {
		return fmt.Errorf("restic %s: read stdin: %w", j.op, res.StdinErr)
	}
	if res.State == nil {
		return r.startError(j.op, waitErr)
	}
	code := res.ExitCode
	// A failing restic often prints nothing or half a document: then its
	// exit code and stderr say more than the decoder's complaint, unless
	// the decoder stopped restic while it ran.
	if readErr != nil && (code == 0 || stoppedEarly) {
		return fmt.Errorf("restic %s: %w", j.op, readErr)
	}
	if code == 0 {
		return nil
	}
	o := outcome{code: code, interrupted: ctx.Err() != nil, dumper: j.dumper != "", version: r.cached(), stderr: log}
	msg := log.message()
	if code < 0 && !o.interrupted {
		msg = strings.TrimSpace(msg + " (restic " + res.State.String() + ")")
	}
	return &Error{Op: j.op, ExitCode: code, Class: classify(o), Message: msg}
}

func notStarted(op string, err error) error {
	return &Error{Op: op, ExitCode: -1, Class: ClassInterrupted, Message: "not started: " + err.Error(), err: err}
}

// stdoutReader hands restic's stdout to a job's reader. A reader that
// fails stops restic; what restic writes after that is drained, so that
// it never blocks on a full pipe.
type stdoutReader struct {
	r            *io.PipeReader
	w            *io.PipeWriter
	fn           func(io.Reader) error
	done         chan error
	waited       atomic.Bool
	stoppedEarly atomic.Bool
}

func newStdoutReader(fn func(io.Reader) error) *stdoutReader {
	r, w := io.Pipe()
	return &stdoutReader{r: r, w: w, fn: fn, done: make(chan error, 1)}
}

func (s *stdoutReader) read(stop func()) {
	err := s.fn(s.r)
	if err != nil {
		s.stoppedEarly.Store(!s.waited.Load())
		stop()
	}
	_, _ = io.Copy(io.Discard, s.r)
	s.done <- err
}

// finish is called once restic exited: it ends the stream and returns the
// reader's error.
func (s *stdoutReader) finish() error {
	s.waited.Store(true)
	s.w.Close()
	return <-s.done
}

// callerError is an error of the caller's callback (or writer), which
// stopped restic: it is returned as it is, whatever restic's exit code.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

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
