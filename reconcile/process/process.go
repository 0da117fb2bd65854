package process

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of a Cmd's zero fields.
const (
	DefaultGrace     = 10 * time.Second
	DefaultTailBytes = 64 << 10
)

// Cmd is one program to run.
type Cmd struct {
	Path string
	Args []string // after Path
	// Env is the program's complete environment; nil is an empty one,
	// never this process's (which holds every secret of the service).
	Env []string
	// Dir is the working directory; empty is this process's.
	Dir string
	// Stdin, when not an *os.File, is fed through a pipe of the runner's
	// own: a Read that fails stops the program (Result.StdinErr) instead of
	// closing its input, which a loader or restic would take for the
	// complete stream. A Read still blocked when the program exits does not
	// hold Wait.
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr, when set, receives everything the program writes there, as
	// well as the tail the Result keeps.
	Stderr io.Writer
	// Signal is the polite signal sent when the context ends or Stop is
	// called; zero is SIGTERM.
	Signal syscall.Signal
	// SignalLeader sends Signal to the program only, not its whole group:
	// for a program that stops its own children in order (restic with a
	// --stdin-from-command dumper, devopsellence).
	SignalLeader bool
	// Grace is how long the program has to exit after Signal before its
	// whole group gets SIGKILL; it also bounds the wait for output pipes
	// that an escaped grandchild holds open. Zero is DefaultGrace.
	Grace time.Duration
	// TailBytes is how much of the end of stderr the Result keeps; zero is
	// DefaultTailBytes.
	TailBytes int
	// Credential runs the program as another user (tests of unreadable
	// files).
	Credential *syscall.Credential
	// ExtraFiles are passed on as file descriptors 3 and up.
	ExtraFiles []*os.File
}

// Process is a started program.
type Process struct {
	cmd      *exec.Cmd
	stop     context.CancelFunc
	runCtx   context.Context
	tail     *tail
	stdinW   *os.File
	stdinErr atomic.Pointer[error]
	exited   chan struct{}
}

// Result is how a program ended.
type Result struct {
	// ExitCode is the program's exit status; -1 when a signal ended it.
	ExitCode int
	State    *os.ProcessState
	// Stopped is set when the program was asked to stop (its context
	// ended, Stop was called, or Stdin failed) by the time it exited.
	Stopped bool
	// StdinErr is the error that reading Stdin returned, which stopped the
	// program.
	StdinErr error
	// Stderr is the end of what the program wrote on stderr, at most
	// TailBytes, from the start of a line when cut.
	Stderr string
}

// Run starts the program and waits for it; see Start and Wait.
func Run(ctx context.Context, c Cmd) (*Result, error) {
	p, err := Start(ctx, c)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// Start starts the program in a process group of its own, so that a
// terminal's Ctrl-C reaches only this process, which stops the program in
// the order it chooses: when ctx ends, the program (or its group) gets the
// polite Signal and, if it has not exited after Grace, its whole group gets
// SIGKILL. An error means it did not start.
func Start(ctx context.Context, c Cmd) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	cmd := exec.CommandContext(runCtx, c.Path, c.Args...)
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Dir = c.Dir
	cmd.ExtraFiles = c.ExtraFiles
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.Credential}
	sig, grace := c.signal(), c.grace()
	cmd.Cancel = func() error {
		if c.SignalLeader {
			return cmd.Process.Signal(sig)
		}
		return syscall.Kill(-cmd.Process.Pid, sig)
	}
	cmd.WaitDelay = grace
	p := &Process{cmd: cmd, stop: stop, runCtx: runCtx, tail: &tail{max: c.tailBytes()}, exited: make(chan struct{})}
	cmd.Stdout = c.Stdout
	cmd.Stderr = p.tail
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(p.tail, c.Stderr)
	}
	var stdinR *os.File
	switch in := c.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = in
	default:
		var err error
		if stdinR, p.stdinW, err = os.Pipe(); err != nil {
			stop()
			return nil, err
		}
		cmd.Stdin = stdinR
	}
	if err := cmd.Start(); err != nil {
		stop()
		if stdinR != nil {
			stdinR.Close()
			p.stdinW.Close()
		}
		return nil, err
	}
	if stdinR != nil {
		stdinR.Close()
		go p.feed(c.Stdin)
	}
	go killGroupAfterGrace(runCtx, p.exited, cmd.Process.Pid, grace)
	return p, nil
}

// Pid is the program's process ID, which is also its group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop asks the program to stop, as if its context had ended.
func (p *Process) Stop() { p.stop() }

// Wait waits for the program to exit, then kills whatever it left running
// in its group. The error is exec's: an *exec.ExitError when the program
// exited non-zero or was killed.
func (p *Process) Wait() (*Result, error) {
	err := p.cmd.Wait()
	close(p.exited)
	stopped := p.runCtx.Err() != nil
	p.stop()
	// Whatever the program left running in its group goes with it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	if p.stdinW != nil {
		p.stdinW.Close() // a feed still blocked writing fails now
	}
	r := &Result{ExitCode: -1, State: p.cmd.ProcessState, Stopped: stopped, Stderr: p.tail.String()}
	if r.State != nil {
		r.ExitCode = r.State.ExitCode()
	}
	if e := p.stdinErr.Load(); e != nil {
		r.StdinErr = *e
	}
	return r, err
}

// feed copies r to the program's stdin. A write error means the program
// stopped reading, which its exit status explains; a read error stops the
// program before it sees the end of its input.
func (p *Process) feed(r io.Reader) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := p.stdinW.Write(buf[:n]); werr != nil {
				return
			}
		}
		if errors.Is(err, io.EOF) {
			p.stdinW.Close()
			return
		}
		if err != nil {
			p.stdinErr.Store(&err)
			p.stop()
			return
		}
	}
}

// killGroupAfterGrace kills the process group pgid when ctx ended more than
// grace ago and the program has not exited.
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

func (c Cmd) signal() syscall.Signal {
	if c.Signal == 0 {
		return syscall.SIGTERM
	}
	return c.Signal
}

func (c Cmd) grace() time.Duration {
	if c.Grace <= 0 {
		return DefaultGrace
	}
	return c.Grace
}

func (c Cmd) tailBytes() int {
	if c.TailBytes <= 0 {
		return DefaultTailBytes
	}
	return c.TailBytes
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
	cut bool
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2*t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
		t.cut = true
	}
	return len(p), nil
}

// String is the tail from the start of a line: when the text was cut, its
// first line may be a piece of a longer one, and so part of a secret
// shorter than the fragments a scrubber knows; it is dropped.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, cut := t.b, t.cut
	if len(b) > t.max {
		b, cut = b[len(b)-t.max:], true
	}
	if cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
