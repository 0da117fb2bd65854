package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// backup dumps each database of the spec and each SQLite file found in the
// backed-up folders into its own snapshot, then backs up the folders
// without the live database files. A repository-level failure (missing,
// wrong password, interrupted) ends the run at the step that met it.
func (a *Agent) backup(ctx context.Context, rec *recorder, o RunOptions) {
	c := a.Config
	var declared []string
	for _, d := range c.Databases {
		if d.Engine == spec.EngineSQLite {
			declared = append(declared, d.Path)
		}
	}
	found := findSQLite(c.Paths, declared)
	dbs := slices.Clone(c.Databases)
	named := map[string]string{}
	for _, d := range dbs {
		named[d.Name] = d.Path
	}
	for _, f := range found {
		n := autoName(f)
		if other, dup := named[n]; dup {
			// Never two databases under one name: a restore of one would
			// overwrite the other.
			s := rec.begin("db:"+n, "db")
			s.fail(nil, "name_collision", fmt.Sprintf("%s would be dumped as %s, which names %s already, so it is not dumped: rename one, or declare it in spec.databases", f, n, or(other, "a database of the spec")))
			continue
		}
		named[n] = f
		dbs = append(dbs, spec.Database{Name: n, Engine: spec.EngineSQLite, Path: f})
	}
	for _, d := range dbs {
		if twin := a.twinOf(d); twin != "" {
			skipTwin(rec, d, twin)
			continue
		}
		if err := a.dumpDatabase(ctx, rec, o, d); fatal(err) || ctx.Err() != nil {
			return
		}
	}
	a.checkServers(ctx, rec)
	if len(c.Paths) == 0 {
		return
	}
	excludes := slices.Clone(c.Excludes)
	var dbFiles []string
	for _, p := range append(declared, found...) {
		dbFiles = append(dbFiles, p, p+"-wal", p+"-shm", p+"-journal")
	}
	a.backupFiles(ctx, rec, o, append(excludes, dbFiles...), dbFiles)
}

// backupFiles backs up the folders as one snapshot (kind:files). The paths
// are given relative to / (restic runs in /), so the snapshot holds them
// as /data/... without the metadata of every parent folder changing the
// tree on every run.
func (a *Agent) backupFiles(ctx context.Context, rec *recorder, o RunOptions, excludes, dbFiles []string) {
	c := a.Config
	s := rec.begin("files", "files")
	s.fact("paths", strings.Join(c.Paths, " "))
	var missing []string
	for _, p := range c.Paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	prev := a.previousFiles(ctx)
	var sum *restic.BackupSummary
	err := a.call(ctx, rec, o, func() error {
		var err error
		sum, err = a.restic.Backup(ctx, restic.BackupOptions{
			Host: c.Host, Tags: a.snapTags(o, operate.TagFiles), Paths: c.Paths, Excludes: excludes, ExcludeCaches: c.ExcludeCaches,
		}, func(p restic.Progress) {
			a.Out.Progress(operate.Progress{Step: "files", Percent: p.PercentDone * 100, BytesDone: p.BytesDone, BytesTotal: p.TotalBytes,
				FilesDone: p.FilesDone, FilesTotal: p.TotalFiles, ETASeconds: p.SecondsRemaining})
		})
		return err
	})
	if err == nil && len(missing) == 0 && sum != nil {
		if class, why := a.suspect(ctx, sum, prev, dbFiles); class != "" {
			a.markSuspect(ctx, s, o, sum, class, why)
			return
		}
	}
	a.recordBackup(s, sum, err, missing)
}

// previous is the files snapshot a new one is compared with: its ID and
// the bytes it holds (restic 0.17+ stores them; older ones are counted).
type previous struct {
	id    string
	bytes int64
}

