package agent

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// A files restore never leaves a path half overwritten. restic restores
// the snapshot's copy of each path into a scratch folder on the path's own
// volume (ROOT/.devopsellence-restore-PLAN/new), where it is checked; only
// then are paths moved, by rename, which is atomic on one volume: the live
// path into ROOT/.devopsellence-restore-PLAN/old, the restored one into
// its place. A volume's root is a mount point and cannot be renamed, so a
// restore of a whole volume moves its entries instead.
//
// The scratch folders are made after a sealed journal names them (see
// journal.go); before the first move the journal lists every move, and
// after each it counts the moves made. A restore killed between two moves
// is finished by the next run of the agent; one killed before the first
// move left the live data untouched, and its scratch folders are removed.
//
// The app may write to the live paths while the restore runs. Their
// manifest (names, sizes, times) is taken before the undo snapshot and
// again just before the moves: when they differ, nothing is moved. What
// the app writes into a path in the instant of the moves lands in the
// moved-out data, which is compared with that manifest: anything new is
// saved as a second undo snapshot before the scratch folder goes.

// restoreFiles restores the plan's paths into the live volumes. before is
// the manifest of the live paths taken before the undo snapshot.
func (a *Agent) restoreFiles(ctx context.Context, rec *recorder, o RunOptions, p *planned, undo string, before manifest) {
	s := rec.begin("restore", "files")
	paths := p.plan.Files.Paths
	s.fact("paths", strings.Join(paths, " "))
	if undo != "" {
		s.fact("undo_snapshot_id", undo)
	}
	if a.jkey == nil {
		s.fail(nil, "no_journal_key", errNoKey.Error()+"; the live files were not touched")
		return
	}
	roots, byRoot := byRootOf(paths, p.roots)
	j, scratch := newFilesJournal(o, p, undo, roots)
	made, ok := a.makeScratch(s, j)
	swapping := false
	defer func() {
		if made && !swapping {
			a.removeScratch(j)
		}
	}()
	if !ok {
		return
	}
	got, ok := a.fillScratch(ctx, rec, s, o, p, byRoot, scratch)
	if !ok {
		return
	}
	if !a.prepareMoves(s, j, p, roots, scratch, before) {
		return
	}
	// From here on the restore goes to its end, whatever the context
	// says: the moves are quick, and a half-moved volume is what this
	// design avoids. A kill is finished by the next run.
	swapping = true
	problems := a.runMoves(j)
	st := a.settle(context.WithoutCancel(ctx), o, j)
	s.fact("files_restored", got.Files)
	s.fact("bytes_restored", got.Bytes)
	if st.late != "" {
		s.fact("late_writes_snapshot_id", st.late)
	}
	switch {
	case len(problems) > 0:
		s.fail(code(1), "restore_failed", "some moves failed: "+strings.Join(head(problems, 5), "; ")+fmt.Sprintf("; the undo is snapshot %s", short(undo)))
	case st.problem != "":
		s.fail(code(1), st.code, st.problem)
	case st.live != got:
		s.fail(code(1), "verify_failed", fmt.Sprintf("moved into place, but the live paths hold %d file(s), %d bytes where the snapshot holds %d, %d bytes (the app may have written since); the undo is snapshot %s", st.live.Files, st.live.Bytes, got.Files, got.Bytes, short(undo)))
	default:
		s.ok(0, fmt.Sprintf("restored %d file(s), %s, from %s into %s; the undo is snapshot %s%s", got.Files, bytesText(got.Bytes), short(p.snap.ID), strings.Join(paths, " "), or(short(undo), "(none: nothing was there)"), st.note))
	}
}

// byRootOf groups paths by their volume root (rootOf), roots sorted.
func byRootOf(paths []string, rootOf map[string]string) ([]string, map[string][]string) {
	byRoot := map[string][]string{}
	var roots []string
	for _, pth := range paths {
		r := rootOf[pth]
		if byRoot[r] == nil {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], pth)
	}
	slices.Sort(roots)
	return roots, byRoot
}

// newFilesJournal is the journal of a files restore, before anything is
// made: its scratch folder on each root (also returned by root), and what
// the restored copies must hold.
func newFilesJournal(o RunOptions, p *planned, undo string, roots []string) (*journal, map[string]string) {
	paths := p.plan.Files.Paths
	scratch := map[string]string{}
	j := &journal{Version: journalVersion, Plan: p.plan.ID, RunID: o.RunID, Snapshot: p.snap.ID, Undo: undo, Targets: slices.Clone(paths), State: statePrepared}
	for _, r := range roots {
		scratch[r] = filepath.Join(r, scratchPrefix+p.plan.ID)
		j.Scratch = append(j.Scratch, scratch[r])
	}
	for _, pth := range paths {
		j.Expected.Files += p.expected[pth].Files
		j.Expected.Bytes += p.expected[pth].Bytes
	}
	return j, scratch
}

