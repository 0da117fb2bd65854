package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// planned is a plan and what carrying it out needs.
type planned struct {
	plan *operate.RestorePlan
	snap restic.Snapshot
	// files: each path's root (the backed-up folder it lies in, on the
	// same volume), what the snapshot holds of it, and the live paths the
	// restore keeps.
	roots    map[string]string
	expected map[string]operate.Counts
	kept     []string
	// db: the spec's database, the live one, and the snapshot's rows per
	// table (nil when unknown).
	db     spec.Database
	live   dbtool.Database
	inSnap map[string]int64
}

// rootList is the volume roots of the plan's paths.
func (p *planned) rootList() []string {
	var out []string
	for _, r := range p.roots {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// maxSample is how many names of each kind a plan shows.
const maxSample = 10

// PlanRestore prints the plan of a restore without doing it. It stores no
// evidence; a refused plan says why.
func (a *Agent) PlanRestore(ctx context.Context, o RunOptions, req operate.RestoreRequest) int {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	done, ok := a.readOnly(o, operate.OpRestore)
	if !ok {
		return operate.ExitInterrupted
	}
	rec := a.newRecorder(operate.OpRestore, o)
	s := rec.begin("plan", "restore")
	var plan *operate.RestorePlan
	v, err := a.restic.Version(ctx)
	if err == nil {
		rec.ev.ResticVersion = v.String()
		var p *planned
		if p, err = a.plan(ctx, req); err == nil {
			plan = p.plan
		}
	}
	if err != nil {
		failStep(s, err)
	} else {
		s.fact("plan_id", plan.ID)
		s.ok(0, "plan "+plan.ID+" for snapshot "+short(plan.Snapshot.ID))
	}
	ev := rec.finish(ctx.Err() != nil)
	done(a.Out.Line(operate.Line{Type: operate.LineResult, Evidence: ev, Plan: plan,
		Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol, ResticVersion: ev.ResticVersion}}))
	return ev.ExitCode
}

// plan works out what a restore would do, reading the repository and the
// live data, changing nothing.
func (a *Agent) plan(ctx context.Context, req operate.RestoreRequest) (*planned, error) {
	if err := a.unfinished(); err != nil {
		return nil, err
	}
	cfg, err := a.restic.Config(ctx)
	if err != nil {
		return nil, err
	}
	snap, list, err := a.pick(ctx, req)
	if err != nil {
		return nil, err
	}
	l, ok := a.listed(snap, runsOf(list))
	if !ok {
		return nil, &stepError{class: "no_snapshot", msg: fmt.Sprintf("snapshot %s holds evidence, not a backup: devopsellence-backup snapshots lists the backups", short(snap.ID))}
	}
	p := &planned{snap: snap, plan: &operate.RestorePlan{Environment: a.Config.Environment, Repository: a.Config.Repository,
		RepositoryID: cfg.ID, Copy: a.copy, Snapshot: l, Target: req.Target}}
	if c := a.cutoff(req); !c.IsZero() {
		c = c.UTC()
		p.plan.Before = &c
	}
	if req.Target != "" {
		if err := a.checkTarget(req.Target); err != nil {
			return nil, err
		}
	}
	var shape []string
	if l.Kind == "files" {
		shape, err = a.planFiles(ctx, p, req.Paths)
	} else {
		if len(req.Paths) > 0 {
			return nil, &stepError{class: "bad_path", msg: fmt.Sprintf("snapshot %s is a dump of database %s: it is restored whole, without paths", short(snap.ID), l.DB)}
		}
		shape, err = a.planDatabase(ctx, p)
	}
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, line := range append([]string{a.Config.Environment, cfg.ID, snap.ID, req.Target, a.copy}, shape...) {
		h.Write([]byte(line + "\n"))
	}
	p.plan.ID = hex.EncodeToString(h.Sum(nil))[:12]
	return p, nil
}

// pick finds the snapshot the request names, or the newest of the group
// --latest names (a restore's own undo snapshots left out).
func (a *Agent) pick(ctx context.Context, req operate.RestoreRequest) (restic.Snapshot, []restic.Snapshot, error) {
	if req.Latest == "" {
		return a.resolve(ctx, req.Snapshot)
	}
	db, isDB := strings.CutPrefix(req.Latest, "db:")
	if req.Latest != "files" && req.Latest != operate.LatestDatabase && (!isDB || db == "") {
		return restic.Snapshot{}, nil, &stepError{class: "bad_latest", msg: fmt.Sprintf("--latest %q: want files or db:NAME", req.Latest)}
	}
	list, err := a.ours(ctx)
	if err != nil {
		return restic.Snapshot{}, nil, err
	}
	cutoff := a.cutoff(req)
	cand := list
	if !cutoff.IsZero() {
		cand = nil
		for _, s := range list {
			if s.Time.Before(cutoff) {
				cand = append(cand, s)
			}
		}
	}
	group, what := req.Latest, req.Latest
	if group == operate.LatestDatabase {
		// The spec names no database: the one the backups found (a SQLite
		// file in a volume), when there is one.
		what = "a database"
		switch names := databasesIn(cand, a.Now()); len(names) {
		case 0:
		case 1:
			group = "db:" + names[0]
		default:
			return restic.Snapshot{}, nil, &stepError{class: "bad_latest", msg: fmt.Sprintf("the backups hold %d databases (%s): name the one to restore with --latest db:NAME", len(names), strings.Join(names, ", "))}
		}
	}
	best := latestOf(cand, group, a.Config.Paths, a.Now())
	if best < 0 && !cutoff.IsZero() {
		return restic.Snapshot{}, nil, &stepError{class: "no_snapshot", msg: fmt.Sprintf("no snapshot of %s for this app in %s was taken before %s (the service's clock): devopsellence-backup snapshots lists them", what, a.Config.Repository, cutoff.UTC().Format(time.RFC3339))}
	}
	if best < 0 {
		return restic.Snapshot{}, nil, &stepError{class: "no_snapshot", msg: fmt.Sprintf("no snapshot of %s for this app in %s: devopsellence-backup snapshots lists them", what, a.Config.Repository)}
	}
	return cand[best], list, nil
}

// cutoff is the time a --before request's snapshot must be older than, by
// the service's clock: the operator's time shifted by how far the two
// clocks are apart (zero without --before). Snapshot times are the
// service's; a release's time is the deploying machine's.
func (a *Agent) cutoff(req operate.RestoreRequest) time.Time {
	if req.Before.IsZero() {
		return time.Time{}
	}
	skew := a.Now().Sub(req.Now)
	if req.Now.IsZero() || (skew < skewNoise && skew > -skewNoise) {
		return req.Before
	}
	return req.Before.Add(skew)
}

// skewNoise is how far apart the clocks may look only because the exec
// took time: a measured difference this small is not a clock's error, and
// shifting by it would let a snapshot taken just after a deploy pass for
// one taken before.
const skewNoise = 5 * time.Second

// planFiles compares what the snapshot holds of each path with the live
// path it replaces. It returns the shape of the live data (names, not
// sizes or times) for the plan's ID.
func (a *Agent) planFiles(ctx context.Context, p *planned, asked []string) ([]string, error) {
	paths, err := a.filesPaths(p, asked)
	if err != nil {
		return nil, err
	}
	keep := a.keeper(p.rootList())
	d := &filesDiff{fp: &operate.FilesPlan{Paths: paths}}
	for _, pth := range paths {
		nodes, err := a.snapshotNodes(ctx, p.snap, pth)
		if err != nil {
			return nil, err
		}
		var live map[string]liveFile
		if p.plan.Live() {
			if live, err = d.readLive(p, keep, pth); err != nil {
				return nil, err
			}
		}
		d.compare(p, pth, nodes, live)
	}
	d.finish(p)
	slices.Sort(d.shape)
	return append(prefixAll("path ", paths), d.shape...), nil
}

// filesPaths are the paths a files restore replaces (those asked, or the
// snapshot's), sorted and checked; for a live restore it notes in p.roots
// the backed-up folder each lies in.
func (a *Agent) filesPaths(p *planned, asked []string) ([]string, error) {
	snap := p.snap
	paths := slices.Clone(asked)
	if len(paths) == 0 {
		paths = slices.Clone(snap.Paths)
	}
	slices.Sort(paths)
	p.roots, p.expected = map[string]string{}, map[string]operate.Counts{}
	for i, pth := range paths {
		if !strings.HasPrefix(pth, "/") || path.Clean(pth) != pth || pth == "/" {
			return nil, &stepError{class: "bad_path", msg: fmt.Sprintf("%q is not a clean absolute path of the snapshot (such as %s)", pth, snap.Paths[0])}
		}
		if !slices.ContainsFunc(snap.Paths, func(sp string) bool { return under(pth, sp) }) {
			return nil, &stepError{class: "bad_path", msg: fmt.Sprintf("%s is not inside the paths of snapshot %s (%s)", pth, short(snap.ID), strings.Join(snap.Paths, " "))}
		}
		if i > 0 && under(pth, paths[i-1]) {
			return nil, &stepError{class: "bad_path", msg: fmt.Sprintf("%s lies inside %s: name each path once", pth, paths[i-1])}
		}
		if p.plan.Live() {
			root, err := a.liveRoot(pth)
			if err != nil {
				return nil, err
			}
			p.roots[pth] = root
		}
	}
	return paths, nil
}

// liveRoot is the backed-up folder the live path pth lies in (the
// innermost), reached without a symbolic link.
func (a *Agent) liveRoot(pth string) (string, error) {
	root := ""
	for _, r := range a.Config.Paths {
		if under(pth, r) && len(r) > len(root) {
			root = r
		}
	}
	if root == "" {
		return "", &stepError{class: "bad_path", msg: fmt.Sprintf("%s is not inside a folder this service backs up (%s): restore it into a scratch folder with --target", pth, strings.Join(a.Config.Paths, " "))}
	}
	if link := linkOnTheWay(root, pth); link != "" {
		return "", &stepError{class: "bad_path", msg: fmt.Sprintf("%s is a symbolic link (to %s) in the live data: a restore never reads or writes through a link, which may lead out of the volume. Restore into a scratch folder with --target, or replace the link by a folder first", link, readLink(link))}
	}
	return root, nil
}

// snapshotNodes is what the snapshot holds at and under pth, by path.
func (a *Agent) snapshotNodes(ctx context.Context, snap restic.Snapshot, pth string) (map[string]restic.Node, error) {
	nodes := map[string]restic.Node{}
	err := a.restic.List(ctx, restic.ListOptions{SnapshotID: snap.ID, Dir: pth, Recursive: true, NoLock: true}, func(n restic.Node) error {
		if under(n.Path, pth) {
			nodes[n.Path] = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, &stepError{class: "bad_path", msg: fmt.Sprintf("%s is not in snapshot %s (devopsellence-backup ls %s lists what it holds)", pth, short(snap.ID), short(snap.ID))}
	}
	return nodes, nil
}

// liveFile is what a plan compares of a live file with the snapshot's.
type liveFile struct {
	size  int64
	mtime time.Time
}

// filesDiff gathers, path after path, how the live files compare with the
// snapshot's: the plan's counts, the names of each kind, and the shape of
// the live data.
type filesDiff struct {
	fp                                        *operate.FilesPlan
	shape, changed, identical, deleted, added []string
}

// readLive reads the live files of pth a restore replaces (noting in p
// what it keeps).
func (d *filesDiff) readLive(p *planned, keep keeper, pth string) (map[string]liveFile, error) {
	if keep.keeps(pth, isDir(pth)) {
		return nil, &stepError{class: "bad_path", msg: fmt.Sprintf("%s is a live database file or excluded from backups, which a files restore leaves as it is: restore a database from its db: snapshot, or restore into a scratch folder with --target", pth)}
	}
	files := map[string]liveFile{}
	kept, err := walkLive(pth, keep, func(q string, de fs.DirEntry, size int64) {
		d.shape = append(d.shape, q)
		if de.Type().IsRegular() {
			lf := liveFile{size: size}
			if fi, err := de.Info(); err == nil {
				lf.mtime = fi.ModTime()
			}
			files[q] = lf
			d.fp.Live.Add(size)
		}
	})
	if err != nil {
		return nil, &stepError{class: "failed", msg: "cannot read the live " + pth + ": " + err.Error()}
	}
	p.kept = append(p.kept, kept...)
	d.shape = append(d.shape, prefixAll("kept ", kept)...)
	return files, nil
}

// compare sorts the files of pth in the snapshot (nodes) and live into
// identical, changed, added and deleted, and notes in p what the restored
// copy of pth must hold.
func (d *filesDiff) compare(p *planned, pth string, nodes map[string]restic.Node, live map[string]liveFile) {
	var want operate.Counts
	for q, n := range nodes {
		if n.Type != "file" || slices.ContainsFunc(p.kept, func(k string) bool { return under(q, k) }) {
			continue
		}
		want.Add(n.Size)
		switch lf, ok := live[q]; {
		case ok && lf.size == n.Size && lf.mtime.Equal(n.MTime):
			d.fp.Identical.Add(lf.size)
			d.identical = append(d.identical, q)
		case ok:
			d.fp.Changed.Add(lf.size)
			d.changed = append(d.changed, q)
		case p.plan.Live():
			d.fp.Added.Add(n.Size)
			d.added = append(d.added, q)
		}
	}
	p.expected[pth] = want
	d.fp.Snapshot.Files += want.Files
	d.fp.Snapshot.Bytes += want.Bytes
	for q, lf := range live {
		if n, ok := nodes[q]; !ok || n.Type != "file" {
			d.fp.Deleted.Add(lf.size)
			d.deleted = append(d.deleted, q)
		}
	}
}

// finish puts the files plan into p, with samples of each kind and notes
// for a live restore.
func (d *filesDiff) finish(p *planned) {
	fp := d.fp
	fp.ChangedSample, fp.IdenticalSample, fp.DeletedSample, fp.AddedSample = sample(d.changed), sample(d.identical), sample(d.deleted), sample(d.added)
	fp.Kept, fp.KeptCount = slices.Clone(p.kept), len(p.kept)
	if len(fp.Kept) > 5*maxSample {
		fp.Kept = fp.Kept[:5*maxSample]
	}
	p.plan.Files = fp
	if p.plan.Live() {
		p.plan.Notes = append(p.plan.Notes, "each path is restored into a scratch folder on its own volume first, then moved into place: an interrupted restore leaves it as it was or restored, never half")
		if len(p.kept) > 0 {
			p.plan.Notes = append(p.plan.Notes, "kept as they are: live database files (restore them from their db: snapshots) and what the spec excludes from backups")
		}
	}
}

// walkLive walks a live path, calling each for what a restore replaces
// and returning what it keeps. The scratch folders of restores are
// neither.
func walkLive(root string, keep keeper, each func(p string, d fs.DirEntry, size int64)) ([]string, error) {
	var kept []string
	err := filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
		switch {
		case os.IsNotExist(err) && q == root:
			return filepath.SkipAll
		case err != nil:
			return err
		case d.IsDir() && strings.HasPrefix(d.Name(), scratchPrefix):
			return filepath.SkipDir
		case q != root && keep.keeps(q, d.IsDir()):
			kept = append(kept, q)
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		var size int64
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				size = fi.Size()
			}
		}
		each(q, d, size)
		return nil
	})
	return kept, err
}

