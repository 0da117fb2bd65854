package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/golden"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

func TestPlanOutputsMatchGoldens(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		envs    []string
	}{
		{"basic", nil}, {"multi-env", []string{"production", "staging", "preview"}}, {"adopt-guide", nil}, {"renamed", []string{"production", "staging"}}, {"onepassword", nil},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			sim := newApp(t, tc.fixture, tc.envs...)
			sim.ResetCalls(t)
			before := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
			for ext, args := range map[string][]string{
				"txt":  {"plan"},
				"json": {"plan", "--output", "json"},
				"md":   {"plan", "--output", "markdown"},
			} {
				r := runCLI(t, sim, nil, args...)
				if r.code != 0 {
					t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
				}
				if r.stderr != "" {
					t.Errorf("%v wrote to stderr: %s", args, r.stderr)
				}
				if ext == "json" {
					var doc map[string]any
					if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
						t.Fatalf("plan --output json is not JSON: %v", err)
					}
					for _, k := range []string{"schema_version", "operation", "ok", "summary", "findings", "changes", "diff", "environments"} {
						if _, ok := doc[k]; !ok {
							t.Errorf("JSON lacks %q", k)
						}
					}
				}
				golden.Check(t, filepath.Join(appsDir, tc.fixture, "plan.golden."+ext), []byte(r.stdout))
			}
			if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) {
				t.Error("plan wrote devopsellence.yml")
			}
			calls := sim.Calls(t)
			for _, c := range calls {
				if c.Subcommand != "secret list" && c.Subcommand != "node list" {
					t.Errorf("plan ran devopsellence %v", c.Argv)
				}
			}
		})
	}
}

func TestPlanDetailedExitcodeSaysWhetherChangesArePending(t *testing.T) {
	sim := newApp(t, "basic")
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode"); r.code != 3 {
		t.Fatalf("pending: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, sim, nil, "plan"); r.code != 0 {
		t.Fatalf("without the flag: exit %d", r.code)
	}
	if r := runCLI(t, sim, basicSecrets().env(), "apply", "--yes"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	r := runCLI(t, sim, nil, "plan", "--detailed-exitcode", "--output", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"in_sync": true`) {
		t.Fatalf("in sync: exit %d %s", r.code, r.stdout)
	}
}

func TestPlanWithoutDevopsellenceStillShowsTheDiff(t *testing.T) {
	sim := simtest.New(t)
	sim.CopyApp(t, filepath.Join(appsDir, "basic"))
	r := runCLI(t, sim, nil, "plan", "--devopsellence", filepath.Join(t.TempDir(), "devopsellence"))
	if r.code != 0 {
		t.Fatalf("exit %d %s", r.code, r.stderr)
	}
	for _, want := range []string{"+  backup:", "not checked", "devopsellence_not_found", "Plan: 1 to add"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, sim, nil, "plan", "--output", "json")
	if r.code != 0 || !strings.Contains(r.stdout, "workspace_mode_not_set") || !strings.Contains(r.stdout, "devopsellence mode use solo") {
		t.Errorf("mode not set: exit %d %s", r.code, r.stdout)
	}
}

func TestBadInputGetsFileLineFieldAndNextCommandAndChangesNothing(t *testing.T) {
	sim := newApp(t, "basic")
	specPath := filepath.Join(sim.Workspace, "devopsellence.backup.yml")
	cfgPath := filepath.Join(sim.Workspace, "devopsellence.yml")
	goodSpec, goodCfg := readFile(t, specPath), readFile(t, cfgPath)
	for _, tc := range []struct {
		name       string
		spec, cfg  string
		wantStderr []string
	}{
		{"unknown spec field and a bad engine", strings.Replace(string(goodSpec), "engine: postgres", "engine: mongo, bogus: 1", 1), "",
			[]string{"devopsellence.backup.yml:10: spec.databases[0].bogus", `spec.databases[0].engine: unsupported "mongo"`, "devopsellence-backup plan"}},
		{"a volume no service uses", strings.Replace(string(goodSpec), "{name: app_storage}", "{name: app_storag}", 1), "",
			[]string{`devopsellence.backup.yml:9: spec.volumes[0].name: "app_storag" is not a volume of any app service in devopsellence.yml (volumes in use: app_storage)`}},
		{"devopsellence.yml that is not YAML", "", "services:\n  web: [\n",
			[]string{"devopsellence.yml", "line", "devopsellence config resolve"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.spec != "" {
				if err := os.WriteFile(specPath, []byte(tc.spec), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.cfg != "" {
				if err := os.WriteFile(cfgPath, []byte(tc.cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			defer func() {
				_ = os.WriteFile(specPath, goodSpec, 0o644)
				_ = os.WriteFile(cfgPath, goodCfg, 0o644)
			}()
			sim.ResetCalls(t)
			for _, cmd := range [][]string{{"plan"}, {"apply", "--yes"}} {
				r := runCLI(t, sim, basicSecrets().env(), cmd...)
				if r.code != 2 {
					t.Fatalf("%v: exit %d, want 2: %s", cmd, r.code, r.stderr)
				}
				for _, w := range tc.wantStderr {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("%v: stderr lacks %q:\n%s", cmd, w, r.stderr)
					}
				}
			}
			if len(sim.Calls(t)) != 0 {
				t.Errorf("devopsellence was run: %+v", sim.Calls(t))
			}
		})
	}
	r := runCLI(t, sim, nil, "plan", "--output", "json", "--spec", filepath.Join(t.TempDir(), "none.yml"))
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 2 || doc["ok"] != false || !strings.Contains(r.stdout, "devopsellence-backup init") {
		t.Errorf("missing spec with --output json: exit %d %s", r.code, r.stdout)
	}
	if r := runCLI(t, sim, nil, "plan", "--output", "yaml"); r.code != 2 {
		t.Errorf("--output yaml: exit %d", r.code)
	}
	for _, args := range [][]string{{"plan", "extra-arg"}, {"plan", "--no-such-flag"}, {"no-such-command"}, {"apply", "a", "b"}} {
		if r := runCLI(t, sim, nil, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", args, r.code)
		}
	}
}
