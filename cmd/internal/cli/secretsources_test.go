package cli_test

import (
	"bytes"
	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestASecretFileThatIsAFIFOOrDevZeroIsRefusedAtOnceAndFreesTheLock(t *testing.T) {
	sim := newApp(t, "basic")
	fifo := filepath.Join(t.TempDir(), "fifo") // nobody ever writes to it
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := basicSecrets()
	for _, path := range []string{fifo, "/dev/zero"} {
		var out, errb bytes.Buffer
		cmd := startCLI(t, sim, secrets.env("RESTIC_PASSWORD"), &out, &errb,
			"apply", "--non-interactive", "--secret-file", "RESTIC_PASSWORD="+path)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			// What the issue saw: blocked, holding the lock. SIGTERM must
			// still end it; the test fails either way.
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-done:
				t.Fatalf("--secret-file %s blocked until SIGTERM", path)
			case <-time.After(time.Minute):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
				t.Fatalf("--secret-file %s blocked and ignored SIGTERM", path)
			}
		}
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(errb.String(), "not a regular file") {
			t.Errorf("--secret-file %s: exit %d: %s", path, code, errb.String())
		}
	}
	// The lock is free: a run that waits at most a second for it gets it.
	if r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive", "--lock-timeout", "1s"); r.code != 0 {
		t.Fatalf("after the refusals: exit %d: %s", r.code, r.stderr)
	}
}

func TestSigtermWhileWaitingForTheLockEndsTheRunAndTheLockHolderKeepsIt(t *testing.T) {
	sim := newApp(t, "basic")
	sim.ResetCalls(t)
	sim.Faults = "deploy#1=hang"
	secrets := basicSecrets()
	var out1, err1, out2, err2 bytes.Buffer
	holder := startCLI(t, sim, secrets.env(), &out1, &err1, "apply", "--non-interactive")
	defer func() { _ = syscall.Kill(-holder.Process.Pid, syscall.SIGKILL); _ = holder.Wait() }()
	waitForHang(t, sim, "deploy")
	waiter := startCLI(t, sim, secrets.env(), &out2, &err2, "apply", "--non-interactive", "--lock-timeout", "10m")
	// It waits once it has the app's lock file open (its signal handler is
	// set long before).
	waitUntil(t, "the second run waits for the lock", 5*time.Minute, func() bool { return holdsOpen(waiter.Process.Pid, ".lock") })
	if err := syscall.Kill(-waiter.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = waiter.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-waiter.Process.Pid, syscall.SIGKILL)
		t.Fatal("a run waiting for the lock ignored SIGTERM")
	}
	if code := waiter.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130: %s", code, err2.String())
	}
}

