package agent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// drill restores the newest files snapshot and the newest dump of each
// database (chosen from one snapshot listing by host, tags, identity and
// path; never a bare "latest") into a scratch folder or a scratch
// database, verifies them, and removes them again whatever ends the run.
// Live data is never a restore target. Leftovers of an earlier drill that
// was killed are removed first.
func (a *Agent) drill(ctx context.Context, rec *recorder, o RunOptions) {
	c := a.Config
	a.sweepDrills(ctx)
	scr, err := os.MkdirTemp(a.tempDir(), drillDirPrefix)
	if err != nil {
		s := rec.begin("drill", "drill")
		s.fail(nil, "failed", "cannot create a scratch folder: "+err.Error())
		return
	}
	defer os.RemoveAll(scr)
	for _, p := range c.Paths {
		if scr == p || strings.HasPrefix(scr, p+"/") {
			s := rec.begin("drill", "drill")
			s.fail(nil, "unsafe_scratch", fmt.Sprintf("the scratch folder %s lies inside the backed-up folder %s: set TMPDIR elsewhere", scr, p))
			return
		}
	}
	s := rec.begin("snapshots", "drill")
	var snaps []operate.Snapshot
	err = a.call(ctx, rec, o, func() error {
		var err error
		snaps, err = a.listOurs(ctx)
		return err
	})
	if err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return
	}
	snaps, _ = a.identity().Trusted(snaps)
	snaps = slices.DeleteFunc(snaps, func(sn operate.Snapshot) bool { return operate.InFuture(sn.Time, a.Now()) || operate.Suspect(sn) })
	if len(c.Paths) > 0 {
		a.drillFiles(ctx, rec, o, scr, snaps)
	}
	var declared []string
	dbs := slices.Clone(c.Databases)
	for _, d := range dbs {
		if d.Engine == spec.EngineSQLite {
			declared = append(declared, d.Path)
		}
	}
	for _, f := range findSQLite(c.Paths, declared) {
		dbs = append(dbs, spec.Database{Name: autoName(f), Engine: spec.EngineSQLite, Path: f})
	}
	for _, d := range dbs {
		if ctx.Err() != nil {
			return
		}
		if twin := a.twinOf(d); twin != "" {
			skipTwin(rec, d, twin)
			continue
		}
		if d.Engine == spec.EngineCommand {
			a.drillCommand(ctx, rec, o, scr, snaps, d)
			continue
		}
		a.drillDatabase(ctx, rec, o, scr, snaps, d)
	}
}

const drillDirPrefix = "devopsellence-drill-"

// newestOf is the newest snapshot carrying every tag and every path.
func newestOf(snaps []operate.Snapshot, tags, paths []string) *operate.Snapshot {
	var best *operate.Snapshot
	for i, s := range snaps {
		ok := true
		for _, t := range tags {
			ok = ok && s.HasTag(t)
		}
		for _, p := range paths {
			ok = ok && slices.Contains(s.Paths, p)
		}
		if ok && len(s.Paths) >= len(paths) && (best == nil || s.Time.After(best.Time)) {
			best = &snaps[i]
		}
	}
	return best
}

// drillFiles restores the newest files snapshot of exactly these paths,
// checks that each path came back, and compares a sample of files with the
// live ones that did not change since the snapshot.
func (a *Agent) drillFiles(ctx context.Context, rec *recorder, o RunOptions, scr string, snaps []operate.Snapshot) {
	c := a.Config
	s := rec.begin("files", "files")
	snap := newestOf(snaps, []string{operate.TagFiles}, c.Paths)
	if snap == nil || len(snap.Paths) != len(c.Paths) {
		s.fail(nil, "no_snapshot", "no files snapshot of these paths for this host and tags: run devopsellence-backup backup first")
		return
	}
	s.fact("snapshot_id", snap.ID)
	s.fact("snapshot_time", snap.Time.UTC().Format(time.RFC3339))
	target := filepath.Join(scr, "files")
	err := a.call(ctx, rec, o, func() error {
		_, err := a.restic.Restore(ctx, restic.RestoreOptions{SnapshotID: snap.ID, Target: target}, nil)
		return err
	})
	if err != nil {
		s.fail(exitOf(err), class(err), "restic restore failed: "+message(err))
		return
	}
	var absent []string
	for _, p := range c.Paths {
		if _, err := os.Lstat(filepath.Join(target, p)); err != nil {
			absent = append(absent, p)
		}
	}
	var restored []string
	_ = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			restored = append(restored, p)
		}
		return nil
	})
	s.fact("files_restored", len(restored))
	sample := sampleOf(restored, a.Config.SampleFiles)
	var same, changed, gone, different int
	var differ []string
	for _, r := range sample {
		live := strings.TrimPrefix(r, target)
		fi, err := os.Stat(live)
		switch {
		case err != nil:
			gone++
		case fi.ModTime().After(snap.Time):
			changed++
		case hashFile(r) == hashFile(live):
			same++
		default:
			different++
			differ = append(differ, live)
		}
	}
	s.fact("sampled", len(sample))
	s.fact("identical", same)
	s.fact("changed_since", changed)
	s.fact("gone_since", gone)
	s.fact("different", different)
	switch {
	case len(absent) > 0:
		s.fail(code(1), "verify_failed", fmt.Sprintf("restored snapshot %s lacks: %s", short(snap.ID), strings.Join(absent, " ")))
	case different > 0:
		s.fail(code(1), "verify_failed", fmt.Sprintf("%d sampled file(s) differ from the unchanged live file: %s", different, strings.Join(head(differ, 5), " ")))
	default:
		s.ok(0, fmt.Sprintf("restored %d file(s) from %s; sample of %d: %d identical to the live file, %d changed and %d deleted since the snapshot",
			len(restored), short(snap.ID), len(sample), same, changed, gone))
	}
}

