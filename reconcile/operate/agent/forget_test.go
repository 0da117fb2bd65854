package agent

import (
	"context"
	"slices"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// What prune forgets, from the spec's retentions through Agent.policies
// and Agent.forget to the IDs it asks restic to forget, against a
// repository in memory.

func TestPruneForgetsEachKindByItsOwnRetentionAndKeepsWhatARecentRestoreBroughtBack(t *testing.T) {
	vol := "/data/shop_storage"
	files := []string{vol}
	backup := func(name string, days float64) restic.Snapshot {
		return fakeSnap(snapID(name), days, files, operate.TagFiles)
	}
	// undo is the snapshot a restore of source saved of the live data.
	undo := func(name string, days float64, source string) restic.Snapshot {
		return fakeSnap(snapID(name), days, files, operate.TagFiles, operate.TagPreRestore+name+"00000000", operate.TagRestoreOf+snapID(source))
	}
	dump := func(name string, days float64) restic.Snapshot {
		return fakeSnap(snapID(name), days, []string{"/main.dump"}, operate.TagDB, operate.TagDBName+"main", operate.TagEngine+"postgres")
	}
	b1, b2, b3, b4 := backup("b1", 10), backup("b2", 8), backup("b3", 6), backup("b4", 4)
	backups := []restic.Snapshot{b1, b2, b3, b4}
	otherApp := backup("0a", 20)
	otherApp.Tags = append(without(otherApp, operate.TagAppID).Tags, operate.TagAppID+"ffffffffffff")
	lastOne := []string{"--keep-last", "1"}
	for _, tc := range []struct {
		name  string
		extra []restic.Snapshot
		// undo is spec.restore.undoRetention (nil: the default).
		undo       []string
		forget     []string
		sources    []string
		considered int
	}{
		{"backups by the spec's retention", nil, lastOne, []string{"b1", "b2"}, nil, 4},
		{"undo snapshots by their own, never counted against the backups'",
			[]restic.Snapshot{undo("u1", 7, "b3"), undo("u2", 5, "b3"), undo("u3", 4.5, "b3")}, lastOne, []string{"b1", "b2", "u1", "u2"}, nil, 7},
		{"the source of a recent restore is kept",
			[]restic.Snapshot{undo("u1", 3, "b1")}, lastOne, []string{"b2"}, []string{"b1"}, 5},
		{"the source of a restore whose undo is forgotten goes too",
			[]restic.Snapshot{undo("u1", 9, "b1"), undo("u2", 3, "b2")}, lastOne, []string{"b1", "u1"}, []string{"b2"}, 6},
		{"the evidence of a recent restore into a scratch folder keeps its source",
			[]restic.Snapshot{fakeSnap(snapID("e1"), 2, []string{operate.EvidencePath(operate.OpRestore)}, operate.TagEvidence,
				operate.TagKind+string(operate.OpRestore), operate.TagResult+operate.ResultOK, operate.TagRestoreOf+b1.ID)},
			lastOne, []string{"b2"}, []string{"b1"}, 5},
		{"undo snapshots by default for 14 days from the newest",
			[]restic.Snapshot{backup("b0", 40), undo("u1", 30, "b0"), undo("u2", 15, "b1"), undo("u3", 5, "b1")}, nil,
			[]string{"b0", "b2", "u1"}, []string{"b1"}, 8},
		{"each database's dumps by the spec's retention, apart from the files",
			[]restic.Snapshot{dump("d1", 9), dump("d2", 7), dump("d3", 1), dump("d4", 0.5)}, lastOne, []string{"b1", "b2", "d1", "d2"}, nil, 8},
		{"unlabelled snapshots from before the identity age out with the app's",
			[]restic.Snapshot{without(backup("9e", 12), operate.TagAppID)}, lastOne, []string{"9e", "b1", "b2"}, nil, 5},
		{"another app's and lookalike snapshots are never forgotten",
			[]restic.Snapshot{otherApp, without(backup("0b", 9.5), operate.TagAppID)}, lastOne, []string{"b1", "b2"}, nil, 4},
		{"snapshots dated in the future are neither forgotten nor push others out",
			[]restic.Snapshot{backup("0c", -2), backup("0d", -3)}, lastOne, []string{"b1", "b2"}, nil, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := &fakeRepo{id: "repo1", snaps: append(slices.Clone(backups), tc.extra...)}
			a := fakeAgent(t, repo, vol, func(c *spec.AgentConfig) {
				c.Retention = []string{"--keep-last", "2"}
				c.UndoRetention = tc.undo
			})
			policies, err := a.policies(a.Config.Retention)
			if err != nil {
				t.Fatal(err)
			}
			sel, err := a.forget(context.Background(), repo, policies)
			if err != nil {
				t.Fatal(err)
			}
			if len(repo.forgotten) != 1 {
				t.Fatalf("restic forget ran %d times, want once", len(repo.forgotten))
			}
			want := ids(tc.forget)
			if got := sorted(repo.forgotten[0]); !slices.Equal(got, want) {
				t.Errorf("forgot %v, want %v", short8(got), short8(want))
			}
			var sources []string
			for _, s := range sel.Sources {
				sources = append(sources, s.ID)
			}
			if got, want := sorted(sources), ids(tc.sources); !slices.Equal(got, want) {
				t.Errorf("kept as restore sources %v, want %v", short8(got), short8(want))
			}
			if sel.Considered != tc.considered {
				t.Errorf("considered %d snapshots, want %d (this app's, not dated in the future)", sel.Considered, tc.considered)
			}
			if f := repo.filters[0]; f.Host != fakeHost || len(f.Tags) != 1 || !slices.Equal(f.Tags[0], fakeTags) || !f.NoLock {
				t.Errorf("prune listed snapshots with %+v, want this app's host and tags, without a lock", f)
			}
		})
	}
}

func TestPrunePoliciesTakeTheSpecsRetentionsOrRefuseThem(t *testing.T) {
	for _, tc := range []struct {
		name               string
		backups, undo      []string
		wantBackups, wantU string // the policies' text; wantU "" when refused
	}{
		{"both given", []string{"--keep-daily", "7"}, []string{"--keep-last", "2"}, "--keep-daily 7", "--keep-last 2"},
		{"the default undo retention", []string{"--keep-last", "3"}, nil, "--keep-last 3", "--keep-within 14d"},
		{"a retention that keeps nothing", []string{"--keep-last"}, nil, "", ""},
		{"an undo retention restic cannot read", []string{"--keep-last", "3"}, []string{"--keep-within", "two weeks"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fakeAgent(t, &fakeRepo{}, "/data/shop_storage", func(c *spec.AgentConfig) { c.UndoRetention = tc.undo })
			p, err := a.policies(tc.backups)
			if tc.wantU == "" {
				if err == nil {
					t.Errorf("policies %q, undo %q: want them refused, got %+v", tc.backups, tc.undo, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p[operate.KindBackups].Text != tc.wantBackups || p[operate.KindUndo].Text != tc.wantU {
				t.Errorf("policies %q and %q, want %q and %q", p[operate.KindBackups].Text, p[operate.KindUndo].Text, tc.wantBackups, tc.wantU)
			}
		})
	}
}

func ids(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = snapID(n)
	}
	return sorted(out)
}

func sorted(list []string) []string {
	out := slices.Clone(list)
	slices.Sort(out)
	return out
}

func short8(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s[:8]
	}
	return out
}
