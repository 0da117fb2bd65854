package agent

import (
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
	// A stand-in run: a process that exits on SIGTERM after a moment, as
	// the agent does once restic has stopped.
	cmd := exec.Command("sh", "-c", `trap 'sleep 0.3; exit 130' TERM; while :; do sleep 0.05; done`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		r.Finish("r2", []byte(`{"type":"result","evidence":{"kind":"backup","result":"failed","interrupted":true}}`))
		close(done)
	}()
	time.Sleep(100 * time.Millisecond) // let the trap be set
	if err := r.Register(RunInfo{ID: "r2", PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	st := r.Cancel(context.Background(), "r2", 10*time.Second)
	<-done
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
	var told RunInfo
	got := make(chan error, 1)
	go func() {
		l, err := r.Acquire(context.Background(), RunInfo{ID: "b", Op: "check"}, func(h RunInfo) { told = h })
		if err == nil {
			l.Release()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the second run did not wait: %v", err)
	case <-time.After(700 * time.Millisecond):
	}
	if told.ID != "a" || told.Trigger != "schedule" {
		t.Errorf("the waiting run was told %+v", told)
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