// makeScratch makes the journal's scratch folders, the first holding the
// sealed journal. made reports whether the first was made (and so must be
// removed if the restore stops before its moves); ok whether all were. A
// failure is recorded on s.
func (a *Agent) makeScratch(s *stepRun, j *journal) (made, ok bool) {
	for _, d := range j.Scratch {
		if exists(d) {
			s.fail(nil, "scratch_in_the_way", fmt.Sprintf("%s is already there (an earlier restore of this plan left it, or the app made it): the agent does not remove what it did not make; the live files were not touched", d))
			return false, false
		}
	}
	// The journal names every scratch folder before they exist, so that
	// none is ever the agent's without a sealed record of it.
	if err := os.Mkdir(j.Scratch[0], 0o700); err != nil {
		s.fail(nil, "failed", "cannot create the scratch folder on the volume; the live files were not touched: "+err.Error())
		return false, false
	}
	err := a.writeSealed(filepath.Join(j.Scratch[0], journalName), j)
	for _, d := range j.Scratch[1:] {
		if err == nil {
			err = os.Mkdir(d, 0o700)
		}
	}
	if err != nil {
		s.fail(nil, "failed", "cannot prepare the scratch folders; the live files were not touched: "+err.Error())
		return true, false
	}
	return true, true
}

// fillScratch restores each root's paths into its scratch folder and
// checks that the copies hold what the snapshot does (less what the
// restore keeps live). It returns what they hold; a failure is recorded
// on s.
func (a *Agent) fillScratch(ctx context.Context, rec *recorder, s *stepRun, o RunOptions, p *planned, byRoot map[string][]string, scratch map[string]string) (operate.Counts, bool) {
	var got operate.Counts
	roots := make([]string, 0, len(byRoot))
	for r := range byRoot {
		roots = append(roots, r)
	}
	slices.Sort(roots)
	for _, r := range roots {
		err := a.call(ctx, rec, o, func() error {
			_, err := a.restic.Restore(ctx, restic.RestoreOptions{SnapshotID: p.snap.ID, Target: filepath.Join(scratch[r], "new"), Includes: byRoot[r]}, a.restoreProgress)
			return err
		})
		if err != nil {
			s.fail(exitOf(err), class(err), "restic restore into the scratch folder failed; the live files were not touched: "+message(err))
			return got, false
		}
	}
	for _, pth := range p.plan.Files.Paths {
		newP := filepath.Join(scratch[p.roots[pth]], "new", pth)
		for _, k := range p.kept {
			if under(k, pth) {
				_ = os.RemoveAll(filepath.Join(scratch[p.roots[pth]], "new", k))
			}
		}
		c := countFiles(newP)
		if want := p.expected[pth]; c != want {
			s.fail(code(1), "verify_failed", fmt.Sprintf("the restored copy of %s holds %d file(s), %d bytes; the snapshot %d, %d bytes. The live files were not touched", pth, c.Files, c.Bytes, want.Files, want.Bytes))
			return got, false
		}
		got.Files += c.Files
		got.Bytes += c.Bytes
	}
	if ctx.Err() != nil {
		s.fail(nil, "interrupted", "interrupted before anything was moved into place; the live files were not touched")
		return got, false
	}
	return got, true
}

// prepareMoves checks that the app did not write to the live paths since
// the manifest before, then lists the moves in the journal and seals it
// as moving, with the live paths' manifest now. It reports whether the
// moves may run; a failure is recorded on s.
func (a *Agent) prepareMoves(s *stepRun, j *journal, p *planned, roots []string, scratch map[string]string, before manifest) bool {
	now, err := manifestOf(j.Targets, a.keeper(roots))
	if err != nil {
		s.fail(nil, "failed", "cannot read the live paths again; the live files were not touched: "+err.Error())
		return false
	}
	if diff := before.differ(now); len(diff) > 0 {
		s.fact("changed", strings.Join(head(diff, 10), " "))
		s.fail(nil, "targets_changed", fmt.Sprintf("the app wrote to the restored paths while the restore ran (%s%s), after the undo snapshot was taken: nothing was changed. Stop the app's writes to them during the restore, then run it again", strings.Join(head(diff, 5), ", "), more(len(diff), 5)))
		return false
	}
	if err := a.moves(j, p, scratch); err == nil {
		err = a.writeSealed(filepath.Join(j.Scratch[0], manifestName), now)
	}
	if err == nil {
		j.State = stateMoving
		err = a.writeSealed(filepath.Join(j.Scratch[0], journalName), j)
	}
	if err != nil {
		s.fail(nil, "failed", "cannot prepare the moves; the live files were not touched: "+err.Error())
		return false
	}
	return true
}

