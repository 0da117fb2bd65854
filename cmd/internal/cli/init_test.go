package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func withoutSpec(t *testing.T, sim *simtest.Env) {
	t.Helper()
	if err := os.Remove(filepath.Join(sim.Workspace, spec.DefaultFile)); err != nil {
		t.Fatal(err)
	}
}

func loadSpec(t *testing.T, sim *simtest.Env) *spec.Backup {
	t.Helper()
	b, err := spec.Load(filepath.Join(sim.Workspace, spec.DefaultFile))
	if err != nil {
		t.Fatalf("the written spec does not load: %v", err)
	}
	return b
}

func TestInitDetectsWhatToBackUpWritesACommentedSpecAndApplies(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive",
		"--repository", "s3:s3.amazonaws.com/example-app-backups", "--image", "registry.example.com/example-app-backup:1.2.0")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	raw := string(readFile(t, filepath.Join(sim.Workspace, spec.DefaultFile)))
	if !strings.Contains(raw, "# ") {
		t.Error("the spec has no comments")
	}
	b := loadSpec(t, sim)
	s := b.Spec
	if len(s.Volumes) != 1 || s.Volumes[0].Name != "app_storage" {
		t.Errorf("volumes = %+v", s.Volumes)
	}
	if len(s.Databases) != 1 || !reflect.DeepEqual(s.Databases[0], spec.Database{Name: "primary", Engine: spec.EnginePostgres, URLSecret: "DATABASE_URL"}) {
		t.Errorf("databases = %+v", s.Databases)
	}
	if s.Retention == nil || s.Retention.KeepDaily != 7 || s.Retention.KeepWeekly != 4 || s.Retention.KeepMonthly != 6 {
		t.Errorf("retention = %+v", s.Retention)
	}
	if b.Metadata.Name != "example-app" || strings.Join(s.Environments, ",") != "production" {
		t.Errorf("name %q environments %v", b.Metadata.Name, s.Environments)
	}
	if !strings.Contains(r.stdout, "+  backup:") || !strings.Contains(r.stdout, "Plan: 1 to add") {
		t.Errorf("init did not show the plan before applying:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "devopsellence-backup backup --env production") || !strings.Contains(r.stdout, "devopsellence-backup drill --env production") {
		t.Errorf("no next steps:\n%s", r.stdout)
	}
	if n := count(sim.Calls(t), "deploy"); n != 1 {
		t.Errorf("deploys = %d", n)
	}
	// The spec init wrote is what apply converged on: a plan is in sync.
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after init: exit %d\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, sim, nil, "init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/elsewhere", "--image", "y"); r.code != 2 || !strings.Contains(r.stderr, "already exists, and these answers change it") ||
		!strings.Contains(r.stderr, "+    url: s3:s3.amazonaws.com/elsewhere") {
		t.Errorf("a second init with other answers: exit %d %s", r.code, r.stderr)
	}
	// The same answers again: init goes on with the spec it wrote.
	r = runCLI(t, sim, nil, "init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/example-app-backups", "--image", "registry.example.com/example-app-backup:1.2.0")
	if r.code != 0 || !strings.Contains(r.stderr, "already says what these answers give") || !strings.Contains(r.stdout, "Nothing to do") {
		t.Errorf("a second init with the same answers: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestInitFindsSQLiteUnderAVolumeAndKeepsASecretRepositoryURL(t *testing.T) {
	sim := newApp(t, "sqlite-rest")
	withoutSpec(t, sim)
	r := runCLI(t, sim, newSecrets("RESTIC_PASSWORD", "RESTIC_REPOSITORY").env(), "init", "--non-interactive",
		"--repository-secret", "--repository-type", "rest", "--image", "registry.example.com/notes-backup:1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	s := loadSpec(t, sim).Spec
	want := spec.Database{Name: "production", Engine: spec.EngineSQLite, Path: "/data/notes_storage/production.sqlite3", Optional: true}
	if len(s.Databases) != 1 || !reflect.DeepEqual(s.Databases[0], want) {
		t.Errorf("databases = %+v, want %+v", s.Databases, want)
	}
	if s.Repository.URLSecret != "RESTIC_REPOSITORY" || s.Repository.Type != "rest" || s.Repository.URL != "" {
		t.Errorf("repository = %+v", s.Repository)
	}
}

func TestInitOffATerminalSaysWhatIsMissing(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	r := runCLI(t, sim, nil, "init", "--non-interactive")
	if r.code != 2 || !strings.Contains(r.stderr, "--repository URL") || !strings.Contains(r.stderr, "--image") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Error("a spec was written anyway")
	}
}

func TestInitWithoutAWorkspaceModeOffersTheCommand(t *testing.T) {
	sim := simtest.New(t)
	sim.AgentImages(t)
	sim.CopyApp(t, filepath.Join(appsDir, "basic"))
	withoutSpec(t, sim)
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--repository", "/srv/repo", "--image", "x/y:1")
	if r.code != 2 || !strings.Contains(r.stderr, "devopsellence mode use solo") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}

	// On a terminal it offers to run it, then asks what it cannot detect.
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "init", "--no-deploy", "--keep-weekly", "0", "--keep-monthly", "0")
	p.Expect(t, "Run `devopsellence mode use solo` now? [y/N]:", 1)
	p.Send(t, "y\r")
	p.Expect(t, "restic repository URL", 1)
	p.Send(t, "b2:example-bucket:app\r")
	p.Expect(t, "backup image", 1)
	p.Send(t, "registry.example.com/app-backup:7\r")
	p.Expect(t, "daily snapshots to keep [7]:", 1)
	p.Send(t, "x\r")
	p.Expect(t, "want a whole number", 1)
	p.Send(t, "10\r")
	p.Expect(t, "restore drills of database primary (postgres) create a scratch database", 1)
	p.Send(t, "\r")
	p.Expect(t, "Apply this plan? [y/N]:", 1)
	p.Send(t, "n\r")
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit %d\n%s", code, p.Output())
	}
	p.Expect(t, "declined", 1)
	if r := sim.Run(t, "mode", "show"); r.JSON(t)["set"] != true {
		t.Error("the mode was not set")
	}
	s := loadSpec(t, sim).Spec
	if s.Repository.URL != "b2:example-bucket:app" || s.Image != "registry.example.com/app-backup:7" || s.Retention.KeepDaily != 10 || s.Retention.KeepWeekly != 0 {
		t.Errorf("spec = %+v %+v", s, s.Retention)
	}
}

func TestInitObservesDevopsellenceOnce(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	sim.ResetCalls(t)
	r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive", "--repository", "/srv/repo", "--repository-volume", "restic_repo", "--image", "i:1")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	calls := sim.Calls(t)
	// one secret list to observe, one to confirm what apply stored; one
	// node list before the questions (no node stops init there), one to
	// observe
	if n, m := count(calls, "secret list"), count(calls, "node list"); n != 2 || m != 2 {
		t.Errorf("init ran secret list %d and node list %d times", n, m)
	}
}
