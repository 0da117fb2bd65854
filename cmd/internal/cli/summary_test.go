package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestApplyWithoutDeploySaysTheDeployIsPendingUntilItRuns(t *testing.T) {
	sim := newApp(t, "basic")
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive", "--no-deploy")
	if r.code != 0 || !strings.Contains(r.stdout, "the deploy of production is pending: run `devopsellence-backup apply` to deploy") {
		t.Fatalf("first apply --no-deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, sim, nil, "apply", "--non-interactive", "--no-deploy")
	if r.code != 0 || strings.Contains(r.stdout, "Nothing to do") || !strings.Contains(r.stdout, "Nothing changed, but the deploy of production is pending") {
		t.Fatalf("second apply --no-deploy: exit %d\n%s", r.code, r.stdout)
	}
	r = runCLI(t, sim, nil, "apply", "--non-interactive", "--no-deploy", "--output", "json")
	var doc struct {
		DeployPending []string `json:"deploy_pending"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || strings.Join(doc.DeployPending, ",") != "production" {
		t.Fatalf("deploy_pending = %v (%v)\n%s", doc.DeployPending, err, r.stdout)
	}
	if r := runCLI(t, sim, nil, "apply", "--non-interactive"); r.code != 0 || !strings.Contains(r.stdout, "deployed production") {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, sim, nil, "apply", "--non-interactive", "--no-deploy"); r.code != 0 || !strings.Contains(r.stdout, "Nothing to do") {
		t.Fatalf("after the deploy: exit %d\n%s", r.code, r.stdout)
	}
}

func TestPlanShowsStoredSecretsAsStoredNotAsPrompts(t *testing.T) {
	sim := newApp(t, "basic")
	if r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s", r.code, r.stderr)
	}
	r := runCLI(t, sim, nil, "plan", "--output", "json")
	var doc struct {
		Environments []struct {
			Secrets []struct{ Name, Status, Source string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Environments) != 1 || len(doc.Environments[0].Secrets) != 4 {
		t.Fatalf("plan: %v\n%s", err, r.stdout)
	}
	for _, s := range doc.Environments[0].Secrets {
		if s.Status != "present" || s.Source != "stored" {
			t.Errorf("%s: status %q source %q, want present and stored", s.Name, s.Status, s.Source)
		}
	}
}

func TestApplySaysWhenTheFilesItChangedAreNotCommitted(t *testing.T) {
	sim := newApp(t, "basic") // committed before the apply
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive")
	want := "warning: devopsellence.yml has changes that are not committed: devopsellence deploys the working tree but labels the release with HEAD"
	if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "next: git add devopsellence.yml && git commit") {
		t.Fatalf("exit %d\n%s", r.code, r.stdout)
	}
	sim.WriteFile(t, "devopsellence.backup.yml", sim.ReadFile(t, "devopsellence.backup.yml")+"# a comment\n")
	r = runCLI(t, sim, nil, "apply", "--non-interactive", "--output", "json")
	if !strings.Contains(r.stdout, `"code": "uncommitted_changes"`) || !strings.Contains(r.stdout, "devopsellence.yml and devopsellence.backup.yml have changes") {
		t.Errorf("json: %s", r.stdout)
	}
	sim.GitCommit(t)
	if r := runCLI(t, sim, nil, "apply", "--non-interactive"); r.code != 0 || strings.Contains(r.stdout, "not committed") {
		t.Errorf("after the commit: exit %d\n%s", r.code, r.stdout)
	}
	// Not a git checkout: nothing to say, and no failure.
	if err := os.RemoveAll(filepath.Join(sim.Workspace, ".git")); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, sim, nil, "apply", "--non-interactive"); r.code != 0 || strings.Contains(r.stdout, "not committed") {
		t.Errorf("without git: exit %d\n%s", r.code, r.stdout)
	}
}