func more(n, shown int) string {
	if n > shown {
		return fmt.Sprintf(" and %d more", n-shown)
	}
	return ""
}

// moves lists in j the renames that put the restored paths in place:
// first the kept live paths into the restored tree (a database inside a
// restored folder stays the live one), then the live paths out, then the
// restored ones in. Each move sets aside into its own place. It makes the
// folders the moves need.
func (a *Agent) moves(j *journal, p *planned, scratch map[string]string) error {
	var keptMoves, outMoves, inMoves []move
	for _, pth := range j.Targets {
		root := p.roots[pth]
		dir := scratch[root]
		newOf := func(q string) string { return filepath.Join(dir, "new", q) }
		oldOf := func(q string) string { return filepath.Join(dir, "old", q) }
		var kept []string
		for _, k := range p.kept {
			if under(k, pth) && !slices.ContainsFunc(kept, func(x string) bool { return under(k, x) }) {
				kept = append(kept, k)
			}
		}
		var top []string // kept entries of a volume's root stay where they are
		if pth == root {
			for _, k := range kept {
				if filepath.Dir(k) == root {
					top = append(top, filepath.Base(k))
				}
			}
		}
		for _, k := range kept {
			if slices.Contains(top, filepath.Base(k)) && filepath.Dir(k) == root {
				continue
			}
			if err := os.RemoveAll(newOf(k)); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(newOf(k)), 0o755); err != nil {
				return err
			}
			keptMoves = append(keptMoves, move{From: k, To: newOf(k)})
		}
		if pth != root {
			if err := os.MkdirAll(filepath.Dir(oldOf(pth)), 0o700); err != nil {
				return err
			}
			if err := a.noLinkBelow(filepath.Dir(pth)); err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Dir(pth), 0o755); err != nil {
				return err
			}
			outMoves = append(outMoves, move{From: pth, To: oldOf(pth)})
			inMoves = append(inMoves, move{From: newOf(pth), To: pth})
			continue
		}
		if err := os.MkdirAll(oldOf(root), 0o700); err != nil {
			return err
		}
		liveEntries, err := os.ReadDir(root)
		if err != nil {
			return err
		}
		for _, e := range liveEntries {
			if strings.HasPrefix(e.Name(), scratchPrefix) || slices.Contains(top, e.Name()) {
				continue
			}
			q := filepath.Join(root, e.Name())
			outMoves = append(outMoves, move{From: q, To: oldOf(q)})
		}
		newEntries, err := os.ReadDir(newOf(root))
		if err != nil {
			return err
		}
		for _, e := range newEntries {
			if slices.Contains(top, e.Name()) {
				continue
			}
			q := filepath.Join(root, e.Name())
			inMoves = append(inMoves, move{From: newOf(q), To: q})
		}
	}
	j.Moves = slices.Concat(keptMoves, outMoves, inMoves)
	for i := range j.Moves {
		j.Moves[i].Aside = filepath.Join(j.Scratch[0], "appeared", strconv.Itoa(i))
	}
	return os.MkdirAll(filepath.Join(j.Scratch[0], "appeared"), 0o700)
}

// runMoves makes the journal's moves from j.Done on, sealing the count
// after each. A move whose source is gone was made (the run that made it
// died before counting it). No move goes through a symbolic link. It goes
// on past a failed move, and returns what failed.
func (a *Agent) runMoves(j *journal) []string {
	var problems []string
	for i := j.Done; i < len(j.Moves); i++ {
		m := j.Moves[i]
		err := a.moveSafely(m)
		if err != nil {
			problems = append(problems, err.Error())
		}
		j.Done = i + 1
		if err := a.writeSealed(filepath.Join(j.Scratch[0], journalName), j); err != nil {
			problems = append(problems, "cannot count the move in the journal: "+err.Error())
		}
		if a.afterMove != nil {
			a.afterMove(j.Done)
		}
	}
	return problems
}

