package dbtool

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DumpOptions shapes one dump.
type DumpOptions struct {
	Format  Format // PostgreSQL: FormatCustom (the default) or FormatPlain
	TempDir string // where private files go (option files, SQLite copies); default os.TempDir()
}

// Dump says how to produce one database's dump on stdout, for
// `restic backup --stdin-from-command --stdin-filename NAME -- Argv...`
// (restic 0.17 and later), which saves no snapshot when the dumper fails.
type Dump struct {
	// Argv is the dumper and its arguments. It never holds a secret.
	Argv []string
	// Env lists NAME=value entries to add to the environment of the process
	// that runs Argv (restic passes its environment on to the dumper). It may
	// hold a password (PGPASSWORD, REDISCLI_AUTH): never log or store it.
	Env []string
	// File is set for SQLite: PrepareDump already made the consistent,
	// checked copy, and Argv only reads it.
	File string
	// Cleanup removes the private files (MySQL option file, SQLite copy).
	// It may be called more than once, and must be called, also when the
	// run is interrupted (defer it).
	Cleanup func()
}

// PrepareDump returns the command that dumps db. For MySQL it writes a 0600
// option file with the password; for SQLite it copies the database with the
// backup API and checks the copy. Nothing is written when it fails.
func PrepareDump(ctx context.Context, db Database, opts DumpOptions) (*Dump, error) {
	op := "dump " + db.name()
	if err := db.validate(op); err != nil {
		return nil, err
	}
	noop := func() {}
	switch db.Engine {
	case Postgres:
		argv, err := pgDumpArgv(db.Conn, opts.Format, op)
		if err != nil {
			return nil, err
		}
		return &Dump{Argv: argv, Env: pgEnv(db.Conn), Cleanup: noop}, nil
	case MySQL, MariaDB:
		if db.Conn.Database == "" {
			return nil, errorf(ClassBadURL, op, "the URL names no database")
		}
		cnf, cleanup, err := writeOptionFile(db.Conn, opts.TempDir)
		if err != nil {
			return nil, err
		}
		return &Dump{Argv: myDumpArgv(cnf, db.Conn.Database), Cleanup: cleanup}, nil
	case Redis:
		return &Dump{Argv: redisDumpArgv(db.Conn), Env: redisEnv(db.Conn), Cleanup: noop}, nil
	}
	dir, cleanup, err := privateDir(opts.TempDir)
	if err != nil {
		return nil, err
	}
	copyPath := filepath.Join(dir, filepath.Base(db.Path))
	if err := SQLiteFile(copyPath).validate(op); err != nil {
		cleanup()
		return nil, err
	}
	if err := sqliteBackup(ctx, db.Path, copyPath, op); err != nil {
		cleanup()
		return nil, err
	}
	if err := sqliteCheck(ctx, copyPath, "quick_check", op, ClassDumpIncomplete); err != nil {
		cleanup()
		return nil, err
	}
	return &Dump{Argv: []string{"cat", "--", copyPath}, File: copyPath, Cleanup: cleanup}, nil
}

// DumpToFile dumps db into path (0600) and checks that the dump is complete
// (VerifyDump): the way to back up a database on restic before 0.17, which
// lacks --stdin-from-command. On any failure path is removed, so a partial
// dump is never backed up.
func DumpToFile(ctx context.Context, db Database, opts DumpOptions, path string) (err error) {
	op := "dump " + db.name()
	if err := db.validate(op); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if db.Engine == SQLite {
		if err := SQLiteFile(path).validate(op); err != nil {
			return err
		}
		if err := sqliteBackup(ctx, db.Path, path, op); err != nil {
			return err
		}
		_ = os.Chmod(path, 0o600)
		return VerifyDump(ctx, db.Engine, opts.Format, path)
	}
	d, err := PrepareDump(ctx, db, opts)
	if err != nil {
		return err
	}
	defer d.Cleanup()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		return &Error{Class: ClassFailed, Op: op, ExitCode: -1, Err: err}
	}
	cmd := command{op: op, engine: db.Engine, secret: db.Conn.Secret, fail: ClassDumperFailed,
		argv: d.Argv, env: d.Env, stdout: f, dir: filepath.Dir(path), scrub: db.scrubber()}
	_, runErr := cmd.run(ctx)
	closeErr := f.Close()
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return &Error{Class: ClassDumperFailed, Op: op, ExitCode: -1, Err: closeErr}
	}
	return VerifyDump(ctx, db.Engine, opts.Format, path)
}

// VerifyDump checks that a dump file is complete: for a PostgreSQL custom
// archive, pg_restore --list and a full read of the archive (the table of
// contents comes first, so --list alone passes a truncated file); for a
// plain one, the "-- PostgreSQL database dump complete" line at its end; for
// MySQL, the "-- Dump completed" last line; for SQLite, PRAGMA quick_check;
// for Redis, redis-check-rdb or the RDB header and end marker.
func VerifyDump(ctx context.Context, engine Engine, format Format, path string) error {
	op := "check dump " + filepath.Base(path)
	switch engine {
	case Postgres:
		if format == FormatPlain {
			return checkTail(path, op, plainComplete)
		}
		for _, argv := range [][]string{{"pg_restore", "--list", path}, {"pg_restore", "--file=/dev/null", path}} {
			cmd := command{op: op, engine: Postgres, fail: ClassDumpIncomplete, argv: argv, stdout: io.Discard}
			if _, err := cmd.run(ctx); err != nil {
				return err
			}
		}
		return nil
	case MySQL, MariaDB:
		return checkTail(path, op, func(lines []string) bool {
			return len(lines) > 0 && strings.HasPrefix(lines[len(lines)-1], "-- Dump completed")
		})
	case SQLite:
		return sqliteCheck(ctx, path, "quick_check", op, ClassDumpIncomplete)
	case Redis:
		return verifyRDB(ctx, path, op)
	}
	return errorf(ClassFailed, op, "unsupported engine %q", engine)
}

// plainComplete finds pg_dump's completion line, followed by nothing but
// the \unrestrict line of patched releases (Aug 2025 on).
func plainComplete(lines []string) bool {
	for i := len(lines) - 1; i >= 0; i-- {
		switch l := lines[i]; {
		case l == "-- PostgreSQL database dump complete":
			return true
		case strings.HasPrefix(l, `\unrestrict `), l == "--":
		default:
			return false
		}
	}
	return false
}

// checkTail passes the last non-empty lines of a text dump to complete.
func checkTail(path, op string, complete func([]string) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return &Error{Class: ClassDumpIncomplete, Op: op, ExitCode: -1, Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return &Error{Class: ClassDumpIncomplete, Op: op, ExitCode: -1, Err: err}
	}
	const tail = 4096
	off := max(st.Size()-tail, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return &Error{Class: ClassDumpIncomplete, Op: op, ExitCode: -1, Err: err}
	}
	var lines []string
	for _, l := range bytes.Split(buf, []byte("\n")) {
		if s := strings.TrimSpace(string(l)); s != "" {
			lines = append(lines, s)
		}
	}
	if !complete(lines) {
		return errorf(ClassDumpIncomplete, op, "the dump lacks its completion line at the end (cut short?)")
	}
	return nil
}
