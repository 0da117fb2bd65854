package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestASavedPlanIsAppliedExactly(t *testing.T) {
	sim := newApp(t, "multi-env", "production", "staging", "preview")
	planFile := filepath.Join(t.TempDir(), "backup.plan")
	if r := runCLI(t, sim, nil, "plan", "--out", planFile, "--output", "markdown"); r.code != 0 || !strings.Contains(r.stdout, "devopsellence-backup:plan") {
		t.Fatalf("plan --out: exit %d %s", r.code, r.stderr)
	}
	var saved map[string]any
	if err := json.Unmarshal(readFile(t, planFile), &saved); err != nil || saved["kind"] != "devopsellence-backup-plan" {
		t.Fatalf("saved plan: %v %v", err, saved["kind"])
	}
	sim.ResetCalls(t)
	r := runCLI(t, sim, allSecrets().env(), "apply", planFile)
	if r.code != 0 {
		t.Fatalf("apply FILE: exit %d %s", r.code, r.stderr)
	}
	if got := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")); !bytes.Equal(got, readFile(t, filepath.Join(appsDir, "multi-env", "want.devopsellence.yml"))) {
		t.Error("apply FILE did not produce the planned file")
	}
	if n := count(sim.Calls(t), "deploy"); n != 2 {
		t.Errorf("deploys = %d", n)
	}
	if r := runCLI(t, sim, nil, "apply", planFile); r.code != 2 || !strings.Contains(r.stderr, "stale") {
		t.Errorf("a plan applied twice: exit %d %s", r.code, r.stderr)
	}
}

func TestAStalePlanIsRefusedForEachKindOfInputChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, ws string, run func(stdin string, args ...string))
		reason string
		// patched starts from the already patched file, so that
		// devopsellence knows the service.
		patched bool
	}{
		{"spec", func(t *testing.T, ws string, _ func(string, ...string)) {
			appendTo(t, filepath.Join(ws, "devopsellence.backup.yml"), "  tags: [app:example]\n")
		}, "devopsellence.backup.yml changed", false},
		{"devopsellence.yml", func(t *testing.T, ws string, _ func(string, ...string)) {
			appendTo(t, filepath.Join(ws, "devopsellence.yml"), "# a comment added after the review\n")
		}, "devopsellence.yml changed", false},
		{"stored secrets", func(t *testing.T, _ string, run func(string, ...string)) {
			run("pw\n", "secret", "set", "RESTIC_PASSWORD", "--service", "backup", "--env", "production", "--stdin")
		}, "the secrets stored in production changed (were [], now [RESTIC_PASSWORD])", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := newApp(t, "basic")
			if tc.patched {
				if err := os.WriteFile(filepath.Join(sim.Workspace, "devopsellence.yml"), readFile(t, filepath.Join(appsDir, "basic", "want.devopsellence.yml")), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			planFile := filepath.Join(t.TempDir(), "p.json")
			if r := runCLI(t, sim, nil, "plan", "--out", planFile); r.code != 0 {
				t.Fatal(r.stderr)
			}
			tc.change(t, sim.Workspace, func(stdin string, args ...string) {
				if r := sim.RunStdin(t, stdin, args...); r.Code != 0 {
					t.Fatal(string(r.Stdout))
				}
			})
			cfg := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
			sim.ResetCalls(t)
			r := runCLI(t, sim, basicSecrets().env(), "apply", planFile, "--output", "json")
			if r.code != 2 || !strings.Contains(r.stderr, "the saved plan is stale: "+tc.reason) || !strings.Contains(r.stderr, "plan --out FILE") {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			var doc map[string]any
			if json.Unmarshal([]byte(r.stdout), &doc) != nil || doc["ok"] != false {
				t.Errorf("the JSON result of a refused plan: %s", r.stdout)
			}
			if !bytes.Equal(cfg, readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))) {
				t.Error("devopsellence.yml changed")
			}
			for _, sub := range []string{"secret set", "deploy", "config resolve"} {
				if n := count(sim.Calls(t), sub); n != 0 {
					t.Errorf("%s ran %d times for a stale plan", sub, n)
				}
			}
		})
	}
	sim := newApp(t, "basic")
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte(`{"kind":"something else"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, sim, nil, "apply", bad); r.code != 2 || !strings.Contains(r.stderr, "is not a plan written by") {
		t.Errorf("not a plan: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, sim, nil, "apply", bad, "--env", "production"); r.code != 2 || !strings.Contains(r.stderr, "--env cannot narrow a saved plan") {
		t.Errorf("--env with a plan: exit %d %s", r.code, r.stderr)
	}
}

func appendTo(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, append(readFile(t, path), []byte(text)...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLogLevelsShowExternalCommandsOnlyFromV1AndKeepStdoutClean(t *testing.T) {
	sim := newApp(t, "basic")
	var stdouts []string
	for v := 0; v <= 2; v++ {
		sim.ResetCalls(t)
		r := runCLI(t, sim, nil, "plan", "--output", "json", "-v", string(rune('0'+v)), "--log-format", "json")
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		stdouts = append(stdouts, r.stdout)
		running := 0
		for i, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if line == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("-v %d: stderr line %d is not JSON: %q", v, i+1, line)
			}
			if m["msg"] == "running devopsellence" {
				running++
				if _, ok := m["args"].([]any); !ok {
					t.Errorf("the command is logged without its arguments: %s", line)
				}
			}
			for k := range m {
				if strings.Contains(k, "_") || strings.Contains(k, "-") {
					t.Errorf("log key %q is not lowerCamelCase", k)
				}
			}
		}
		calls := len(sim.Calls(t))
		switch {
		case v == 0 && running != 0:
			t.Errorf("-v 0 logged %d external commands", running)
		case v >= 1 && running != calls:
			t.Errorf("-v %d logged %d external commands, devopsellence ran %d", v, running, calls)
		}
	}
	if stdouts[0] != stdouts[1] || stdouts[1] != stdouts[2] {
		t.Error("stdout depends on the log level")
	}
}

func TestRunStopsOnSIGTERMAndExitsZero(t *testing.T) {
	sim := newApp(t, "basic")
	status := filepath.Join(t.TempDir(), "status.json")
	var out, errb bytes.Buffer
	cmd := startCLI(t, sim, basicSecrets().env(), &out, &errb, "run", "--interval", "1h", "--status-file", status)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if b, err := os.ReadFile(status); err == nil && bytes.Contains(b, []byte(`"pass": 1`)) {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no first pass:\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("run ignored SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "pass 1: Applied:") {
		t.Errorf("stdout: %s", out.String())
	}
}
