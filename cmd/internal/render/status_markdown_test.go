package render

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

const statusSpec = `apiVersion: backup.devopsellence.io/v1alpha1
kind: Backup
metadata: {name: shop}
spec:
  image: img:1
  environments: [production, staging]
  paths: [/data/app_storage]
  databases: [{name: main, engine: postgres, urlSecret: DATABASE_URL}]
  repository: {url: "s3:s3.amazonaws.com/acme/shop"}
  retention: {keepDaily: 7, keepWeekly: 4}
`

// statusReport is one environment's report as status builds it: the
// agent's summary of a snapshot listing, judged against now.
func statusReport(t *testing.T, env string, snaps []operate.Snapshot, now time.Time) *operate.Report {
	t.Helper()
	b, err := spec.Parse("devopsellence.backup.yml", []byte(statusSpec))
	if err != nil {
		t.Fatal(err)
	}
	es := b.ForEnvironment(env, "shop")
	if env == "staging" {
		es.Retention = nil // as if the spec set none there
	}
	id := operate.Identity{Host: es.Host, Tags: es.Tags, AppID: "a1"}
	for i := range snaps {
		snaps[i].Hostname = es.Host
		snaps[i].Tags = append(append(append([]string{}, es.Tags...), operate.TagAppID+"a1"), snaps[i].Tags...)
	}
	st := operate.Summarize(snaps, id, now)
	st.AgentNow = now
	out := &operate.Outcome{Status: &st, Agent: &operate.AgentInfo{Version: "v1.4.0", ResticVersion: "0.18.1"}}
	return operate.Assess(es, "backup", out, now)
}

func evidenceAt(kind operate.Op, result string, at time.Time, bytes, seconds int64) operate.Snapshot {
	ev := &operate.Evidence{Kind: string(kind), Result: result, Trigger: operate.TriggerSchedule, DurationSeconds: seconds}
	tags := operate.EvidenceTags(ev, "", "run-"+at.Format("0102150405"), "")
	if bytes >= 0 {
		tags = append(tags, operate.TagBytes+fmt.Sprint(bytes))
	}
	return operate.Snapshot{ID: fmt.Sprintf("%x", at.Unix()) + "00000000", Time: at, Paths: []string{operate.EvidencePath(kind)}, Tags: tags}
}

