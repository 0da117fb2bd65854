package operate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func snap(id string, at time.Time, host string, paths []string, tags ...string) Snapshot {
	return Snapshot{ID: id, Time: at, Hostname: host, Paths: paths, Tags: tags}
}

func evidenceDoc(kind, result string, at time.Time, steps ...Step) []byte {
	b, _ := json.Marshal(Evidence{SchemaVersion: 1, Kind: kind, Result: result, FinishedAt: at, Steps: steps})
	return b
}

// statusOutcome is what a status run reads back: this app's snapshots, one
// of another app, and evidence of each kind at the given time.
func statusOutcome(t *testing.T, at time.Time, results map[Op]string) *Outcome {
	t.Helper()
	tags := []string{"app:shop", "env:production"}
	with := func(extra ...string) []string { return append(slices.Clone(tags), extra...) }
	snaps := []Snapshot{
		snap("f1", at.Add(-time.Hour), "shop-production", []string{"/data/app_storage", "/etc/shop it's", "/srv/x"}, with("kind:files")...),
		snap("f2", at, "shop-production", []string{"/data/app_storage", "/etc/shop it's", "/srv/x"}, with("kind:files")...),
		snap("m1", at, "shop-production", []string{"/main.sql"}, with("kind:db", "db:main", "engine:postgres")...),
		snap("a1", at, "shop-production", []string{"/analytics.sql"}, with("kind:db", "db:analytics", "engine:mariadb")...),
		snap("c1", at, "shop-production", []string{"/cache.sqlite3"}, with("kind:db", "db:cache", "engine:sqlite")...),
		snap("x1", at, "shop-production", []string{"/auto-data-app_storage-x.db.sqlite3"}, with("kind:db", "db:auto-data-app_storage-x.db")...),
		// Not this app's: another host, and the same host without its tags.
		snap("o1", at.Add(time.Minute), "blog-production", []string{"/data/app_storage", "/etc/shop it's", "/srv/x"}, "app:shop", "env:production", "kind:files"),
		snap("o2", at.Add(time.Minute), "shop-production", []string{"/main.sql"}, "app:blog", "kind:db", "db:main"),
	}
	list, _ := json.Marshal(snaps)
	out := &Outcome{
		Result: &Evidence{Kind: "status", Result: ResultOK, Host: "shop-production", Tags: tags, RepositoryID: "r1", ResticVersion: "0.18.1"},
		Blobs:  map[string][]byte{"snapshots": list},
	}
	for kind, result := range results {
		out.Blobs["evidence-"+string(kind)] = evidenceDoc(string(kind), result, at)
	}
	return out
}

func findingCodes(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	slices.Sort(out)
	return out
}

func TestAssessJudgesFreshnessAgainstTheSpecsLimits(t *testing.T) {
	es := sampleEnv(t)
	all := map[Op]string{OpBackup: ResultOK, OpCheck: ResultOK, OpPrune: ResultOK, OpDrill: ResultOK}
	tests := []struct {
		name    string
		results map[Op]string
		age     time.Duration
		want    []string
	}{
		{"fresh", all, time.Hour, nil},
		{"a day and 3 hours: backups stale", all, 27 * time.Hour, []string{"backup_stale", "backup_stale", "backup_stale", "backup_stale"}},
		{"9 days: the check too", all, 9 * 24 * time.Hour, []string{"backup_stale", "backup_stale", "backup_stale", "backup_stale", "check_stale"}},
		{"36 days: the drill too", all, 36 * 24 * time.Hour, []string{"backup_stale", "backup_stale", "backup_stale", "backup_stale", "check_stale", "drill_stale"}},
		{"no evidence", nil, time.Hour, []string{"check_missing", "drill_missing", "prune_missing"}},
		{"failed and partial runs", map[Op]string{OpBackup: ResultPartial, OpCheck: ResultFailed, OpPrune: ResultFailed, OpDrill: ResultOK}, time.Hour, []string{"backup_partial", "check_failed", "prune_failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Assess(es, "backup", statusOutcome(t, t0, tc.results), t0.Add(tc.age))
			if got := findingCodes(r); !slices.Equal(got, tc.want) {
				t.Errorf("findings = %v, want %v", got, tc.want)
			}
			if r.OK() != (len(tc.want) == 0 || slices.Equal(tc.want, []string{"prune_missing"})) && tc.results != nil {
				t.Errorf("OK() = %v", r.OK())
			}
			for _, f := range r.Findings {
				if len(f.NextActions) == 0 || !strings.HasPrefix(f.NextActions[0].Command, "devopsellence") || f.Environment != "production" {
					t.Errorf("finding without a fixing command: %+v", f)
				}
			}
		})
	}
}

func TestAssessCountsOnlyThisAppsSnapshotsAndListsFoundDatabases(t *testing.T) {
	r := Assess(sampleEnv(t), "backup", statusOutcome(t, t0, nil), t0.Add(time.Hour))
	var got []string
	for _, g := range r.Backups {
		got = append(got, fmt.Sprintf("%s:%d:%s", g.Name, g.Snapshots, g.SnapshotID))
	}
	want := []string{"files:2:f2", "db:main:1:m1", "db:analytics:1:a1", "db:cache:1:c1", "db:auto-data-app_storage-x.db:1:x1"}
	if !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v", got, want)
	}
	if r.Repository != "(secret RESTIC_REPOSITORY, type rest)" || r.RepositoryType != "rest" || r.Retention != "--keep-daily 7" {
		t.Errorf("report = %+v", r)
	}
}

