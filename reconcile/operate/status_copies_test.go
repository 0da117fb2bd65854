package operate

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestStatusJudgesEachCopyLikeThePrimaryAndShowsTheLastRestore(t *testing.T) {
	es := sampleEnv(t)
	es.Copies = []spec.Copy{
		{Name: "fresh", Repository: spec.Repository{URL: "/srv/fresh"}, PasswordSecret: "FRESH_PW"},
		{Name: "old", Repository: spec.Repository{URL: "/srv/old"}, PasswordSecret: "OLD_PW"},
		{Name: "lost", Repository: spec.Repository{URL: "/srv/lost"}, PasswordSecret: "LOST_PW"},
		{Name: "unknown", Repository: spec.Repository{URL: "/srv/unknown"}, PasswordSecret: "UNKNOWN_PW"},
	}
	all := map[Op]string{OpBackup: ResultOK, OpCheck: ResultOK, OpPrune: ResultOK, OpDrill: ResultOK, OpCopy: ResultOK, OpRestore: ResultFailed}
	out := statusOutcome(t0, all)
	copyOf := func(name string, at time.Time) CopyData {
		st := statusOutcome(at, nil).Status
		return CopyData{Name: name, Snapshots: st.Snapshots, Groups: st.Groups}
	}
	out.Status.Copies = []CopyData{
		copyOf("fresh", t0),
		copyOf("old", t0.Add(-3*24*time.Hour)),
		{Name: "lost", Error: "repository_missing", Message: "no repository"},
	}
	out.Status.AgentNow = t0.Add(time.Hour)
	r := Assess(es, "backup", out, t0.Add(time.Hour))
	codes := findingCodes(r.Findings)
	want := []string{"copy_stale", "copy_stale", "copy_stale", "copy_stale", "copy_unreachable", "copy_unreachable", "restore_failed"}
	if !slices.Equal(codes, want) {
		t.Errorf("findings = %v, want %v", codes, want)
	}
	for _, f := range r.Findings {
		switch {
		case f.Code == "restore_failed" && f.Severity != SeverityInfo:
			t.Errorf("a failed restore is %s, want info: the restore said so when it ran", f.Severity)
		case f.Code == "copy_unreachable" && strings.Contains(f.Message, "lost") && !strings.Contains(f.NextActions[0].Command, "copy --env production --init"):
			t.Errorf("a missing copy should be created with copy --init: %+v", f)
		case f.Code == "copy_stale" && !strings.Contains(f.Message, "copy old:"):
			t.Errorf("a stale copy names itself: %+v", f)
		}
	}
	if len(r.Copies) != 4 || len(r.Copies[0].Backups) != 4 || r.Copies[0].Backups[0].Stale || !r.Copies[1].Backups[0].Stale || r.Copies[2].Error != "repository_missing" {
		t.Errorf("copies = %+v", r.Copies)
	}
	var kinds []string
	for _, op := range r.Operations {
		kinds = append(kinds, op.Kind)
	}
	if !slices.Equal(kinds, []string{"backup", "check", "prune", "drill", "copy", "restore"}) {
		t.Errorf("operations = %v", kinds)
	}

	// Without copies or restores, status shows neither.
	r = Assess(sampleEnv(t), "backup", statusOutcome(t0, map[Op]string{OpBackup: ResultOK}), t0)
	for _, op := range r.Operations {
		if op.Kind == "copy" || op.Kind == "restore" {
			t.Errorf("status shows %s, which never ran and is not configured", op.Kind)
		}
	}
}
