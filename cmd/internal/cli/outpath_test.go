package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// unwritable makes, in dir, one of each kind of path an output flag must
// refuse. The character device is a private node with /dev/null's numbers;
// the real /dev/null is never named.
func unwritable(t *testing.T, dir string) map[string]string {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod (the tests run as root): %v", err)
	}
	stdout := filepath.Join(dir, "stdout")
	if err := os.Symlink("pipe:[4026531]", stdout); err != nil { // as /dev/stdout on a pipe
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(readOnly, []byte("{}\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		fifo: "a named pipe (FIFO)", null: "a character device", dir: "a directory",
		stdout: "symlink to nothing", readOnly: "read-only (mode 0444)",
	}
}

// sameAs fails when path is no longer what before described.
func sameAs(t *testing.T, path string, before fs.FileInfo) {
	t.Helper()
	after, err := os.Lstat(path)
	if err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after) {
		t.Errorf("%s was replaced: %v -> %v (%v)", path, before.Mode(), after, err)
	}
}

func TestPlanOutRefusesAnythingButARegularFileOrANewPath(t *testing.T) {
	sim := newApp(t, "basic")
	config := filepath.Join(sim.Workspace, "devopsellence.yml")
	original := readFile(t, config)
	targets := unwritable(t, t.TempDir())
	targets[config] = "devopsellence.yml, which devopsellence-backup manages"
	targets[filepath.Join(sim.Workspace, spec.DefaultFile)] = "the backup spec devopsellence.backup.yml"
	for path, want := range targets {
		before, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, sim, nil, "plan", "--out", path)
		if r.code != 2 || !strings.Contains(r.stderr, "--out") || !strings.Contains(r.stderr, want) {
			t.Errorf("plan --out %s: exit %d, stderr %q; want exit 2 saying %q", path, r.code, r.stderr, want)
		}
		sameAs(t, path, before)
	}
	if !bytes.Equal(readFile(t, config), original) {
		t.Error("devopsellence.yml changed")
	}
	// The refusal comes before devopsellence is asked anything.
	sim.ResetCalls(t)
	runCLI(t, sim, nil, "plan", "--out", config)
	if calls := sim.Calls(t); len(calls) > 0 {
		t.Errorf("devopsellence was called: %+v", calls)
	}
}

func TestPlanOutFollowsASymlinkToARegularFile(t *testing.T) {
	sim := newApp(t, "basic")
	dir := t.TempDir()
	real := filepath.Join(dir, "real.plan")
	if err := os.WriteFile(real, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "backup.plan")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, sim, nil, "plan", "--out", link); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	var sp cli.SavedPlan
	if err := json.Unmarshal(readFile(t, real), &sp); err != nil || sp.Kind != cli.SavedPlanKind {
		t.Errorf("the link's target holds no saved plan: %v", err)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
}

func TestPlanOutRelativeToTheAppFolderRefusesDevopsellenceYml(t *testing.T) {
	sim := newApp(t, "basic")
	original := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	cmd := exec.Command(cliBinary(t), "plan", "--out", "devopsellence.yml", "--devopsellence", sim.Bin)
	cmd.Dir, cmd.Env = sim.Workspace, sim.Environ()
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "which devopsellence-backup manages") {
		t.Errorf("exit %d (%v): %s", code, err, out)
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), original) {
		t.Error("devopsellence.yml was overwritten")
	}
}

func TestPlanOutDashPutsTheSavedPlanOnStdoutAndThePlanOnStderr(t *testing.T) {
	sim := newApp(t, "basic")
	r := runCLI(t, sim, nil, "plan", "--out", "-")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var sp cli.SavedPlan
	if err := json.Unmarshal([]byte(r.stdout), &sp); err != nil || sp.Kind != cli.SavedPlanKind {
		t.Errorf("stdout is not a saved plan (%v):\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stderr, "Plan: 1 to add") {
		t.Errorf("the plan is not on stderr:\n%s", r.stderr)
	}
	if _, err := os.Lstat(filepath.Join(sim.Workspace, "-")); err == nil {
		t.Error("a file named - was written")
	}
	if r := runCLI(t, sim, nil, "plan", "--out", "-", "--output", "json"); r.code != 2 || !strings.Contains(r.stderr, "--out -") {
		t.Errorf("--out - with --output json: exit %d %s", r.code, r.stderr)
	}
}

// runFor runs devopsellence-backup in process, cancelling it after d: a
// command that should have refused at once fails the test instead of hanging.
func runFor(t *testing.T, d time.Duration, environ []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	streams, out, errb := iostreams.Test("")
	code := cli.Main(ctx, args, streams, environ)
	if ctx.Err() != nil {
		t.Fatalf("%v still ran after %s", args, d)
	}
	return result{out.String(), errb.String(), code}
}

func TestRunStatusFileRefusesAnythingButARegularFileOrANewPath(t *testing.T) {
	sim := newApp(t, "basic")
	targets := unwritable(t, t.TempDir())
	config := filepath.Join(sim.Workspace, "devopsellence.yml")
	targets[config] = "devopsellence.yml, which devopsellence-backup manages"
	targets["-"] = "stdout carries the pass lines"
	for path, want := range targets {
		before, _ := os.Lstat(path)
		r := runFor(t, 2*time.Minute, sim.Environ(), "run", "--status-file", path, "--dir", sim.Workspace, "--devopsellence", sim.Bin)
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("run --status-file %s: exit %d, stderr %q; want exit 2 saying %q", path, r.code, r.stderr, want)
		}
		if before != nil {
			sameAs(t, path, before)
		}
	}
}

