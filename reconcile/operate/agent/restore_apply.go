package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// restore carries out the plan the person approved, in the guide's order:
// the plan is worked out again and must be the one shown (same ID: same
// snapshot, same target, same live paths or tables); into live data, the
// approval must name that plan, and a fresh backup of exactly
// what will be overwritten must be saved and found in the repository
// before anything is overwritten (it is the undo); then the restore, and a
// check of what it left.
func (a *Agent) restore(ctx context.Context, rec *recorder, o RunOptions) {
	req := o.Restore
	s := rec.begin("plan", "restore")
	if req == nil || req.Plan == "" {
		s.fail(nil, "not_approved", "a restore runs only against the ID of a plan it showed: run devopsellence-backup restore")
		return
	}
	if slices.Contains(a.finished, req.Plan) {
		// This very plan was killed while it moved paths into place, and
		// this run finished it first: its evidence is stored.
		s.ok(0, fmt.Sprintf("restore %s was interrupted while it moved paths into place; this run finished it first and stored its evidence", req.Plan))
		return
	}
	var p *planned
	err := a.call(ctx, rec, o, func() error {
		var err error
		p, err = a.plan(ctx, *req)
		return err
	})
	if err != nil {
		failStep(s, err)
		return
	}
	rec.plan = p.plan
	s.fact("plan_id", p.plan.ID)
	s.fact("snapshot_id", p.plan.Snapshot.ID)
	if p.plan.Target != "" {
		s.fact("target", p.plan.Target)
	}
	switch {
	case p.plan.ID != req.Plan:
		changed := "Nothing was changed"
		if len(a.finished) > 0 {
			changed = fmt.Sprintf("This run first finished restore %s, which was interrupted while it moved paths into place (its evidence is stored), and changed nothing else", strings.Join(a.finished, ", "))
		}
		s.fail(nil, "plan_changed", fmt.Sprintf("the plan changed since it was shown (it was %s, it is now %s): the snapshot, the target or the live data's files or tables differ. %s: run restore again to see the new plan", req.Plan, p.plan.ID, changed))
		return
	case p.plan.Live() && req.Approve != p.plan.ID:
		// The agent checks the approval itself, against the plan it
		// worked out: no bug on the operator's side can skip it.
		s.fail(nil, "not_approved", fmt.Sprintf("a restore into live data needs a person's approval of plan %s, the plan they reviewed (got %q); nothing was changed", p.plan.ID, req.Approve))
		return
	}
	s.ok(0, fmt.Sprintf("plan %s: snapshot %s into %s", p.plan.ID, short(p.plan.Snapshot.ID), or(p.plan.Target, "the live data")))
	if !p.plan.Live() {
		a.restoreToTarget(ctx, rec, o, p)
		return
	}
	var before manifest
	if p.plan.Files != nil {
		// What the live paths hold before the undo snapshot: the moves
		// wait for nothing to have changed since.
		var err error
		if before, err = manifestOf(p.plan.Files.Paths, a.keeper(p.rootList())); err != nil {
			rec.begin("pre-restore", "files").fail(nil, "failed", "cannot read the live paths; nothing was changed: "+err.Error())
			return
		}
	}
	undo, ok := a.preRestore(ctx, rec, o, p)
	if !ok || ctx.Err() != nil {
		return
	}
	if p.plan.Files != nil {
		a.restoreFiles(ctx, rec, o, p, undo, before)
	} else {
		a.restoreDatabase(ctx, rec, o, p, undo)
	}
}

