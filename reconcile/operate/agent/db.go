package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// stepError is a failure of a step before any command ran, with its class.
type stepError struct {
	class string
	msg   string
	facts map[string]any
}

func (e *stepError) Error() string { return e.msg }

// database turns a spec database into one the clients can reach: its URL
// secret read from the service's environment and parsed (a value that is
// not a URL is refused before any process starts), or its SQLite file.
func (a *Agent) database(d spec.Database) (dbtool.Database, error) {
	if d.Engine == spec.EngineSQLite {
		if _, err := os.Stat(d.Path); err != nil {
			return dbtool.Database{}, &stepError{class: string(dbtool.ClassSourceMissing), msg: d.Path + " does not exist in the service"}
		}
		return dbtool.SQLiteFile(d.Path), nil
	}
	if d.Service != "" {
		return a.serviceServer(d)
	}
	return a.server(d.Engine, d.URLSecret)
}

// notCreatedYet reports an optional SQLite file that does not exist and
// has never been backed up: the app has not created it yet. Once a
// snapshot of it exists, its absence is a failure again.
func (a *Agent) notCreatedYet(ctx context.Context, d spec.Database) (bool, error) {
	if !d.Optional {
		return false, nil
	}
	if _, err := os.Lstat(d.Path); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	list, err := a.restic.Snapshots(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{append(slices.Clone(a.Config.Tags), operate.TagDB, operate.TagDBName+d.Name)}, NoLock: true})
	if err != nil {
		return false, err
	}
	id := a.identity()
	for _, sn := range list {
		if id.Owner(operate.Snapshot{ID: sn.ID, Hostname: sn.Hostname, Tags: sn.Tags}) != operate.Foreign {
			return false, nil
		}
	}
	return true, nil
}

// notCreated records the step of an optional file the app has not
// created yet: skipped, with a note, not a failure.
func notCreated(s *stepRun, d spec.Database) {
	s.done(resultSkipped, nil, operate.ClassNotCreatedYet, d.Path+" does not exist yet (optional: the app creates it when it first needs it); it is backed up from the first backup after it appears")
}

// server parses the URL in the secret named name.
func (a *Agent) server(engine, name string) (dbtool.Database, error) {
	if name == "" {
		return dbtool.Database{}, &stepError{class: "service_env", msg: "no URL secret is set for this database in the spec"}
	}
	raw := environ.Get(a.Environ, name)
	if raw == "" {
		return dbtool.Database{}, &stepError{class: "service_env", msg: "secret " + name + " is not set in the service: store it, then deploy with devopsellence-backup apply"}
	}
	conn, err := dbtool.ParseSecret(dbtool.Engine(engine), name, raw)
	if err != nil {
		return dbtool.Database{}, &stepError{class: string(dbtool.ClassOf(err)), msg: err.Error(), facts: map[string]any{"secret": name}}
	}
	return dbtool.OnServer(conn), nil
}

// failStep records err on s with its class, exit code and facts.
func failStep(s *stepRun, err error) {
	var se *stepError
	var de *dbtool.Error
	switch {
	case errors.As(err, &se):
		for k, v := range se.facts {
			s.fact(k, v)
		}
		s.fail(nil, se.class, se.msg)
	case errors.As(err, &de):
		if de.Secret != "" {
			s.fact("secret", de.Secret)
		}
		var exit *int
		if de.ExitCode >= 0 {
			exit = code(de.ExitCode)
		}
		s.fail(exit, string(de.Class), err.Error())
	default:
		s.fail(exitOf(err), class(err), message(err))
	}
}

func dumpFormat(d spec.Database) dbtool.Format {
	if operate.DumpFormat(d) == spec.FormatPlain {
		return dbtool.FormatPlain
	}
	return dbtool.FormatCustom
}

