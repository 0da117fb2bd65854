package agent

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// manifest is what live paths hold: each entry's size, modification time
// and mode (a folder's mode only), by path.
type manifest struct {
	Files map[string]entry `json:"files"`
}

type entry struct {
	Size  int64  `json:"size,omitempty"`
	MTime int64  `json:"mtime,omitempty"`
	Mode  uint32 `json:"mode"`
}

func entryOf(_ string, d fs.DirEntry) (entry, bool) {
	fi, err := d.Info()
	if err != nil {
		return entry{}, false
	}
	if fi.IsDir() {
		return entry{Mode: uint32(fi.Mode())}, true
	}
	return entry{Size: fi.Size(), MTime: fi.ModTime().UnixNano(), Mode: uint32(fi.Mode())}, true
}

// manifestOf reads the manifest of the live paths a restore replaces (what
// it keeps and the scratch folders left out).
func manifestOf(paths []string, keep keeper) (manifest, error) {
	m := manifest{Files: map[string]entry{}}
	for _, p := range paths {
		_, err := walkLive(p, keep, func(q string, d fs.DirEntry, _ int64) {
			if e, ok := entryOf(q, d); ok {
				m.Files[q] = e
			}
		})
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// differ lists the paths that were added, removed or changed from m to n.
func (m manifest) differ(n manifest) []string {
	var out []string
	for p, e := range n.Files {
		if old, ok := m.Files[p]; !ok || old != e {
			out = append(out, p)
		}
	}
	for p := range m.Files {
		if _, ok := n.Files[p]; !ok {
			out = append(out, p+" (removed)")
		}
	}
	slices.Sort(out)
	return out
}

// finishSwaps runs first in every run that holds the service: it finishes
// the restores that were killed while they moved paths into place (their
// remaining moves, then what settle does) and records each as a restore's
// evidence; it removes the scratch folders of restores killed before they
// moved anything (the live data is untouched). What it does not own it
// leaves alone and mentions. It returns the plans it finished.
func (a *Agent) finishSwaps(ctx context.Context, o RunOptions) []string {
	var finished []string
	for _, f := range a.scanRestores() {
		switch {
		case f.j == nil:
			a.Out.Say("restore: leaving %s alone: %s", f.dir, f.why)
		case !f.first:
		case f.j.State == statePrepared:
			a.Out.Say("restore: removing %s, left by a restore interrupted before it changed anything", strings.Join(f.j.Scratch, " "))
			a.removeScratch(f.j)
		case f.j.State == stateMoving:
			a.finishRestore(ctx, o, f.j)
			finished = append(finished, f.j.Plan)
		case f.j.State == stateKept:
			a.Out.Say("restore: %s is kept: %s", f.dir, f.j.Kept)
		}
	}
	return finished
}

// finishRestore makes an interrupted restore's remaining moves, settles
// it, and stores the outcome as the evidence of a restore.
func (a *Agent) finishRestore(ctx context.Context, o RunOptions, j *journal) {
	a.Out.Say("restore: finishing restore %s of snapshot %s, which was interrupted while it moved paths into place (%d of %d moves made)", j.Plan, short(j.Snapshot), j.Done, len(j.Moves))
	ro := o
	ro.RunID = operate.NewRunID()
	rec := a.newRecorder(operate.OpRestore, ro)
	rec.started = true
	rec.plan = &operate.RestorePlan{ID: j.Plan, Environment: a.Config.Environment, Repository: a.Config.Repository,
		Snapshot: operate.Listed{ID: j.Snapshot, Kind: "files", Paths: j.Targets}}
	s := rec.begin("finish", "files")
	s.fact("plan_id", j.Plan)
	s.fact("snapshot_id", j.Snapshot)
	s.fact("paths", strings.Join(j.Targets, " "))
	if j.RunID != "" {
		s.fact("interrupted_run", j.RunID)
	}
	if j.Undo != "" {
		s.fact("undo_snapshot_id", j.Undo)
	}
	done := j.Done
	problems := a.runMoves(j)
	st := a.settle(ctx, ro, j)
	if st.late != "" {
		s.fact("late_writes_snapshot_id", st.late)
	}
	s.fact("moves_finished", len(j.Moves)-done)
	switch {
	case len(problems) > 0:
		s.fail(code(1), "restore_failed", fmt.Sprintf("restore %s was interrupted while it moved paths into place; finishing it, some moves failed: %s; the undo is snapshot %s", j.Plan, strings.Join(head(problems, 5), "; "), short(j.Undo)))
	case st.problem != "":
		s.fail(code(1), st.code, st.problem)
	case st.live != j.Expected:
		s.fail(code(1), "verify_failed", fmt.Sprintf("restore %s was interrupted while it moved paths into place and is now finished, but the live paths hold %d file(s), %d bytes where the snapshot holds %d, %d bytes (the app may have written since); the undo is snapshot %s", j.Plan, st.live.Files, st.live.Bytes, j.Expected.Files, j.Expected.Bytes, short(j.Undo)))
	default:
		s.ok(0, fmt.Sprintf("restore %s of snapshot %s was interrupted while it moved paths into place; this run made the %d remaining move(s): %s hold the snapshot's %d file(s), %s; the undo is snapshot %s%s",
			j.Plan, short(j.Snapshot), len(j.Moves)-done, strings.Join(j.Targets, " "), st.live.Files, bytesText(st.live.Bytes), or(short(j.Undo), "(none)"), st.note))
	}
	ev := rec.finish(false)
	stored := a.storeEvidence(context.WithoutCancel(ctx), rec)
	a.Out.Say("restore: finished restore %s: %s (evidence %s)", j.Plan, ev.Result, or(short(stored.SnapshotID), "not stored: "+stored.Message))
}

// restoreFolders is what status says of the restore folders in the
// volumes: unfinished restores, folders kept for a person, and folders the
// agent did not make.
func (a *Agent) restoreFolders() []operate.RestoreFolder {
	var out []operate.RestoreFolder
	for _, f := range a.scanRestores() {
		r := operate.RestoreFolder{Folder: f.dir}
		switch {
		case f.j == nil:
			r.State, r.Why = operate.RestoreUnknown, f.why
		case !f.first:
			continue
		default:
			r.Plan, r.Snapshot, r.Targets, r.Done, r.Moves = f.j.Plan, f.j.Snapshot, f.j.Targets, f.j.Done, len(f.j.Moves)
			r.Folder = strings.Join(f.j.Scratch, " ")
			switch f.j.State {
			case statePrepared:
				r.State = operate.RestoreInterrupted
			case stateMoving:
				r.State = operate.RestoreUnfinished
			default:
				r.State, r.Why = operate.RestoreKept, f.j.Kept
			}
		}
		out = append(out, r)
	}
	return out
}

// unfinished says why a restore must not be planned now: another was
// killed while it moved paths into place, so the live data is half
// restored until a run finishes it.
func (a *Agent) unfinished() error {
	for _, f := range a.restoreFolders() {
		if f.State == operate.RestoreUnfinished {
			return &stepError{class: "restore_unfinished", msg: fmt.Sprintf("restore %s of snapshot %s was interrupted while it moved paths into place (%d of %d moves made): %s are partly restored. The next run of the agent finishes it first (and records it); plan this restore after that", f.Plan, short(f.Snapshot), f.Done, f.Moves, strings.Join(f.Targets, " "))}
		}
	}
	return nil
}
