package operate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// statusOutcome is what the agent reads back: this app's snapshots and
// evidence of each kind at the given time.
func statusOutcome(at time.Time, results map[Op]string) *Outcome {
	files := []string{"/data/app_storage", "/etc/shop", "/srv/x"}
	snaps := []Snapshot{
		ours("f1", at.Add(-time.Hour), files, TagFiles),
		ours("f2", at, files, TagFiles),
		ours("m1", at, []string{"/main.sql"}, TagDB, TagDBName+"main"),
		ours("a1", at, []string{"/analytics.sql"}, TagDB, TagDBName+"analytics"),
		ours("c1", at, []string{"/cache.sqlite3"}, TagDB, TagDBName+"cache"),
		ours("x1", at, []string{"/auto-data-app_storage-x.db.sqlite3"}, TagDB, TagDBName+"auto-data-app_storage-x.db"),
	}
	for kind, result := range results {
		snaps = append(snaps, evidenceSnap(string(kind)+"-ev", kind, result, at))
	}
	st := Summarize(snaps, us, at)
	st.AgentNow = at
	return &Outcome{Status: &st, Agent: &AgentInfo{Version: "v1", Protocol: Protocol, ResticVersion: "0.18.1"}}
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
		{"a day and 3 hours: backups stale", all, 27 * time.Hour, []string{"backup_stale", "backup_stale", "backup_stale", "backup_stale", "clock_skew"}},
		{"9 days: the check too", all, 9 * 24 * time.Hour, []string{"backup_stale", "backup_stale", "backup_stale", "backup_stale", "check_stale", "clock_skew"}},
		{"no evidence", nil, time.Hour, []string{"check_missing", "clock_skew", "drill_missing", "prune_missing"}},
		{"failed and partial runs", map[Op]string{OpBackup: ResultPartial, OpCheck: ResultFailed, OpPrune: ResultFailed, OpDrill: ResultOK}, time.Hour, []string{"backup_partial", "check_failed", "clock_skew", "prune_failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := statusOutcome(t0, tc.results)
			now := t0.Add(tc.age)
			if tc.age <= time.Hour {
				out.Status.AgentNow = now
				tc.want = slices.DeleteFunc(tc.want, func(c string) bool { return c == "clock_skew" })
			}
			r := Assess(es, "backup", out, now)
			if got := findingCodes(r.Findings); !slices.Equal(got, tc.want) {
				t.Errorf("findings = %v, want %v", got, tc.want)
			}
			for _, f := range r.Findings {
				if len(f.NextActions) == 0 || !strings.HasPrefix(f.NextActions[0].Command, "devopsellence") || f.Environment != "production" {
					t.Errorf("finding without a fixing command: %+v", f)
				}
			}
		})
	}
}

func TestAssessGroupsThisAppsSnapshotsAndSaysWhatRunsNext(t *testing.T) {
	out := statusOutcome(t0, nil)
	next := t0.Add(14*time.Hour + 30*time.Minute)
	out.Status.Next = []Due{{Kind: "backup", At: &next, Why: "schedule"}, {Kind: "drill", Why: "manual"}}
	out.Status.AgentNow = t0.Add(time.Hour)
	r := Assess(sampleEnv(t), "backup", out, t0.Add(time.Hour))
	var got []string
	for _, g := range r.Backups {
		got = append(got, fmt.Sprintf("%s:%d:%s", g.Name, g.Snapshots, g.SnapshotID))
	}
	want := []string{"files:2:f2", "db:main:1:m1", "db:analytics:1:a1", "db:cache:1:c1", "db:auto-data-app_storage-x.db:1:x1"}
	if !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v", got, want)
	}
	if r.Repository != "(secret RESTIC_REPOSITORY, type rest)" || r.RepositoryType != "rest" || r.Retention != "--keep-daily 7" ||
		r.Schedule != "backup daily at 02:30; prune every 1d; check every 7d" || r.AgentVersion != "v1" {
		t.Errorf("report = %+v", r)
	}
	if op := r.Operations[0]; op.Kind != "backup" || op.Next == nil || !op.Next.Equal(next) || r.Operations[3].NextWhy != "manual" {
		t.Errorf("operations = %+v", r.Operations)
	}
}

func TestAssessFlagsClockSkewFutureSnapshotsAndLookalikes(t *testing.T) {
	out := statusOutcome(t0, map[Op]string{OpBackup: ResultOK, OpCheck: ResultOK, OpDrill: ResultOK, OpPrune: ResultOK})
	out.Status.AgentNow = t0.Add(3 * time.Hour)
	out.Status.Future = []SnapRef{{ID: "ffffffff00", Time: t0.Add(3 * time.Hour)}}
	out.Status.Foreign = 4
	r := Assess(sampleEnv(t), "backup", out, t0.Add(time.Minute))
	if got := findingCodes(r.Findings); !slices.Equal(got, []string{"clock_skew", "foreign_snapshots", "future_snapshots"}) {
		t.Fatalf("findings = %v", got)
	}
	if r.OK() {
		t.Error("a report with a skewed clock is OK")
	}
	for _, f := range r.Findings {
		if f.Code == "clock_skew" && !strings.Contains(f.Message, "2h59m ahead of") {
			t.Errorf("clock_skew: %s", f.Message)
		}
	}
}

