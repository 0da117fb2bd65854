package agent

import (
	"slices"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func has(list []operate.Snapshot, id string) bool {
	return slices.ContainsFunc(list, func(s operate.Snapshot) bool { return operate.SameSnapshot(id, s.ID) })
}

// TestUndoSnapshotsNeverPushOutTheBackupTheyRestored: three restores of
// the one backup each save an undo of the damaged data; the daily prune
// must not count them against keepLast and forget the backup.
func TestUndoSnapshotsNeverPushOutTheBackupTheyRestored(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, func(c *spec.AgentConfig) { c.Retention = []string{"--keep-last", "3"} })
		writeFiles(t, r.vol, map[string]string{"a.txt": "good a", "sub/b.txt": "good b"})
		b := r.backup(RunOptions{Init: true})
		var undos []string
		for i, damage := range []string{"damaged once", "damaged twice", "damaged thrice"} {
			writeFiles(t, r.vol, map[string]string{"a.txt": damage})
			res := r.restore(operate.RestoreRequest{Snapshot: b})
			if res.Evidence.Result != operate.ResultOK {
				t.Fatalf("restore %d: %+v", i+1, res.Evidence.Steps)
			}
			undos = append(undos, step(t, res.Evidence, "pre-restore saved").Fact("snapshot_id"))
		}
		if l := r.run(operate.OpPrune, RunOptions{}); l.Evidence.Result != operate.ResultOK {
			t.Fatalf("prune: %+v", l.Evidence.Steps)
		}
		left := r.snapshots()
		if !has(left, b) {
			t.Errorf("prune forgot the backup %.8s that three restores brought back", b)
		}
		for _, u := range undos {
			if !has(left, u) {
				t.Errorf("prune forgot the undo %.8s of a restore made minutes ago", u)
			}
		}
		equalFiles(t, "the live data", filesUnder(t, r.vol), map[string]string{"a.txt": "good a", "sub/b.txt": "good b"})
	})
}

// TestTheSourceOfARecentRestoreOutlivesTheRetention: with keepLast 1, the
// older backup a restore brought back stays while that restore's undo
// does.
func TestTheSourceOfARecentRestoreOutlivesTheRetention(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, func(c *spec.AgentConfig) { c.Retention = []string{"--keep-last", "1"} })
		writeFiles(t, r.vol, map[string]string{"a.txt": "good a"})
		b1 := r.backup(RunOptions{Init: true})
		writeFiles(t, r.vol, map[string]string{"a.txt": "damaged"})
		b2 := r.backup(RunOptions{})
		if res := r.restore(operate.RestoreRequest{Snapshot: b1}); res.Evidence.Result != operate.ResultOK {
			t.Fatalf("restore: %+v", res.Evidence.Steps)
		}
		r.backup(RunOptions{})
		r.run(operate.OpPrune, RunOptions{})
		left := r.snapshots()
		if !has(left, b1) {
			t.Errorf("prune forgot %.8s, which a restore brought back minutes ago", b1)
		}
		if has(left, b2) {
			t.Errorf("prune kept %.8s, which keepLast 1 forgets and no restore named", b2)
		}
	})
}
