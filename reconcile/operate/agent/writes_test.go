package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// TestAFileTheAppWritesDuringARestoreIsNeverLost: written after the undo
// snapshot began and before the moves, it stops the restore with nothing
// changed; written into the moved-out data in the instant of the moves, it
// is saved as a second undo snapshot.
func TestAFileTheAppWritesDuringARestoreIsNeverLost(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, nil)
		writeFiles(t, r.vol, map[string]string{"uploads/a.txt": "good a", "uploads/b.txt": "good b"})
		id := r.backup(RunOptions{Init: true})
		writeFiles(t, r.vol, map[string]string{"uploads/a.txt": "damaged"})

		// The app writes while the undo snapshot is being taken.
		late := filepath.Join(r.vol, "uploads", "late.txt")
		wrapper := filepath.Join(t.TempDir(), "restic")
		script := fmt.Sprintf("#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --tag=pre-restore:*) echo 'written during the restore' > %s;; esac; done\nexec %s \"$@\"\n", late, bin.Path)
		must(t, os.WriteFile(wrapper, []byte(script), 0o755))
		r.a.runner.Bin = wrapper
		res := r.restore(operate.RestoreRequest{Snapshot: id, Paths: []string{filepath.Join(r.vol, "uploads")}})
		r.a.runner.Bin = bin.Path
		if s := step(t, res.Evidence, "restore"); s.Result != operate.ResultFailed || s.Error != "targets_changed" || !strings.Contains(s.Message, "late.txt") {
			t.Errorf("a restore the app wrote into: %+v", s)
		}
		equalFiles(t, "after the refused restore", filesUnder(t, r.vol), map[string]string{"uploads/a.txt": "damaged", "uploads/b.txt": "good b", "uploads/late.txt": "written during the restore\n"})

		// The app writes into the folder just moved out (an open file).
		must(t, os.Remove(late))
		req := operate.RestoreRequest{Snapshot: id, Paths: []string{filepath.Join(r.vol, "uploads")}}
		p := r.plan(req)
		req.Plan, req.Approve = p.ID, p.ID
		scratch := filepath.Join(r.vol, scratchPrefix+p.ID)
		r.a.afterMove = func(done int) {
			if done == 1 { // uploads is out, the restored copy not yet in
				must(t, os.WriteFile(filepath.Join(scratch, "old", r.vol, "uploads", "log.txt"), []byte("appended by the app\n"), 0o644))
			}
		}
		res = r.run(operate.OpRestore, RunOptions{Restore: &req})
		r.a.afterMove = nil
		s := step(t, res.Evidence, "restore")
		lateID := s.Fact("late_writes_snapshot_id")
		if s.Result != operate.ResultOK || lateID == "" || !strings.Contains(s.Message, "log.txt") {
			t.Fatalf("a restore with a write in the instant of its moves: %+v", s)
		}
		equalFiles(t, "after the restore", filesUnder(t, r.vol), map[string]string{"uploads/a.txt": "good a", "uploads/b.txt": "good b"})
		if got := r.restic("--no-lock", "dump", lateID, filepath.Join(scratch, "old", r.vol, "uploads", "log.txt")); got != "appended by the app\n" {
			t.Errorf("the second undo holds log.txt as %q", got)
		}
	})
}
