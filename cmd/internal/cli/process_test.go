package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// startCLI starts the built devopsellence-backup in its own process group.
func startCLI(t *testing.T, sim *simtest.Env, extra []string, stdout, stderr *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(cliBinary(t), append(args, "--dir", sim.Workspace, "--devopsellence", sim.Bin)...)
	cmd.Env = append(sim.Environ(), extra...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitForHang waits until the simulator logs the hanging call of sub.
func waitForHang(t *testing.T, sim *simtest.Env, sub string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		for _, c := range sim.Calls(t) {
			if c.Subcommand == sub && c.ExitCode == -1 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never hung", sub)
}

func TestApplyKilledAtEachStepLeavesTheAppValidAndARerunConverges(t *testing.T) {
	for _, step := range []string{"secret list#1", "config resolve#1", "secret set#1", "secret set#3", "deploy#1"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			sim := newApp(t, "basic")
			original := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
			sim.ResetCalls(t)
			sim.Faults = step + "=hang"
			secrets := basicSecrets()
			var out, errb bytes.Buffer
			cmd := startCLI(t, sim, secrets.env(), &out, &errb, "apply", "--non-interactive")
			waitForHang(t, sim, strings.Split(step, "#")[0])
			if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			got := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
			want := readFile(t, filepath.Join(appsDir, "basic", "want.devopsellence.yml"))
			if !bytes.Equal(got, original) && !bytes.Equal(got, want) {
				t.Fatalf("devopsellence.yml is neither the original nor the patch after the kill:\n%s", got)
			}
			leftovers, _ := filepath.Glob(filepath.Join(sim.Workspace, ".devopsellence.yml.tmp-*"))
			if len(leftovers) > 0 {
				t.Errorf("temp files left: %v", leftovers)
			}
			assertConverges(t, sim, secrets)
		})
	}
}

func TestApplyInterruptedExitsWith130(t *testing.T) {
	sim := newApp(t, "basic")
	sim.ResetCalls(t)
	sim.Faults = "deploy#1=hang"
	var out, errb bytes.Buffer
	cmd := startCLI(t, sim, basicSecrets().env(), &out, &errb, "apply", "--non-interactive")
	waitForHang(t, sim, "deploy")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d (%v), want 130\n%s", code, err, errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("stderr: %s", errb.String())
	}
}

func TestConcurrentAppliesOnOneAppAreSerialisedAndBothEndCorrect(t *testing.T) {
	sim := newApp(t, "basic")
	sim.ResetCalls(t)
	secrets := basicSecrets()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]bytes.Buffer, 2)
	errs := make([]bytes.Buffer, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := startCLI(t, sim, secrets.env(), &outs[i], &errs[i], "apply", "--non-interactive")
			_ = cmd.Wait()
			codes[i] = cmd.ProcessState.ExitCode()
		}(i)
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 0 {
			t.Errorf("run %d: exit %d\n%s", i, codes[i], errs[i].String())
		}
	}
	calls := sim.Calls(t)
	if n := count(calls, "deploy"); n != 1 {
		t.Errorf("deploys = %d, want 1", n)
	}
	if n := count(calls, "secret set"); n != 4 {
		t.Errorf("secret set = %d, want 4", n)
	}
	nothing := 0
	for i := range outs {
		if strings.Contains(outs[i].String(), "Nothing to do") {
			nothing++
		}
	}
	if nothing != 1 {
		t.Errorf("want one run to apply and the other to find nothing to do: %q / %q", outs[0].String(), outs[1].String())
	}
	want := readFile(t, filepath.Join(appsDir, "basic", "want.devopsellence.yml"))
	if got := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")); !bytes.Equal(got, want) {
		t.Error("devopsellence.yml is not the planned patch")
	}
}

func TestASecondRunWaitsForTheLockThenFailsClearly(t *testing.T) {
	sim := newApp(t, "basic")
	sim.ResetCalls(t)
	sim.Faults = "deploy#1=hang"
	var out, errb bytes.Buffer
	cmd := startCLI(t, sim, basicSecrets().env(), &out, &errb, "apply", "--non-interactive")
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	waitForHang(t, sim, "deploy")
	start := time.Now()
	r := runCLI(t, sim, nil, "apply", "--non-interactive", "--lock-timeout", "500ms")
	if r.code != 1 || !strings.Contains(r.stderr, "another devopsellence-backup run holds the lock for this app") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if time.Since(start) < 500*time.Millisecond {
		t.Error("it did not wait")
	}
}

func TestSecretValuesNeverLeave(t *testing.T) {
	sim := newApp(t, "basic")
	if err := os.Remove(filepath.Join(sim.Workspace, "devopsellence.backup.yml")); err != nil {
		t.Fatal(err)
	}
	secrets := basicSecrets()
	var seen bytes.Buffer
	runs := [][]string{
		{"init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/leak-test", "--image", "registry.example.com/b:1", "-v", "2", "--log-format", "json", "--no-deploy"},
		{"plan", "--output", "json", "-v", "2"},
		{"plan", "--output", "markdown", "-v", "2"},
		{"apply", "--non-interactive", "-v", "2", "--log-format", "json"},
		{"plan", "-v", "2"},
	}
	for _, args := range runs {
		r := runCLI(t, sim, secrets.env(), args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		seen.WriteString(r.stdout + r.stderr)
	}
	// A failing run, whose errors must not carry values either.
	sim.ResetCalls(t)
	sim.Faults = "secret set#1=exit:1:boom"
	if err := os.WriteFile(filepath.Join(sim.Workspace, "devopsellence.backup.yml"), bytes.Replace(readFile(t, filepath.Join(sim.Workspace, "devopsellence.backup.yml")), []byte("leak-test"), []byte("leak-test-2"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, sim, newSecrets("RESTIC_PASSWORD").env(), "apply", "--non-interactive", "-v", "2")
	seen.WriteString(r.stdout + r.stderr)
	sim.Faults = ""

	state := readFile(t, sim.StatePath())
	for name, v := range secrets {
		if !bytes.Contains(state, []byte(v)) {
			t.Fatalf("%s was not stored, so this test could not see a leak", name)
		}
	}
	scan := map[string][]byte{"stdout and stderr": seen.Bytes(), "call log": readFile(t, sim.CallLog)}
	for _, root := range []string{sim.Workspace, filepath.Join(sim.StateHome, "devopsellence-backup"), "../../../fixtures"} {
		_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() && fi.Name() == ".git" {
				if fi != nil && fi.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !fi.IsDir() {
				scan[p] = readFile(t, p)
			}
			return nil
		})
	}
	for where, b := range scan {
		for name, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("the value of %s leaked into %s", name, where)
			}
		}
	}
	if len(scan) < 6 {
		t.Errorf("scanned only %d places", len(scan))
	}
}
