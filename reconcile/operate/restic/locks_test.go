package restic_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestLocksListsWhoHoldsTheRepositoryAndWhenResticCallsItStale(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		locks, err := l.r.Locks(context.Background())
		if err != nil || len(locks) != 0 {
			t.Fatalf("Locks of an idle repository: %v %v", locks, err)
		}
		// A backup that waits for its standard input holds a lock.
		cmd := exec.Command(rb.path, "backup", "--stdin", "--stdin-filename", "held")
		cmd.Env, cmd.Dir = l.env(l.repo, l.password), l.dir
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { in.Close(); _ = cmd.Wait() }()
		for deadline := time.Now().Add(time.Minute); len(l.lockFiles()) == 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the held backup took no lock")
			}
		}
		locks, err = l.r.Locks(context.Background())
		if err != nil || len(locks) != 1 {
			t.Fatalf("Locks: %+v %v", locks, err)
		}
		host, _ := os.Hostname()
		lk := locks[0]
		if lk.Hostname != host || lk.PID != cmd.Process.Pid || lk.Exclusive || lk.ID == "" || time.Since(lk.Time) > time.Minute ||
			!lk.StaleAt().Equal(lk.Time.Add(30*time.Minute)) {
			t.Errorf("lock: %+v; want host %s, pid %d, not exclusive", lk, host, cmd.Process.Pid)
		}
	})
}