func TestAValueTypedWhereANameOrPathBelongsIsPrintedNowhere(t *testing.T) {
	const value = "Hunter2TheActualValue"
	sim := newApp(t, "basic")
	withoutSpecCopy := newApp(t, "basic")
	withoutSpec(t, withoutSpecCopy)
	initArgs := []string{"init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/b", "--image", "img:1"}
	for _, tc := range []struct {
		sim  bool
		args []string
		flag string
	}{
		{true, []string{"apply", "--non-interactive", "--secret-file", "RESTIC_PASSWORD=" + value}, "--secret-file RESTIC_PASSWORD=…"},
		{true, []string{"apply", "--non-interactive", "--secret-file", "production:RESTIC_PASSWORD=" + value}, "--secret-file production:RESTIC_PASSWORD=…"},
		{true, []string{"apply", "--non-interactive", "--secret-env", "RESTIC_PASSWORD=" + value}, "--secret-env RESTIC_PASSWORD=…"},
		{false, append(initArgs, "--onepassword", "RESTIC_PASSWORD="+value), "--onepassword RESTIC_PASSWORD=…"},
		{false, append(initArgs, "--onepassword", value), "--onepassword"},
		{false, append(initArgs, "--onepassword", value+"=op://v/i/f"), "--onepassword"},
	} {
		s := sim
		if !tc.sim {
			s = withoutSpecCopy
		}
		for _, output := range []string{"text", "json"} {
			args := append(append([]string{}, tc.args...), "--output", output)
			r := runCLI(t, s, basicSecrets().env("RESTIC_PASSWORD"), args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.flag) {
				t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", args, r.code, r.stderr, tc.flag)
			}
			if strings.Contains(r.stdout+r.stderr, value) {
				t.Errorf("%v printed the value:\nstdout: %s\nstderr: %s", args, r.stdout, r.stderr)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(withoutSpecCopy.Workspace, "devopsellence.backup.yml")); err == nil {
		t.Error("init wrote a spec")
	}
}

func TestASecretValueWithANULByteIsRefusedBeforeAnythingIsStored(t *testing.T) {
	sim := newApp(t, "basic")
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("pass\x00word-Hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	original := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	r := runCLI(t, sim, basicSecrets().env("RESTIC_PASSWORD"), "apply", "--non-interactive", "--secret-file", "RESTIC_PASSWORD="+file)
	if r.code != 2 || !strings.Contains(r.stderr, "NUL byte") || strings.Contains(r.stdout+r.stderr, "Hunter2") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := count(sim.Calls(t), "secret set"); n > 0 {
		t.Errorf("secret set ran %d time(s)", n)
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), original) {
		t.Error("devopsellence.yml changed")
	}
}

func TestInitWithAnswersThatMakeNoValidSpecNamesNoFileItDidNotWrite(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive", "--name", "Bad_Name",
		"--repository", "s3:s3.amazonaws.com/b", "--image", "img:1")
	if r.code != 2 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"devopsellence.backup.yml was not written", "metadata.name: \"Bad_Name\" is not a lower-case DNS label", "(--name)", "run init again"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for _, bad := range []string{"devopsellence.backup.yml:", "fix devopsellence.backup.yml"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr points into a file that was not written (%q):\n%s", bad, r.stderr)
		}
	}
}

func TestInitRefusesToWriteTheSpecOverDevopsellenceYmlOrAFIFO(t *testing.T) {
	sim := newApp(t, "basic")
	config := filepath.Join(sim.Workspace, "devopsellence.yml")
	original := readFile(t, config)
	fifo := filepath.Join(t.TempDir(), "spec.yml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sim.ResetCalls(t)
	for spec, want := range map[string]string{config: "which devopsellence manages", fifo: "a named pipe (FIFO)"} {
		r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive", "--force", "--spec", spec,
			"--repository", "s3:s3.amazonaws.com/b", "--image", "img:1")
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("--spec %s: exit %d: %s", spec, r.code, r.stderr)
		}
	}
	if !bytes.Equal(readFile(t, config), original) {
		t.Error("devopsellence.yml was overwritten")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi, err)
	}
	for _, c := range sim.Calls(t) {
		if c.Subcommand != "secret list" && c.Subcommand != "mode show" {
			t.Errorf("init changed something before refusing: %+v", c)
		}
	}
}

func TestASecretTypedWithANULByteIsAskedAgain(t *testing.T) {
	sim := newApp(t, "basic")
	p := ptytest.Open(t)
	secrets := basicSecrets()
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply", "--yes")
	for i, name := range []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"} {
		if i == 0 {
			p.Expect(t, "Generate a strong one? [Y/n]:", 1)
			p.Send(t, "n\r")
		}
		p.Expect(t, "Value of "+name+" for service backup in production (input hidden):", 1)
		if i == 0 {
			p.Send(t, "pass\x00Hunter2\r")
			p.Expect(t, "a NUL byte cannot be part of a secret value", 1)
			p.Expect(t, "Value of "+name+" for service backup in production (input hidden):", 2)
		}
		p.Send(t, secrets[name]+"\r")
		if i == 0 {
			p.Expect(t, "Again, to confirm (input hidden):", 1)
			p.Send(t, secrets[name]+"\r")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v\n%s", err, p.Output())
	}
	state := string(readFile(t, sim.StatePath()))
	if !strings.Contains(state, secrets["RESTIC_PASSWORD"]) || strings.Contains(state, "Hunter2") {
		t.Error("the value with a NUL byte was stored, or the one typed again was not")
	}
}

// holdsOpen reports whether process pid has a file whose name ends in
// suffix open.
func holdsOpen(pid int, suffix string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, _ := os.ReadDir(dir)
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && strings.HasSuffix(target, suffix) {
			return true
		}
	}
	return false
}
