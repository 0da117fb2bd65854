package agent

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestACancelledRunNeverStarts(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	if err := r.Tombstone("r1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(RunInfo{ID: "r1", PID: os.Getpid()}); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Register after cancel: %v", err)
	}
	if _, running := r.Running("r1"); running {
		t.Error("a cancelled run is listed as running")
	}
}

func TestCancelSignalsTheRunAndWaitsForItToStop(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	if err := r.ensure(); err != nil {
		t.Fatal(err)
	}
	// A stand-in run: on SIGTERM it leaves its result line and ends its
	// registration, as the agent does once restic has stopped, then exits.
	// It says when its trap is set.
	result := `{"type":"result","evidence":{"kind":"backup","result":"failed","interrupted":true}}`
	cmd := exec.Command("sh", "-c", `trap 'printf "%s" "$RESULT" > "$RUNS/r2.result"; rm -f "$RUNS/r2.json"; exit 130' TERM; echo ready; while :; do sleep 0.05; done`)
	cmd.Env = append(os.Environ(), "RESULT="+result, "RUNS="+r.path("runs"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }() // reaped once it exits, as init would
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("the stand-in did not get ready: %q %v", line, err)
	}
	if err := r.Register(RunInfo{ID: "r2", PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	st := r.Cancel(context.Background(), "r2", 5*time.Minute)
	if !st.Found || !st.Stopped || st.Result == nil || st.Result.Evidence == nil || !st.Result.Evidence.Interrupted {
		t.Errorf("cancel = %+v", st)
	}
	// Once a run is gone, cancel says so rather than waiting.
	st = r.Cancel(context.Background(), "nosuch", time.Minute)
	if st.Found || !st.Stopped {
		t.Errorf("cancel of no run = %+v", st)
	}
}

func TestRunsInOneContainerWaitForEachOther(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	first, err := r.Acquire(context.Background(), RunInfo{ID: "a", Op: "backup", Trigger: "schedule"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	told := make(chan RunInfo, 1)
	got := make(chan error, 1)
	go func() {
		l, err := r.Acquire(context.Background(), RunInfo{ID: "b", Op: "check"}, func(h RunInfo) { told <- h })
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	// The second run is told who holds the service only once it found the
	// lock taken: then it waits.
	if h := <-told; h.ID != "a" || h.Trigger != "schedule" {
		t.Errorf("the waiting run was told %+v", h)
	}
	select {
	case err := <-got:
		t.Fatalf("the second run did not wait: %v", err)
	default:
	}
	first.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	held, _ := r.Acquire(context.Background(), RunInfo{ID: "c"}, nil)
	if _, err := r.Acquire(ctx, RunInfo{ID: "d"}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a wait past its deadline: %v", err)
	}
	held.Release()
}
