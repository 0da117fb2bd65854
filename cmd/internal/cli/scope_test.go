package cli_test

import (
	"bytes"
	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// twoApps puts app A (the guide's sample, set up with node sim-1 attached to
// its production) and app B (fixture basic, in sim.Workspace, with no node)
// in one state home, as on a laptop or a VM that serves several apps.
func twoApps(t *testing.T) (sim *simtest.Env, appA string) {
	t.Helper()
	sim = simtest.New(t)
	sim.AgentImages(t)
	appA = filepath.Join(filepath.Dir(sim.Workspace), "shop")
	b := sim.Workspace
	sim.Workspace = appA
	sim.CopyApp(t, filepath.Join(appsDir, "basic"))
	sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	sim.Setup(t)
	sim.Workspace = b
	sim.CopyApp(t, filepath.Join(appsDir, "basic"))
	sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	if r := sim.Run(t, "init", "--mode", "solo"); r.Code != 0 {
		t.Fatalf("init app B: %s", r.Stdout)
	}
	sim.GitCommit(t)
	return sim, appA
}

func TestApplyInAnAppWithoutANodeStopsEvenWhenAnotherAppsNodeIsAttached(t *testing.T) {
	sim, _ := twoApps(t)
	before := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive")
	if r.code == 0 {
		t.Fatalf("apply in app B succeeded with no node of its own:\n%s%s", r.stdout, r.stderr)
	}
	for _, want := range []string{"no node is attached to production of this app", "devopsellence node attach <node> --env production"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) {
		t.Error("devopsellence.yml changed before the stop")
	}
	calls := sim.Calls(t)
	for _, sub := range []string{"secret set", "config resolve", "deploy"} {
		if n := count(calls, sub); n != 0 {
			t.Errorf("%s ran %d times before the stop", sub, n)
		}
	}
	for _, c := range calls {
		if c.Subcommand == "node list" && strings.Contains(strings.Join(c.Argv, " "), "--all") {
			t.Errorf("apply asked node list --all, which mixes every app's attachments: %v", c.Argv)
		}
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, "devopsellence.backup.yml")); err != nil {
		t.Fatal(err)
	}
}

func TestPlanInAnAppWithoutANodeSaysSoWithTheCommandThatAttachesOne(t *testing.T) {
	sim, _ := twoApps(t)
	r := runCLI(t, sim, nil, "plan")
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "no_node_attached: no node is attached to production of this app") {
		t.Errorf("plan does not report the missing node:\n%s", r.stdout)
	}
}

// setSpec replaces the app's spec.
func setSpec(t *testing.T, sim *simtest.Env, body string) {
	t.Helper()
	sim.WriteFile(t, "devopsellence.backup.yml", "apiVersion: backup.devopsellence.io/v1alpha1\nkind: Backup\nmetadata:\n  name: example-app\nspec:\n"+body)
}

// resolved is devopsellence's own view of the backup service in env.
func resolved(t *testing.T, sim *simtest.Env, env string) map[string]any {
	t.Helper()
	r := sim.Run(t, "config", "resolve", "--env", env)
	if r.Code != 0 {
		t.Fatalf("config resolve --env %s: %s", env, r.Stdout)
	}
	return r.JSON(t)["config"].(map[string]any)["services"].(map[string]any)["backup"].(map[string]any)
}

func TestACoveredEnvironmentKnownOnlyByItsNodeGetsItsOwnSettings(t *testing.T) {
	sim := newApp(t, "basic", "production", "staging") // devopsellence.yml has no environments section
	setSpec(t, sim, `  image: registry.example.com/example-app-backup:1.2.0
  environments: [production, staging]
  volumes: [{name: app_storage}]
  repository: {url: "s3:s3.amazonaws.com/example-app-backups"}
  overrides:
    staging:
      repository: {url: "b2:example-staging:restic"}
`)
	secrets := newSecrets("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY")
	r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive")
	if r.code != 0 {
		t.Fatalf("apply: exit %d\n%s", r.code, r.stderr)
	}
	staging := resolved(t, sim, "staging")["env"].(map[string]any)
	if staging["RESTIC_REPOSITORY"] != "b2:example-staging:restic" || !strings.Contains(staging["BACKUP_IDENTITY"].(string), `"host":"example-app-staging","tags":["app:example-app","env:staging"]`) {
		t.Errorf("staging runs with %v", staging)
	}
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after apply: exit %d\n%s", r.code, r.stdout)
	}
}

