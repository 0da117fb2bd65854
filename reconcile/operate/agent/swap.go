package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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
// restore of a whole volume moves its entries instead. Before the first
// move, the list of moves is written to a journal; a restore killed
// between two moves is finished by the next run of the agent, which makes
// the remaining ones (a move whose source is gone is done). Until the
// journal exists, the live data is untouched, and the scratch folder is
// simply removed.

const (
	scratchPrefix = ".devopsellence-restore-"
	journalName   = "journal.json"
	progressName  = "progress.json"
)

// journal lists a restore's moves and every scratch folder it used.
type journal struct {
	Plan    string   `json:"plan"`
	Scratch []string `json:"scratch"`
	Moves   []move   `json:"moves"`
}

// move renames From to To; when To exists (something appeared there
// since the plan), it is first moved to Aside, in the scratch folder.
type move struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Aside string `json:"aside"`
}

// restoreFiles restores the plan's paths into the live volumes.
func (a *Agent) restoreFiles(ctx context.Context, rec *recorder, o RunOptions, p *planned, undo string) {
	s := rec.begin("restore", "files")
	paths := p.plan.Files.Paths
	s.fact("paths", strings.Join(paths, " "))
	if undo != "" {
		s.fact("undo_snapshot_id", undo)
	}
	byRoot := map[string][]string{}
	var roots []string
	for _, pth := range paths {
		r := p.roots[pth]
		if byRoot[r] == nil {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], pth)
	}
	slices.Sort(roots)
	scratch := map[string]string{}
	swapping := false
	defer func() {
		if !swapping {
			for _, d := range scratch {
				_ = os.RemoveAll(d)
			}
		}
	}()
	for _, r := range roots {
		dir := filepath.Join(r, scratchPrefix+p.plan.ID)
		_ = os.RemoveAll(dir)
		if err := os.Mkdir(dir, 0o700); err != nil {
			s.fail(nil, "failed", "cannot create the scratch folder on the volume; the live files were not touched: "+err.Error())
			return
		}
		scratch[r] = dir
		err := a.call(ctx, rec, o, func() error {
			_, err := a.restic.Restore(ctx, restic.RestoreOptions{SnapshotID: p.snap.ID, Target: filepath.Join(dir, "new"), Includes: byRoot[r]}, a.restoreProgress)
			return err
		})
		if err != nil {
			s.fail(exitOf(err), class(err), "restic restore into the scratch folder failed; the live files were not touched: "+message(err))
			return
		}
	}
	var got operate.Counts
	for _, pth := range paths {
		newP := filepath.Join(scratch[p.roots[pth]], "new", pth)
		for _, k := range p.kept {
			if under(k, pth) {
				_ = os.RemoveAll(filepath.Join(scratch[p.roots[pth]], "new", k))
			}
		}
		c := countFiles(newP)
		if want := p.expected[pth]; c != want {
			s.fail(code(1), "verify_failed", fmt.Sprintf("the restored copy of %s holds %d file(s), %d bytes; the snapshot %d, %d bytes. The live files were not touched", pth, c.Files, c.Bytes, want.Files, want.Bytes))
			return
		}
		got.Files += c.Files
		got.Bytes += c.Bytes
	}
	if ctx.Err() != nil {
		s.fail(nil, "interrupted", "interrupted before anything was moved into place; the live files were not touched")
		return
	}
	j, err := a.moves(p, paths, scratch)
	if err == nil {
		err = writeJSON(filepath.Join(scratch[roots[0]], journalName), j)
	}
	if err != nil {
		s.fail(nil, "failed", "cannot prepare the moves; the live files were not touched: "+err.Error())
		return
	}
	// From here on the restore goes to its end, whatever the context
	// says: the moves are quick, and a half-moved volume is what this
	// design avoids. A kill is finished by the next run.
	swapping = true
	problems := runMoves(j, 0, filepath.Join(scratch[roots[0]], progressName))
	finishJournal(j, filepath.Join(scratch[roots[0]], journalName))
	s.fact("files_restored", got.Files)
	s.fact("bytes_restored", got.Bytes)
	if len(problems) > 0 {
		s.fail(code(1), "restore_failed", "some moves failed: "+strings.Join(head(problems, 5), "; ")+fmt.Sprintf("; the undo is snapshot %s", short(undo)))
		return
	}
	keep := a.keeper(roots)
	var live operate.Counts
	for _, pth := range paths {
		_, _ = walkLive(pth, keep, func(_ string, d fs.DirEntry, size int64) {
			if d.Type().IsRegular() {
				live.Add(size)
			}
		})
	}
	if live != got {
		s.fail(code(1), "verify_failed", fmt.Sprintf("moved into place, but the live paths hold %d file(s), %d bytes where the snapshot holds %d, %d bytes (the app may have written since); the undo is snapshot %s", live.Files, live.Bytes, got.Files, got.Bytes, short(undo)))
		return
	}
	s.ok(0, fmt.Sprintf("restored %d file(s), %s, from %s into %s; the undo is snapshot %s", got.Files, bytesText(got.Bytes), short(p.snap.ID), strings.Join(paths, " "), or(short(undo), "(none: nothing was there)")))
}

