package agent

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// stoppingRegistry is a registry whose service is stopping, with deadline.
func stoppingRegistry(t *testing.T, deadline time.Time) Registry {
	t.Helper()
	r := Registry{Dir: t.TempDir()}
	// The scheduler that marks the stop is a live process: this one.
	if err := r.MarkStopping(Stopping{At: time.Now(), Deadline: deadline, PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestARunAskedForWhileTheServiceStopsNeverStarts(t *testing.T) {
	r := stoppingRegistry(t, time.Now().Add(5*time.Second))
	other := exec.Command("sleep", "30")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Process.Kill(); _ = other.Wait() }()
	if err := r.Register(RunInfo{ID: "late", PID: other.Process.Pid}); !errors.Is(err, ErrStopping) || !errors.Is(err, ErrCancelled) {
		t.Fatalf("Register while stopping: %v", err)
	}
	if len(r.Active()) != 0 {
		t.Error("a run refused while stopping is listed")
	}
	// A mark whose scheduler is gone (a container stopped and started
	// again keeps its /tmp) stops nothing.
	if err := r.MarkStopping(Stopping{Deadline: time.Now().Add(time.Hour), PID: other.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	_ = other.Process.Kill()
	_ = other.Wait()
	if _, stopping := r.Stopping(); stopping {
		t.Error("the mark of a scheduler that is gone counts")
	}
}

func TestStopAllInterruptsEveryRunAndWaitsUntilTheyEnd(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	// Stand-in runs: each ends a moment after SIGTERM, as a run does once
	// restic has stopped and the evidence is stored.
	var cmds []*exec.Cmd
	for _, id := range []string{"a", "b"} {
		cmd := exec.Command("sh", "-c", `trap 'sleep 0.2; exit 130' TERM; echo ready; while :; do sleep 0.05; done`)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil { // the trap is set
			t.Fatal(err)
		}
		if err := r.Register(RunInfo{ID: id, PID: cmd.Process.Pid}); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func(id string) { _ = cmd.Wait(); r.Finish(id, nil); close(done) }(id)
		cmds = append(cmds, cmd)
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	}
	if left := r.StopAll(time.Now().Add(time.Minute)); len(left) != 0 {
		t.Fatalf("runs still going after StopAll: %+v", left)
	}
	for _, cmd := range cmds {
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 130 {
			t.Errorf("a run did not end by its SIGTERM: %v", cmd.ProcessState)
		}
	}
}

func TestARunInterruptedByAStopKeepsItsEvidenceWithinTheGrace(t *testing.T) {
	a := &Agent{Runs: stoppingRegistry(t, time.Now().Add(9*time.Second))}
	alerts, evidence, grace := a.finishBudget(true)
	if alerts > 9*time.Second-evidenceReserve || evidence > 9*time.Second-resticCleanup || grace != resticCleanup {
		t.Errorf("budget in a stop with 9s left: alerts %s, evidence %s, restic cleanup %s", alerts, evidence, grace)
	}
	if alerts+evidenceReserve > 9*time.Second || evidence <= 0 {
		t.Errorf("alerts (%s) eat into the evidence's share, or it has none (%s)", alerts, evidence)
	}
	// Almost out of time: no alerts, and the evidence gets what is left.
	a.Runs = stoppingRegistry(t, time.Now().Add(2*time.Second))
	if alerts, evidence, _ := a.finishBudget(true); alerts != 0 || evidence > 2*time.Second-resticCleanup {
		t.Errorf("with 2s left: alerts %s, evidence %s", alerts, evidence)
	}
	// Not stopping: the usual budgets.
	a.Runs = Registry{Dir: t.TempDir()}
	if alerts, evidence, grace := a.finishBudget(true); alerts != alertChannels*alertBudget || evidence != evidenceWaitAfter || grace != 0 {
		t.Errorf("interrupted, not stopping: %s %s %s", alerts, evidence, grace)
	}
	if alerts, evidence, _ := a.finishBudget(false); alerts != alertChannels*alertBudget || evidence != evidenceWait {
		t.Errorf("not interrupted: %s %s", alerts, evidence)
	}
}

func TestAPIDReusedByAnotherProcessIsNotTakenForTheRun(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	// What a run registered before its container restarted: its PID is
	// now another process's (this one), which started at another time.
	if err := r.ensure(); err != nil {
		t.Fatal(err)
	}
	if err := writeJSON(r.path("runs", "old.json"), RunInfo{ID: "old", PID: os.Getpid(), Ticks: "1"}); err != nil {
		t.Fatal(err)
	}
	if _, running := r.Running("old"); running {
		t.Error("a run whose PID now belongs to another process is taken for running")
	}
	if err := r.Register(RunInfo{ID: "new", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	if _, running := r.Running("new"); !running {
		t.Error("a live run is not seen")
	}
}

func TestTheUnlockStepSaysWhenResticRemovedNothing(t *testing.T) {
	if got := unlockSaid(""); !strings.Contains(got, "removed no lock") {
		t.Errorf("restic 0.18's silence on no stale lock reads %q", got)
	}
	if got := unlockSaid("successfully removed 1 locks"); !strings.Contains(got, "successfully removed 1 locks") || !strings.Contains(got, "stale locks only") {
		t.Errorf("restic's own line reads %q", got)
	}
}
