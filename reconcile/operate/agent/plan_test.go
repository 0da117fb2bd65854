package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// The agent's restore planning against a repository in memory (fakeRepo):
// which snapshot a request names, where a restore may write, and what it
// does to each live file. The rig tests run the same against real restic.

// planClass is the class of a refused plan ("" when it was not refused).
func planClass(t *testing.T, err error) string {
	t.Helper()
	var se *stepError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return se.class
	}
	t.Fatalf("plan failed without a step error: %v", err)
	return ""
}

// withTrees gives every files snapshot of repo one file under each of its
// paths, so that a plan of any of them can list it.
func withTrees(repo *fakeRepo) *fakeRepo {
	repo.trees = map[string][]restic.Node{}
	for _, s := range repo.snaps {
		for _, p := range s.Paths {
			repo.trees[s.ID] = append(repo.trees[s.ID], fakeNode(p, "/", fakeNow), fakeNode(filepath.Join(p, "a.txt"), "a", fakeNow))
		}
	}
	return repo
}

func TestRestorePlanTakesTheNewestOwnBackupOfTheGroupLatestNames(t *testing.T) {
	vol := filepath.Join(t.TempDir(), "shop_storage")
	files := []string{vol}
	f1 := fakeSnap(snapID("f1"), 5, files, operate.TagFiles)
	f2 := fakeSnap(snapID("f2"), 3, files, operate.TagFiles)
	d1 := fakeSnap(snapID("d1"), 4, []string{"/main.dump"}, operate.TagDB, operate.TagDBName+"main", operate.TagEngine+"postgres")
	d2 := fakeSnap(snapID("d2"), 2.5, []string{"/main.dump"}, operate.TagDB, operate.TagDBName+"main", operate.TagEngine+"postgres")
	otherApp := without(fakeSnap(snapID("0a"), 1, files, operate.TagFiles), operate.TagAppID)
	otherApp.Tags = append(otherApp.Tags, operate.TagAppID+"ffffffffffff")
	otherHost := fakeSnap(snapID("0b"), 1, files, operate.TagFiles)
	otherHost.Hostname = "shop-staging"
	legacy := without(fakeSnap(snapID("9e"), 9, files, operate.TagFiles), operate.TagAppID)
	base := []restic.Snapshot{legacy, f1, f2, d1, d2}
	for _, tc := range []struct {
		name   string
		snaps  []restic.Snapshot
		latest string
		want   string // the snapshot picked, or the class of the refusal
	}{
		{"the newest files backup", base, "files", f2.ID},
		{"a newer backup of the app is taken", append(base, fakeSnap(snapID("f3"), 1, files, operate.TagFiles)), "files", snapID("f3")},
		{"the undo snapshot of a restore is passed over", append(base, fakeSnap(snapID("0c"), 1, files, operate.TagFiles, operate.TagPreRestore+"0123456789ab", operate.TagRestoreOf+f1.ID)), "files", f2.ID},
		{"a suspect backup is passed over", append(base, fakeSnap(snapID("0d"), 1, files, operate.TagFiles, operate.TagSuspect+"empty")), "files", f2.ID},
		{"a backup dated in the future is passed over", append(base, fakeSnap(snapID("0e"), -1, files, operate.TagFiles)), "files", f2.ID},
		{"an unlabelled snapshot made after the first labelled one is foreign", append(base, without(fakeSnap(snapID("0f"), 1, files, operate.TagFiles), operate.TagAppID)), "files", f2.ID},
		{"another app's snapshot under the same host and tags is foreign", append(base, otherApp), "files", f2.ID},
		{"another host's snapshot is not read", append(base, otherHost), "files", f2.ID},
		{"a backup of other paths is another group", append(base, fakeSnap(snapID("10"), 1, []string{vol + "-old"}, operate.TagFiles)), "files", f2.ID},
		{"evidence is not a backup", append(base, fakeSnap(snapID("11"), 1, []string{operate.EvidencePath(operate.OpBackup)}, operate.TagEvidence, operate.TagKind+"backup")), "files", f2.ID},
		{"unlabelled snapshots from before the identity are the app's own", []restic.Snapshot{legacy}, "files", legacy.ID},
		{"the newest dump of the database", append(base, without(fakeSnap(snapID("12"), 1, []string{"/main.dump"}, operate.TagDB, operate.TagDBName+"main"), operate.TagAppID)), "db:main", d2.ID},
		{"a database without a dump", base, "db:orders", "no_snapshot"},
		{"only foreign backups", []restic.Snapshot{f1, otherApp, otherHost}[1:], "files", "no_snapshot"},
		{"a group that is neither files nor a database", base, "everything", "bad_latest"},
		{"a database without a name", base, "db:", "bad_latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := withTrees(&fakeRepo{id: "repo1", snaps: tc.snaps})
			a := fakeAgent(t, repo, vol, nil)
			p, err := a.plan(context.Background(), operate.RestoreRequest{Latest: tc.latest, Target: filepath.Join(t.TempDir(), "restored")})
			got := planClass(t, err)
			if err == nil {
				got = p.plan.Snapshot.ID
			}
			if got != tc.want {
				t.Errorf("restore --latest %s picked %s, want %s", tc.latest, got, tc.want)
			}
			for _, f := range repo.filters {
				if f.Host != fakeHost || len(f.Tags) != 1 || !slices.Equal(f.Tags[0], fakeTags) || !f.NoLock {
					t.Errorf("the plan listed snapshots with %+v, want this app's host and tags, without a lock", f)
				}
			}
		})
	}
}