func TestApplyRefusesAReadOnlyDevopsellenceYmlBeforeChangingAnything(t *testing.T) {
	sim := newApp(t, "basic")
	config := filepath.Join(sim.Workspace, "devopsellence.yml")
	if err := os.Chmod(config, 0o444); err != nil {
		t.Fatal(err)
	}
	original := readFile(t, config)
	sim.ResetCalls(t)
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive")
	if r.code != 2 || !strings.Contains(r.stderr, "read-only (mode 0444)") || !strings.Contains(r.stderr, "chmod u+w") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !bytes.Equal(readFile(t, config), original) {
		t.Error("devopsellence.yml was replaced")
	}
	if fi, _ := os.Stat(config); fi.Mode().Perm() != 0o444 {
		t.Errorf("mode is now %v", fi.Mode().Perm())
	}
	for _, sub := range []string{"secret set", "deploy", "node label set"} {
		if n := count(sim.Calls(t), sub); n > 0 {
			t.Errorf("%s ran %d time(s)", sub, n)
		}
	}
}

func TestApplyRemovesTheTempFilesAKilledWriteLeftBehind(t *testing.T) {
	sim := newApp(t, "basic")
	stale := filepath.Join(sim.Workspace, ".devopsellence.yml.tmp-2718281828")
	notOurs := filepath.Join(sim.Workspace, ".devopsellence.yml.tmp-mine")
	for _, p := range []string{stale, notOurs} {
		if err := os.WriteFile(p, []byte("services: {}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Lstat(stale); err == nil {
		t.Error("the stale temp file is still there")
	}
	if _, err := os.Lstat(notOurs); err != nil {
		t.Errorf("a file that only looks like ours was removed: %v", err)
	}
}

func TestASpecPathThatIsADirectoryIsInvalidInput(t *testing.T) {
	sim := newApp(t, "basic")
	r := runCLI(t, sim, nil, "plan", "--spec", t.TempDir())
	if r.code != 2 || !strings.Contains(r.stderr, "is a directory") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

func TestRunWaitsOutAReadOnlyDevopsellenceYmlUntilItIsMadeWritable(t *testing.T) {
	sim := newApp(t, "basic")
	config := filepath.Join(sim.Workspace, "devopsellence.yml")
	if err := os.Chmod(config, 0o444); err != nil {
		t.Fatal(err)
	}
	statusPath := filepath.Join(t.TempDir(), "status.json")
	clk := &handClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), waits: make(chan handWait)}
	ctx, stop := context.WithCancel(context.Background())
	streams, _, stderr := iostreams.Test("")
	done := make(chan int)
	go func() {
		done <- cli.MainWithClock(ctx, []string{"run", "--interval", "10m", "--poll", "5s", "--status-file", statusPath,
			"--dir", sim.Workspace, "--devopsellence", sim.Bin}, streams, append(sim.Environ(), basicSecrets().env()...), clk,
			func(d time.Duration) time.Duration { return d })
	}()
	clk.pass(t, 5*time.Second, func() {
		s := readStatus(t, statusPath)
		if s.Status.LastPassResult != "Blocked" || !strings.Contains(s.Status.LastError, "read-only (mode 0444)") {
			t.Errorf("pass 1: %s %q", s.Status.LastPassResult, s.Status.LastError)
		}
		if err := os.Chmod(config, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	clk.pass(t, 10*time.Minute, func() {
		if s := readStatus(t, statusPath); s.Status.LastPassResult != "Succeeded" {
			t.Errorf("after chmod u+w: %s %q", s.Status.LastPassResult, s.Status.LastError)
		}
	})
	stop()
	go func() {
		for w := range clk.waits {
			w.ch <- clk.Now()
		}
	}()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
