package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/golden"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// hostedRunner is a checkout with no devopsellence state: the workspace has
// no mode and nothing is stored, as on a GitHub-hosted runner. patched
// starts it from the file apply would write, so that only the state is
// missing.
func hostedRunner(t *testing.T, fixture string, patched bool) *simtest.Env {
	t.Helper()
	sim := simtest.New(t)
	sim.CopyApp(t, filepath.Join(appsDir, fixture))
	if patched {
		sim.WriteFile(t, "devopsellence.yml", string(readFile(t, filepath.Join(appsDir, fixture, "want.devopsellence.yml"))))
	}
	return sim
}

func TestPlanFromTheFilesAloneExitsThreeOnlyForAChangeToTheFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		patched bool
		args    []string
		want    int
	}{
		{"in sync, --config-only", true, []string{"--config-only"}, 0},
		{"a change, --config-only", false, []string{"--config-only"}, 3},
		{"in sync, no state detected", true, nil, 0},
		{"a change, no state detected", false, nil, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := hostedRunner(t, "basic", tc.patched)
			args := append([]string{"plan", "--detailed-exitcode", "--output", "json"}, tc.args...)
			r := runCLI(t, sim, nil, args...)
			if r.code != tc.want {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.want, r.stdout, r.stderr)
			}
			var doc struct {
				ConfigOnly     bool `json:"config_only"`
				SecretsChecked bool `json:"secrets_checked"`
				Environments   []struct {
					Name         string `json:"name"`
					Deploy       bool   `json:"deploy"`
					DeployReason string `json:"deploy_reason"`
					Secrets      []struct {
						Name   string `json:"name"`
						Status string `json:"status"`
					} `json:"secrets"`
				} `json:"environments"`
				Findings []struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"findings"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, r.stdout)
			}
			if !doc.ConfigOnly || doc.SecretsChecked {
				t.Errorf("config_only %t, secrets_checked %t", doc.ConfigOnly, doc.SecretsChecked)
			}
			if len(doc.Environments) != 1 || len(doc.Environments[0].Secrets) == 0 {
				t.Fatalf("environments: %+v", doc.Environments)
			}
			for _, e := range doc.Environments {
				if e.Deploy || !strings.HasPrefix(e.DeployReason, "not checked here") {
					t.Errorf("%s: deploy %t (%s), want not checked here", e.Name, e.Deploy, e.DeployReason)
				}
				for _, s := range e.Secrets {
					if s.Status != "unknown" {
						t.Errorf("%s: secret %s is %q, want unknown (not checked), never missing", e.Name, s.Name, s.Status)
					}
				}
			}
			found := false
			for _, f := range doc.Findings {
				if f.Code == "config_only" {
					found = true
					want := "--config-only"
					if tc.args == nil {
						want = "detected: devopsellence has no state"
					}
					if !strings.Contains(f.Message, want) {
						t.Errorf("config_only finding does not say why (%q): %s", want, f.Message)
					}
				}
			}
			if !found {
				t.Errorf("no config_only finding: %+v", doc.Findings)
			}
			if tc.args != nil {
				if calls := sim.Calls(t); len(calls) != 0 {
					t.Errorf("--config-only ran devopsellence: %v", calls[0].Argv)
				}
			}
		})
	}
}

func TestPlanFromTheFilesAloneMarksSecretsAndDeploysNotCheckedHere(t *testing.T) {
	sim := hostedRunner(t, "basic", false)
	// No devopsellence at all: the plan never needs it.
	missing := filepath.Join(t.TempDir(), "devopsellence")
	for ext, args := range map[string][]string{
		"txt": {"plan", "--config-only"},
		"md":  {"plan", "--config-only", "--output", "markdown"},
	} {
		r := runCLI(t, sim, nil, append(args, "--devopsellence", missing)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
		// Text says "missing: apply asks for it"; the Markdown table lists
		// a missing secret by name.
		if strings.Contains(r.stdout, "missing:") || strings.Contains(r.stdout, "`RESTIC_PASSWORD`") {
			t.Errorf("%v calls a secret missing that it never checked:\n%s", args, r.stdout)
		}
		golden.Check(t, filepath.Join(appsDir, "basic", "plan.config-only.golden."+ext), []byte(r.stdout))
	}
}

func TestPlanOnAMachineWithStateStillJudgesDeploysUnlessConfigOnly(t *testing.T) {
	sim := newApp(t, "basic")
	sim.WriteFile(t, "devopsellence.yml", string(readFile(t, filepath.Join(appsDir, "basic", "want.devopsellence.yml"))))
	// The file is in sync, but nothing is stored or deployed from here.
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode"); r.code != 3 || !strings.Contains(r.stdout, "missing") {
		t.Fatalf("with state: exit %d, want 3 with missing secrets\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode", "--config-only"); r.code != 0 {
		t.Fatalf("--config-only: exit %d, want 0\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, sim, nil, "plan", "--config-only", "--out", filepath.Join(t.TempDir(), "p")); r.code != 2 {
		t.Errorf("--config-only --out: exit %d, want 2 (a saved plan needs the stored secrets)", r.code)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, "p")); err == nil {
		t.Error("a refused --out wrote a file")
	}
}