// sampleOf picks n files spread evenly over the sorted list.
func sampleOf(files []string, n int) []string {
	slices.Sort(files)
	if n <= 0 {
		return nil
	}
	if len(files) <= n {
		return files
	}
	out := make([]string, 0, n)
	step := len(files) / n
	for i := 0; i < len(files) && len(out) < n; i += step {
		out = append(out, files[i])
	}
	return out
}

func hashFile(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "unreadable:" + p
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "unreadable:" + p
	}
	return string(h.Sum(nil))
}

// drillDatabase restores the newest dump of one database into a scratch
// copy (a file for SQLite, a new database on the scratch server otherwise),
// compares tables and row counts with the source and runs the spec's check,
// then drops the copy, whatever ends the run.
func (a *Agent) drillDatabase(ctx context.Context, rec *recorder, o RunOptions, scr string, snaps []operate.Snapshot, d spec.Database) {
	s := rec.begin("db:"+d.Name, "db")
	s.fact("engine", d.Engine)
	file := operate.DumpFile(d)
	snap := drillSnapshot(s, snaps, d)
	if snap == nil {
		return
	}
	s.fact("snapshot_id", snap.ID)
	s.fact("snapshot_time", snap.Time.UTC().Format(time.RFC3339))
	if d.Engine == spec.EngineRedis {
		a.drillRedis(ctx, rec, o, scr, s, snap, d)
		return
	}
	source, err := a.database(d)
	if err != nil && d.Engine != spec.EngineSQLite {
		failStep(s, err)
		return
	}
	var server dbtool.Database
	if d.Engine != spec.EngineSQLite {
		if server, err = a.scratchServer(d); err != nil {
			failStep(s, err)
			return
		}
		s.fact("scratch_server", server.Conn.Redacted())
	}
	dump := filepath.Join(scr, strings.TrimPrefix(file, "/"))
	err = a.call(ctx, rec, o, func() error { return a.dumpTo(ctx, snap.ID, file, dump) })
	if err != nil {
		s.fail(exitOf(err), class(err), "restic dump failed: "+message(err))
		return
	}
	defer os.Remove(dump)
	restored, drop, ok := a.drillRestored(ctx, s, d, server, dump)
	if drop != nil {
		defer drop()
	}
	if ok {
		a.verify(ctx, s, d, restored, source, snap.ID)
	}
}

// drillSnapshot is the newest dump of d, or nil when there is none, which
// it records on s: skipped for a database the backup found but has not
// backed up yet, or an optional one not created yet; failed otherwise.
func drillSnapshot(s *stepRun, snaps []operate.Snapshot, d spec.Database) *operate.Snapshot {
	file := operate.DumpFile(d)
	snap := newestOf(snaps, []string{operate.TagDB, operate.TagDBName + d.Name}, []string{file})
	if snap != nil {
		return snap
	}
	if strings.HasPrefix(d.Name, "auto-") {
		s.done(resultSkipped, nil, "no_snapshot", "found in the volumes but not backed up yet")
		return nil
	}
	if _, err := os.Lstat(d.Path); d.Optional && errors.Is(err, fs.ErrNotExist) {
		notCreated(s, d)
		return nil
	}
	s.fail(nil, "no_snapshot", fmt.Sprintf("no snapshot of %s for this host and tags: run devopsellence-backup backup first", file))
	return nil
}

