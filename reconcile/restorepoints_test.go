package reconcile_test

import (
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// withReleaseTask is appYAML with a release task: the app migrates its
// database on every deploy.
var withReleaseTask = appYAML + `tasks:
  release:
    service: web
    command: [bin/rails, db:migrate]
`

func restorePointFinding(p *reconcile.Plan) *reconcile.Finding {
	for i := range p.Findings {
		if p.Findings[i].Code == reconcile.CodeNoRestorePoint {
			return &p.Findings[i]
		}
	}
	return nil
}

func TestPlanSaysWhenDeploysMigrateWithoutARestorePointFirst(t *testing.T) {
	deployOnly := reconcile.Workflow{Path: ".github/workflows/deploy.yml", Text: []byte("jobs:\n  deploy:\n    steps:\n      - run: devopsellence deploy --env production\n")}
	withPoint := reconcile.Workflow{Path: ".github/workflows/deploy.yml", Text: []byte("jobs:\n  deploy:\n    steps:\n" +
		"      - run: devopsellence-backup checkpoint --env production\n      - run: devopsellence deploy --env production\n")}
	pointAfter := reconcile.Workflow{Path: ".github/workflows/deploy.yml", Text: []byte("jobs:\n  deploy:\n    steps:\n" +
		"      # devopsellence-backup checkpoint is not a step here\n      - run: devopsellence deploy --env production\n      - run: devopsellence-backup checkpoint\n")}
	other := reconcile.Workflow{Path: ".github/workflows/test.yml", Text: []byte("jobs:\n  test:\n    steps:\n      - run: go test ./...\n")}
	for _, tc := range []struct {
		name      string
		cfg       string
		workflows []reconcile.Workflow
		want      string // "" for no finding
	}{
		{"no release task", appYAML, nil, ""},
		{"no workflow deploys", withReleaseTask, []reconcile.Workflow{other}, "no workflow in .github/workflows runs devopsellence deploy"},
		{"a deploy without a restore point", withReleaseTask, []reconcile.Workflow{other, deployOnly}, "without devopsellence-backup checkpoint before it: .github/workflows/deploy.yml"},
		{"a restore point after the deploy", withReleaseTask, []reconcile.Workflow{pointAfter}, "without devopsellence-backup checkpoint before it"},
		{"a restore point before the deploy", withReleaseTask, []reconcile.Workflow{other, withPoint}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, specDoc(t, baseSpec), tc.cfg, func(o *reconcile.Observed) { o.Workflows = append([]reconcile.Workflow{}, tc.workflows...) })
			f := restorePointFinding(p)
			switch {
			case tc.want == "" && f != nil:
				t.Errorf("unexpected finding: %+v", f)
			case tc.want != "" && f == nil:
				t.Fatalf("no %s finding", reconcile.CodeNoRestorePoint)
			case tc.want != "":
				if f.Severity != reconcile.SeverityInfo || !strings.Contains(f.Message, tc.want) || !strings.Contains(f.Message, "service web runs bin/rails db:migrate") {
					t.Errorf("finding: %+v", f)
				}
				if len(f.NextActions) != 2 || f.NextActions[0].Command != `- run: devopsellence-backup checkpoint --env production --reason "deploy ${{ github.sha }}"` {
					t.Errorf("the step to add, per covered environment: %+v", f.NextActions)
				}
			}
		})
	}
}
