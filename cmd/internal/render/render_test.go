package render

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/golden"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func check(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Check(t, filepath.Join("../../../fixtures/render", name), got)
}

// bigPlan adds n lines to a small file, with one missing secret and a finding.
func bigPlan(n int) *reconcile.Plan {
	var after strings.Builder
	after.WriteString("services:\n  web: {}\n")
	for i := 0; i < n; i++ {
		after.WriteString("  # line added by the plan\n")
	}
	return &reconcile.Plan{
		Service: "backup", SpecFile: "devopsellence.backup.yml", ConfigFile: "devopsellence.yml", SecretsChecked: true,
		Before: []byte("services:\n  web: {}\n"), After: []byte(after.String()),
		Changes: []reconcile.Change{{Action: reconcile.ActionAdd, Path: "services.backup"}},
		Environments: []reconcile.EnvPlan{{Name: "production", Covered: true, Deploy: true, DeployReason: "devopsellence.yml changes",
			Secrets: []reconcile.SecretPlan{{Name: "RESTIC_PASSWORD", Service: "backup", Status: reconcile.StatusMissing, Source: reconcile.SourcePrompt}}}},
		Findings: []reconcile.Finding{{Severity: reconcile.SeverityWarning, Code: "environment_not_covered", Message: "staging <is> not covered",
			NextActions: []reconcile.Action{{Label: "add it", Command: "devopsellence-backup plan"}}}},
	}
}

func TestMarkdownPlanFitsAComment(t *testing.T) {
	var b bytes.Buffer
	if err := PlanMarkdown(&b, bigPlan(5), MaxComment); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), PlanMarker+"\n") || strings.Contains(b.String(), "too long") {
		t.Errorf("markdown:\n%s", b.String())
	}
	check(t, "plan-small.md", b.Bytes())
}

func TestMarkdownPlanCutsADiffTooLongForAComment(t *testing.T) {
	var b bytes.Buffer
	if err := PlanMarkdown(&b, bigPlan(5000), MaxComment); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if len(md) > MaxComment {
		t.Errorf("the comment is %d bytes, over %d", len(md), MaxComment)
	}
	if !strings.Contains(md, "**The diff is too long for a comment:") || !strings.Contains(md, "of 5005 lines shown") {
		t.Errorf("the cut is not said:\n%s", md[len(md)-600:])
	}
	if !strings.Contains(md, "staging &lt;is&gt; not covered") || strings.Count(md, "```") != 2 {
		t.Error("findings or the code fence got lost")
	}
	// The golden keeps the head and tail; the middle is thousands of equal lines.
	lines := strings.Split(md, "\n")
	check(t, "plan-too-long.md", []byte(strings.Join(lines[:25], "\n")+"\n[...]\n"+strings.Join(lines[len(lines)-20:], "\n")))
}

func TestMarkdownOfAFailedPlanCarriesTheMarker(t *testing.T) {
	var b bytes.Buffer
	if err := ErrorMarkdown(&b, "devopsellence.backup.yml:3: spec.image: required\nfix devopsellence.backup.yml and run devopsellence-backup plan\n"); err != nil {
		t.Fatal(err)
	}
	check(t, "plan-failed.md", b.Bytes())
}

func TestTextPlanSummarises(t *testing.T) {
	var b bytes.Buffer
	if err := PlanText(&b, bigPlan(2)); err != nil {
		t.Fatal(err)
	}
	check(t, "plan-small.txt", b.Bytes())
	if !strings.HasSuffix(b.String(), "Plan: 1 to add, 0 to update, 0 to adopt, 0 to remove in devopsellence.yml; 1 secret to store; deploy production.\n") {
		t.Errorf("summary line:\n%s", b.String())
	}
}

func TestCountsReadRight(t *testing.T) {
	for n, want := range map[int]string{0: "0 snapshots", 1: "1 snapshot", 2: "2 snapshots", 11: "11 snapshots"} {
		if got := Count(n, "snapshot"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTheStatusReportSaysOneSnapshotInTheSingular(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	age := int64(3600)
	doc := StatusDoc{Environments: []*operate.Report{{Environment: "production", Backups: []operate.Group{
		{Name: "volume:app_storage", Snapshots: 1, SnapshotID: "0123456789", Time: &at, AgeSeconds: &age},
		{Name: "db:primary", Snapshots: 2, SnapshotID: "abcdefabcd", Time: &at, AgeSeconds: &age},
	}}}}
	var b bytes.Buffer
	if err := StatusText(&b, doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "01234567 (1 snapshot)\n") || !strings.Contains(b.String(), "abcdefab (2 snapshots)\n") {
		t.Errorf("status:\n%s", b.String())
	}
}