// previousFiles is the newest files snapshot of this app's paths that
// status counts as a backup (nil when none, or it cannot be read).
func (a *Agent) previousFiles(ctx context.Context) *previous {
	if a.Config.AllowShrink {
		return nil
	}
	list, err := a.ours(ctx)
	if err != nil {
		return nil
	}
	var best *restic.Snapshot
	for i, sn := range list {
		sh := operate.Snapshot{ID: sn.ID, Tags: sn.Tags}
		if !sh.HasTag(operate.TagFiles) || !sameSet(sn.Paths, a.Config.Paths) || operate.Suspect(sh) || sh.TagValue(operate.TagPreRestore) != "" || operate.InFuture(sn.Time, a.Now()) {
			continue
		}
		if best == nil || sn.Time.After(best.Time) {
			best = &list[i]
		}
	}
	if best == nil {
		return nil
	}
	if best.Summary != nil {
		return &previous{id: best.ID, bytes: best.Summary.TotalBytesProcessed}
	}
	st, err := a.restic.Stats(ctx, restic.StatsOptions{SnapshotIDs: []string{best.ID}, Filter: restic.Filter{NoLock: true}})
	if err != nil {
		return nil
	}
	return &previous{id: best.ID, bytes: st.TotalSize}
}

// suspect says why a files backup that restic saved is not a backup to
// count on: it holds no file while the folders hold some (besides live
// database files, dumped on their own), or less than half the bytes of
// the one before it (unless the spec allows it).
func (a *Agent) suspect(ctx context.Context, sum *restic.BackupSummary, prev *previous, dbFiles []string) (class, why string) {
	if sum.TotalFilesProcessed == 0 {
		if f := a.someLiveFile(dbFiles); f != "" {
			return "backup_empty", fmt.Sprintf("snapshot %s holds no file, but the backed-up folders do (%s, for one): an exclude pattern, or folders the service cannot read, left everything out", short(sum.SnapshotID), f)
		}
		return "", ""
	}
	if prev != nil && !a.Config.AllowShrink && sum.TotalBytesProcessed*2 < prev.bytes {
		return "backup_shrank", fmt.Sprintf("snapshot %s holds %s, less than half of the %s of snapshot %s before it: the app lost or removed most of its files, or an exclude now leaves them out. If that was meant, set spec.allowShrink: true", short(sum.SnapshotID), bytesText(sum.TotalBytesProcessed), bytesText(prev.bytes), short(prev.id))
	}
	return "", ""
}

// someLiveFile is a regular file in the backed-up folders that is not a
// live database file ("" when there is none).
func (a *Agent) someLiveFile(dbFiles []string) string {
	found := ""
	for _, root := range a.Config.Paths {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return nil
			case d.IsDir() && strings.HasPrefix(d.Name(), scratchPrefix):
				return filepath.SkipDir
			case d.Type().IsRegular() && !slices.Contains(dbFiles, p):
				found = p
				return filepath.SkipAll
			}
			return nil
		})
		if found != "" {
			break
		}
	}
	return found
}

// markSuspect tags the snapshot suspect (status and restore --latest pass
// it over; restic writes it anew under another ID) and fails the step.
func (a *Agent) markSuspect(ctx context.Context, s *stepRun, o RunOptions, sum *restic.BackupSummary, class, why string) {
	tag := operate.TagSuspect + strings.TrimPrefix(class, "backup_")
	id := sum.SnapshotID
	if err := a.restic.Tag(ctx, []string{id}, []string{tag}); err != nil {
		why += fmt.Sprintf(" (it could not be marked suspect: %s)", message(err))
	} else if list, err := a.restic.Snapshots(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{append(a.snapTags(o, operate.TagFiles), tag)}, NoLock: true}); err == nil && len(list) > 0 {
		id = list[len(list)-1].ID
	}
	s.fact("snapshot_id", id)
	s.fact("files", sum.TotalFilesProcessed)
	s.fact("bytes", sum.TotalBytesProcessed)
	s.fact("bytes_added", sum.DataAdded)
	s.fail(code(0), class, why+fmt.Sprintf("; it is kept as %s, tagged %s, and status does not count it as a fresh backup", short(id), tag))
}