func TestAssessExplainsARepositoryThatCannotBeRead(t *testing.T) {
	es := sampleEnv(t)
	code := 12
	out := &Outcome{Result: &Evidence{Kind: "status", Result: ResultFailed, Steps: []Step{
		{Name: "repository", Kind: "repository", Result: ResultFailed, ExitCode: &code, Error: "wrong_password", Message: "Fatal: wrong password or no key found"},
	}}, MissingTools: []string{"sqlite3"}}
	r := Assess(es, "backup", out, t0)
	if got := findingCodes(r); !slices.Equal(got, []string{"tool_missing", "wrong_password"}) {
		t.Fatalf("findings = %v", got)
	}
	if r.Findings[1].NextActions[0].Command != "devopsellence secret set RESTIC_PASSWORD --service backup --env production --stdin" {
		t.Errorf("next actions = %+v", r.Findings[1].NextActions)
	}
	if r := Assess(es, "backup", &Outcome{}, t0); !slices.Equal(findingCodes(r), []string{"status_failed"}) {
		t.Errorf("no result: %v", findingCodes(r))
	}
}

func TestExplainGivesEachFailureItsFix(t *testing.T) {
	es := sampleEnv(t)
	tests := map[string]string{
		"repository_missing": "devopsellence-backup backup --env production --init",
		"locked":             "devopsellence-backup check --env production --unlock-stale",
		"service_env":        "devopsellence-backup apply --env production",
		"tool_missing":       "devopsellence-backup image --env production",
		"dumper_failed":      "devopsellence-backup check --env production",
		"no_scratch":         "devopsellence-backup apply --env production",
		"partial":            "devopsellence-backup backup --env production",
	}
	for class, want := range tests {
		ev := &Evidence{Steps: []Step{{Name: "x", Result: ResultFailed, Error: class, Message: "m"}}}
		fs := Explain(OpCheck, es, "backup", ev)
		if len(fs) != 1 || fs[0].Code != class || fs[0].NextActions[0].Command != want {
			t.Errorf("%s: %+v, want next %q", class, fs, want)
		}
	}
	if fs := Explain(OpBackup, es, "backup", &Evidence{Interrupted: true}); len(fs) != 1 || fs[0].Code != "interrupted" {
		t.Errorf("interrupted: %+v", fs)
	}
}

func TestAgeIsShort(t *testing.T) {
	for s, want := range map[int64]string{42: "42s", 600: "10m", 3*3600 + 60: "3h1m", 50 * 3600: "2d2h"} {
		if got := Age(s); got != want {
			t.Errorf("Age(%d) = %s, want %s", s, got, want)
		}
	}
}

func TestToolMissingNamesTheImageAndTheCommandThatBuildsABetterOne(t *testing.T) {
	f := ToolMissing("staging", "img:2", "backup", []string{"restic", "mariadb-dump|mysqldump"})
	if f.Code != "tool_missing" || f.Severity != SeverityWarning || f.Environment != "staging" ||
		f.Message != "image img:2 of service backup in staging lacks restic, mariadb-dump|mysqldump, which the spec's backups and drills need" ||
		!slices.Equal(f.Evidence, []string{"restic", "mariadb-dump|mysqldump"}) ||
		len(f.NextActions) != 1 || f.NextActions[0].Command != "devopsellence-backup image --env staging" {
		t.Errorf("ToolMissing = %+v", f)
	}
	// A failed step names its tool; status reports what the image lacks.
	es := sampleEnv(t)
	ev := &Evidence{Steps: []Step{{Name: "db:main", Result: ResultFailed, Error: "tool_missing", Message: "pg_dump is not on the service's PATH", Facts: map[string]any{"tool": "pg_dump"}}}}
	if fs := Explain(OpBackup, es, "backup", ev); len(fs) != 1 || fs[0].Severity != SeverityError ||
		fs[0].Message != "db:main: image img:1 of service backup in production lacks pg_dump, which the spec's backups and drills need" {
		t.Errorf("explained: %+v", fs)
	}
	r := Assess(es, "backup", &Outcome{MissingTools: []string{"sqlite3"}}, t0)
	if len(r.Findings) == 0 || r.Findings[0].Message != "image img:1 of service backup in production lacks sqlite3, which the spec's backups and drills need" {
		t.Errorf("status findings: %+v", r.Findings)
	}
}

func TestExplainSaysWhichSecretMustBeAURL(t *testing.T) {
	ev := &Evidence{Steps: []Step{{Name: "db:main", Result: ResultFailed, Error: "bad_url", Message: "the secret DATABASE_URL must be a postgres://… or mysql://… URL", Facts: map[string]any{"secret": "DATABASE_URL"}}}}
	fs := Explain(OpBackup, sampleEnv(t), "backup", ev)
	if len(fs) != 1 || fs[0].Code != "bad_url" || len(fs[0].NextActions) != 2 ||
		fs[0].NextActions[0].Command != "devopsellence secret set DATABASE_URL --service backup --env production --stdin" {
		t.Errorf("bad_url: %+v", fs)
	}
}