// drillRestored makes the drill's restored copy of the dump: the SQLite
// file itself once its integrity is checked, or a scratch database on
// server with the dump loaded, which drop (when not nil) removes. ok is
// false when it failed, which it records on s.
func (a *Agent) drillRestored(ctx context.Context, s *stepRun, d spec.Database, server dbtool.Database, dump string) (restored dbtool.Database, drop func(), ok bool) {
	if d.Engine == spec.EngineSQLite {
		if err := dbtool.VerifyDump(ctx, dbtool.SQLite, "", dump); err != nil {
			s.fact("integrity_check", message(err))
			failStep(s, err)
			return restored, nil, false
		}
		s.fact("integrity_check", "ok")
		return dbtool.SQLiteFile(dump), nil, true
	}
	scratch, err := dbtool.NewScratch(server.Conn, d.Name, a.Now())
	if err != nil {
		failStep(s, err)
		return restored, nil, false
	}
	a.noteScratch(d, scratch.Name)
	drop = func() {
		cctx, cancel := dbtool.CleanupContext(ctx)
		defer cancel()
		if err := scratch.Drop(cctx); err != nil {
			a.Out.Say("drill: could not drop scratch database %s: %v", scratch.Name, err)
			return
		}
		a.forgetScratch(scratch.Name)
	}
	s.fact("scratch_database", scratch.Name)
	if err := scratch.Create(ctx); err != nil {
		failStep(s, err)
		return restored, drop, false
	}
	f, err := os.Open(dump)
	if err != nil {
		s.fail(nil, "failed", err.Error())
		return restored, drop, false
	}
	err = scratch.Load(ctx, dumpFormat(d), f)
	f.Close()
	if err != nil {
		failStep(s, err)
		return restored, drop, false
	}
	return scratch.DB, drop, true
}

// verify compares the restored copy with the source and runs the spec's
// check, then records the step.
func (a *Agent) verify(ctx context.Context, s *stepRun, d spec.Database, restored, source dbtool.Database, id string) {
	rs, err := dbtool.Summarize(ctx, restored)
	if err != nil {
		failStep(s, err)
		return
	}
	s.fact("restored", rs.String())
	srcText := "source missing"
	match := false
	if ss, err := dbtool.Summarize(ctx, source); err == nil {
		srcText, match = ss.String(), rs.Equal(ss)
	}
	s.fact("source", srcText)
	s.fact("matches_source", match)
	var problems []string
	if d.Check != nil && d.Check.Query != "" {
		qc, err := dbtool.CompareQuery(ctx, restored, source, d.Check.Query)
		s.fact("check_output", qc.Restored)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case !qc.Match:
			problems = append(problems, fmt.Sprintf("check query: the restored copy gives %q, the source %q", qc.Restored, qc.Source))
		}
	}
	if d.Check != nil && d.Check.Command != "" {
		cr, err := dbtool.RunCheckCommand(ctx, restored, d.Check.Command)
		s.fact("check_exit_code", cr.ExitCode)
		if err != nil {
			problems = append(problems, fmt.Sprintf("check command exited %d: %s", cr.ExitCode, message(err)))
		}
	}
	switch {
	case len(problems) > 0:
		s.fail(code(1), "verify_failed", strings.Join(problems, "; "))
	case match:
		s.ok(0, fmt.Sprintf("restored %s into a scratch copy: %s, same as the source now", short(id), rs))
	default:
		s.ok(0, fmt.Sprintf("restored %s into a scratch copy: %s; the source has changed since (%s)", short(id), rs, srcText))
	}
}

// The scratch databases this container created and has not dropped yet,
// so the next drill drops what a killed one left.
type scratchLedger map[string]string // name → the scratch secret's name

func (a *Agent) ledgerPath() string { return a.Runs.path("scratch-databases.json") }

func (a *Agent) readLedger() scratchLedger {
	l := scratchLedger{}
	if data, err := os.ReadFile(a.ledgerPath()); err == nil {
		_ = json.Unmarshal(data, &l)
	}
	return l
}

func (a *Agent) noteScratch(d spec.Database, name string) {
	l := a.readLedger()
	l[name] = scratchKey(d)
	_ = writeJSON(a.ledgerPath(), l)
}

func (a *Agent) forgetScratch(name string) {
	l := a.readLedger()
	delete(l, name)
	_ = writeJSON(a.ledgerPath(), l)
}

// sweepDrills removes what killed drills left: scratch folders, and the
// scratch databases in the ledger.
func (a *Agent) sweepDrills(ctx context.Context) {
	if dirs, err := filepath.Glob(filepath.Join(a.tempDir(), drillDirPrefix+"*")); err == nil {
		for _, d := range dirs {
			a.Out.Say("drill: removing %s, left by an earlier drill", d)
			_ = os.RemoveAll(d)
		}
	}
	for name, where := range a.readLedger() {
		server, err := a.ledgerServer(where)
		if err != nil {
			continue
		}
		s, err := dbtool.NewScratch(server.Conn, "sweep", a.Now())
		if err != nil {
			continue
		}
		s.Name = name // Drop drops by name on the server
		cctx, cancel := dbtool.CleanupContext(ctx)
		if s.Drop(cctx) == nil {
			a.Out.Say("drill: dropped scratch database %s, left by an earlier drill", name)
			a.forgetScratch(name)
		}
		cancel()
	}
}