func (a *Agent) moveSafely(m move) error {
	for _, p := range []string{m.From, m.To, m.Aside} {
		if err := a.noLinkBelow(p); err != nil {
			return fmt.Errorf("move %s to %s: %v: not moved", m.From, m.To, err)
		}
	}
	if !exists(m.From) {
		return nil
	}
	if exists(m.To) {
		aside := m.Aside
		for n := 2; exists(aside); n++ {
			aside = m.Aside + "-" + strconv.Itoa(n)
		}
		if err := os.MkdirAll(filepath.Dir(aside), 0o700); err != nil {
			return err
		}
		if err := os.Rename(m.To, aside); err != nil {
			return err
		}
	}
	return os.Rename(m.From, m.To)
}

// settled is what became of a restore once its moves were made.
type settled struct {
	// late is the snapshot holding what the app wrote into the moved-out
	// data during the moves.
	late string
	note string
	// problem (with its code) says why the scratch folder was kept.
	problem, code string
	live          operate.Counts
}

// settle finishes a journal whose moves are all made: what the moved-out
// data holds that the manifest taken before the moves does not (written
// by the app in that instant), and whatever was set aside, is saved as a
// second undo snapshot; then the scratch folders go. When that cannot be
// saved, the folder is kept (sealed as kept) for a person. Last, the live
// paths are counted.
func (a *Agent) settle(ctx context.Context, o RunOptions, j *journal) settled {
	var st settled
	var before manifest
	if err := a.readSealed(filepath.Join(j.Scratch[0], manifestName), &before); err != nil {
		before = manifest{}
	}
	var late, saved []string
	for _, d := range j.Scratch {
		old := filepath.Join(d, "old")
		_ = filepath.WalkDir(old, func(q string, de fs.DirEntry, err error) error {
			if err != nil || q == old {
				return nil
			}
			// Only what was moved out counts: the folders above a
			// target, and a volume root, were made here.
			live := strings.TrimPrefix(q, old)
			if !slices.ContainsFunc(j.Targets, func(t string) bool { return under(live, t) }) || slices.Contains(a.Config.Paths, live) {
				return nil
			}
			if e, ok := entryOf(q, de); ok && before.Files[live] != e {
				late = append(late, live)
			}
			return nil
		})
		if exists(old) {
			saved = append(saved, old)
		}
		appeared := filepath.Join(d, "appeared")
		if entries, err := os.ReadDir(appeared); err == nil && len(entries) > 0 {
			late = append(late, "(set aside) "+appeared)
			saved = append(saved, appeared)
		}
	}
	if len(late) > 0 {
		slices.Sort(late)
		tags := a.snapTags(o, operate.TagFiles)
		tags = append(tags, operate.TagPreRestore+j.Plan, operate.TagRestoreOf+j.Snapshot)
		sum, err := a.restic.Backup(ctx, restic.BackupOptions{Host: a.Config.Host, Tags: tags, Paths: saved}, nil)
		if err != nil || sum == nil {
			j.State, j.Kept = stateKept, fmt.Sprintf("the app wrote %s into the restored paths while they were moved, and they could not be saved (%s)", strings.Join(head(late, 5), ", "), message(err))
			_ = a.writeSealed(filepath.Join(j.Scratch[0], journalName), j)
			st.code = "late_writes_kept"
			st.problem = fmt.Sprintf("restored, but %s: they are kept in %s (copy out what you need, then remove the folder); the undo is snapshot %s", j.Kept, strings.Join(saved, " "), short(j.Undo))
		} else {
			st.late = sum.SnapshotID
			st.note = fmt.Sprintf("; what the app wrote into them while they were moved (%s%s) is in snapshot %s", strings.Join(head(late, 3), ", "), more(len(late), 3), short(sum.SnapshotID))
		}
	}
	if j.State != stateKept {
		a.removeScratch(j)
	}
	var roots []string
	for _, t := range j.Targets {
		if r := a.rootOf(t); !slices.Contains(roots, r) {
			roots = append(roots, r)
		}
	}
	keep := a.keeper(roots)
	for _, t := range j.Targets {
		_, _ = walkLive(t, keep, func(_ string, d fs.DirEntry, size int64) {
			if d.Type().IsRegular() {
				st.live.Add(size)
			}
		})
	}
	return st
}

// removeScratch removes a restore's scratch folders (with the old data:
// the undo snapshot holds it). A folder that is no longer a folder is
// left alone.
func (a *Agent) removeScratch(j *journal) {
	for _, d := range j.Scratch {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			_ = os.RemoveAll(d)
		}
	}
}

// countFiles counts the regular files under p and their bytes.
func countFiles(p string) operate.Counts {
	var c operate.Counts
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				c.Add(fi.Size())
			}
		}
		return nil
	})
	return c
}
