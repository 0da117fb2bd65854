package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// liveAndSnapshot sets up a volume and a snapshot of it that differ in
// every way a files restore tells apart; it returns the volume and the
// fake repository.
//
//	same.txt, sub/deep.txt  identical (same size and modification time)
//	changed.txt             another size in the snapshot
//	touched.txt             same size, another modification time
//	gone.txt                only live (the restore deletes it)
//	new.txt, sub/new.txt    only in the snapshot (the restore adds them)
//	db.sqlite3 (+ -wal)     a live database file of the spec: kept
//	app.log                 excluded by the spec: kept
//	.devopsellence-restore-* a scratch folder of a restore: neither
func liveAndSnapshot(t *testing.T) (string, *fakeRepo) {
	t.Helper()
	vol := filepath.Join(t.TempDir(), "shop_storage")
	writeFiles(t, vol, map[string]string{
		"same.txt": "same", "sub/deep.txt": "deep", "changed.txt": "changed live", "touched.txt": "touched",
		"gone.txt": "gone", "db.sqlite3": "live db", "db.sqlite3-wal": "wal", "app.log": "log line",
		scratchPrefix + "0123456789ab/new/x": "scratch",
	})
	then := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, f := range []string{"same.txt", "sub/deep.txt", "changed.txt"} {
		must(t, os.Chtimes(filepath.Join(vol, f), then, then))
	}
	j := func(p string) string { return filepath.Join(vol, p) }
	s := fakeSnap(snapID("f1"), 1, []string{vol}, operate.TagFiles)
	repo := &fakeRepo{id: "repo1", snaps: []restic.Snapshot{s}, trees: map[string][]restic.Node{s.ID: {
		fakeNode(vol, "/", then), fakeNode(j("same.txt"), "same", then), fakeNode(j("sub"), "/", then), fakeNode(j("sub/deep.txt"), "deep", then),
		fakeNode(j("changed.txt"), "changed", then), fakeNode(j("touched.txt"), "touched", then.Add(-time.Hour)),
		fakeNode(j("new.txt"), "new", then), fakeNode(j("sub/new.txt"), "sub new", then),
		// A database file in a files snapshot (restic by hand): still
		// never restored as a file over the live one.
		fakeNode(j("db.sqlite3"), "old db", then),
	}}}
	return vol, repo
}

func filesConfig(vol string) func(*spec.AgentConfig) {
	return func(c *spec.AgentConfig) {
		c.Databases = []spec.Database{{Name: "main", Engine: spec.EngineSQLite, Path: filepath.Join(vol, "db.sqlite3")}}
		c.Excludes = []string{"*.log"}
	}
}

func TestFilesRestorePlanSortsEachFileByWhatTheRestoreDoesToIt(t *testing.T) {
	vol, repo := liveAndSnapshot(t)
	j := func(p string) string { return filepath.Join(vol, p) }
	counts := func(sizes ...string) operate.Counts {
		var c operate.Counts
		for _, s := range sizes {
			c.Add(int64(len(s)))
		}
		return c
	}
	for _, tc := range []struct {
		name  string
		paths []string
		want  operate.FilesPlan
		roots map[string]string
	}{
		{"the whole volume", nil, operate.FilesPlan{Paths: []string{vol},
			Snapshot: counts("same", "deep", "changed", "touched", "new", "sub new"), Live: counts("same", "deep", "changed live", "touched", "gone"),
			Identical: counts("same", "deep"), Changed: counts("changed live", "touched"), Deleted: counts("gone"), Added: counts("new", "sub new"),
			IdenticalSample: []string{j("same.txt"), j("sub/deep.txt")}, ChangedSample: []string{j("changed.txt"), j("touched.txt")},
			DeletedSample: []string{j("gone.txt")}, AddedSample: []string{j("new.txt"), j("sub/new.txt")},
			Kept: []string{j("app.log"), j("db.sqlite3"), j("db.sqlite3-wal")}, KeptCount: 3,
		}, map[string]string{vol: vol}},
		{"a folder", []string{j("sub")}, operate.FilesPlan{Paths: []string{j("sub")},
			Snapshot: counts("deep", "sub new"), Live: counts("deep"), Identical: counts("deep"), Added: counts("sub new"),
			IdenticalSample: []string{j("sub/deep.txt")}, AddedSample: []string{j("sub/new.txt")},
		}, map[string]string{j("sub"): vol}},
		{"a file gone from the live data, and one changed", []string{j("new.txt"), j("changed.txt")}, operate.FilesPlan{Paths: []string{j("changed.txt"), j("new.txt")},
			Snapshot: counts("changed", "new"), Live: counts("changed live"), Changed: counts("changed live"), Added: counts("new"),
			ChangedSample: []string{j("changed.txt")}, AddedSample: []string{j("new.txt")},
		}, map[string]string{j("changed.txt"): vol, j("new.txt"): vol}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fakeAgent(t, repo, vol, filesConfig(vol))
			p, err := a.plan(context.Background(), operate.RestoreRequest{Snapshot: repo.snaps[0].ID, Paths: tc.paths})
			if err != nil {
				t.Fatal(err)
			}
			got := *p.plan.Files
			if !filesPlanEqual(got, tc.want) {
				t.Errorf("files plan\n got %+v\nwant %+v", got, tc.want)
			}
			if !mapsEqual(p.roots, tc.roots) {
				t.Errorf("roots %v, want %v", p.roots, tc.roots)
			}
			for _, pth := range got.Paths {
				var want operate.Counts
				for _, n := range repo.trees[repo.snaps[0].ID] {
					if n.Type == "file" && under(n.Path, pth) && !slices.Contains(got.Kept, n.Path) {
						want.Add(n.Size)
					}
				}
				if p.expected[pth] != want {
					t.Errorf("a restore of %s expects %+v, want %+v (what the snapshot holds of it, less what is kept)", pth, p.expected[pth], want)
				}
			}
			if len(p.plan.Notes) == 0 {
				t.Errorf("a live restore's plan says nothing of how it replaces the paths")
			}
		})
	}
}