func TestRestorePlanFindsASnapshotByIDOnlyAmongTheAppsBackups(t *testing.T) {
	vol := filepath.Join(t.TempDir(), "shop_storage")
	own := fakeSnap(snapID("c0ffee01"), 2, []string{vol}, operate.TagFiles)
	foreign := fakeSnap(snapID("c0ffee02"), 1, []string{vol}, operate.TagFiles)
	foreign.Tags = append(without(foreign, operate.TagAppID).Tags, operate.TagAppID+"ffffffffffff")
	evidence := fakeSnap(snapID("e71de7ce"), 1, []string{operate.EvidencePath(operate.OpBackup)}, operate.TagEvidence, operate.TagKind+"backup")
	for _, tc := range []struct{ name, snapshot, want string }{
		{"a unique prefix", "c0ffee01", own.ID},
		{"the whole ID", own.ID, own.ID},
		{"another app's snapshot", foreign.ID, "no_snapshot"},
		{"a prefix shorter than 8 characters", "c0ffee0", "no_snapshot"},
		{"an evidence snapshot", evidence.ID[:8], "no_snapshot"},
		{"an unknown ID", "deadbeef", "no_snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fakeAgent(t, withTrees(&fakeRepo{id: "repo1", snaps: []restic.Snapshot{own, foreign, evidence}}), vol, nil)
			p, err := a.plan(context.Background(), operate.RestoreRequest{Snapshot: tc.snapshot, Target: filepath.Join(t.TempDir(), "restored")})
			got := planClass(t, err)
			if err == nil {
				got = p.plan.Snapshot.ID
			}
			if got != tc.want {
				t.Errorf("restore %s: got %s, want %s", tc.snapshot, got, tc.want)
			}
		})
	}
}

