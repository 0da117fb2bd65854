package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// TestAnInterruptedBackupStopsResticInTheServiceAndSaysSo interrupts a
// backup of a large folder from the operator's side, by SIGINT and by the
// deadline. devopsellence's exec passes neither on, so this only holds if
// the tool stops the run in the service itself.
func TestAnInterruptedBackupStopsResticInTheServiceAndSaysSo(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		writeRandom(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "media"), 400<<20)
		app.restic(t, "init")
		for _, how := range []string{"SIGINT", "deadline"} {
			args := []string{"backup", "--output", "json"}
			if how == "deadline" {
				args = append(args, "--timeout", "3s")
			}
			var stdout, stderr bytes.Buffer
			cmd := startCLI(t, app.sim, app.secretEnv(), &stdout, &stderr, args...)
			waitUntil(t, how+": restic backs up the files", 2*time.Minute, func() bool {
				return slices.ContainsFunc(resticProcesses(app.repo), func(p string) bool { return strings.Contains(p, "kind:files") })
			})
			stopped := time.Now()
			if how == "SIGINT" {
				must(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
			}
			err := cmd.Wait()
			took := time.Since(stopped)
			code := 0
			if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
			want := map[string]int{"SIGINT": 130, "deadline": 1}[how]
			if code != want {
				t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", how, code, want, stdout.String(), stderr.String())
			}
			if took > 45*time.Second {
				t.Errorf("%s: the command took %s to stop", how, took)
			}
			// Within seconds, nothing runs and nothing is held.
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
// with a short backup deadline on a large folder: the agent interrupts
// restic itself, records the run as failed, and keeps going.
func TestTheSchedulerStopsARunAtItsOwnDeadline(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{extra: "  schedule:\n    every: 1h"})
		writeRandom(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "media"), 400<<20)
		app.restic(t, "init")
		ev := scheduledBackup(t, app, "--backup-timeout", "3s")
		if ev["trigger"] != "schedule" || ev["result"] != "failed" || ev["interrupted"] != true {
			t.Errorf("scheduled backup evidence: trigger %v, result %v, interrupted %v", ev["trigger"], ev["result"], ev["interrupted"])
		}
		waitUntil(t, "restic is gone", 30*time.Second, func() bool { return len(resticProcesses(app.repo)) == 0 })
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

// scheduledBackup starts the service's scheduler (agent run with args)
// through exec, waits until it records a backup, and returns that
// backup's evidence. The scheduler is stopped when the test ends.
func scheduledBackup(t *testing.T, app *opsApp, args ...string) map[string]any {
	t.Helper()
	sched := app.sim.Command(context.Background(), append([]string{"exec", "backup", "--env", "production", "--",
		"devopsellence-backup", "agent", "run"}, args...)...)
	out, err := os.Create(filepath.Join(t.TempDir(), "scheduler.out"))
	must(t, err)
	sched.Stdout, sched.Stderr = out, out
	must(t, sched.Start())
	t.Cleanup(func() {
		app.sim.StopServices(t)
		_ = sched.Wait()
		_ = out.Close()
	})
	deadline := time.Now().Add(3 * time.Minute)
	for len(app.snapshots(t, "--tag", "evidence:backup")) == 0 {
		if time.Now().After(deadline) {
			printed, _ := os.ReadFile(out.Name())
			t.Fatalf("no scheduled backup was recorded; the scheduler's exec printed:\n%s", printed)
		}
		time.Sleep(200 * time.Millisecond)
	}
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
