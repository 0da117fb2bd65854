package cli_test

import (
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestGitHubActionsWorkflowsRelyOnWhatTheToolDoes checks the workflows in
// docs/github-actions.md: they parse, every devopsellence-backup command in
// them parses with the real flags, the comment marker is the plan's, and the
// exit codes the plan step accepts are the tool's.
func TestGitHubActionsWorkflowsRelyOnWhatTheToolDoes(t *testing.T) {
	doc := string(readFile(t, "../../../docs/github-actions.md"))
	blocks := yamlBlock.FindAllStringSubmatch(doc, -1)
	if len(blocks) != 2 {
		t.Fatalf("want the two workflows, found %d yaml blocks", len(blocks))
	}
	commands := 0
	for _, b := range blocks {
		var wf struct {
			Jobs map[string]struct {
				Steps []struct {
					Run  string            `yaml:"run"`
					With map[string]string `yaml:"with"`
					Env  map[string]string `yaml:"env"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal([]byte(b[1]), &wf); err != nil {
			t.Fatalf("a workflow does not parse: %v", err)
		}
		for _, job := range wf.Jobs {
			for _, step := range job.Steps {
				for _, line := range strings.Split(step.Run, "\n") {
					line = strings.TrimSpace(line)
					if !strings.HasPrefix(line, "devopsellence-backup ") {
						continue
					}
					commands++
					line, _, _ = strings.Cut(line, ">")
					args := strings.Fields(strings.TrimPrefix(line, "devopsellence-backup "))
					if err := cli.CheckArgs(args); err != nil {
						t.Errorf("%q does not parse: %v", line, err)
					}
				}
				if s := step.With["script"]; s != "" && !strings.Contains(s, "'"+render.PlanMarker+"'") {
					t.Error("the comment script does not look for the plan's marker")
				}
				for k := range step.Env {
					if !strings.HasPrefix(k, "DEVOPSELLENCE_BACKUP_SECRET_") {
						t.Errorf("the apply step passes %s, which apply never reads", k)
					}
				}
			}
		}
	}
	if commands != 2 {
		t.Errorf("found %d devopsellence-backup commands, want plan and apply", commands)
	}
	if !strings.Contains(doc, `[ "$code" -ne 0 ] && [ "$code" -ne 3 ]`) || operate.ExitPending != 3 || operate.ExitOK != 0 {
		t.Error("the plan step does not accept exactly the in-sync and pending exit codes")
	}
	if err := cli.CheckArgs([]string{"plan", "--no-such-flag"}); err == nil {
		t.Error("CheckArgs accepts an unknown flag, so this test proves nothing")
	}
}