func TestRestorePlanWritesOnlyIntoAnEmptyScratchFolderClearOfLiveDataAndRepositories(t *testing.T) {
	base := t.TempDir()
	vol := filepath.Join(base, "data", "shop_storage")
	repoDir := filepath.Join(base, "repo")
	writeFiles(t, vol, map[string]string{"a.txt": "live a"})
	writeFiles(t, filepath.Join(base, "full"), map[string]string{"x": "something"})
	must(t, os.MkdirAll(filepath.Join(base, "empty"), 0o755))
	must(t, os.Symlink(vol, filepath.Join(base, "link-to-live")))
	s := fakeSnap(snapID("f1"), 1, []string{vol}, operate.TagFiles)
	for _, tc := range []struct {
		name, target string
		want         string // "" when the plan is made
	}{
		{"a new folder", filepath.Join(base, "restored"), ""},
		{"an empty folder", filepath.Join(base, "empty"), ""},
		{"a folder with something in it", filepath.Join(base, "full"), "bad_target"},
		{"a relative folder", "restored", "bad_target"},
		{"the root", "/", "bad_target"},
		{"an unclean path", filepath.Join(base, "restored") + "/../restored", "bad_target"},
		{"inside the live data", filepath.Join(vol, "restored"), "bad_target"},
		{"around the live data", filepath.Join(base, "data"), "bad_target"},
		{"through a link into the live data", filepath.Join(base, "link-to-live", "restored"), "bad_target"},
		{"inside the repository", filepath.Join(repoDir, "restored"), "bad_target"},
		{"inside the agent's run folder", filepath.Join(base, "runs", "restored"), "bad_target"},
		{"inside a scratch folder of a restore", filepath.Join(base, scratchPrefix+"0123", "x"), "bad_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := withTrees(&fakeRepo{id: "repo1", snaps: []restic.Snapshot{s}})
			a := fakeAgent(t, repo, vol, func(c *spec.AgentConfig) { c.RepositoryURL = repoDir })
			a.Runs.Dir = filepath.Join(base, "runs")
			p, err := a.plan(context.Background(), operate.RestoreRequest{Snapshot: s.ID, Target: tc.target})
			if got := planClass(t, err); got != tc.want {
				t.Fatalf("restore into %s: got %q (%v), want %q", tc.target, got, err, tc.want)
			}
			if err != nil {
				return
			}
			fp := p.plan.Files
			if p.plan.Target != tc.target || p.plan.Live() || len(p.roots) != 0 || fp == nil {
				t.Fatalf("plan %+v: want a scratch restore into %s", p.plan, tc.target)
			}
			if fp.Snapshot != (operate.Counts{Files: 1, Bytes: 1}) || fp.Live != (operate.Counts{}) || fp.Added != (operate.Counts{}) || len(p.plan.Notes) != 0 {
				t.Errorf("files plan %+v, notes %q: want the snapshot's one file and nothing of the live data", fp, p.plan.Notes)
			}
			if got, _ := os.ReadFile(filepath.Join(vol, "a.txt")); string(got) != "live a" {
				t.Errorf("planning changed the live data: %q", got)
			}
		})
	}
}

func TestRestorePlanIDChangesWithWhatTheRestoreWouldDo(t *testing.T) {
	base := t.TempDir()
	vol := filepath.Join(base, "shop_storage")
	f1 := fakeSnap(snapID("f1"), 2, []string{vol}, operate.TagFiles)
	f2 := fakeSnap(snapID("f2"), 1, []string{vol}, operate.TagFiles)
	repo := withTrees(&fakeRepo{id: "repo1", snaps: []restic.Snapshot{f1, f2}})
	writeFiles(t, vol, map[string]string{"a.txt": "live"})
	planID := func(req operate.RestoreRequest) string {
		t.Helper()
		p, err := fakeAgent(t, repo, vol, nil).plan(context.Background(), req)
		if err != nil {
			t.Fatalf("plan %+v: %v", req, err)
		}
		return p.plan.ID
	}
	scratch := operate.RestoreRequest{Snapshot: f2.ID, Target: filepath.Join(base, "restored")}
	first := planID(scratch)
	if again := planID(scratch); again != first {
		t.Errorf("the same restore planned twice has IDs %s and %s", first, again)
	}
	if byLatest := planID(operate.RestoreRequest{Latest: "files", Target: scratch.Target}); byLatest != first {
		t.Errorf("--latest files names the same snapshot but its plan is %s, not %s", byLatest, first)
	}
	live := planID(operate.RestoreRequest{Snapshot: f2.ID})
	others := map[string]string{
		"another snapshot": planID(operate.RestoreRequest{Snapshot: f1.ID, Target: scratch.Target}),
		"another target":   planID(operate.RestoreRequest{Snapshot: f2.ID, Target: filepath.Join(base, "elsewhere")}),
		"the live data":    live,
	}
	for what, id := range others {
		if id == first {
			t.Errorf("a plan for %s has the same ID %s", what, id)
		}
	}
	writeFiles(t, vol, map[string]string{"new.txt": "written since"})
	if after := planID(operate.RestoreRequest{Snapshot: f2.ID}); after == live {
		t.Errorf("the live data gained a file, but the plan keeps its ID %s", live)
	}
}