// recordBackup records the step of one restic backup: ok, partial (exit 3,
// or a backed-up path missing in the service) or failed.
func (a *Agent) recordBackup(s *stepRun, sum *restic.BackupSummary, err error, missing []string) {
	if sum != nil {
		s.fact("snapshot_id", sum.SnapshotID)
		s.fact("files", sum.TotalFilesProcessed)
		s.fact("bytes", sum.TotalBytesProcessed)
		s.fact("bytes_added", sum.DataAdded)
	}
	switch cl := class(err); {
	case err == nil && len(missing) == 0:
		s.ok(0, "snapshot "+short(sum.SnapshotID))
	case err == nil || cl == string(restic.ClassPartial):
		msg := "snapshot saved without some source data"
		if sum != nil {
			msg = fmt.Sprintf("snapshot %s saved without some source data", short(sum.SnapshotID))
			if len(sum.Unreadable) > 0 {
				s.fact("unreadable", sum.UnreadableCount)
				msg += " (unreadable: " + strings.Join(head(sum.Unreadable, 5), " ") + ")"
			}
		}
		if len(missing) > 0 {
			msg += "; missing in the service: " + strings.Join(missing, " ")
		}
		s.done(operate.ResultPartial, exitOf(err), "partial", msg)
	case cl == string(restic.ClassDumperFailed):
		s.fail(exitOf(err), cl, "the dumper failed, so no snapshot was made: "+message(err))
	default:
		s.fail(exitOf(err), cl, message(err))
	}
}

// dataTags are the tags of a data snapshot: the app's, its identity, and
// what the snapshot holds.
func (a *Agent) dataTags(extra ...string) []string {
	tags := slices.Clone(a.Config.Tags)
	if a.Config.AppID != "" {
		tags = append(tags, operate.TagAppID+a.Config.AppID)
	}
	return append(tags, extra...)
}

// findSQLite lists the SQLite files under the folders (by name, then by
// their header) that the spec does not declare: a live database file
// copied by restic can be torn, so each is dumped through the backup API.
func findSQLite(paths, declared []string) []string {
	var out []string
	for _, root := range paths {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() {
				if p != root && isMountPoint(p) {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".sqlite", ".sqlite3", ".db", ".db3":
			default:
				return nil
			}
			if !d.Type().IsRegular() || slices.Contains(declared, p) || !sqliteHeader(p) {
				return nil
			}
			out = append(out, p)
			return nil
		})
	}
	slices.Sort(out)
	return out
}

func sqliteHeader(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 16)
	if _, err := io.ReadFull(f, b); err != nil {
		return false
	}
	return bytes.Equal(b, []byte("SQLite format 3\x00"))
}

var (
	unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
	plainPath  = regexp.MustCompile(`^[A-Za-z0-9_./]+$`)
)

// autoName names a found SQLite file's dump: auto-<path with / as ->. It
// is one-to-one: a path of letters, digits, _, . and / reads back from its
// name (no "-" of its own, and never "--"); any other path (a-b.sqlite3
// would meet a/b.sqlite3) gets "--" and a digest of the whole path.
func autoName(path string) string {
	rel := strings.TrimPrefix(path, "/")
	name := "auto-" + unsafeName.ReplaceAllString(strings.ReplaceAll(rel, "/", "-"), "_")
	if plainPath.MatchString(rel) {
		return name
	}
	sum := sha256.Sum256([]byte(path))
	return name + "--" + hex.EncodeToString(sum[:6])
}

// short is operate.ShortID under the name the restore code (being reworked
// for issue 17) still calls.
func short(id string) string { return operate.ShortID(id) }

func head(list []string, n int) []string {
	if len(list) > n {
		return list[:n]
	}
	return list
}

// isMountPoint reports whether p is on another filesystem than its parent:
// the file search stays on each backed-up volume, like find -xdev.
func isMountPoint(p string) bool {
	var a, b syscall.Stat_t
	if syscall.Lstat(p, &a) != nil || syscall.Lstat(filepath.Dir(p), &b) != nil {
		return false
	}
	return uint64(a.Dev) != uint64(b.Dev) //nolint:unconvert // Dev's type differs by platform
}
