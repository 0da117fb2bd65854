package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writeRandom fills dir with files of random (so incompressible and not
// deduplicated) data, n bytes in all, for a backup that takes a while.
func writeRandom(t testing.TB, dir string, n int) {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	buf := make([]byte, 8<<20)
	for i := 0; n > 0; i++ {
		size := min(n, len(buf))
		_, _ = rand.Read(buf[:size])
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("big-%03d.bin", i)), buf[:size], 0o644))
		n -= size
	}
}

// resticProcesses lists the restic processes working on repo, found by
// their environment (the agent passes the repository only there).
func resticProcesses(repo string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if filepath.Base(args[0]) != "restic" {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if bytes.Contains(env, []byte("RESTIC_REPOSITORY="+repo+"\x00")) {
			out = append(out, e.Name()+" "+strings.Join(args, " "))
		}
	}
	return out
}

// resticReads reports whether a restic of repo has a file open whose path
// holds part.
func resticReads(repo, part string) bool {
	for _, p := range resticProcesses(repo) {
		pid, _, _ := strings.Cut(p, " ")
		fds, _ := os.ReadDir(filepath.Join("/proc", pid, "fd"))
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc", pid, "fd", fd.Name())); err == nil && strings.Contains(target, part) {
				return true
			}
		}
	}
	return false
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// slowRestic is the restic under test throttled to 1 MiB/s of uploads,
// in packs of 4 MiB: a backup of slowData takes over 20 s however fast the
// machine (a deadline or an interrupt always finds it running), and a
// stopped one has little left of the pack in flight, which restic 0.17+
// finishes uploading before it exits.
func slowRestic(rb resticBin) map[string]string {
	return map[string]string{"restic": "#!/bin/sh\nexec " + rb.path + " --limit-upload 1024 --pack-size 4 \"$@\"\n"}
}

// slowData is what slowRestic backs up: random, so neither compressed nor
// deduplicated.
const slowData = 24 << 20

// TestAnInterruptedBackupStopsResticInTheServiceAndSaysSo interrupts a
// backup from the operator's side, by SIGINT and by the deadline.
// devopsellence's exec passes neither on, so this only holds if the tool
// stops the run in the service itself. Before the SIGINT, the repository
// holds a lock whose restic is gone: what restic 0.14 leaves when the
// signal comes while it is still taking its lock. The interrupted run
// removes it, as restic would have.
func TestAnInterruptedBackupStopsResticInTheServiceAndSaysSo(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{bin: slowRestic(rb)})
		writeRandom(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "media"), slowData)
		app.restic(t, "init")
		for _, how := range []string{"SIGINT", "deadline"} {
			args := []string{"backup", "--output", "json"}
			if how == "deadline" {
				args = append(args, "--timeout", "10s")
			} else {
				leaveStaleLock(t, app, rb, false)
			}
			var stdout, stderr bytes.Buffer
			cmd := startCLI(t, app.sim, app.secretEnv(), &stdout, &stderr, args...)
			if how == "SIGINT" {
				// restic backs up the files: it reads them, so it is past
				// taking its lock (restic 0.14 stopped in the instant after
				// it took one leaves it behind).
				waitUntil(t, how+": restic backs up the files", 2*time.Minute, func() bool {
					return resticReads(app.repo, "/shop_storage/media/")
				})
				must(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
			}
			// The deadline finds restic backing up (it takes 20 s and more
			// however fast the machine), or, on a machine so busy that it
			// passes first, before restic starts: either way what follows
			// holds.
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
			want := map[string]int{"SIGINT": 130, "deadline": 1}[how]
			if code != want {
				t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", how, code, want, stdout.String(), stderr.String())
			}
			// Once the command is back, nothing runs and nothing is held.
			if left := resticProcesses(app.repo); len(left) > 0 {
				t.Errorf("%s: restic still runs: %q", how, left)
			}
			if locks, _ := os.ReadDir(filepath.Join(app.repo, "locks")); len(locks) != 0 {
				t.Errorf("%s: %d lock(s) left in the repository", how, len(locks))
			}
			if snaps := app.snapshots(t, "--tag", "kind:files"); len(snaps) != 0 {
				t.Errorf("%s: a files snapshot was saved: %+v", how, snaps)
			}
			for _, ev := range app.snapshots(t, "--tag", "evidence:backup") {
				if slices.Contains(ev.Tags, "result:ok") {
					t.Errorf("%s: ok evidence was stored: %v", how, ev.Tags)
				}
			}
			var doc opDoc
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("%s: stdout is not the result: %v\n%s", how, err, stdout.String())
			}
			code2 := map[string]string{"SIGINT": "interrupted", "deadline": "timeout"}[how]
			f := doc.finding(code2)
			if f == nil || doc.OK {
				t.Fatalf("%s: no %s finding: %+v", how, code2, doc.Findings)
			}
			if how == "SIGINT" && !strings.Contains(f.Message, "the agent stopped restic, which released its lock") {
				t.Errorf("%s: the result does not say what happened in the service: %s", how, f.Message)
			}
		}
	})
}

