package operate

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePolicyReadsTheFlagsTheSpecRenders(t *testing.T) {
	p, err := ParsePolicy([]string{"--keep-last", "3", "--keep-daily=7", "--keep-within", "1y6m2d3h"})
	if err != nil || p.Last != 3 || p.Daily != 7 || p.Within != (Within{Years: 1, Months: 6, Days: 2, Hours: 3}) {
		t.Errorf("ParsePolicy = %+v, %v", p, err)
	}
	for _, bad := range [][]string{nil, {"--keep-last"}, {"--keep-last", "x"}, {"--keep-within", "14"}, {"--keep-within", "d"}, {"--prune", "1"}, {"--keep-last", "-1"}} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

var r0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// snap is one of app shop's snapshots, hours before r0.
func rsnap(id string, hoursAgo int, paths string, tags ...string) Snapshot {
	return Snapshot{ID: id, Time: r0.Add(-time.Duration(hoursAgo) * time.Hour), Paths: strings.Fields(paths), Hostname: "shop-production",
		Tags: append([]string{"app:shop", "env:production", TagAppID + "abc"}, tags...)}
}

func ids(list []Snapshot) string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

var shop = Identity{Host: "shop-production", Tags: []string{"app:shop", "env:production"}, AppID: "abc"}

func TestAPolicyKeepsWhatResticsForgetKeeps(t *testing.T) {
	days := func(n ...int) []Snapshot {
		var out []Snapshot
		for i, d := range n {
			out = append(out, rsnap(string(rune('a'+i)), d*24, "/data"))
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		policy []string
		snaps  []Snapshot
		want   string
	}{
		{"keepLast", []string{"--keep-last", "2"}, days(0, 1, 2, 3), "a b"},
		{"keepDaily takes the newest of each day", []string{"--keep-daily", "2"}, append(days(0, 1), rsnap("c", 1, "/data"), rsnap("d", 25, "/data")), "a b"},
		// restic 0.15+: counts left over keep the oldest snapshot too.
		{"the oldest while counts are left", []string{"--keep-daily", "5"}, days(0, 1, 1, 2), "a b d"},
		{"keepWithin is counted from the newest", []string{"--keep-within", "2d"}, days(10, 11, 12, 13), "a b"},
		{"keepWeekly", []string{"--keep-weekly", "1"}, days(0, 1, 9), "a"},
	} {
		p, err := ParsePolicy(tc.policy)
		if err != nil {
			t.Fatal(err)
		}
		var kept []Snapshot
		for _, s := range tc.snaps {
			if p.keep(tc.snaps)[s.ID] {
				kept = append(kept, s)
			}
		}
		if got := ids(kept); got != tc.want {
			t.Errorf("%s: kept %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPruneSelectsEachKindByItsOwnRetentionAndKeepsWhatARestoreBroughtBack(t *testing.T) {
	backups, _ := ParsePolicy([]string{"--keep-last", "2"})
	undo, _ := ParsePolicy([]string{"--keep-within", "14d"})
	policies := map[string]Policy{KindBackups: backups, KindUndo: undo}
	snaps := []Snapshot{
		rsnap("b1", 100*24, "/data", TagFiles),
		rsnap("b2", 50*24, "/data", TagFiles),
		rsnap("b3", 3, "/data", TagFiles),
		rsnap("b4", 2, "/data", TagFiles),
		// Three undo snapshots of the same paths do not count against keepLast.
		rsnap("u1", 40*24, "/data", TagFiles, TagPreRestore+"p1", TagRestoreOf+"b1"),
		rsnap("u2", 5, "/data", TagFiles, TagPreRestore+"p2", TagRestoreOf+"b2"),
		rsnap("u3", 4, "/data", TagFiles, TagPreRestore+"p2", TagRestoreOf+"b2"),
		// Evidence of a recent restore into a scratch folder keeps its source.
		rsnap("e0", 70*24, "/devopsellence-backup/evidence-restore.json", TagEvidence, TagKind+"restore", TagRestoreOf+"d1"),
		rsnap("e1", 1, "/devopsellence-backup/evidence-restore.json", TagEvidence, TagKind+"restore", TagRestoreOf+"d2"),
		rsnap("d1", 90*24, "/db.sql", TagDB, TagDBName+"main"),
		rsnap("d2", 80*24, "/db.sql", TagDB, TagDBName+"main"),
		rsnap("d3", 1, "/db.sql", TagDB, TagDBName+"main"),
		rsnap("d4", 0, "/db.sql", TagDB, TagDBName+"main"),
		// Never candidates: another app, an unlabelled newer one, one dated ahead.
		{ID: "x1", Time: r0.Add(-200 * 24 * time.Hour), Paths: []string{"/data"}, Hostname: "shop-production", Tags: []string{"app:shop", "env:production", TagAppID + "other", TagFiles}},
		{ID: "x2", Time: r0.Add(-time.Hour), Paths: []string{"/data"}, Hostname: "shop-production", Tags: []string{"app:shop", "env:production", TagFiles}},
		rsnap("x3", -30*24, "/data", TagFiles),
	}
	f := SelectForget(snaps, shop, policies, r0)
	if got, want := ids(f.Forget), "b1 d1 u1"; got != want {
		t.Errorf("forgets %s, want %s", got, want)
	}
	if got, want := ids(f.Sources), "b2 d2"; got != want {
		t.Errorf("kept as sources %s, want %s", got, want)
	}
	if f.Considered != 13 {
		t.Errorf("considered %d, want this app's 13 trusted, present-dated snapshots", f.Considered)
	}
	// A kind without a policy is kept whole.
	f = SelectForget(snaps, shop, map[string]Policy{KindBackups: backups}, r0)
	if strings.Contains(ids(f.Forget), "u") {
		t.Errorf("undo snapshots forgotten without an undo policy: %s", ids(f.Forget))
	}
}
