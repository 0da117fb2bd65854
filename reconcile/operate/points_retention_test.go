package operate

import (
	"fmt"
	"strings"
	"testing"
)

// point is a restore point of the database dump, taken hoursAgo before r0
// before release next was deployed ("" when it could not be told).
func point(id string, hoursAgo int, next string) Snapshot {
	tags := []string{TagDB, TagDBName + "main", TagRestorePoint, TagRelease + "prev"}
	if next != "" {
		tags = append(tags, TagNextRelease+next)
	}
	return rsnap(id, hoursAgo, "/db.sql", tags...)
}

func mustPolicy(t *testing.T, flags ...string) Policy {
	t.Helper()
	p, err := ParsePolicy(flags)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRestorePointsAreKeptByTheLastNAndTheLastReleases(t *testing.T) {
	p := mustPolicy(t, "--keep-last", "1", KeepReleasesFlag, "2")
	if p.Releases != 2 || p.Last != 1 {
		t.Fatalf("ParsePolicy = %+v", p)
	}
	snaps := []Snapshot{
		point("p1", 50, "r1"),
		point("p2", 40, "r2"),
		// r3 was deployed twice (a failed deploy retried): both points stay.
		point("p3", 30, "r3"),
		point("p4", 20, "r3"),
		point("p5", 10, "r4"),
		// The newest has no next release: keepLast 1 keeps it.
		point("p6", 5, ""),
	}
	f := SelectForget(snaps, shop, map[string]Policy{KindRestorePoints: p}, r0)
	if got, want := ids(f.Forget), "p1 p2"; got != want {
		t.Errorf("forgets %s, want %s (the points of releases r3 and r4 and the newest are kept)", got, want)
	}
}

func TestABurstOfRestorePointsNeverPushesOutTheBackups(t *testing.T) {
	policies := map[string]Policy{
		KindBackups:       mustPolicy(t, "--keep-last", "3"),
		KindUndo:          mustPolicy(t, "--keep-within", "14d"),
		KindRestorePoints: mustPolicy(t, "--keep-last", "2", KeepReleasesFlag, "2"),
	}
	var snaps []Snapshot
	for i := range 3 {
		snaps = append(snaps, rsnap(fmt.Sprintf("b%d", i), 48+i, "/db.sql", TagDB, TagDBName+"main"))
	}
	// Thirty deploys in an afternoon, each with its restore point and its
	// evidence (which carries the point's tags), all newer than the backups.
	for i := range 30 {
		next := fmt.Sprintf("rev%02d", i)
		snaps = append(snaps, point(fmt.Sprintf("p%02d", i), 30-i, next),
			rsnap(fmt.Sprintf("e%02d", i), 30-i, EvidencePath(OpCheckpoint), TagEvidence, TagKind+string(OpCheckpoint), TagRestorePoint, TagNextRelease+next))
	}
	f := SelectForget(snaps, shop, policies, r0)
	forgotten := " " + ids(f.Forget) + " "
	for i := range 3 {
		if id := fmt.Sprintf("b%d", i); strings.Contains(forgotten, " "+id+" ") {
			t.Errorf("a burst of restore points pushed out backup %s", id)
		}
	}
	if len(f.Forget) != 2*28 {
		t.Errorf("forgets %d snapshots, want the 28 older points and their evidence: %s", len(f.Forget), forgotten)
	}
	for _, id := range []string{"p28", "p29", "e28", "e29"} {
		if strings.Contains(forgotten, " "+id+" ") {
			t.Errorf("forgot %s, which the restore point rule keeps", id)
		}
	}
}

func TestManyBackupsNeverPushOutTheRestorePointsTheirRuleKeeps(t *testing.T) {
	policies := map[string]Policy{
		KindBackups:       mustPolicy(t, "--keep-last", "3"),
		KindUndo:          mustPolicy(t, "--keep-within", "14d"),
		KindRestorePoints: mustPolicy(t, "--keep-last", "1", KeepReleasesFlag, "2"),
	}
	snaps := []Snapshot{point("p1", 500, "r1"), point("p2", 400, "r2"), point("p3", 300, "r3")}
	for i := range 100 {
		snaps = append(snaps, rsnap(fmt.Sprintf("b%03d", i), 100-i, "/db.sql", TagDB, TagDBName+"main"))
	}
	f := SelectForget(snaps, shop, policies, r0)
	forgotten := " " + ids(f.Forget) + " "
	if len(f.Forget) != 97+1 || !strings.Contains(forgotten, " p1 ") {
		t.Errorf("forgets %d: %s; want the 97 older backups and p1, which is of neither of the last two releases", len(f.Forget), forgotten)
	}
	for _, id := range []string{"p2", "p3"} {
		if strings.Contains(forgotten, " "+id+" ") {
			t.Errorf("a hundred backups pushed out restore point %s", id)
		}
	}
}

func TestARestorePointARecentRestoreBroughtBackIsKept(t *testing.T) {
	policies := map[string]Policy{
		KindBackups:       mustPolicy(t, "--keep-last", "3"),
		KindUndo:          mustPolicy(t, "--keep-within", "14d"),
		KindRestorePoints: mustPolicy(t, "--keep-last", "1"),
	}
	snaps := []Snapshot{
		point("p1", 300, "r1"),
		point("p2", 200, "r2"),
		point("p3", 100, "r3"),
		// restore --before-release r2 brought p1 back an hour ago.
		rsnap("u1", 1, "/db.sql", TagDB, TagDBName+"main", TagPreRestore+"plan1", TagRestoreOf+"p1"),
	}
	f := SelectForget(snaps, shop, policies, r0)
	if got, want := ids(f.Forget), "p2"; got != want {
		t.Errorf("forgets %s, want %s", got, want)
	}
	if got, want := ids(f.Sources), "p1"; got != want {
		t.Errorf("kept as a restore's source %s, want %s", got, want)
	}
}

func TestRestorePointsAreTheirOwnKindEvenWithTheBackupsPaths(t *testing.T) {
	for _, tc := range []struct {
		s    Snapshot
		want string
	}{
		{rsnap("b", 1, "/db.sql", TagDB), KindBackups},
		{point("p", 1, "r1"), KindRestorePoints},
		{rsnap("e", 1, EvidencePath(OpCheckpoint), TagEvidence, TagRestorePoint), KindRestorePoints},
		{rsnap("u", 1, "/db.sql", TagDB, TagPreRestore+"plan"), KindUndo},
	} {
		if got := RetentionKind(tc.s); got != tc.want {
			t.Errorf("RetentionKind(%s %v) = %s, want %s", tc.s.ID, tc.s.Tags, got, tc.want)
		}
	}
}