// preRestore backs up exactly what the restore will overwrite, tagged as
// the plan's undo, and finds the snapshot in the repository. Nothing goes
// on unless it is saved whole.
func (a *Agent) preRestore(ctx context.Context, rec *recorder, o RunOptions, p *planned) (string, bool) {
	po := o
	po.Tags = append(append([]string{}, o.Tags...), operate.TagPreRestore+p.plan.ID, operate.TagRestoreOf+p.snap.ID)
	var id string
	if p.plan.Files != nil {
		var paths []string
		for _, pth := range p.plan.Files.Paths {
			if exists(pth) {
				paths = append(paths, pth)
			}
		}
		s := rec.begin("pre-restore", "files")
		if len(paths) == 0 {
			s.ok(0, "none of the paths exists live: nothing to overwrite, so nothing to back up")
			return "", true
		}
		s.fact("paths", strings.Join(paths, " "))
		var sum *restic.BackupSummary
		err := a.call(ctx, rec, po, func() error {
			var err error
			sum, err = a.restic.Backup(ctx, restic.BackupOptions{Host: a.Config.Host, Tags: a.snapTags(po, operate.TagFiles), Paths: paths,
				Excludes: append(append([]string{}, a.Config.Excludes...), p.kept...), ExcludeCaches: a.Config.ExcludeCaches}, nil)
			return err
		})
		a.recordBackup(s, sum, err, nil)
		if sum != nil {
			id = sum.SnapshotID
		}
	} else {
		if p.db.Engine == spec.EngineSQLite && !exists(p.db.Path) {
			s := rec.begin("pre-restore", "db")
			s.ok(0, "the live database file does not exist: nothing to overwrite, so nothing to back up")
			return "", true
		}
		if err := a.dumpDatabase(ctx, rec, po, p.db); fatal(err) {
			return "", false
		}
		s := &rec.ev.Steps[len(rec.ev.Steps)-1]
		s.Name = "pre-restore"
		id = s.Fact("snapshot_id")
	}
	last := rec.ev.Steps[len(rec.ev.Steps)-1]
	if last.Result != operate.ResultOK || id == "" {
		v := rec.begin("pre-restore saved", "restore")
		v.fail(nil, "pre_restore_failed", "the backup of what the restore would overwrite did not complete, so nothing was overwritten: "+last.Message)
		return "", false
	}
	v := rec.begin("pre-restore saved", "restore")
	saved, err := a.restic.Snapshots(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{append(a.dataTags(), operate.TagPreRestore+p.plan.ID)}, NoLock: true})
	found := false
	for _, sn := range saved {
		found = found || strings.HasPrefix(sn.ID, id)
	}
	if err != nil || !found {
		v.fail(exitOf(err), "pre_restore_failed", fmt.Sprintf("the pre-restore snapshot %s was not found in the repository (%s), so nothing was overwritten", short(id), or(message(err), "not listed")))
		return "", false
	}
	v.fact("snapshot_id", id)
	v.ok(0, fmt.Sprintf("snapshot %s holds what the restore overwrites: it is the undo (devopsellence-backup restore %s)", short(id), short(id)))
	return id, true
}

// restoreToTarget restores into a scratch folder: live data is not
// touched, so no approval and no backup are needed first.
func (a *Agent) restoreToTarget(ctx context.Context, rec *recorder, o RunOptions, p *planned) {
	s := rec.begin("restore", "restore")
	t := p.plan.Target
	s.fact("target", t)
	if err := os.MkdirAll(t, 0o700); err != nil {
		s.fail(nil, "bad_target", err.Error())
		return
	}
	var includes []string
	if p.plan.Files != nil {
		includes = p.plan.Files.Paths
	}
	var sum restic.RestoreSummary
	err := a.call(ctx, rec, o, func() error {
		var err error
		sum, err = a.restic.Restore(ctx, restic.RestoreOptions{SnapshotID: p.snap.ID, Target: t, Includes: includes}, a.restoreProgress)
		return err
	})
	if err != nil {
		s.fail(exitOf(err), class(err), "restic restore failed: "+message(err))
		return
	}
	var got operate.Counts
	_ = filepath.WalkDir(t, func(q string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				got.Add(fi.Size())
			}
		}
		return nil
	})
	s.fact("files_restored", got.Files)
	s.fact("bytes_restored", got.Bytes)
	if sum.Reported {
		s.fact("restic_files_restored", sum.FilesRestored)
	}
	s.ok(0, fmt.Sprintf("restored %d file(s), %s, from %s into %s", got.Files, bytesText(got.Bytes), short(p.snap.ID), t))
}

func (a *Agent) restoreProgress(p restic.Progress) {
	a.Out.Progress(operate.Progress{Step: "restore", Percent: p.PercentDone * 100, BytesDone: p.BytesDone, BytesTotal: p.TotalBytes,
		FilesDone: p.FilesDone, FilesTotal: p.TotalFiles, ETASeconds: p.SecondsRemaining})
}