// moves lists the renames that put the restored paths in place: first the
// kept live paths into the restored tree (a database inside a restored
// folder stays the live one), then the live paths out, then the restored
// ones in. It makes the folders the moves need.
func (a *Agent) moves(p *planned, paths []string, scratch map[string]string) (*journal, error) {
	j := &journal{Plan: p.plan.ID}
	for _, d := range scratch {
		j.Scratch = append(j.Scratch, d)
	}
	slices.Sort(j.Scratch)
	var keptMoves, outMoves, inMoves []move
	for _, pth := range paths {
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
				return nil, err
			}
			if err := os.MkdirAll(filepath.Dir(newOf(k)), 0o755); err != nil {
				return nil, err
			}
			keptMoves = append(keptMoves, move{From: k, To: newOf(k), Aside: oldOf(k) + ".appeared"})
		}
		if pth != root {
			if err := os.MkdirAll(filepath.Dir(oldOf(pth)), 0o700); err != nil {
				return nil, err
			}
			if err := os.MkdirAll(filepath.Dir(pth), 0o755); err != nil {
				return nil, err
			}
			outMoves = append(outMoves, move{From: pth, To: oldOf(pth), Aside: oldOf(pth) + ".appeared"})
			inMoves = append(inMoves, move{From: newOf(pth), To: pth, Aside: oldOf(pth) + ".appeared"})
			continue
		}
		if err := os.MkdirAll(oldOf(root), 0o700); err != nil {
			return nil, err
		}
		liveEntries, err := os.ReadDir(root)
		if err != nil {
			return nil, err
		}
		for _, e := range liveEntries {
			if strings.HasPrefix(e.Name(), scratchPrefix) || slices.Contains(top, e.Name()) {
				continue
			}
			q := filepath.Join(root, e.Name())
			outMoves = append(outMoves, move{From: q, To: oldOf(q), Aside: oldOf(q) + ".appeared"})
		}
		newEntries, err := os.ReadDir(newOf(root))
		if err != nil {
			return nil, err
		}
		for _, e := range newEntries {
			if slices.Contains(top, e.Name()) {
				continue
			}
			q := filepath.Join(root, e.Name())
			inMoves = append(inMoves, move{From: newOf(q), To: q, Aside: oldOf(q) + ".appeared"})
		}
	}
	j.Moves = slices.Concat(keptMoves, outMoves, inMoves)
	return j, nil
}

// runMoves makes the journal's moves from start on, noting in progress
// (when set) how many are done after each. A move whose source is gone was
// made (the run that made it died before noting it). It goes on past a
// failed move, and returns what failed.
func runMoves(j *journal, start int, progress string) []string {
	var problems []string
	for i := start; i < len(j.Moves); i++ {
		m := j.Moves[i]
		if exists(m.From) {
			if exists(m.To) {
				_ = os.RemoveAll(m.Aside)
				if err := os.Rename(m.To, m.Aside); err != nil {
					problems = append(problems, err.Error())
				}
			}
			if err := os.Rename(m.From, m.To); err != nil {
				problems = append(problems, err.Error())
			}
		}
		if progress != "" {
			_ = writeJSON(progress, i+1)
		}
	}
	return problems
}

// doneMoves reads how many moves a restore noted as done.
func doneMoves(progress string) int {
	var n int
	if data, err := os.ReadFile(progress); err == nil && json.Unmarshal(data, &n) == nil && n > 0 {
		return n
	}
	return 0
}

// finishJournal removes the journal, then the scratch folders (with the
// old data: the pre-restore snapshot is the undo).
func finishJournal(j *journal, path string) {
	_ = os.Remove(path)
	for _, d := range j.Scratch {
		_ = os.RemoveAll(d)
	}
}

// finishSwaps finishes what restores killed while they moved paths into
// place left (their journal's remaining moves), and removes the scratch
// folders of restores killed before (the live data was not touched).
func (a *Agent) finishSwaps() {
	var dirs []string
	for _, r := range a.Config.Paths {
		found, _ := filepath.Glob(filepath.Join(r, scratchPrefix+"*"))
		dirs = append(dirs, found...)
	}
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, journalName))
		if err != nil {
			continue
		}
		var j journal
		if json.Unmarshal(data, &j) != nil {
			continue
		}
		problems := runMoves(&j, doneMoves(filepath.Join(d, progressName)), filepath.Join(d, progressName))
		finishJournal(&j, filepath.Join(d, journalName))
		a.Out.Say("restore: finished restore %s, which was interrupted while it moved paths into place%s", j.Plan, problemText(problems))
	}
	for _, d := range dirs {
		if exists(d) {
			a.Out.Say("restore: removing %s, left by a restore interrupted before it changed anything", d)
			_ = os.RemoveAll(d)
		}
	}
}

func problemText(problems []string) string {
	if len(problems) == 0 {
		return ""
	}
	return " (some moves failed: " + strings.Join(head(problems, 3), "; ") + ")"
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
