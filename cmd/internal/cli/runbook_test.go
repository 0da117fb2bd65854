package cli_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/fixtures/doctest"
	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// The runbooks of docs/ are tests: the commands in their shell blocks run
// as written, on the simulator, in order.

// runbook returns the command lines of the first shell block after heading
// in a doc, comments left out.
func runbook(t *testing.T, doc, heading string) []string {
	t.Helper()
	lines, err := doctest.Runbook(docsDir, doc, heading)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// deployWorkflow is the app's deploy workflow of docs/github-actions.md:
// the one whose steps run devopsellence deploy.
func deployWorkflow(t *testing.T) (text string, runs []string) {
	t.Helper()
	text, runs, err := doctest.DeployWorkflow(docsDir)
	if err != nil {
		t.Fatal(err)
	}
	return text, runs
}

// runLine runs one documented command line: devopsellence-backup in
// process, devopsellence on the simulator. It returns the output and the
// exit status.
func (a *opsApp) runLine(t *testing.T, line string) (string, int) {
	t.Helper()
	args := shellFields(line)
	switch args[0] {
	case "devopsellence-backup":
		r := a.cli(t, args[1:]...)
		return r.stdout + r.stderr, r.code
	case "devopsellence":
		r := a.sim.Run(t, args[1:]...)
		return string(r.Stdout), r.Code
	}
	t.Fatalf("a documented step runs %q, which the test does not know", args[0])
	return "", 0
}

// migration is the release task of the next release: it changes the
// notes in a way the previous release cannot read back.
const migration = `tasks:
  release:
    service: web
    command: [sqlite3, /rails/storage/notes.sqlite3, "ALTER TABLE notes ADD COLUMN v2 TEXT; UPDATE notes SET body = 'v2: ' || body, v2 = 'x'"]
`

const notesDigest = "SELECT count(*) || '|' || group_concat(body, ',') FROM (SELECT body FROM notes ORDER BY id)"

func TestTheMigrationRollbackRunbookRunsAsWritten(t *testing.T) {
	app := newOpsApp(t, newerRestic(t), opsConfig{})
	vol := app.sim.VolumeDir("shop_storage")
	seedShop(t, vol, nil)
	notes := filepath.Join(vol, "notes.sqlite3")
	app.mustOp(t, 0, "backup", "--init")
	app.mustOp(t, 0, "check")
	app.mustOp(t, 0, "drill")
	app.deploy(t, true)
	previous, _ := app.releaseList(t)
	before := sqliteQuery(t, notes, notesDigest)

	// The next release adds a release task that migrates the notes; the
	// deploy workflow of docs/github-actions.md deploys it, step by step.
	text := app.sim.ReadFile(t, "devopsellence.yml")
	app.sim.WriteFile(t, "devopsellence.yml", strings.Replace(text, "ingress:", migration+"ingress:", 1))
	app.sim.GitCommit(t)
	_, steps := deployWorkflow(t)
	for _, step := range steps {
		line := strings.ReplaceAll(step, "${{ github.sha }}", "0123456789abcdef0123456789abcdef01234567")
		if out, code := app.runLine(t, line); code != 0 {
			t.Fatalf("deploy workflow step %q: exit %d\n%s", line, code, out)
		}
	}
	migrated := sqliteQuery(t, notes, notesDigest)
	if migrated == before || !strings.Contains(migrated, "v2: seed 1") {
		t.Fatalf("the release task did not migrate the notes: %.200s", migrated)
	}
	_, list := app.releaseList(t)
	rev := list[0]["revision"].(string)

	// docs/operations.md, "Rolling back a migration", as written.
	id := ""
	for _, line := range runbook(t, "operations.md", "## Rolling back a migration") {
		line = strings.ReplaceAll(line, "REV", rev)
		if strings.Contains(line, "--approve ID") {
			if id == "" {
				t.Fatal("the runbook approves a plan before any step showed one")
			}
			line = strings.ReplaceAll(line, "--approve ID", "--approve "+id)
		}
		out, code := app.runLine(t, line)
		if code != 0 {
			t.Fatalf("runbook step %q: exit %d\n%s", line, code, out)
		}
		if m := regexp.MustCompile(`(?m)^Restore plan ([0-9a-f]{12}) `).FindStringSubmatch(out); m != nil && strings.Contains(line, "--dry-run") {
			id = m[1]
			for _, want := range []string{"release:     from before " + rev + " was deployed", "a restore point taken by checkpoint"} {
				if !strings.Contains(out, want) {
					t.Errorf("the plan of %q does not say %q:\n%s", line, want, out)
				}
			}
		}
		if strings.Contains(line, "status") && !strings.Contains(out, "restore  ok") {
			t.Errorf("status does not show the restore:\n%s", out)
		}
	}
	if id == "" {
		t.Error("no runbook step showed a restore plan")
	}
	if got := sqliteQuery(t, notes, notesDigest); got != before {
		t.Errorf("the notes are not as before the migration:\n got %.200s\nwant %.200s", got, before)
	}
	if cols := sqliteQuery(t, notes, "SELECT group_concat(name) FROM pragma_table_info('notes')"); cols != "id,body" {
		t.Errorf("the migration's column is still there: %s", cols)
	}
	if current, _ := app.releaseList(t); current != previous {
		t.Errorf("the release running is %s, want the one before the migration (%s)", current, previous)
	}
	// The daily status workflow's step, as written, on the same app: the
	// Markdown it posts shows the restore point and the chart.
	line := "devopsellence-backup " + strings.Join(scheduledStatusStep(t), " ")
	out, code := app.runLine(t, line)
	if code != 0 || !strings.HasPrefix(out, "<!-- devopsellence-backup:status -->\n") ||
		!strings.Contains(out, "| Last restore point | ok") || !strings.Contains(out, "xychart-beta") {
		t.Errorf("the daily status step %q: exit %d\n%s", line, code, out)
	}
}

// scheduledStatusStep is the status command of the scheduled workflow of
// docs/github-actions.md.
func scheduledStatusStep(t *testing.T) []string {
	t.Helper()
	_, blocks := docWorkflows(t)
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
					if args[0] == "status" {
						return args
					}
				}
			}
		}
	}
	t.Fatal("docs/github-actions.md has no scheduled status step")
	return nil
}