// lockWait is how long a database restore waits for the app's locks:
// --lock-wait, else the spec's.
func (a *Agent) lockWait(o RunOptions) time.Duration {
	if o.Restore != nil && o.Restore.LockWait > 0 {
		return o.Restore.LockWait
	}
	if a.Config.LockWait > 0 {
		return a.Config.LockWait
	}
	return spec.DefaultLockWait.Std()
}

// restoreDatabase writes the snapshot's dump into the live database: in
// one transaction for PostgreSQL, through the backup API for SQLite, by
// an atomic table swap for MySQL. Each leaves the database as it was when
// it fails or is interrupted.
func (a *Agent) restoreDatabase(ctx context.Context, rec *recorder, o RunOptions, p *planned, undo string) {
	s := rec.begin("restore", "db")
	d := p.db
	s.fact("database", d.Name)
	s.fact("engine", d.Engine)
	s.fact("target", p.live.String())
	if undo != "" {
		s.fact("undo_snapshot_id", undo)
	}
	dir, err := os.MkdirTemp(a.tempDir(), "devopsellence-restore-")
	if err != nil {
		s.fail(nil, "failed", "cannot create a scratch folder: "+err.Error())
		return
	}
	defer os.RemoveAll(dir)
	file := p.snap.Paths[0]
	dump := filepath.Join(dir, filepath.Base(file))
	if err := a.call(ctx, rec, o, func() error { return a.dumpTo(ctx, p.snap.ID, file, dump) }); err != nil {
		s.fail(exitOf(err), class(err), "restic dump failed, nothing was changed: "+message(err))
		return
	}
	wait := a.lockWait(o)
	s.fact("lock_wait", wait.String())
	switch d.Engine {
	case spec.EngineSQLite:
		err = dbtool.RestoreSQLite(ctx, d.Path, dump, wait)
	default:
		var f *os.File
		if f, err = os.Open(dump); err != nil {
			break
		}
		if d.Engine == spec.EnginePostgres {
			err = dbtool.RestorePostgres(ctx, p.live.Conn, dumpFormat(d), f, wait)
		} else {
			err = dbtool.RestoreMySQL(ctx, p.live.Conn, dbtool.Conn{}, f, a.Now(), wait)
		}
		f.Close()
	}
	if dbtool.ClassOf(err) == dbtool.ClassLocked {
		s.fail(nil, string(dbtool.ClassLocked), fmt.Sprintf("the app holds a lock on %s (an open transaction, or a writer) for longer than the restore waits for it (%s), so nothing was changed: let that transaction end or stop the app's writes, or allow a longer wait (spec.restore.lockWait, or restore --lock-wait). %s", d.Name, wait, message(err)))
		return
	}
	if err != nil {
		failStep(s, err)
		return
	}
	sum, err := dbtool.Summarize(ctx, p.live)
	if err != nil {
		s.fail(nil, "verify_failed", "restored, but the database could not be counted: "+message(err))
		return
	}
	s.fact("restored", sum.String())
	if p.inSnap == nil {
		s.ok(0, fmt.Sprintf("restored %s into %s: now %s", short(p.snap.ID), p.live, sum))
		return
	}
	var differ []string
	for t, n := range p.inSnap {
		if got, ok := sum.PerTable[t]; !ok || got != n {
			differ = append(differ, fmt.Sprintf("%s: %d in the snapshot, %d now", t, n, got))
		}
	}
	if d.Engine != spec.EnginePostgres {
		for t := range sum.PerTable {
			if _, ok := p.inSnap[t]; !ok {
				differ = append(differ, t+": not in the snapshot")
			}
		}
	}
	s.fact("matches_snapshot", len(differ) == 0)
	if len(differ) > 0 {
		slices.Sort(differ)
		s.fail(code(1), "verify_failed", fmt.Sprintf("restored %s, but the database differs from the snapshot (%s); the app may have written since. The undo is snapshot %s", short(p.snap.ID), strings.Join(head(differ, 5), "; "), short(undo)))
		return
	}
	s.ok(0, fmt.Sprintf("restored %s into %s: %s, every table of the snapshot with its rows", short(p.snap.ID), p.live, sum))
}