func TestAssessExplainsAStatusThatCouldNotReadTheRepository(t *testing.T) {
	es := sampleEnv(t)
	code := 12
	out := &Outcome{Agent: &AgentInfo{MissingTools: []string{"sqlite3"}}, Result: &Evidence{Kind: "status", Result: ResultFailed, Steps: []Step{
		{Name: "snapshots", Kind: "status", Result: ResultFailed, ExitCode: &code, Error: "wrong_password", Message: "Fatal: wrong password or no key found"},
	}}}
	r := Assess(es, "backup", out, t0)
	if got := findingCodes(r.Findings); !slices.Equal(got, []string{"tool_missing", "wrong_password"}) {
		t.Fatalf("findings = %v", got)
	}
	if r := Assess(es, "backup", &Outcome{}, t0); !slices.Equal(findingCodes(r.Findings), []string{"status_failed"}) {
		t.Errorf("no result: %v", findingCodes(r.Findings))
	}
}

func TestEveryFindingsFirstActionFixesItsCause(t *testing.T) {
	es := sampleEnv(t)
	tests := []struct {
		step Step
		want []string
	}{
		{Step{Error: "repository_missing"}, []string{"devopsellence-backup backup --env production --init"}},
		{Step{Error: "locked"}, []string{"devopsellence-backup check --env production --unlock-stale"}},
		{Step{Error: "service_env"}, []string{"devopsellence-backup apply --env production"}},
		{Step{Error: "tool_missing"}, []string{"devopsellence-backup image --env production"}},
		{Step{Error: "no_scratch"}, []string{"devopsellence-backup apply --env production"}},
		{Step{Error: "partial"}, []string{"devopsellence-backup backup --env production"}},
		{Step{Error: "source_missing"}, []string{"devopsellence-backup apply --env production"}},
		// A secret stored after the last deploy is not in the container
		// exec runs in: the fix is a deploy, not a rerun.
		{Step{Error: "wrong_password"}, []string{"devopsellence secret set RESTIC_PASSWORD --service backup --env production --stdin", "devopsellence deploy --env production", "devopsellence-backup check --env production"}},
		{Step{Name: "db:main", Error: "dumper_failed", Message: `pg_dump: error: FATAL:  password authentication failed for user "app"`},
			[]string{"devopsellence secret set DATABASE_URL --service backup --env production --stdin", "devopsellence deploy --env production", "devopsellence-backup check --env production"}},
		{Step{Name: "check", Kind: "check", Error: "failed", Message: "Fatal: repository contains errors"},
			[]string{"devopsellence exec backup --env production -- restic check --read-data", "devopsellence exec backup --env production -- restic repair index", "devopsellence-backup backup --env production"}},
	}
	for _, tc := range tests {
		tc.step.Result = ResultFailed
		fs := Explain(OpCheck, es, "backup", &Evidence{Steps: []Step{tc.step}})
		var got []string
		for _, a := range fs[0].NextActions {
			got = append(got, a.Command)
		}
		if len(fs) != 1 || fs[0].Code != tc.step.Error || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.step.Error, got, tc.want)
		}
	}
}

func TestAgeIsShort(t *testing.T) {
	for s, want := range map[int64]string{42: "42s", 600: "10m", 3*3600 + 60: "3h1m", 50 * 3600: "2d2h"} {
		if got := Age(s); got != want {
			t.Errorf("Age(%d) = %s, want %s", s, got, want)
		}
	}
}

func TestStatusSaysWhatTheRestoreFoldersInTheVolumesAre(t *testing.T) {
	es := spec.EnvSpec{Environment: "production"}
	st := &StatusData{AgentNow: t0, Groups: []SnapGroup{}, Restores: []RestoreFolder{
		{Folder: "/data/v/.devopsellence-restore-0123456789ab", State: RestoreUnfinished, Plan: "0123456789ab", Snapshot: "1a2b3c4d5e6f", Targets: []string{"/data/v/big"}, Done: 3, Moves: 7},
		{Folder: "/data/v/.devopsellence-restore-x", State: RestoreUnknown, Why: "it holds no journal sealed by this app's agent"},
		{Folder: "/data/v/.devopsellence-restore-aaaaaaaaaaaa", State: RestoreKept, Why: "the app wrote /data/v/log.txt"},
	}}
	r := Assess(es, "backup", &Outcome{Status: st}, t0)
	want := map[string]string{"restore_unfinished": SeverityError, "restore_folder_unknown": SeverityWarning, "restore_kept": SeverityWarning}
	for _, f := range r.Findings {
		if sev, ok := want[f.Code]; ok {
			if f.Severity != sev || len(f.NextActions) == 0 {
				t.Errorf("%s: %+v", f.Code, f)
			}
			delete(want, f.Code)
		}
	}
	if len(want) > 0 {
		t.Errorf("no finding for %v in %+v", want, r.Findings)
	}
	if r.OK() {
		t.Error("status is ok with a restore half done")
	}
}