// TestTheSchedulerStopsARunAtItsOwnDeadline runs the service's scheduler
// with a backup deadline far shorter than the (throttled) backup: the
// agent interrupts restic itself, records the run as failed and
// interrupted, and keeps going.
func TestTheSchedulerStopsARunAtItsOwnDeadline(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{extra: "  schedule:\n    every: 1h", bin: slowRestic(rb)})
		writeRandom(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "media"), slowData)
		app.restic(t, "init")
		sched := startScheduler(t, app, "--backup-timeout", "10s")
		sched.waitFor(t, "schedule: backup finished")
		ev := app.evidence(t, "backup")
		if ev["trigger"] != "schedule" || ev["result"] != "failed" || ev["interrupted"] != true {
			t.Errorf("scheduled backup evidence: trigger %v, result %v, interrupted %v\n%v", ev["trigger"], ev["result"], ev["interrupted"], ev["steps"])
		}
		// It keeps going: prune and check run, then it waits for the next
		// backup an hour on, holding nothing.
		sched.waitFor(t, "schedule: check finished")
		if left := resticProcesses(app.repo); len(left) > 0 {
			t.Errorf("restic still runs: %q", left)
		}
		if locks, _ := os.ReadDir(filepath.Join(app.repo, "locks")); len(locks) != 0 {
			t.Errorf("%d lock(s) left in the repository", len(locks))
		}
		if snaps := app.snapshots(t, "--tag", "kind:files"); len(snaps) != 0 {
			t.Errorf("a files snapshot was saved past the deadline: %+v", snaps)
		}
	})
}

// TestTheSchedulerRemovesAStaleLockThatWouldStopEveryBackup: a restic
// killed mid-run (a deploy, the OOM killer) leaves its lock; nobody is
// there to pass --unlock-stale, so the scheduler removes a lock that
// restic calls stale and backs up.
func TestTheSchedulerRemovesAStaleLockThatWouldStopEveryBackup(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{extra: "  schedule:\n    every: 1h"})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.restic(t, "init")
		leaveStaleLock(t, app, rb, true)
		ev := scheduledBackup(t, app)
		if ev["trigger"] != "schedule" || ev["result"] != "ok" {
			t.Fatalf("scheduled backup evidence: trigger %v, result %v\n%v", ev["trigger"], ev["result"], ev)
		}
		unlocked := false
		for _, s := range ev["steps"].([]any) {
			if step := s.(map[string]any); step["name"] == "unlock" && step["result"] == "ok" {
				unlocked = true
			}
		}
		if !unlocked {
			t.Errorf("the backup has no unlock step: %v", ev["steps"])
		}
		if len(app.snapshots(t, "--tag", "kind:files")) == 0 {
			t.Error("no files snapshot")
		}
	})
}

// scheduler is the service's scheduler (agent run) started through exec,
// with what it has printed so far.
type scheduler struct {
	mu      sync.Mutex
	printed strings.Builder
	changed chan struct{} // closed and replaced on every line
	done    bool
}