func TestStatusMarkdownShowsTheFiveEvidenceItemsAndAChartOfThirtyDays(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var prod []operate.Snapshot
	// A nightly backup for 40 days, growing 10 MiB a day, the runs taking
	// longer; two failed nights, and one night with a retry that worked.
	for d := 39; d >= 0; d-- {
		at := time.Date(2026, 11, 25, 2, 30, 0, 0, time.UTC).AddDate(0, 0, -d)
		size := int64(500+10*(40-d)) << 20
		switch d {
		case 12, 3:
			prod = append(prod, evidenceAt(operate.OpBackup, operate.ResultFailed, at, -1, 5))
		case 7:
			prod = append(prod, evidenceAt(operate.OpBackup, operate.ResultFailed, at, -1, 2),
				evidenceAt(operate.OpBackup, operate.ResultOK, at.Add(time.Hour), size, int64(60+d)))
		default:
			prod = append(prod, evidenceAt(operate.OpBackup, operate.ResultOK, at, size, int64(120-2*d)))
		}
	}
	at := time.Date(2026, 11, 25, 2, 30, 0, 0, time.UTC)
	prod = append(prod,
		operate.Snapshot{ID: "1d324a3b00000000", Time: at, Paths: []string{"/data/app_storage"}, Tags: []string{operate.TagFiles}},
		operate.Snapshot{ID: "5b1f2c3d00000000", Time: at, Paths: []string{"/main.pgdump"}, Tags: []string{operate.TagDB, operate.TagDBName + "main"}},
		evidenceAt(operate.OpCheck, operate.ResultOK, at.AddDate(0, 0, -2), -1, 30),
		evidenceAt(operate.OpDrill, operate.ResultOK, at.AddDate(0, 0, -9), -1, 72),
		evidenceAt(operate.OpPrune, operate.ResultOK, at, -1, 4),
	)
	// A restore point taken before yesterday's deploy.
	cp := evidenceAt(operate.OpCheckpoint, operate.ResultOK, at.AddDate(0, 0, -1).Add(7*time.Hour), 600<<20, 9)
	cp.Tags = append(cp.Tags, operate.RestorePoint{Release: "a1b2c3d", NextRelease: "e4f5a6b"}.Tags()...)
	prod = append(prod, cp)
	// Staging: one old backup, never checked or drilled, no retention.
	old := time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)
	staging := []operate.Snapshot{
		{ID: "9a9a9a9a00000000", Time: old, Paths: []string{"/data/app_storage"}, Tags: []string{operate.TagFiles}},
		evidenceAt(operate.OpBackup, operate.ResultPartial, old, 3<<10, 1),
	}
	doc := StatusDoc{Envelope: Envelope{SchemaVersion: SchemaVersion, Operation: "devopsellence-backup status"}, Findings: []reconcile.Finding{}}
	for _, r := range []*operate.Report{statusReport(t, "production", prod, now), statusReport(t, "staging", staging, now)} {
		doc.Environments = append(doc.Environments, r)
		doc.Findings = append(doc.Findings, r.Findings...)
	}
	doc.Summary = "Attention needed in staging: backup_missing, backup_stale, check_missing, drill_missing."
	var b bytes.Buffer
	if err := StatusMarkdown(&b, doc, now); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if !strings.HasPrefix(md, StatusMarker+"\n") {
		t.Error("no marker on the first line")
	}
	if !strings.Contains(md, "| Last restore point | ok, 23h30m ago (2026-11-24 09:30Z, schedule); under release a1b2c3d, before e4f5a6b was deployed | ✅ |") {
		t.Error("the last restore point is not shown")
	}
	for _, item := range []string{"| Newest snapshot |", "| Last check |", "| Retention policy |", "| Repository |", "| Last restore drill |"} {
		if n := strings.Count(md, item); n != 2 {
			t.Errorf("%q appears %d times, want once per environment", item, n)
		}
	}
	charts := regexp.MustCompile("(?s)```mermaid\nxychart-beta\n(.*?)```").FindAllStringSubmatch(md, -1)
	if len(charts) != 4 {
		t.Fatalf("%d charts, want size and duration for each environment:\n%s", len(charts), md)
	}
	axis := regexp.MustCompile(`x-axis \[(.*)\]`).FindStringSubmatch(charts[0][1])
	if labels := strings.Split(axis[1], ", "); len(labels) != operate.HistoryDays || labels[0] != `"10-27"` || labels[29] != `"11-25"` {
		t.Errorf("x-axis is not the %d days up to today: %v", operate.HistoryDays, labels)
	}
	for _, marked := range []string{`"11-13 ✗"`, `"11-18 ✗"`, `"11-22 ✗"`} {
		if !strings.Contains(charts[0][1], marked) {
			t.Errorf("the failed day %s is not marked", marked)
		}
	}
	if !strings.Contains(md, "11-18 (1 of 2)") {
		t.Error("the day with a failure and a good retry does not say 1 of 2")
	}
	check(t, "status.md", b.Bytes())
}

func TestStatusMarkdownSaysWhenTheAgentReadNothing(t *testing.T) {
	es := spec.EnvSpec{Environment: "production"}
	r := operate.Assess(es, "backup", &operate.Outcome{}, time.Now())
	doc := StatusDoc{Envelope: Envelope{Summary: "Attention needed in production: status_failed."}, Environments: []*operate.Report{r}, Findings: r.Findings}
	var b bytes.Buffer
	if err := StatusMarkdown(&b, doc, time.Now()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "| Repository | ") || !strings.Contains(b.String(), "⛔ |") || !strings.Contains(b.String(), "No backup recorded") || !strings.Contains(b.String(), "status_failed") {
		t.Errorf("markdown:\n%s", b.String())
	}
}