func filesPlanEqual(a, b operate.FilesPlan) bool {
	lists := func(p operate.FilesPlan) [][]string {
		return [][]string{p.Paths, p.ChangedSample, p.IdenticalSample, p.DeletedSample, p.AddedSample, p.Kept}
	}
	la, lb := lists(a), lists(b)
	for i := range la {
		if !slices.Equal(la[i], lb[i]) {
			return false
		}
	}
	return a.Snapshot == b.Snapshot && a.Live == b.Live && a.Changed == b.Changed && a.Identical == b.Identical &&
		a.Deleted == b.Deleted && a.Added == b.Added && a.KeptCount == b.KeptCount
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestFilesRestorePlanRefusesPathsItCannotRestoreWhole(t *testing.T) {
	vol, repo := liveAndSnapshot(t)
	j := func(p string) string { return filepath.Join(vol, p) }
	outside := filepath.Join(t.TempDir(), "outside")
	must(t, os.MkdirAll(outside, 0o755))
	must(t, os.Symlink(outside, j("linked")))
	s := repo.snaps[0]
	repo.trees[s.ID] = append(repo.trees[s.ID], fakeNode(j("linked"), "/", fakeNow), fakeNode(j("linked/x.txt"), "x", fakeNow))
	// A snapshot of a folder the service no longer backs up.
	old := fakeSnap(snapID("01d"), 2, []string{"/data/old_storage"}, operate.TagFiles)
	repo.snaps = append(repo.snaps, old)
	repo.trees[old.ID] = []restic.Node{fakeNode("/data/old_storage", "/", fakeNow), fakeNode("/data/old_storage/x.txt", "x", fakeNow)}
	for _, tc := range []struct {
		name     string
		snapshot string
		paths    []string
	}{
		{"a relative path", s.ID, []string{"sub"}},
		{"an unclean path", s.ID, []string{vol + "/sub/../sub"}},
		{"the root", s.ID, []string{"/"}},
		{"a path outside the snapshot's", s.ID, []string{"/etc"}},
		{"a path inside another", s.ID, []string{vol, j("sub")}},
		{"a path the snapshot does not hold", s.ID, []string{j("absent.txt")}},
		{"a live database file", s.ID, []string{j("db.sqlite3")}},
		{"a path reached through a live link", s.ID, []string{j("linked/x.txt")}},
		{"a folder the service does not back up", old.ID, []string{"/data/old_storage/x.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fakeAgent(t, repo, vol, filesConfig(vol))
			_, err := a.plan(context.Background(), operate.RestoreRequest{Snapshot: tc.snapshot, Paths: tc.paths})
			if got := planClass(t, err); got != "bad_path" {
				t.Errorf("plan of %q: got %q (%v), want it refused as bad_path", tc.paths, got, err)
			}
		})
	}
	// The same into a scratch folder, where no live data is in the way.
	a := fakeAgent(t, repo, vol, filesConfig(vol))
	p, err := a.plan(context.Background(), operate.RestoreRequest{Snapshot: old.ID, Paths: []string{"/data/old_storage/x.txt"}, Target: filepath.Join(t.TempDir(), "restored")})
	if err != nil || p.plan.Files.Snapshot != (operate.Counts{Files: 1, Bytes: 1}) {
		t.Errorf("a scratch restore of a folder the service no longer backs up: %v, %+v", err, p)
	}
}