func TestATypoInAnEnvironmentNameStopsApplyBeforeAnythingChanges(t *testing.T) {
	sim := newApp(t, "basic")
	if r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("first apply: exit %d\n%s", r.code, r.stderr)
	}
	spec := strings.Replace(sim.ReadFile(t, "devopsellence.backup.yml"), "environments: [production]", "environments: [prodution]", 1)
	sim.WriteFile(t, "devopsellence.backup.yml", spec)
	before := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive", "--no-deploy")
	if r.code != 2 || !strings.Contains(r.stderr, `environment "prodution" is covered by devopsellence.backup.yml, but devopsellence does not know it`) || !strings.Contains(r.stderr, `did you mean "production"?`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) || count(sim.Calls(t), "secret set") != 0 {
		t.Error("something changed before the stop")
	}
}

func TestAnApplyLimitedToStagingLeavesProductionDeployable(t *testing.T) {
	sim := newApp(t, "multi-env", "production", "staging", "preview")
	r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive", "--env", "staging")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	prod := resolved(t, sim, "production")
	if prod["secret_refs"] != nil || prod["volumes"] != nil {
		t.Errorf("production references secrets that are not stored: %v", prod)
	}
	// Anyone's next deploy of production succeeds: nothing it references is missing.
	if d := sim.Run(t, "deploy", "--env", "production"); d.Code != 0 {
		t.Errorf("deploy of production after apply --env staging: %s", d.Stdout)
	}
	// The plan says so, with the command that finishes it.
	r = runCLI(t, sim, nil, "apply", "--non-interactive", "--env", "staging")
	if r.code != 0 || !strings.Contains(r.stdout, "Nothing to do") {
		t.Fatalf("second apply of staging: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, sim, nil, "apply", "--non-interactive", "--env", "staging", "--output", "json")
	if !strings.Contains(r.stdout, `"code": "environment_not_ready"`) || !strings.Contains(r.stdout, `"command": "devopsellence-backup apply --env production"`) {
		t.Errorf("no environment_not_ready finding:\n%s", r.stdout)
	}
	// Finishing production gives it its service back.
	if r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive", "--env", "production"); r.code != 0 {
		t.Fatalf("apply --env production: exit %d: %s", r.code, r.stderr)
	}
	if refs := resolved(t, sim, "production")["secret_refs"]; refs == nil {
		t.Error("production is still inert once its secrets are stored")
	}
}

func TestAnApplyThatStopsAnEnvironmentsBackupsNeedsAnExplicitConfirmation(t *testing.T) {
	sim := newApp(t, "multi-env", "production", "staging", "preview")
	if r := runCLI(t, sim, allSecrets().env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("first apply: exit %d\n%s", r.code, r.stderr)
	}
	spec := sim.ReadFile(t, "devopsellence.backup.yml")
	spec = strings.Replace(spec, "environments: [production, staging]", "environments: [production]", 1)
	spec = spec[:strings.Index(spec, "  overrides:")]
	sim.WriteFile(t, "devopsellence.backup.yml", spec)
	before := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	for _, args := range [][]string{{"apply", "--non-interactive"}, {"apply", "--yes", "--disable-backups", "preview"}} {
		r := runCLI(t, sim, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "staging is backed up now, and this plan makes its service \"backup\" inert") || !strings.Contains(r.stderr, "pass --disable-backups staging") {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	if r := runCLI(t, sim, nil, "apply", "--yes", "--disable-backups", "nosuch"); r.code != 2 || !strings.Contains(r.stderr, "--disable-backups nosuch: not an environment of this app") {
		t.Fatalf("a flag naming no environment: exit %d\n%s", r.code, r.stderr)
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) {
		t.Fatal("devopsellence.yml changed without the confirmation")
	}
	// On a terminal, the question itself says what stops.
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply", "--no-deploy")
	p.Expect(t, "This plan stops the backups of staging. Apply it? [y/N]:", 1)
	p.Send(t, "n\r")
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("declined: %v\n%s", err, p.Output())
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) {
		t.Fatal("devopsellence.yml changed though the question was declined")
	}
	r := runCLI(t, sim, nil, "apply", "--non-interactive", "--disable-backups", "staging", "--no-deploy")
	if r.code != 0 {
		t.Fatalf("confirmed: exit %d\n%s", r.code, r.stderr)
	}
	if s := resolved(t, sim, "staging"); s["secret_refs"] != nil || s["volumes"] != nil {
		t.Errorf("staging is not inert: %v", s)
	}
}
