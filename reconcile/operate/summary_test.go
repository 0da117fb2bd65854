package operate

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarizeCountsOnlyThisAppsSnapshots(t *testing.T) {
	files := []string{"/data/app_storage", "/srv/x"}
	snaps := []Snapshot{
		ours("f1", t0.Add(-time.Hour), files, TagFiles),
		ours("f2", t0, files, TagFiles),
		ours("m1", t0, []string{"/main.sql"}, TagDB, TagDBName+"main"),
		// Made before snapshots carried the app's identity: still ours.
		snap("l1", t0.Add(-2*time.Hour), us.Host, []string{"/main.sql"}, "app:shop", "env:production", TagDB, TagDBName+"main"),
		// A second app under our host and tags, with its own identity.
		snap("x1", t0.Add(time.Minute), us.Host, files, "app:shop", "env:production", TagAppID+"other", TagFiles),
		evidenceSnap("x2", OpBackup, ResultOK, t0.Add(time.Minute), TagAppID+"other"),
		// Another host altogether.
		snap("o1", t0, "blog-production", files, "app:shop", "env:production", TagFiles),
	}
	// evidenceSnap tags it as ours too; replace its identity to make it foreign.
	snaps[5].Tags = []string{"app:shop", "env:production", TagEvidence, TagKind + "backup", TagResult + "ok", TagAppID + "other"}
	st := Summarize(snaps, us, t0.Add(time.Hour))
	if st.Foreign != 2 || st.Snapshots != 4 || len(st.Evidence) != 0 {
		t.Fatalf("summary = %+v", st)
	}
	if len(st.Groups) != 2 {
		t.Fatalf("groups = %+v", st.Groups)
	}
	db, fs := st.Groups[0], st.Groups[1]
	if db.Kind != "db" || db.DB != "main" || db.Count != 2 || db.Newest.ID != "m1" {
		t.Errorf("db group = %+v", db)
	}
	if fs.Kind != "files" || fs.Count != 2 || fs.Newest.ID != "f2" {
		t.Errorf("files group = %+v", fs)
	}
}

func TestAFutureDatedSnapshotNeitherCountsAsFreshNorHidesANewerFailure(t *testing.T) {
	snaps := []Snapshot{
		evidenceSnap("e1", OpBackup, ResultFailed, t0),
		// A node with a clock a week ahead stored this "ok".
		evidenceSnap("e2", OpBackup, ResultOK, t0.Add(7*24*time.Hour)),
		ours("f9", t0.Add(7*24*time.Hour), []string{"/data/app_storage"}, TagFiles),
	}
	st := Summarize(snaps, us, t0.Add(time.Minute))
	if len(st.Evidence) != 1 || st.Evidence[0].SnapshotID != "e1" || st.Evidence[0].Result != ResultFailed {
		t.Errorf("evidence = %+v", st.Evidence)
	}
	if len(st.Future) != 2 || len(st.Groups) != 0 {
		t.Errorf("future = %+v, groups = %+v", st.Future, st.Groups)
	}
}

func TestLastRunsGiveTheSchedulerItsRhythm(t *testing.T) {
	snaps := []Snapshot{
		evidenceSnap("a", OpBackup, ResultOK, t0.Add(-3*time.Hour)),
		evidenceSnap("b", OpBackup, ResultPartial, t0.Add(-2*time.Hour)),
		evidenceSnap("c", OpBackup, ResultFailed, t0.Add(-time.Hour)),
		evidenceSnap("d", OpCheck, ResultFailed, t0.Add(-time.Hour)),
	}
	good, failed := LastRuns(snaps, us, OpBackup, t0)
	if good == nil || !good.Equal(t0.Add(-2*time.Hour)) || failed == nil || !failed.Equal(t0.Add(-time.Hour)) {
		t.Errorf("backup: good %v, failed %v", good, failed)
	}
	good, failed = LastRuns(snaps, us, OpCheck, t0)
	if good != nil || failed == nil {
		t.Errorf("check: good %v, failed %v", good, failed)
	}
	if good, failed := LastRuns(snaps, us, OpPrune, t0); good != nil || failed != nil {
		t.Errorf("prune: good %v, failed %v", good, failed)
	}
}

func TestCheckRotationMovesOnOnlyAfterAPassingPart(t *testing.T) {
	snaps := []Snapshot{
		evidenceSnap("a", OpCheck, ResultOK, t0.Add(-3*time.Hour), TagPart+"3/10"),
		evidenceSnap("b", OpCheck, ResultFailed, t0.Add(-2*time.Hour)),
		evidenceSnap("c", OpCheck, ResultOK, t0.Add(-time.Hour), TagPart+"2/16"), // another rotation
	}
	if n := LastCheckPart(snaps, us, 10, t0); n != 3 {
		t.Errorf("last part = %d, want 3", n)
	}
	snaps = append(snaps, evidenceSnap("d", OpCheck, ResultOK, t0, TagPart+"10/10"))
	if n := LastCheckPart(snaps, us, 10, t0.Add(time.Hour)); n != 0 {
		t.Errorf("after the last part = %d, want 0 (start over)", n)
	}
}

