package agent

import (
	"bytes"
	"context"
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
	for _, f := range found {
		dbs = append(dbs, spec.Database{Name: autoName(f), Engine: spec.EngineSQLite, Path: f})
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
	for _, p := range append(declared, found...) {
		excludes = append(excludes, p, p+"-wal", p+"-shm", p+"-journal")
	}
	a.backupFiles(ctx, rec, o, excludes)
}

// backupFiles backs up the folders as one snapshot (kind:files). The paths
// are given relative to / (restic runs in /), so the snapshot holds them
// as /data/... without the metadata of every parent folder changing the
// tree on every run.
func (a *Agent) backupFiles(ctx context.Context, rec *recorder, o RunOptions, excludes []string) {
	c := a.Config
	s := rec.begin("files", "files")
	s.fact("paths", strings.Join(c.Paths, " "))
	var missing []string
	for _, p := range c.Paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
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
	a.recordBackup(s, sum, err, missing)
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

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// autoName names a found SQLite file's dump: auto-<path with / as ->.
func autoName(path string) string {
	p := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "-")
	return "auto-" + unsafeName.ReplaceAllString(p, "_")
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
