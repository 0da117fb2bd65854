package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// TestAnUnlabelledSnapshotIsNeitherListedNorPickedNorRestored: a snapshot
// made with plain restic under this app's host and tags, but without its
// identity, after the app's first labelled one, is foreign to every
// reader, as status already says.
func TestAnUnlabelledSnapshotIsNeitherListedNorPickedNorRestored(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, nil)
		writeFiles(t, r.vol, map[string]string{"uploads/a.txt": "the app's own a"})
		ours := r.backup(RunOptions{Init: true})
		writeFiles(t, r.vol, map[string]string{"uploads/a.txt": "planted by whoever holds the password"})
		r.restic("backup", "--host", "shop-production", "--tag", "app:shop,env:production,kind:files", r.vol)
		var foreign string
		for _, s := range r.snapshots() {
			if s.TagValue(operate.TagAppID) == "" {
				foreign = s.ID
			}
		}
		if foreign == "" {
			t.Fatal("the unlabelled snapshot was not made")
		}

		r.stdout.Reset()
		r.a.Browse(context.Background(), RunOptions{}, operate.BrowseRequest{Op: operate.OpSnapshots})
		b := r.result().Browse
		for _, g := range b.Groups {
			for _, s := range g.Snapshots {
				if s.ID == foreign {
					t.Errorf("snapshots lists the unlabelled snapshot %.8s", foreign)
				}
			}
		}
		r.stdout.Reset()
		r.a.Browse(context.Background(), RunOptions{}, operate.BrowseRequest{Op: operate.OpFind, Pattern: "a.txt"})
		for _, m := range r.result().Browse.Matches {
			if m.SnapshotID == foreign {
				t.Errorf("find shows a match in the unlabelled snapshot %.8s", foreign)
			}
		}
		r.stdout.Reset()
		r.a.Browse(context.Background(), RunOptions{}, operate.BrowseRequest{Op: operate.OpLs, Snapshot: foreign})
		if l := r.result(); l.Browse != nil || l.Evidence.Failure() == nil || l.Evidence.Failure().Error != "no_snapshot" {
			t.Errorf("ls of the unlabelled snapshot: %+v", l.Evidence.Steps)
		}

		if p := r.plan(operate.RestoreRequest{Latest: "files"}); !operate.SameSnapshot(ours, p.Snapshot.ID) {
			t.Errorf("restore --latest files picked %.8s, want the app's own %.8s", p.Snapshot.ID, ours)
		}
		r.stdout.Reset()
		r.a.PlanRestore(context.Background(), RunOptions{}, operate.RestoreRequest{Snapshot: foreign})
		if l := r.result(); l.Plan != nil {
			t.Errorf("a plan to restore the unlabelled snapshot: %+v", l.Plan)
		}
		// The agent itself refuses it too, whatever the operator's side sent.
		res := r.run(operate.OpRestore, RunOptions{Restore: &operate.RestoreRequest{Snapshot: foreign, Plan: "0123456789ab", Approve: "0123456789ab"}})
		if res.Evidence.Result != operate.ResultFailed {
			t.Errorf("restore of the unlabelled snapshot: %+v", res.Evidence.Steps)
		}
		if b, _ := os.ReadFile(filepath.Join(r.vol, "uploads", "a.txt")); !strings.Contains(string(b), "planted") {
			t.Errorf("the live file changed: %q", b)
		}
		// Prune never selects it.
		r.a.Config.Retention = []string{"--keep-last", "1"}
		r.backup(RunOptions{})
		r.run(operate.OpPrune, RunOptions{})
		if !slices.ContainsFunc(r.snapshots(), func(s operate.Snapshot) bool { return s.ID == foreign }) {
			t.Error("prune forgot the unlabelled snapshot, which is not this app's")
		}
	})
}
