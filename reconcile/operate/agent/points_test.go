package agent

import (
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// checkpoint takes a restore point of the files before release next and
// returns its files snapshot's ID.
func (r *rig) checkpoint(next string) string {
	r.t.Helper()
	l := r.run(operate.OpCheckpoint, RunOptions{Point: &operate.RestorePoint{Files: true, Release: "prev", NextRelease: next}})
	if l.Evidence.Result != operate.ResultOK {
		r.t.Fatalf("checkpoint: %+v\nstderr:\n%s", l.Evidence.Steps, r.stderr.String())
	}
	return step(r.t, l.Evidence, "files").Fact("snapshot_id")
}

// prune prunes, which must succeed.
func (r *rig) prune() operate.Line {
	r.t.Helper()
	l := r.run(operate.OpPrune, RunOptions{})
	if l.Evidence.Result != operate.ResultOK {
		r.t.Fatalf("prune: %+v", l.Evidence.Steps)
	}
	return l
}

// TestABurstOfCheckpointsAndAPruneLeaveTheRegularBackups: four deploys in a
// row, each after a restore point of the same files the backups hold; with
// keepLast 2 for the backups, the prune must not count the points against
// it.
func TestABurstOfCheckpointsAndAPruneLeaveTheRegularBackups(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, func(c *spec.AgentConfig) {
			c.Retention = []string{"--keep-last", "2"}
			c.PointRetention = []string{"--keep-last", "1", "--keep-releases", "1"}
		})
		writeFiles(t, r.vol, map[string]string{"a.txt": "one"})
		b1 := r.backup(RunOptions{Init: true})
		writeFiles(t, r.vol, map[string]string{"a.txt": "two"})
		b2 := r.backup(RunOptions{})
		var points []string
		for _, rev := range []string{"rev1", "rev2", "rev3", "rev4"} {
			points = append(points, r.checkpoint(rev))
		}
		l := r.prune()
		left := r.snapshots()
		for _, b := range []string{b1, b2} {
			if !has(left, b) {
				t.Errorf("a burst of restore points pushed out backup %.8s", b)
			}
		}
		for i, p := range points {
			if want := i == len(points)-1; has(left, p) != want {
				t.Errorf("restore point %d (%.8s) kept: %v, want %v (keepLast 1, keepReleases 1)", i+1, p, !want, want)
			}
		}
		if got := step(t, l.Evidence, "forget").Fact("restore_point_policy"); got != "--keep-last 1 --keep-releases 1" {
			t.Errorf("prune's evidence names the restore point policy %q", got)
		}
	})
}

// TestManyBackupsAndAPruneLeaveTheRestorePointsTheirRuleKeeps: restore
// points before three releases, then more backups than the backups'
// retention keeps; the points of the last two releases must stay.
func TestManyBackupsAndAPruneLeaveTheRestorePointsTheirRuleKeeps(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, func(c *spec.AgentConfig) {
			c.Retention = []string{"--keep-last", "2"}
			c.PointRetention = []string{"--keep-last", "1", "--keep-releases", "2"}
		})
		writeFiles(t, r.vol, map[string]string{"a.txt": "v0"})
		r.backup(RunOptions{Init: true})
		var points []string
		for _, rev := range []string{"rev1", "rev2", "rev3"} {
			points = append(points, r.checkpoint(rev))
		}
		var backups []string
		for _, v := range []string{"v1", "v2", "v3", "v4"} {
			writeFiles(t, r.vol, map[string]string{"a.txt": v})
			backups = append(backups, r.backup(RunOptions{}))
		}
		r.prune()
		left := r.snapshots()
		for i, p := range points {
			if want := i > 0; has(left, p) != want {
				t.Errorf("restore point before rev%d (%.8s) kept: %v, want %v", i+1, p, !want, want)
			}
		}
		for i, b := range backups {
			if want := i >= 2; has(left, b) != want {
				t.Errorf("backup %d (%.8s) kept: %v, want %v (keepLast 2)", i+1, b, !want, want)
			}
		}
	})
}

// TestARestorePointARecentRestoreBroughtBackOutlivesItsRule: keepLast 1
// would forget the older point, but a restore brought it back minutes ago.
func TestARestorePointARecentRestoreBroughtBackOutlivesItsRule(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, func(c *spec.AgentConfig) { c.PointRetention = []string{"--keep-last", "1"} })
		writeFiles(t, r.vol, map[string]string{"a.txt": "before rev1"})
		r.backup(RunOptions{Init: true})
		p1 := r.checkpoint("rev1")
		writeFiles(t, r.vol, map[string]string{"a.txt": "migrated by rev1"})
		p2 := r.checkpoint("rev2")
		if res := r.restore(operate.RestoreRequest{Snapshot: p1}); res.Evidence.Result != operate.ResultOK {
			t.Fatalf("restore: %+v", res.Evidence.Steps)
		}
		l := r.prune()
		left := r.snapshots()
		if !has(left, p1) {
			t.Errorf("prune forgot restore point %.8s, which a restore brought back minutes ago", p1)
		}
		if !has(left, p2) {
			t.Errorf("prune forgot the newest restore point %.8s", p2)
		}
		if got := step(t, l.Evidence, "forget").Fact("kept_as_restore_source"); !operate.SameSnapshot(got, p1) {
			t.Errorf("kept_as_restore_source = %q, want %.8s", got, p1)
		}
	})
}
