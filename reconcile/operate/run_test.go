package operate

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeExec answers execs like devopsellence does: the first blocks until
// its context ends (a run that takes long), then fails like the real CLI
// killed by a signal; later ones print the lines in answers.
type fakeExec struct {
	mu      sync.Mutex
	calls   [][]string
	block   bool
	blocked chan struct{} // closed once the blocking call waits (when set)
	code    int
	answers map[string][]string // by argv[2] (the agent's subcommand)
}

func (f *fakeExec) Exec(ctx context.Context, env, service string, argv []string, onOutput func(stream, line string)) (int, error) {
	f.mu.Lock()
	f.calls = append(f.calls, argv)
	first := len(f.calls) == 1
	f.mu.Unlock()
	if first && f.block {
		if f.blocked != nil {
			close(f.blocked)
		}
		<-ctx.Done()
		return -1, errors.New("devopsellence exec: ssh root@203.0.113.10: signal: killed")
	}
	for _, l := range f.answers[argv[2]] {
		onOutput("stdout", l)
	}
	return f.code, nil
}

func TestRunInterruptedHereStopsTheRunInTheServiceAndWaitsForIt(t *testing.T) {
	f := &fakeExec{block: true, blocked: make(chan struct{}), answers: map[string][]string{
		"cancel": {`{"type":"cancel","cancel":{"run_id":"r1","found":true,"stopped":true,"result":{"type":"result","evidence":{"kind":"backup","result":"failed","interrupted":true}}}}`},
	}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-f.blocked; cancel() }() // Ctrl-C while the run goes on in the service
	out, err := Run(ctx, f, "production", "backup", &BackupRequest{Header: Header{RunID: "r1", Timeout: time.Hour}}, 0, Watch{})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	if len(f.calls) != 2 || !slices.Equal(f.calls[1], Argv(&CancelRequest{RunID: "r1", Wait: CancelWait})) {
		t.Fatalf("calls = %q", f.calls)
	}
	if out.Cancel == nil || !out.Cancel.Stopped || out.Result == nil || !out.Result.Interrupted {
		t.Errorf("outcome = %+v", out)
	}
}

func TestARunThatOutlivesItsDeadlineIsStoppedFromHereToo(t *testing.T) {
	f := &fakeExec{block: true, answers: map[string][]string{"cancel": {`{"type":"cancel","cancel":{"run_id":"r2","found":false,"stopped":true}}`}}}
	out, err := Run(context.Background(), f, "production", "backup", &CheckRequest{Header: Header{RunID: "r2", Timeout: 20 * time.Millisecond}}, 20*time.Millisecond, Watch{})
	if !errors.Is(err, ErrStopped) || out.Cancel == nil || out.Cancel.Found {
		t.Fatalf("err = %v, outcome = %+v", err, out)
	}
}

func TestRunReportsAnImageWithoutAnAgent(t *testing.T) {
	f := &fakeExec{code: 127}
	out, err := Run(context.Background(), f, "production", "backup", &BackupRequest{}, 0, Watch{})
	if err != nil || !out.NotAnAgent || len(f.calls) != 1 || f.calls[0][7] == "" {
		t.Errorf("err = %v, outcome = %+v, calls = %q", err, out, f.calls)
	}
}