// startScheduler starts agent run with args in the app's backup service.
// It is stopped when the test ends.
func startScheduler(t *testing.T, app *opsApp, args ...string) *scheduler {
	t.Helper()
	cmd := app.sim.Command(context.Background(), append([]string{"exec", "backup", "--env", "production", "--",
		"devopsellence-backup", "agent", "run"}, args...)...)
	r, w, err := os.Pipe()
	must(t, err)
	cmd.Stdout, cmd.Stderr = w, w
	must(t, cmd.Start())
	w.Close()
	s := &scheduler{changed: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.add(sc.Text()+"\n", false)
		}
		s.add("", true)
	}()
	t.Cleanup(func() {
		app.sim.StopServices(t)
		_ = cmd.Wait()
		<-read
		r.Close()
	})
	return s
}

func (s *scheduler) add(line string, done bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.printed.WriteString(line)
	s.done = s.done || done
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor waits until the scheduler has printed text (in the NDJSON
// events of exec): a line it prints when it gets there, however long the
// machine takes. A scheduler that exits, or takes ten minutes, fails.
func (s *scheduler) waitFor(t *testing.T, text string) {
	t.Helper()
	give := time.After(10 * time.Minute)
	for {
		s.mu.Lock()
		printed, done, changed := s.printed.String(), s.done, s.changed
		s.mu.Unlock()
		if strings.Contains(printed, text) {
			return
		}
		if done {
			t.Fatalf("the scheduler ended without printing %q:\n%s", text, printed)
		}
		select {
		case <-changed:
		case <-give:
			t.Fatalf("the scheduler did not print %q; it printed:\n%s", text, printed)
		}
	}
}

// scheduledBackup starts the service's scheduler with args, waits until it
// has recorded a backup, and returns that backup's evidence.
func scheduledBackup(t *testing.T, app *opsApp, args ...string) map[string]any {
	t.Helper()
	startScheduler(t, app, args...).waitFor(t, "schedule: backup finished")
	return app.evidence(t, "backup")
}

// TestStoppingTheServiceMidRunInterruptsTheRunWhichReleasesItsLockAndSaysSo:
// docker stop, and a deploy that replaces the backup service, signal only
// the service's process 1, and a run exec'd into the service is no child
// of it: when process 1 exits, the platform kills the run with its restic,
// and the lock stays. The scheduler interrupts every run it knows and
// waits for it, within the stop grace, so that restic releases its lock
// and the run stores its evidence first.
func TestStoppingTheServiceMidRunInterruptsTheRunWhichReleasesItsLockAndSaysSo(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		dir := t.TempDir()
		started, release := filepath.Join(dir, "started"), filepath.Join(dir, "release")
		app := newOpsApp(t, rb, opsConfig{
			extra: "  schedule: manual",
			// A dump that runs until the test lets it go (it never does).
			databases: fmt.Sprintf("    - name: slow\n      engine: command\n      command: [sh, -c, \"touch %s; until [ -e %s ]; do sleep 0.05; done; printf dump\"]\n", started, release),
			simEnv:    []string{"DEVOPSELLENCE_SIM_RUN_SERVICES=1"},
			noApply:   true,
		})
		app.restic(t, "init")
		if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var stdout, stderr bytes.Buffer
		cmd := startCLI(t, app.sim, app.secretEnv(), &stdout, &stderr, "backup", "--output", "json")
		waitUntil(t, "the dump runs", time.Minute, func() bool { _, err := os.Stat(started); return err == nil })
		// As docker stop: SIGTERM to the service's process, its grace, then
		// what still runs in the container is killed.
		if r := app.sim.Run(t, "sim", "stop-services"); r.Code != 0 {
			t.Fatalf("stop services: %s", r.Stdout)
		}
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
		var doc opDoc
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatalf("stdout is not the result (exit %d): %v\n%s\n%s", code, err, stdout.String(), stderr.String())
		}
		if code != 1 || doc.finding("service_stopped") == nil {
			t.Fatalf("backup during a stop of the service: exit %d, findings %+v; want 1 and service_stopped\n%s", code, doc.Findings, stderr.String())
		}
		if locks, _ := os.ReadDir(filepath.Join(app.repo, "locks")); len(locks) != 0 {
			t.Errorf("%d lock(s) left in the repository", len(locks))
		}
		ev := app.evidence(t, "backup")
		if ev["interrupted"] != true || ev["interrupted_by"] != "service_stop" {
			t.Errorf("evidence: interrupted %v by %v, want by service_stop", ev["interrupted"], ev["interrupted_by"])
		}
	})
}