// dumpDatabase dumps one database consistently into its own snapshot
// (path /FILE, tags kind:db, db:NAME, engine:ENGINE). A dumper that fails
// leaves no snapshot, never a truncated one: restic 0.17+ runs it with
// --stdin-from-command and saves nothing when it fails; older restic backs
// up its output file only after the dump was checked complete. It returns
// the restic error, so that a repository-level failure ends the run.
func (a *Agent) dumpDatabase(ctx context.Context, rec *recorder, o RunOptions, d spec.Database) error {
	if d.Engine == spec.EngineCommand {
		return a.dumpCommand(ctx, rec, o, d)
	}
	s := rec.begin("db:"+d.Name, "db")
	s.fact("engine", d.Engine)
	file := strings.TrimPrefix(operate.DumpFile(d), "/")
	s.fact("file", "/"+file)
	if d.Engine == spec.EngineSQLite {
		s.fact("path", d.Path)
		if skip, err := a.notCreatedYet(ctx, d); err != nil {
			failStep(s, err)
			return err
		} else if skip {
			notCreated(s, d)
			return nil
		}
	}
	db, err := a.database(d)
	if err != nil {
		failStep(s, err)
		return nil
	}
	versions, ok := checkVersions(ctx, s, db)
	if !ok {
		return nil
	}
	c := a.Config
	opts := dbtool.DumpOptions{Format: dumpFormat(d), TempDir: a.tempDir()}
	backup := restic.BackupOptions{Host: c.Host, Tags: a.snapTags(o, operate.TagDB, operate.TagDBName+d.Name, operate.TagEngine+d.Engine), StdinFilename: file}
	if v, _ := a.restic.Version(ctx); v.AtLeast(0, 17) {
		dump, err := dbtool.PrepareDump(ctx, db, opts)
		if err != nil {
			failStep(s, err)
			return nil
		}
		defer dump.Cleanup()
		backup.StdinCommand, backup.CommandEnv = dump.Argv, dump.Env
	} else {
		f, cleanup := a.dumpFile(s, file, func(path string) bool {
			if err := dbtool.DumpToFile(ctx, db, opts, path); err != nil {
				failStep(s, err)
				return false
			}
			return true
		})
		defer cleanup()
		if f == nil {
			return nil
		}
		backup.Stdin = f
	}
	var sum *restic.BackupSummary
	err = a.call(ctx, rec, o, func() error {
		var err error
		// A dump's size is known only at its end: the progress is the
		// bytes so far.
		sum, err = a.restic.Backup(ctx, backup, func(p restic.Progress) {
			a.Out.Progress(operate.Progress{Step: "db:" + d.Name, BytesDone: p.BytesDone, ETASeconds: p.SecondsRemaining})
		})
		return err
	})
	a.recordBackup(s, sum, err, nil)
	if why := versions.NewerServer(); err != nil && why != "" && class(err) == string(restic.ClassDumperFailed) {
		st := &rec.ev.Steps[len(rec.ev.Steps)-1]
		st.Message += "; " + why
	}
	return err
}

// checkVersions notes the server's version and the client's, before the
// dump: pg_dump refuses a newer server, and says so only after connecting.
// A server that cannot be asked fails the dump itself, with the dumper's
// own words; only a client known to be too old (or an interrupt) fails the
// step here (ok false).
func checkVersions(ctx context.Context, s *stepRun, db dbtool.Database) (versions dbtool.Versions, ok bool) {
	versions, err := dbtool.CheckVersions(ctx, db)
	if versions.Server != "" {
		s.fact("server_version", versions.Server)
		s.fact("client_version", versions.Client)
	}
	switch {
	case dbtool.ClassOf(err) == dbtool.ClassClientTooOld, err != nil && ctx.Err() != nil:
		failStep(s, err)
		return versions, false
	case err != nil:
		s.fact("version_check", message(err))
	}
	return versions, true
}

// dumpFile is the way to a dump snapshot on restic before 0.17, which has
// no --stdin-from-command: write runs the dumper into path, a file in a
// scratch folder of its own, and records the step's failure; only a dump
// it calls complete is opened for restic's stdin. The file is nil when the
// step failed; cleanup removes the folder.
func (a *Agent) dumpFile(s *stepRun, file string, write func(path string) bool) (*os.File, func()) {
	dir, err := os.MkdirTemp(a.tempDir(), "devopsellence-dump-")
	if err != nil {
		s.fail(nil, "failed", "cannot create a scratch folder: "+err.Error())
		return nil, func() {}
	}
	removeDir := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, file)
	if !write(path) {
		return nil, removeDir
	}
	f, err := os.Open(path)
	if err != nil {
		s.fail(nil, "failed", err.Error())
		return nil, removeDir
	}
	return f, func() { f.Close(); removeDir() }
}

// tempDir is the service's temp folder (the container's own /tmp).
func (a *Agent) tempDir() string { return tempDir(a.Environ) }

func (e *stepError) String() string { return fmt.Sprintf("%s: %s", e.class, e.msg) }