func TestTheDocumentedDeployWorkflowIsTheStepPlanAsksFor(t *testing.T) {
	sim := hostedRunner(t, "basic", true)
	sim.WriteFile(t, "devopsellence.yml", strings.Replace(sim.ReadFile(t, "devopsellence.yml"), "ingress:", "tasks:\n  release:\n    service: web\n    command: [bin/rails, db:migrate]\ningress:", 1))
	findings := func() []reconcile.Finding {
		r := runCLI(t, sim, nil, "plan", "--config-only", "--output", "json")
		var doc struct{ Findings []reconcile.Finding }
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
			t.Fatalf("plan: exit %d %v\n%s", r.code, err, r.stdout)
		}
		return doc.Findings
	}
	no := func(f reconcile.Finding) bool { return f.Code == reconcile.CodeNoRestorePoint }
	fs := findings()
	i := slices.IndexFunc(fs, no)
	if i < 0 {
		t.Fatalf("no %s finding without any workflow: %+v", reconcile.CodeNoRestorePoint, fs)
	}
	wf, _ := deployWorkflow(t)
	step := strings.TrimPrefix(fs[i].NextActions[0].Command, "- ")
	if !strings.Contains(wf, step) {
		t.Errorf("plan asks for %q, which the documented deploy workflow does not run", step)
	}
	sim.WriteFile(t, ".github/workflows/deploy.yml", wf)
	if fs := findings(); slices.ContainsFunc(fs, no) {
		t.Errorf("the documented deploy workflow still gets %s: %+v", reconcile.CodeNoRestorePoint, fs)
	}
	// The same workflow without its checkpoint step is named.
	sim.WriteFile(t, ".github/workflows/deploy.yml", regexp.MustCompile(`(?m)^.*devopsellence-backup checkpoint.*\n`).ReplaceAllString(wf, ""))
	if fs := findings(); !slices.ContainsFunc(fs, func(f reconcile.Finding) bool {
		return no(f) && strings.Contains(f.Message, ".github/workflows/deploy.yml")
	}) {
		t.Errorf("a deploy workflow without the step is not named: %+v", fs)
	}
}

// hostedPlanStep is the devopsellence-backup command of the hosted-runner
// pull-request workflow of docs/github-actions.md (runs-on: ubuntu-latest).
func hostedPlanStep(t *testing.T) []string {
	t.Helper()
	_, blocks := docWorkflows(t)
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
						return args
					}
				}
			}
		}
	}
	t.Fatal("docs/github-actions.md has no plan on a hosted runner")
	return nil
}

// TestTheHostedRunnerPlanStepRunsAsWrittenWithNoState runs the hosted
// workflow's plan step as written where a hosted runner would: a checkout
// with no devopsellence state and no devopsellence installed. Its exit
// status is one the step accepts (0 in sync, 3 for a change), and its
// output is the comment the next step posts, saying what was checked here.
func TestTheHostedRunnerPlanStepRunsAsWrittenWithNoState(t *testing.T) {
	args := hostedPlanStep(t)
	missing := filepath.Join(t.TempDir(), "devopsellence")
	for _, tc := range []struct {
		name    string
		patched bool
		want    int
	}{{"in sync", true, 0}, {"a change", false, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := hostedRunner(t, "basic", tc.patched)
			r := runCLI(t, sim, nil, append(slices.Clone(args), "--devopsellence", missing)...)
			if r.code != tc.want {
				t.Fatalf("%v: exit %d, want %d\n%s%s", args, r.code, tc.want, r.stdout, r.stderr)
			}
			for _, want := range []string{render.PlanMarker + "\n", "**Checked here**", "**Not checked here**: stored secrets, nodes and deploys"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("the comment lacks %q:\n%s", want, r.stdout)
				}
			}
			if !strings.HasPrefix(r.stdout, render.PlanMarker) {
				t.Errorf("the comment does not start with the marker the comment step looks for:\n%.200s", r.stdout)
			}
			if hasDiff := strings.Contains(r.stdout, "```diff"); hasDiff != (tc.want == 3) {
				t.Errorf("diff shown: %t, want %t", hasDiff, tc.want == 3)
			}
		})
	}
}
