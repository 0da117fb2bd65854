package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// gate is a restic that, asked to back up the files, says so and blocks
// until the test lets it go; every other command is the real restic's.
type gate struct {
	ready, release string
}

// blockFiles puts a gate in front of the rig's restic.
func blockFiles(t *testing.T, r *rig) *gate {
	t.Helper()
	dir := t.TempDir()
	g := &gate{ready: filepath.Join(dir, "ready"), release: filepath.Join(dir, "release")}
	must(t, syscall.Mkfifo(g.ready, 0o600))
	must(t, syscall.Mkfifo(g.release, 0o600))
	script := fmt.Sprintf(`#!/bin/sh
backup= files=
for a in "$@"; do
  case "$a" in
  backup) backup=1 ;;
  --tag=%s) files=1 ;;
  esac
done
if [ -n "$backup" ] && [ -n "$files" ]; then
  echo $$ > %s
  read line < %s
fi
exec %s "$@"
`, operate.TagFiles, g.ready, g.release, r.bin.Path)
	bin := filepath.Join(dir, "restic")
	must(t, os.WriteFile(bin, []byte(script), 0o755))
	r.a.runner.Bin = bin
	return g
}

// started waits until restic is backing up the files (blocked at the
// gate) and returns its process ID.
func (g *gate) started(t *testing.T) int {
	t.Helper()
	pid := make(chan int, 1)
	go func() {
		var n int
		if data, err := os.ReadFile(g.ready); err == nil {
			_, _ = fmt.Sscan(string(data), &n)
		}
		pid <- n
	}()
	select {
	case n := <-pid:
		if n == 0 {
			t.Fatal("the gate did not say which restic it holds")
		}
		return n
	case <-time.After(5 * time.Minute):
		t.Fatal("restic never started to back up the files")
	}
	return 0
}

// let lets the held restic go on.
func (g *gate) let(t *testing.T) {
	t.Helper()
	must(t, os.WriteFile(g.release, []byte("go\n"), 0o600))
}

// deadlineRig is a rig whose spec declares notes.sqlite3, which its
// volume lacks (the database step fails, as in the app of the cli tests),
// and whose run deadline passes when fire is closed, not before.
func deadlineRig(t *testing.T, bin restictest.Bin) (r *rig, fire chan time.Time, asked *time.Duration) {
	r = newRig(t, bin, func(c *spec.AgentConfig) {
		c.Databases = []spec.Database{{Name: "notes", Engine: spec.EngineSQLite, Path: filepath.Join(c.Paths[0], "notes.sqlite3")}}
	})
	writeFiles(t, r.vol, map[string]string{"media/a.txt": "a\n", "media/b.txt": "b\n"})
	r.restic("init")
	fire, asked = make(chan time.Time), new(time.Duration)
	r.a.After = func(d time.Duration) <-chan time.Time {
		*asked = d
		return fire
	}
	return r, fire, asked
}

// runScheduled starts a scheduled backup with deadline d; its exit status
// arrives on the channel.
func runScheduled(r *rig, d time.Duration) <-chan int {
	o := scheduledRun()
	o.Timeout = d
	done := make(chan int, 1)
	r.stdout.Reset()
	go func() { done <- r.a.Run(context.Background(), operate.OpBackup, o) }()
	return done
}

func exited(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case rc := <-done:
		return rc
	case <-time.After(5 * time.Minute):
		t.Fatal("the run did not end")
	}
	return 0
}

// TestAScheduledRunStoppedAtItsDeadlineSaysSoAndSavesNoSnapshot: the
// deadline passes while restic backs up the files; the agent stops restic,
// saves no files snapshot, and its evidence says failed and interrupted.
func TestAScheduledRunStoppedAtItsDeadlineSaysSoAndSavesNoSnapshot(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r, fire, asked := deadlineRig(t, bin)
		g := blockFiles(t, r)
		done := runScheduled(r, 90*time.Minute)
		pid := g.started(t)
		close(fire)
		rc := exited(t, done)
		if *asked != 90*time.Minute {
			t.Errorf("the run kept a deadline of %s, want its own 1h30m0s", *asked)
		}
		ev := r.result().Evidence
		if rc != 130 || !ev.Interrupted || ev.Result != operate.ResultFailed || ev.Trigger != operate.TriggerSchedule {
			t.Errorf("exit %d, evidence: result %s, interrupted %v, trigger %s", rc, ev.Result, ev.Interrupted, ev.Trigger)
		}
		if s := step(t, ev, "files"); s.Result != operate.ResultFailed || s.Error != "interrupted" {
			t.Errorf("files step: %+v", s)
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("the restic the deadline stopped still runs (pid %d): %v", pid, err)
		}
		for _, sn := range r.snapshots() {
			if sn.HasTag(operate.TagFiles) {
				t.Errorf("a files snapshot was saved past the deadline: %v", sn.Tags)
			}
			if sn.HasTag(operate.TagEvidence) && !slices.Contains(sn.Tags, operate.TagResult+operate.ResultFailed) {
				t.Errorf("the stored evidence is not a failure: %v", sn.Tags)
			}
		}
	})
}

// TestARunThatEndsBeforeItsDeadlineIsNotCalledInterrupted is what the cli
// scheduler test once reported under load ("result failed, interrupted
// false" and a files snapshot): a backup that finishes before its deadline
// keeps its snapshot, and the database that is missing fails it. The
// evidence tells just that.
func TestARunThatEndsBeforeItsDeadlineIsNotCalledInterrupted(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r, _, _ := deadlineRig(t, bin)
		g := blockFiles(t, r)
		done := runScheduled(r, 3*time.Second)
		g.started(t)
		g.let(t)
		rc := exited(t, done)
		ev := r.result().Evidence
		if rc != 1 || ev.Interrupted || ev.Result != operate.ResultFailed {
			t.Errorf("exit %d, evidence: result %s, interrupted %v", rc, ev.Result, ev.Interrupted)
		}
		if s := step(t, ev, "db:notes"); s.Result != operate.ResultFailed || s.Error != "source_missing" {
			t.Errorf("db:notes step: %+v", s)
		}
		files := step(t, ev, "files")
		id := files.Fact("snapshot_id")
		if files.Result != operate.ResultOK || id == "" {
			t.Fatalf("files step: %+v", files)
		}
		if !slices.ContainsFunc(r.snapshots(), func(sn operate.Snapshot) bool { return strings.HasPrefix(sn.ID, id) }) {
			t.Errorf("the files snapshot %s the evidence names is not in the repository", id)
		}
	})
}
