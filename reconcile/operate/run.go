package operate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// Executor runs a command inside a service of an environment and streams
// its output lines; the devopsellence adapter satisfies it. The exit code
// is the command's own; err is set only when the command could not be run
// to its end (including a cancelled or expired context). No stdin reaches
// the command, and no signal: a run is stopped by a second command.
type Executor interface {
	Exec(ctx context.Context, env, service string, argv []string, onOutput func(stream, line string)) (int, error)
}

// Watch receives what a run shows while it goes.
type Watch struct {
	// OnProgress gets the agent's progress, at most once a second.
	OnProgress func(Progress)
	// OnLine gets every line that is for people.
	OnLine func(stream, line string)
	// OnData gets each data line's piece (dump), in base64, in order.
	OnData func(string)
}

// Grace is how long past its own deadline a run may take to answer before
// the operator's side interrupts it: the agent stops restic and stores
// what it must in that time.
const Grace = 2 * time.Minute

// CancelWait is how long the interrupting exec waits for the run to stop.
const CancelWait = 90 * time.Second

// ErrStopped means the run was interrupted from the operator's side (Ctrl-C,
// SIGTERM, or its deadline plus Grace); the Outcome says what the
// interrupting exec found.
var ErrStopped = errors.New("run interrupted")

// NewRunID names a run.
func NewRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run asks the agent in the service to carry out req and waits for its
// result. The agent enforces the request's Timeout itself, so the run ends
// even if this side goes away. When ctx ends first (Ctrl-C, SIGTERM) or the
// agent does not answer within Timeout plus grace (0: Grace),
// devopsellence's exec does not pass the interrupt on, so Run execs `agent
// cancel`, which makes the agent stop restic (SIGINT, so it removes its
// lock) and waits for the run to end; only then does Run return, with
// ErrStopped and what the run reported.
func Run(ctx context.Context, ex Executor, env, service string, req RunRequest, grace time.Duration, w Watch) (*Outcome, error) {
	h := req.RunHeader()
	if h.RunID == "" {
		h.RunID = NewRunID()
	}
	out := &Outcome{ExitCode: -1, onData: w.OnData}
	onOutput := func(stream, line string) {
		if out.Take(stream, line, w.OnProgress) {
			return
		}
		out.keep(line)
		if w.OnLine != nil {
			w.OnLine(stream, line)
		}
	}
	runCtx := ctx
	if h.Timeout > 0 {
		if grace <= 0 {
			grace = Grace
		}
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, h.Timeout+grace)
		defer cancel()
	}
	code, err := ex.Exec(runCtx, env, service, Argv(req), onOutput)
	out.ExitCode = code
	if runCtx.Err() == nil {
		if err == nil && code == ExitNotFound && out.Agent == nil && out.Result == nil && out.Status == nil {
			out.NotAnAgent = true
		}
		return out, err
	}
	// Interrupted from this side: stop the run in the service, and wait
	// for it, with a context of its own.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CancelWait+time.Minute)
	defer cancel()
	_, cerr := ex.Exec(cctx, env, service, Argv(&CancelRequest{RunID: h.RunID, Wait: CancelWait}), onOutput)
	if cerr != nil && out.Cancel == nil {
		return out, errors.Join(ErrStopped, cerr)
	}
	return out, ErrStopped
}

// Ask sends a short request (version, rotate-key) that starts no run.
func Ask(ctx context.Context, ex Executor, env, service string, req Request) (*Outcome, error) {
	out := &Outcome{ExitCode: -1}
	code, err := ex.Exec(ctx, env, service, Argv(req), func(stream, line string) {
		if !out.Take(stream, line, nil) {
			out.keep(line)
		}
	})
	out.ExitCode = code
	if err == nil && code == ExitNotFound && out.Agent == nil {
		out.NotAnAgent = true
	}
	return out, err
}