func TestAnUntaggedSnapshotAfterThisAppsFirstTaggedOneIsNotTrusted(t *testing.T) {
	files := []string{"/data/app_storage"}
	legacy := snap("old", t0.Add(-48*time.Hour), us.Host, files, "app:shop", "env:production", TagFiles)
	first := ours("f1", t0.Add(-24*time.Hour), files, TagFiles)
	// Written with plain restic under this app's host and tags, newer
	// than anything, claiming an ok backup.
	lookalike := snap("x1", t0.Add(-time.Minute), us.Host, files, "app:shop", "env:production", TagFiles)
	fakeOK := snap("x2", t0.Add(-time.Minute), us.Host, []string{EvidencePath(OpBackup)}, "app:shop", "env:production", TagEvidence, TagKind+"backup", TagResult+"ok")
	failed := evidenceSnap("e1", OpBackup, ResultFailed, t0.Add(-2*time.Minute))
	st := Summarize([]Snapshot{legacy, first, lookalike, fakeOK, failed}, us, t0)
	if st.Foreign != 2 || st.Snapshots != 3 {
		t.Fatalf("summary = %+v", st)
	}
	if len(st.Groups) != 1 || st.Groups[0].Newest.ID != "f1" || st.Groups[0].Count != 2 {
		t.Errorf("groups = %+v", st.Groups)
	}
	if len(st.Evidence) != 1 || st.Evidence[0].Result != ResultFailed {
		t.Errorf("evidence = %+v", st.Evidence)
	}
}

func TestHistorySumsUpEachDaysBackupsFromTheirEvidenceTags(t *testing.T) {
	day := func(n int, h int) time.Time {
		return t0.Truncate(24*time.Hour).AddDate(0, 0, -n).Add(time.Duration(h) * time.Hour)
	}
	snaps := []Snapshot{
		// Two days ago: an ok run, then a failed one later that day.
		evidenceSnap("a", OpBackup, ResultOK, day(2, 2), TagBytes+"1000", TagSeconds+"40"),
		evidenceSnap("b", OpBackup, ResultFailed, day(2, 5), TagSeconds+"90"),
		// Yesterday: two good runs; the newer one's size counts.
		evidenceSnap("c", OpBackup, ResultOK, day(1, 2), TagBytes+"2000", TagSeconds+"50"),
		evidenceSnap("d", OpBackup, ResultPartial, day(1, 3), TagBytes+"2500", TagSeconds+"30"),
		// Today: evidence stored before the size tags.
		snap("e", day(0, 2), us.Host, []string{EvidencePath(OpBackup)}, append(slices.Clone(us.Tags), TagAppID+us.AppID, TagEvidence, TagKind+"backup", TagResult+"ok")...),
		// Not backups, too old, another app's, or in the future: left out.
		evidenceSnap("f", OpCheck, ResultFailed, day(1, 4), TagSeconds+"600"),
		evidenceSnap("g", OpBackup, ResultFailed, day(HistoryDays, 2)),
		evidenceSnap("h", OpBackup, ResultOK, t0.Add(time.Hour), TagBytes+"9"),
	}
	other := evidenceSnap("x", OpBackup, ResultFailed, day(1, 1))
	other.Tags = append(slices.Clone(us.Tags), TagEvidence, TagKind+"backup", TagResult+"failed", TagAppID+"other")
	snaps = append(snaps, other)
	// The evidence tags say 0 seconds unless the test gives its own: keep the test's.
	for i := range snaps {
		snaps[i].Tags = lastSeconds(snaps[i].Tags)
	}
	st := Summarize(snaps, us, t0)
	want := []Day{
		{Date: day(2, 0).Format(time.DateOnly), Runs: 2, Failed: 1, Bytes: 1000, Seconds: 90},
		{Date: day(1, 0).Format(time.DateOnly), Runs: 2, Partial: 1, Bytes: 2500, Seconds: 50},
		{Date: day(0, 0).Format(time.DateOnly), Runs: 1, Bytes: -1, Seconds: -1},
	}
	if !slices.Equal(st.History, want) {
		t.Errorf("history =\n%+v\nwant\n%+v", st.History, want)
	}
}

// lastSeconds keeps only the last seconds: tag, as a test gives it after
// the one EvidenceTags writes.
func lastSeconds(tags []string) []string {
	var out []string
	last := ""
	for _, t := range tags {
		if strings.HasPrefix(t, TagSeconds) {
			last = t
			continue
		}
		out = append(out, t)
	}
	if last != "" {
		out = append(out, last)
	}
	return out
}

func TestEvidenceTagsSayHowBigAndHowLongARunWas(t *testing.T) {
	ev := &Evidence{Kind: "backup", Result: ResultOK, Trigger: TriggerManual, DurationSeconds: 72, Steps: []Step{
		{Name: "db:main", Kind: "db", Result: ResultOK, Facts: map[string]any{"bytes": int64(1500)}},
		{Name: "files", Kind: "files", Result: ResultOK, Facts: map[string]any{"bytes": float64(500)}},
		{Name: "copy:offsite", Kind: "copy", Result: ResultOK, Facts: map[string]any{"bytes": int64(99)}},
	}}
	s := Snapshot{Tags: EvidenceTags(ev, "a1", "r1", "")}
	ref, ok := ReadEvidence(s)
	if !ok || ref.Bytes != 2000 || ref.Seconds != 72 {
		t.Errorf("read back %+v from %v, want 2000 bytes and 72 seconds", ref, s.Tags)
	}
}