// planDatabase compares the live database with the snapshot's dump: its
// tables and rows now and in the snapshot (read from a scratch copy when
// the spec gives a scratch server). It returns the live database's shape
// (its tables) for the plan's ID.
func (a *Agent) planDatabase(ctx context.Context, p *planned) ([]string, error) {
	l := p.plan.Snapshot
	file := p.snap.Paths[0]
	dp := &operate.DatabasePlan{Name: l.DB, Engine: operate.Snapshot{Tags: p.snap.Tags}.TagValue(operate.TagEngine)}
	p.plan.Database = dp
	if !p.plan.Live() {
		dp.Target = filepath.Join(p.plan.Target, file)
		return []string{"file " + file}, nil
	}
	d, ok := a.specDatabase(l.DB)
	switch {
	case !ok:
		return nil, &stepError{class: "not_in_spec", msg: fmt.Sprintf("database %s is not in the spec, so there is no live database to restore it into: restore its dump into a scratch folder with --target", l.DB)}
	case d.Engine == spec.EngineCommand:
		return nil, &stepError{class: "not_restorable", msg: fmt.Sprintf("%s is a custom dump, which only the app's own tools can load: restore the dump into a scratch folder with --target, then load it", l.DB)}
	case operate.DumpFile(d) != file:
		return nil, &stepError{class: "not_restorable", msg: fmt.Sprintf("snapshot %s holds %s, but the spec dumps %s as %s now (another engine or format): restore it with --target", short(p.snap.ID), file, l.DB, operate.DumpFile(d))}
	}
	p.db, dp.Engine = d, d.Engine
	live, err := a.liveDatabase(d)
	if err != nil {
		return nil, err
	}
	p.live, dp.Target = live, live.String()
	var now, inSnap map[string]int64
	if d.Engine == spec.EngineSQLite && !exists(d.Path) {
		p.plan.Notes = append(p.plan.Notes, "the live database file does not exist: the restore creates it")
	} else {
		sum, err := dbtool.Summarize(ctx, live)
		if err != nil {
			return nil, err
		}
		now, dp.Now = sum.PerTable, &operate.TableCounts{Tables: sum.Tables, Rows: sum.Rows}
	}
	if sum, why := a.snapshotSummary(ctx, p); why != "" {
		dp.Unknown = why
	} else {
		inSnap, dp.InSnapshot = sum.PerTable, &operate.TableCounts{Tables: sum.Tables, Rows: sum.Rows}
		p.inSnap = inSnap
	}
	dp.Tables, dp.MoreTables = operate.CompareTables(now, inSnap, 50)
	switch d.Engine {
	case spec.EnginePostgres:
		p.plan.Notes = append(p.plan.Notes, "pg_restore --clean --single-transaction: the snapshot's tables replace the live ones in one transaction (any error or interruption leaves the database as it was); tables the snapshot does not hold stay as they are")
	case spec.EngineSQLite:
		p.plan.Notes = append(p.plan.Notes, "SQLite's backup API replaces the whole database in one transaction: tables the snapshot does not hold are gone")
	default:
		p.plan.Notes = append(p.plan.Notes, "the dump is loaded into a new database on the same server, then swapped in with one RENAME TABLE: tables the snapshot does not hold are gone")
	}
	shape := []string{"database " + dp.Target}
	for t := range now {
		shape = append(shape, "table "+t)
	}
	slices.Sort(shape)
	return shape, nil
}

