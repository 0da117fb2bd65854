package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// onboarding is a fixture app with the environments it covers and the
// secrets each needs.
var onboarding = []struct {
	fixture string
	envs    []string // environments with a node attached
	covered []string
	secrets []string
}{
	{"basic", []string{"production"}, []string{"production"}, []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"}},
	{"multi-env", []string{"production", "staging", "preview"}, []string{"production", "staging"}, []string{"RESTIC_PASSWORD", "DATABASE_URL"}},
	{"adopt-guide", []string{"production"}, []string{"production"}, []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
	{"sqlite-rest", []string{"production"}, []string{"production"}, []string{"RESTIC_PASSWORD", "RESTIC_REPOSITORY"}},
	{"crlf", []string{"production"}, []string{"production"}, []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
	{"anchors", []string{"production"}, []string{"production"}, []string{"RESTIC_PASSWORD", "AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY"}},
}

func TestApplyOnboardsFixtureAppsAndASecondApplyIsANoOp(t *testing.T) {
	for _, tc := range onboarding {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			sim := newApp(t, tc.fixture, tc.envs...)
			sim.ResetCalls(t)
			secrets := allSecrets()
			r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive")
			wantApplied(t, sim, r)
			cfgPath := filepath.Join(sim.Workspace, "devopsellence.yml")
			want := readFile(t, filepath.Join(appsDir, tc.fixture, "want.devopsellence.yml"))
			if got := readFile(t, cfgPath); !bytes.Equal(got, want) {
				t.Errorf("devopsellence.yml after apply is not the planned patch:\n%s", got)
			}
			calls := sim.Calls(t)
			for _, env := range tc.covered {
				got := storedSecrets(t, sim, env)
				for _, name := range tc.secrets {
					if !got[name] {
						t.Errorf("%s: %s not stored", env, name)
					}
				}
			}
			if n := count(calls, "deploy"); n != len(tc.covered) {
				t.Errorf("deploys = %d, want one per covered environment (%d)", n, len(tc.covered))
			}
			for _, c := range calls {
				if c.Subcommand == "secret set" && !slices.Contains(c.Argv, "--stdin") {
					t.Errorf("a plaintext secret was not sent on stdin: %v", c.Argv)
				}
			}

			// The second run: zero writes, zero secret set, zero deploys, one secret list per environment.
			// An hour-old mtime and the same inode: any write, in place or
			// by rename, shows however quickly it follows.
			past := time.Now().Add(-time.Hour).Truncate(time.Second)
			must(t, os.Chtimes(cfgPath, past, past))
			fi, _ := os.Stat(cfgPath)
			sim.ResetCalls(t)
			r = runCLI(t, sim, nil, "apply", "--non-interactive")
			if r.code != 0 || !strings.Contains(r.stdout, "Nothing to do") {
				t.Fatalf("second apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			calls = sim.Calls(t)
			// node list: once per environment of the app, each scoped to it.
			for sub, want := range map[string]int{"secret list": len(tc.covered), "secret set": 0, "deploy": 0, "config resolve": 0, "node list": len(tc.envs)} {
				if got := count(calls, sub); got != want {
					t.Errorf("second apply ran %q %d times, want %d", sub, got, want)
				}
			}
			if len(calls) != len(tc.covered)+len(tc.envs) {
				t.Errorf("second apply made %d calls: %+v", len(calls), calls)
			}
			if fi2, _ := os.Stat(cfgPath); !fi2.ModTime().Equal(fi.ModTime()) || !os.SameFile(fi, fi2) {
				t.Error("the no-op run wrote devopsellence.yml")
			}
		})
	}
}

// wantApplied checks that apply applied: exit 0; or, when the spec's image
// is restic's own (as several fixtures' are, from the devopsellence
// guide), exit 1 with the agent it lacks as the only error.
func wantApplied(t *testing.T, sim *simtest.Env, r result) {
	t.Helper()
	if !strings.Contains(sim.ReadFile(t, "devopsellence.backup.yml"), "image: restic/restic:") {
		if r.code != 0 {
			t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return
	}
	if r.code != 1 || strings.Count(r.stdout, "\nerror: ") != 1 || !strings.Contains(r.stdout, "\nerror: the image of service backup in ") || !strings.Contains(r.stdout, "has no devopsellence-backup agent on its PATH") {
		t.Fatalf("apply with restic's own image: exit %d, want 1 with the missing agent as the only error\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestApplyAdoptsTheGuideServiceWithoutDevopsellenceRewritingTheFile(t *testing.T) {
	sim := newApp(t, "adopt-guide")
	r := runCLI(t, sim, allSecrets().env(), "apply", "--yes")
	wantApplied(t, sim, r)
	got := string(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")))
	for _, want := range []string{"# Backups, as the devopsellence guide shows them.", "# Deployed from a single VM.", "secret: devopsellence://plaintext/RESTIC_PASSWORD", "# managed by devopsellence-backup"} {
		if !strings.Contains(got, want) {
			t.Errorf("devopsellence.yml lacks %q (a rewrite by devopsellence would drop comments)", want)
		}
	}
	if strings.Contains(got, "secret: RESTIC_PASSWORD") {
		t.Error("the bare guide ref survived")
	}
}

func TestApplyWithoutValuesNamesEveryMissingSecretAndChangesNothing(t *testing.T) {
	sim := newApp(t, "basic")
	before := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	// The operator's own credentials in the environment must not be picked up.
	r := runCLI(t, sim, []string{"AWS_ACCESS_KEY_ID=operator-own-key", "AWS_SECRET_ACCESS_KEY=operator-own-secret", "RESTIC_PASSWORD=ambient"}, "apply", "--non-interactive")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	for _, name := range []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"} {
		if !strings.Contains(r.stderr, name+" for service backup in production: set DEVOPSELLENCE_BACKUP_SECRET_"+name) {
			t.Errorf("the error does not say how to provide %s:\n%s", name, r.stderr)
		}
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) {
		t.Error("devopsellence.yml changed")
	}
	calls := sim.Calls(t)
	for _, sub := range []string{"secret set", "config resolve", "deploy"} {
		if n := count(calls, sub); n != 0 {
			t.Errorf("%s ran %d times before the values were there", sub, n)
		}
	}
}

func TestApplyTakesValuesOnlyFromNamedSources(t *testing.T) {
	sim := newApp(t, "basic")
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("from-a-file-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"CI_KEY=ci-key-value", "CI_SECRET=ci-secret-value", "DEVOPSELLENCE_BACKUP_SECRET_PRODUCTION__DATABASE_URL=postgres://db/app"}
	r := runCLI(t, sim, env, "apply", "--non-interactive", "--secret-file", "RESTIC_PASSWORD="+pw,
		"--secret-env", "AWS_ACCESS_KEY_ID=CI_KEY", "--secret-env", "production:AWS_SECRET_ACCESS_KEY=CI_SECRET")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	state := string(readFile(t, sim.StatePath()))
	for _, v := range []string{"from-a-file-value", "ci-key-value", "ci-secret-value", "postgres://db/app"} {
		if !strings.Contains(state, v) {
			t.Errorf("devopsellence did not store %q", v)
		}
	}
	if strings.Contains(state, "from-a-file-value\\n") {
		t.Error("the trailing newline of the file was stored")
	}
}

func TestApplyOffATerminalWithoutYesRefusesBeforeChangingAnything(t *testing.T) {
	sim := newApp(t, "basic")
	sim.ResetCalls(t)
	r := runCLI(t, sim, allSecrets().env(), "apply")
	if r.code != 2 || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := count(sim.Calls(t), "secret set"); n != 0 {
		t.Errorf("secret set ran %d times", n)
	}
}

func TestApplyRecordsOnePasswordReferencesWithoutValues(t *testing.T) {
	sim := newApp(t, "onepassword")
	fakeOp(t, sim)
	sim.ResetCalls(t)
	r := runCLI(t, sim, newSecrets("AWS_ACCESS_KEY_ID").env(), "apply", "--non-interactive")
	wantApplied(t, sim, r)
	var op, plain int
	for _, c := range sim.Calls(t) {
		if c.Subcommand != "secret set" {
			continue
		}
		if slices.Contains(c.Argv, "--store") {
			op++
			if c.StdinSHA256 != "" || !strings.HasPrefix(c.Argv[len(c.Argv)-1], "op://Infra/") {
				t.Errorf("1Password secret set: %v stdin %q", c.Argv, c.StdinSHA256)
			}
		} else {
			plain++
		}
	}
	if op != 2 || plain != 1 {
		t.Errorf("secret set: %d 1Password, %d plaintext; want 2 and 1", op, plain)
	}
	if n := count(sim.Calls(t), "deploy"); n != 1 {
		t.Errorf("deploys = %d", n)
	}
}

// fakeOp puts an `op` on the simulator's PATH that answers `op read REF`.
func fakeOp(t *testing.T, sim *simtest.Env) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = read ] || exit 2\necho \"value-of-$2\"\n"
	if err := os.WriteFile(filepath.Join(dir, "op"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	path := ""
	for _, kv := range sim.Environ() {
		if strings.HasPrefix(kv, "PATH=") {
			path = strings.TrimPrefix(kv, "PATH=")
		}
	}
	sim.Extra = append(sim.Extra, "PATH="+path+":"+dir)
}

func TestApplyCoversSeveralEnvironmentsAndLimitsWithEnv(t *testing.T) {
	sim := newApp(t, "multi-env", "production", "staging", "preview")
	sim.ResetCalls(t)
	r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive", "--env", "staging")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	calls := sim.Calls(t)
	if n := count(calls, "deploy"); n != 1 {
		t.Errorf("deploys = %d, want staging only", n)
	}
	if got := storedSecrets(t, sim, "production"); len(got) != 0 {
		t.Errorf("production secrets stored with --env staging: %v", got)
	}
	if got := storedSecrets(t, sim, "staging"); !got["B2_ACCOUNT_KEY"] || got["AWS_ACCESS_KEY_ID"] {
		t.Errorf("staging secrets = %v, want its own repository's", got)
	}
	sim.ResetCalls(t)
	r = runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive")
	if r.code != 0 || count(sim.Calls(t), "deploy") != 1 {
		t.Fatalf("apply of the rest: exit %d deploys %d: %s", r.code, count(sim.Calls(t), "deploy"), r.stderr)
	}
	if got := storedSecrets(t, sim, "preview"); len(got) != 0 {
		t.Errorf("the uncovered environment got secrets: %v", got)
	}
}

func TestApplyStopsBeforeChangingAnythingWithoutAWorkerNodeUnlessAskedToLabelIt(t *testing.T) {
	sim := newApp(t, "basic")
	if r := sim.Run(t, "node", "label", "set", "sim-1", "--labels", "web,edge"); r.Code != 0 {
		t.Fatal(string(r.Stdout))
	}
	original := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	secrets := basicSecrets()
	r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive")
	if r.code != 1 || !strings.Contains(r.stderr, `labeled "worker"`) || !strings.Contains(r.stderr, "devopsellence node label set sim-1 --labels edge,web,worker") || !strings.Contains(r.stderr, "--label-nodes") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), original) || count(sim.Calls(t), "secret set") != 0 {
		t.Fatal("something changed before the stop")
	}
	r = runCLI(t, sim, secrets.env(), "apply", "--non-interactive", "--label-nodes")
	if r.code != 0 || !strings.Contains(r.stderr, "labelled node sim-1: edge,web,worker") {
		t.Fatalf("--label-nodes: exit %d: %s", r.code, r.stderr)
	}
	if n := count(sim.Calls(t), "node list"); n != 2 {
		t.Errorf("node list ran %d times over the two applies, want once each", n)
	}
	nodes := sim.Run(t, "node", "list", "--all").JSON(t)["nodes"].(map[string]any)
	labels := fmt.Sprint(nodes["sim-1"].(map[string]any)["labels"])
	if labels != "[edge web worker]" {
		t.Errorf("labels = %s, want the old ones kept and worker added", labels)
	}
	if n := count(sim.Calls(t), "deploy"); n != 1 {
		t.Errorf("deploys = %d", n)
	}
}

func TestApplyAsksTheDeployedAgentWhatItLacks(t *testing.T) {
	// An agent of an older protocol answers version with protocol 0.
	const oldAgent = "#!/bin/sh\necho '{\"type\":\"version\",\"agent\":{\"version\":\"v0.1.0\",\"protocol\":0}}'\n"
	tests := []struct {
		name string
		bin  []string // what the service's PATH holds
		// script, if set, is the devopsellence-backup on that PATH.
		script string
		code   string
		exit   int
		want   []string // tools named
		fix    string
		says   []string // in the finding's message
	}{
		{"an agent without restic and pg_dump", []string{"devopsellence-backup"}, "", "tool_missing", 0, []string{"restic", "pg_dump"}, "devopsellence-backup image --env production", nil},
		{"an image without the agent", []string{"sh"}, "", "agent_missing", 1, nil, "devopsellence-backup apply --env production", nil},
		{"an agent older than this tool", nil, oldAgent, "agent_outdated", 1, nil, "devopsellence-backup apply --env production", nil},
		// The image's agent reads configuration version 1; the service's
		// env says 2, as a newer devopsellence-backup would render it.
		{"an agent that does not know the configuration's version", nil, "#!/bin/sh\nBACKUP_CONFIG_VERSION=2 exec {tool} \"$@\"\n", "service_env", 1, nil,
			"devopsellence-backup apply --env production", []string{"BACKUP_CONFIG_VERSION: version 2, but this agent reads version 1", "set spec.image to the image of that release"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim := newApp(t, "basic")
			bin := t.TempDir()
			for _, tool := range tc.bin {
				path := simtest.Tool(t)
				if tool != "devopsellence-backup" {
					var err error
					if path, err = exec.LookPath(tool); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Symlink(path, filepath.Join(bin, tool)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.script != "" {
				script := strings.ReplaceAll(tc.script, "{tool}", simtest.Tool(t))
				must(t, os.WriteFile(filepath.Join(bin, "devopsellence-backup"), []byte(script), 0o755))
			}
			appendTo(t, filepath.Join(sim.Workspace, "devopsellence.backup.yml"), "  env: {PATH: \""+bin+"\"}\n")
			r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive", "--output", "json")
			if r.code != tc.exit {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.exit, r.stderr)
			}
			var doc struct {
				Findings []struct {
					Code        string
					Message     string
					Evidence    []string
					NextActions []struct{ Command string } `json:"next_actions"`
				}
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range doc.Findings {
				if f.Code != tc.code {
					continue
				}
				found = true
				for _, tool := range tc.want {
					if !slices.Contains(f.Evidence, tool) {
						t.Errorf("missing tools = %v, want %s among them", f.Evidence, tool)
					}
				}
				for _, w := range tc.says {
					if !strings.Contains(f.Message, w) {
						t.Errorf("message %q lacks %q", f.Message, w)
					}
				}
				if len(f.NextActions) == 0 || f.NextActions[0].Command != tc.fix {
					t.Errorf("fix = %v", f.NextActions)
				}
			}
			if !found {
				t.Errorf("no %s finding:\n%s", tc.code, r.stdout)
			}
			if ok := strings.Contains(r.stdout, `"ok": true`); ok != (tc.exit == 0) {
				t.Errorf("ok: %v with exit %d:\n%s", ok, tc.exit, r.stdout)
			}
		})
	}
}

func TestApplyTextSaysTheDeployedServiceCannotRunAndFails(t *testing.T) {
	// restic's own image has no agent: plan warns, and after the deploy the
	// service cannot start. Text output says both, with their next steps.
	sim := newApp(t, "basic")
	text := strings.Replace(sim.ReadFile(t, "devopsellence.backup.yml"), "registry.example.com/example-app-backup:1.2.0", "restic/restic:0.18.1", 1)
	sim.WriteFile(t, "devopsellence.backup.yml", text)
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"deployed production, but the backup service cannot run in production (see the errors below)",
		"warning: spec.image restic/restic:0.18.1 is restic's own image",
		"; next: devopsellence-backup image --env production",
		"error: the image of service backup in production (restic/restic:0.18.1) has no devopsellence-backup agent on its PATH",
		"; next: devopsellence-backup apply --env production",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stderr, "Error:") {
		t.Errorf("the failure is reported twice:\n%s", r.stderr)
	}

	// The same app with an agent image applies cleanly: exit 0, no error line.
	sim.WriteFile(t, "devopsellence.backup.yml", strings.Replace(text, "restic/restic:0.18.1", "registry.example.com/example-app-backup:1.2.1", 1))
	r = runCLI(t, sim, nil, "apply", "--non-interactive")
	if r.code != 0 || strings.Contains(r.stdout, "error:") || !strings.Contains(r.stdout, "deployed production.") {
		t.Fatalf("with the agent: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDevopsellenceNeverSeesSecretValuesInItsEnvironment(t *testing.T) {
	sim := newApp(t, "basic")
	// A devopsellence that appends its whole environment to a file, then runs the simulator.
	dump := filepath.Join(t.TempDir(), "environments")
	wrapper := filepath.Join(t.TempDir(), "devopsellence")
	script := fmt.Sprintf("#!/bin/sh\nenv >> %q\nexec %q \"$@\"\n", dump, sim.Bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	secrets := basicSecrets()
	env := append(secrets.env("AWS_SECRET_ACCESS_KEY"), "CI_AWS_SECRET="+secrets["AWS_SECRET_ACCESS_KEY"])
	r := runCLI(t, sim, env, "apply", "--non-interactive", "--secret-env", "AWS_SECRET_ACCESS_KEY=CI_AWS_SECRET", "--devopsellence", wrapper)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	seen := readFile(t, dump)
	if !bytes.Contains(seen, []byte("DEVOPSELLENCE_STATE_HOME=")) {
		t.Fatal("the wrapper did not record devopsellence's environment")
	}
	for name, v := range secrets {
		if bytes.Contains(seen, []byte(v)) {
			t.Errorf("the value of %s was in devopsellence's environment", name)
		}
	}
	if n := count(sim.Calls(t), "deploy"); n != 1 {
		t.Errorf("deploys = %d", n)
	}
}

func TestMalformedFlagsNeverEchoAValue(t *testing.T) {
	sim := newApp(t, "basic")
	for _, args := range [][]string{
		{"apply", "--non-interactive", "--secret-env", "RESTIC_PASSWORD=hunter2-flag-value"},
		{"apply", "--non-interactive", "--output", "json", "--secret-file", "hunter2-flag-value"},
		{"init", "--force", "--non-interactive", "--repository", "/r", "--image", "i:1", "--database", "postgres://u:hunter2-flag-value@db/app"},
	} {
		r := runCLI(t, sim, nil, args...)
		if r.code != 2 || strings.Contains(r.stdout+r.stderr, "hunter2-flag-value") {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestLabelNodesChangesNothingBeforeConfirmationAndOnlyForSelectedEnvironments(t *testing.T) {
	sim := newApp(t, "multi-env", "production", "staging", "preview")
	// production's node cannot run a worker; staging has its own worker node.
	for _, args := range [][]string{
		{"node", "label", "set", "sim-1", "--labels", "web"},
		{"node", "create", "stage-1", "--host", "127.0.0.2", "--user", "root", "--ssh-key", sim.SSHKey(t), "--labels", "web,worker"},
		{"node", "detach", "sim-1", "--env", "staging"},
		{"node", "attach", "stage-1", "--env", "staging"},
	} {
		if r := sim.Run(t, args...); r.Code != 0 {
			t.Fatalf("%v: %s", args, r.Stdout)
		}
	}
	labels := func() string {
		return fmt.Sprint(sim.Run(t, "node", "list", "--all").JSON(t)["nodes"].(map[string]any)["sim-1"].(map[string]any)["labels"])
	}
	// Off a terminal without --yes: refused before any change, labels included.
	if r := runCLI(t, sim, allSecrets().env(), "apply", "--label-nodes"); r.code != 2 || labels() != "[web]" {
		t.Fatalf("exit %d, labels %s: %s", r.code, labels(), r.stderr)
	}
	// Missing secret values: refused before any change, labels included.
	if r := runCLI(t, sim, nil, "apply", "--non-interactive", "--label-nodes"); r.code != 2 || labels() != "[web]" {
		t.Fatalf("exit %d, labels %s: %s", r.code, labels(), r.stderr)
	}
	// Only staging, whose node is fine: production's node stays as it is.
	if r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive", "--label-nodes", "--env", "staging"); r.code != 0 || labels() != "[web]" {
		t.Fatalf("--env staging: exit %d, labels %s: %s", r.code, labels(), r.stderr)
	}
	// No deploy, no need for a worker label.
	if r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive", "--label-nodes", "--no-deploy"); r.code != 0 || labels() != "[web]" {
		t.Fatalf("--no-deploy: exit %d, labels %s: %s", r.code, labels(), r.stderr)
	}
	if r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive", "--label-nodes"); r.code != 0 || labels() != "[web worker]" {
		t.Fatalf("production: exit %d, labels %s: %s", r.code, labels(), r.stderr)
	}
}

// TestAnAppOnboardedBeforeTheAgentIsMigratedByAPlainApply starts from a
// backup service the shell-script version wrote and deployed (idling; the
// operations came through exec): plan shows the move to the agent, apply
// makes it and deploys, and a second apply has nothing left to do.
func TestAnAppOnboardedBeforeTheAgentIsMigratedByAPlainApply(t *testing.T) {
	sim := newApp(t, "upgrade-from-shell")
	secrets := basicSecrets()
	for name, value := range secrets {
		if r := sim.RunStdin(t, value+"\n", "secret", "set", name, "--service", "backup", "--env", "production", "--stdin"); r.Code != 0 {
			t.Fatalf("secret set %s: %s", name, r.Stdout)
		}
	}
	if r := sim.Run(t, "deploy", "--env", "production"); r.Code != 0 {
		t.Fatalf("deploy of the old service: %s", r.Stdout)
	}
	r := runCLI(t, sim, secrets.env(), "plan", "--detailed-exitcode")
	if r.code != 3 || !strings.Contains(r.stdout, "+      - devopsellence-backup") || !strings.Contains(r.stdout, "-      - sleep infinity") {
		t.Fatalf("plan: exit %d, want 3 with the new command in the diff:\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	got := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	want := readFile(t, filepath.Join(appsDir, "upgrade-from-shell", "want.devopsellence.yml"))
	if !bytes.Equal(got, want) {
		t.Errorf("devopsellence.yml after the migration:\n%s", got)
	}
	if n := count(sim.Calls(t), "deploy"); n < 2 {
		t.Errorf("the migrated service was not deployed (%d deploys)", n)
	}
	if r := runCLI(t, sim, secrets.env(), "plan", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the migration: exit %d\n%s", r.code, r.stdout)
	}
}
