package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// TestAJournalTheAppWroteDirectsNothing: the app writes restore journals
// into its volume naming the repository, a folder outside the volume, and
// renames outside any restore; the next runs must delete and move nothing,
// leave the folders alone, and say so in status.
func TestAJournalTheAppWroteDirectsNothing(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, nil)
		writeFiles(t, r.vol, map[string]string{"a.txt": "a", "uploads/b.txt": "b"})
		r.backup(RunOptions{Init: true})
		snapshots := len(r.snapshots())
		outside := filepath.Join(filepath.Dir(r.repo), "elsewhere")
		writeFiles(t, outside, map[string]string{"keep.txt": "not the app's to delete", "secret.txt": "not the app's to move"})
		planted := map[string]any{
			"x": map[string]any{"plan": "x", "scratch": []string{r.repo}, "moves": []any{}},
			"y": map[string]any{"plan": "y", "scratch": []string{outside}, "moves": []any{}},
			"z": map[string]any{"plan": "z", "scratch": []string{filepath.Join(r.vol, scratchPrefix+"z")},
				"moves": []any{map[string]string{"from": filepath.Join(outside, "secret.txt"), "to": filepath.Join(outside, "moved.txt"), "aside": filepath.Join(outside, "aside")}}},
			// The current agent's own format, sealed with a key it made up.
			"w": map[string]any{"body": map[string]any{"version": 1, "plan": "w", "scratch": []string{r.repo}, "state": "moving"}, "mac": "00ff"},
		}
		for name, j := range planted {
			data, _ := json.Marshal(j)
			writeFiles(t, filepath.Join(r.vol, scratchPrefix+name), map[string]string{journalName: string(data), progressName: "0"})
		}
		// A folder of that name the app made for its own reasons.
		writeFiles(t, filepath.Join(r.vol, scratchPrefix+"mine"), map[string]string{"data.txt": "the app's"})

		for _, op := range []operate.Op{operate.OpBackup, operate.OpCheck, operate.OpPrune} {
			r.run(op, RunOptions{})
		}
		if got := len(r.snapshots()); got < snapshots {
			t.Errorf("the repository went from %d snapshots to %d", snapshots, got)
		}
		equalFiles(t, "the folder outside the volume", filesUnder(t, outside), map[string]string{"keep.txt": "not the app's to delete", "secret.txt": "not the app's to move"})
		for _, name := range []string{"x", "y", "z", "w", "mine"} {
			if _, err := os.Stat(filepath.Join(r.vol, scratchPrefix+name)); err != nil {
				t.Errorf("the folder %s the agent did not make was not left alone: %v", scratchPrefix+name, err)
			}
		}
		r.stdout.Reset()
		r.a.Status(context.Background(), RunOptions{}, time.Now())
		st := r.result().Status
		unknown := 0
		for _, rs := range st.Restores {
			if rs.State == operate.RestoreUnknown {
				unknown++
			}
		}
		if unknown != 5 {
			t.Errorf("status lists %d unknown restore folders, want 5: %+v", unknown, st.Restores)
		}
	})
}

// killed stops a run the way a kill does: nothing after the panic runs
// but the deferred cleanups of the call stack.
type killed struct{}

// TestARestoreKilledWhileItMovesIsAnErrorUntilTheNextRunFinishesAndRecordsIt:
// the live data is partly restored, so status says so as an error; the
// next run (a backup) finishes the moves, verifies the paths against the
// snapshot and stores the restore's evidence.
func TestARestoreKilledWhileItMovesIsAnErrorUntilTheNextRunFinishesAndRecordsIt(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, nil)
		good := map[string]string{"a.txt": "good a", "big/1.txt": "one", "big/2.txt": "two", "c/d.txt": "d"}
		writeFiles(t, r.vol, good)
		id := r.backup(RunOptions{Init: true})
		must(t, os.RemoveAll(filepath.Join(r.vol, "big")))
		writeFiles(t, r.vol, map[string]string{"a.txt": "damaged", "new.txt": "after the backup"})

		req := operate.RestoreRequest{Snapshot: id}
		p := r.plan(req)
		req.Plan, req.Approve = p.ID, p.ID
		r.a.afterMove = func(done int) {
			if done == 2 {
				panic(killed{})
			}
		}
		func() {
			defer func() {
				if v := recover(); v != (killed{}) {
					panic(v)
				}
			}()
			r.a.Run(context.Background(), operate.OpRestore, RunOptions{Restore: &req})
			t.Fatal("the restore was not stopped between its moves")
		}()

		// A new process of the agent, as after a kill.
		a, err := New(r.env, "test", r.a.Out, time.Now)
		must(t, err)
		a.runner.Bin = bin.Path
		r.a = a
		r.stdout.Reset()
		r.a.Status(context.Background(), RunOptions{}, time.Now())
		st := r.result().Status
		if len(st.Restores) != 1 || st.Restores[0].State != operate.RestoreUnfinished || st.Restores[0].Plan != p.ID || st.Restores[0].Done != 2 {
			t.Fatalf("status: restores %+v", st.Restores)
		}
		// The plan of another restore waits for this one to be finished.
		r.stdout.Reset()
		r.a.PlanRestore(context.Background(), RunOptions{}, operate.RestoreRequest{Snapshot: id})
		if l := r.result(); l.Evidence.Failure() == nil || l.Evidence.Failure().Error != "restore_unfinished" {
			t.Errorf("a plan during an unfinished restore: %+v", l.Evidence.Steps)
		}

		r.backup(RunOptions{})
		equalFiles(t, "the live data after the next run", filesUnder(t, r.vol), good)
		r.stdout.Reset()
		r.a.Status(context.Background(), RunOptions{}, time.Now())
		st = r.result().Status
		if len(st.Restores) != 0 {
			t.Errorf("status after the next run: restores %+v", st.Restores)
		}
		var restore *operate.EvidenceRef
		for i, e := range st.Evidence {
			if e.Kind == string(operate.OpRestore) {
				restore = &st.Evidence[i]
			}
		}
		if restore == nil || restore.Result != operate.ResultOK {
			t.Fatalf("no restore evidence from the run that finished it: %+v", st.Evidence)
		}
		var doc bytes.Buffer
		must(t, r.a.restic.Dump(context.Background(), restore.SnapshotID, operate.EvidencePath(operate.OpRestore), &doc))
		ev, err := operate.ParseEvidence(doc.Bytes())
		must(t, err)
		if s := step(t, ev, "finish"); s.Result != operate.ResultOK || s.Fact("plan_id") != p.ID || s.Fact("undo_snapshot_id") == "" {
			t.Errorf("the finished restore's evidence: %+v", s)
		}
	})
}
