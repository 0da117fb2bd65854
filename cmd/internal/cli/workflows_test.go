package cli_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/fixtures/doctest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// actionlintModule is the linter the workflows must pass, pinned.
const actionlintModule = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// workflow is what the tests read of a GitHub Actions workflow.
type workflow = doctest.Workflow

// docWorkflows are the workflows of docs/github-actions.md, as written.
func docWorkflows(t *testing.T) (doc string, blocks []string) {
	t.Helper()
	doc, blocks, err := doctest.Workflows(docsDir)
	if err != nil {
		t.Fatal(err)
	}
	return doc, blocks
}

// actionlintConfig is the .github/actionlint.yaml that docs/github-actions.md
// gives for the self-hosted runner's label.
func actionlintConfig(t *testing.T) string {
	t.Helper()
	doc, _ := docWorkflows(t)
	for _, b := range doctest.YAMLBlocks(doc) {
		if strings.HasPrefix(b, "self-hosted-runner:") {
			return b
		}
	}
	t.Fatal("docs/github-actions.md gives no actionlint.yaml for the runner's label")
	return ""
}

// docsDir is the repository's docs folder.
const docsDir = "../../../docs"

var (
	backupCommands = doctest.BackupCommands
	shellFields    = doctest.ShellFields
)

// TestGitHubActionsWorkflowsRelyOnWhatTheToolDoes checks the workflows in
// docs/github-actions.md: they parse, every devopsellence-backup command in
// them parses with the real flags, the comment marker is the plan's, and the
// exit codes the plan steps accept are the tool's.
func TestGitHubActionsWorkflowsRelyOnWhatTheToolDoes(t *testing.T) {
	doc, blocks := docWorkflows(t)
	var names []string
	var commands []string
	for _, b := range blocks {
		var wf workflow
		if err := yaml.Unmarshal([]byte(b), &wf); err != nil {
			t.Fatalf("a workflow does not parse: %v", err)
		}
		names = append(names, wf.Name)
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				for _, args := range backupCommands(step.Run) {
					commands = append(commands, args[0])
					if err := cli.CheckArgs(args); err != nil {
						t.Errorf("%s: devopsellence-backup %s does not parse: %v", wf.Name, strings.Join(args, " "), err)
					}
				}
				if s := step.With["script"]; s != "" && !strings.Contains(s, "'"+render.PlanMarker+"'") {
					t.Errorf("%s: the comment script does not look for the plan's marker", wf.Name)
				}
				for k := range step.Env {
					if !strings.HasPrefix(k, "DEVOPSELLENCE_BACKUP_SECRET_") {
						t.Errorf("%s: a step passes %s, which devopsellence-backup never reads", wf.Name, k)
					}
				}
			}
		}
	}
	for _, want := range []string{"plan", "apply"} {
		if !slices.Contains(commands, want) {
			t.Errorf("no workflow runs devopsellence-backup %s (found %v)", want, commands)
		}
	}
	if n := strings.Count(doc, `[ "$code" -ne 0 ] && [ "$code" -ne 3 ]`); n < 2 || operate.ExitPending != 3 || operate.ExitOK != 0 {
		t.Errorf("the plan steps (%d found) do not accept exactly the in-sync and pending exit codes", n)
	}
	if err := cli.CheckArgs([]string{"plan", "--no-such-flag"}); err == nil {
		t.Error("CheckArgs accepts an unknown flag, so this test proves nothing")
	}
}

// TestTheHostedRunnerWorkflowPlansFromTheFilesAlone checks the pull-request
// workflow for a GitHub-hosted runner: it runs on one, plans with
// --config-only, and installs no devopsellence (it never needs it).
func TestTheHostedRunnerWorkflowPlansFromTheFilesAlone(t *testing.T) {
	_, blocks := docWorkflows(t)
	found := false
	for _, b := range blocks {
		var wf workflow
		if err := yaml.Unmarshal([]byte(b), &wf); err != nil {
			t.Fatal(err)
		}
		for _, job := range wf.Jobs {
			if job.RunsOn != "ubuntu-latest" {
				continue
			}
			for _, step := range job.Steps {
				for _, args := range backupCommands(step.Run) {
					if args[0] == "plan" {
						found = true
						if !slices.Contains(args, "--config-only") {
							t.Errorf("the hosted runner plans without --config-only: %v", args)
						}
					}
				}
				if strings.Contains(step.Run, "devopsellence ") {
					t.Errorf("the hosted runner runs devopsellence, which has no state there: %s", step.Run)
				}
			}
		}
	}
	if !found {
		t.Fatal("no workflow plans on a GitHub-hosted runner (runs-on: ubuntu-latest)")
	}
}

// TestTheDailyStatusWorkflowPostsTheMarkdownAndFailsWhenStatusDoes checks
// the scheduled workflow: status's Markdown goes to the job summary, and the
// job ends with status's own exit status (1 when a backup is stale).
func TestTheDailyStatusWorkflowPostsTheMarkdownAndFailsWhenStatusDoes(t *testing.T) {
	_, blocks := docWorkflows(t)
	found := false
	for _, b := range blocks {
		var wf workflow
		if err := yaml.Unmarshal([]byte(b), &wf); err != nil {
			t.Fatal(err)
		}
		if _, scheduled := wf.On["schedule"]; !scheduled {
			continue
		}
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				for _, args := range backupCommands(step.Run) {
					if args[0] != "status" {
						continue
					}
					found = true
					if !strings.Contains(strings.Join(args, " "), "--output markdown") ||
						!strings.Contains(step.Run, `>> "$GITHUB_STEP_SUMMARY"`) || !strings.Contains(step.Run, `exit "$code"`) {
						t.Errorf("the scheduled status step does not post the Markdown and fail with status:\n%s", step.Run)
					}
				}
			}
		}
	}
	if !found {
		t.Fatal("no scheduled workflow runs devopsellence-backup status")
	}
}

// TestGitHubActionsWorkflowsPassActionlint runs actionlint (pinned; go run
// fetches it through the Go module proxy the first time) on every workflow
// of docs/github-actions.md, with the actionlint.yaml the page gives, and on
// this repository's own workflows. shellcheck and pyflakes are left out, so
// the result does not depend on what else the machine has installed.
func TestGitHubActionsWorkflowsPassActionlint(t *testing.T) {
	_, blocks := docWorkflows(t)
	root := t.TempDir()
	dir := filepath.Join(root, ".github", "workflows")
	must(t, os.MkdirAll(dir, 0o755))
	config := filepath.Join(root, ".github", "actionlint.yaml")
	must(t, os.WriteFile(config, []byte(actionlintConfig(t)), 0o644))
	var files []string
	for i, b := range blocks {
		f := filepath.Join(dir, "docs-"+string(rune('a'+i))+".yml")
		must(t, os.WriteFile(f, []byte(b), 0o644))
		files = append(files, f)
	}
	own, err := filepath.Glob("../../../.github/workflows/*.yml")
	must(t, err)
	files = append(files, own...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append([]string{"run", actionlintModule, "-no-color", "-shellcheck=", "-pyflakes=", "-config-file", config}, files...)
	cmd := exec.CommandContext(ctx, "go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	// A linter that sees nothing passes anything: a broken workflow must fail.
	bad := filepath.Join(dir, "bad.yml")
	must(t, os.WriteFile(bad, []byte("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_context }}\n"), 0o644))
	if out, err := exec.CommandContext(ctx, "go", "run", actionlintModule, "-no-color", "-shellcheck=", "-pyflakes=", bad).CombinedOutput(); err == nil {
		t.Errorf("actionlint passed a broken workflow, so this test proves nothing:\n%s", out)
	}
}