// specDatabase is the spec's database of that name, or a SQLite file the
// backup found in the folders (auto-...).
func (a *Agent) specDatabase(name string) (spec.Database, bool) {
	for _, d := range a.Config.Databases {
		if d.Name == name {
			return d, true
		}
	}
	if strings.HasPrefix(name, "auto-") {
		for _, f := range findSQLite(a.Config.Paths, nil) {
			if autoName(f) == name {
				return spec.Database{Name: name, Engine: spec.EngineSQLite, Path: f}, true
			}
		}
	}
	return spec.Database{}, false
}

// liveDatabase is the database a restore writes into; a SQLite file may
// not exist yet.
func (a *Agent) liveDatabase(d spec.Database) (dbtool.Database, error) {
	if d.Engine == spec.EngineSQLite {
		return dbtool.SQLiteFile(d.Path), nil
	}
	return a.database(d)
}

// snapshotSummary counts the snapshot's tables and rows: a SQLite dump
// read in a private file, a server's dump loaded into a scratch database
// (dropped again). why says why it could not.
func (a *Agent) snapshotSummary(ctx context.Context, p *planned) (dbtool.Summary, string) {
	d := p.db
	if d.Engine != spec.EngineSQLite && d.ScratchURLSecret == "" {
		return dbtool.Summary{}, "the spec gives this database no scratchUrlSecret to load the snapshot into and count it"
	}
	dir, err := os.MkdirTemp(a.tempDir(), "devopsellence-restore-plan-")
	if err != nil {
		return dbtool.Summary{}, "no scratch folder: " + err.Error()
	}
	defer os.RemoveAll(dir)
	dump := filepath.Join(dir, path.Base(p.snap.Paths[0]))
	if err := a.dumpTo(ctx, p.snap.ID, p.snap.Paths[0], dump); err != nil {
		return dbtool.Summary{}, "restic dump failed: " + message(err)
	}
	if d.Engine == spec.EngineSQLite {
		sum, err := dbtool.Summarize(ctx, dbtool.SQLiteFile(dump))
		if err != nil {
			return sum, message(err)
		}
		return sum, ""
	}
	server, err := a.server(d.Engine, d.ScratchURLSecret)
	if err != nil {
		return dbtool.Summary{}, message(err)
	}
	scratch, err := dbtool.NewScratch(server.Conn, d.Name, a.Now())
	if err != nil {
		return dbtool.Summary{}, message(err)
	}
	a.noteScratch(d, scratch.Name)
	defer func() {
		cctx, cancel := dbtool.CleanupContext(ctx)
		defer cancel()
		if scratch.Drop(cctx) == nil {
			a.forgetScratch(scratch.Name)
		}
	}()
	if err := scratch.Create(ctx); err != nil {
		return dbtool.Summary{}, message(err)
	}
	f, err := os.Open(dump)
	if err != nil {
		return dbtool.Summary{}, err.Error()
	}
	err = scratch.Load(ctx, dumpFormat(d), f)
	f.Close()
	if err != nil {
		return dbtool.Summary{}, "the dump does not load into a scratch database: " + message(err)
	}
	sum, err := dbtool.Summarize(ctx, scratch.DB)
	if err != nil {
		return sum, message(err)
	}
	return sum, ""
}

// dumpTo writes one file of a snapshot into path (0600).
func (a *Agent) dumpTo(ctx context.Context, id, file, dest string) error {
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = a.restic.Dump(ctx, id, file, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func sample(names []string) []string {
	slices.Sort(names)
	if len(names) > maxSample {
		return names[:maxSample]
	}
	return names
}

func prefixAll(prefix string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = prefix + s
	}
	return out
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
