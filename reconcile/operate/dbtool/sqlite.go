package dbtool

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sqliteTimeout is how long sqlite3 waits for the app's locks (.timeout, ms).
const sqliteTimeout = "60000"

// maxCompound stays under SQLite's limit of terms in one compound SELECT.
const maxCompound = 400

// sqlite3 runs the sqlite3 shell on file with dot-commands or SQL as its
// arguments (and stdin, if any), stopping at the first error.
func sqlite3(ctx context.Context, op string, fail Class, file string, readOnly bool, stdin string, args ...string) ([]byte, error) {
	return sqlite3Wait(ctx, op, fail, file, readOnly, sqliteTimeout, stdin, args...)
}

// sqlite3Wait is sqlite3 waiting at most wait (ms) for the app's locks.
func sqlite3Wait(ctx context.Context, op string, fail Class, file string, readOnly bool, wait, stdin string, args ...string) ([]byte, error) {
	argv := []string{"sqlite3", "-bail", "-init", "/dev/null"}
	if readOnly {
		// Also keeps sqlite3 from creating a missing file.
		argv = append(argv, "-readonly")
	}
	argv = append(argv, "-cmd", ".timeout "+wait, file)
	cmd := command{op: op, engine: SQLite, fail: fail, argv: append(argv, args...), dir: filepath.Dir(file)}
	if stdin != "" {
		cmd.stdin = strings.NewReader(stdin)
	}
	return cmd.run(ctx)
}

// sqliteExists fails with ClassSourceMissing when path is not a file.
func sqliteExists(path, op string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return errorf(ClassSourceMissing, op, "%s does not exist in the service", path)
	}
	if err != nil {
		return &Error{Class: ClassSourceMissing, Op: op, ExitCode: -1, Err: err}
	}
	if !st.Mode().IsRegular() {
		return errorf(ClassSourceMissing, op, "%s is not a regular file", path)
	}
	return nil
}

// sqliteBackup copies src into dest with SQLite's online backup API, which
// is consistent while the app writes (WAL included), unlike a file copy.
func sqliteBackup(ctx context.Context, src, dest, op string) error {
	if err := sqliteExists(src, op); err != nil {
		return err
	}
	_ = os.Remove(dest)
	_, err := sqlite3(ctx, op, ClassDumperFailed, src, true, "", ".backup '"+dest+"'")
	return err
}

// sqliteCheck runs PRAGMA quick_check (or integrity_check) and fails with
// class when it does not answer ok.
func sqliteCheck(ctx context.Context, file, pragma, op string, class Class) error {
	out, err := sqlite3(ctx, op, class, file, true, "", "PRAGMA "+pragma)
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(string(out)); got != "ok" {
		lines := strings.SplitN(got, "\n", 4)
		if len(lines) > 3 {
			lines = lines[:3]
		}
		return errorf(class, op, "PRAGMA %s: %s", pragma, strings.Join(lines, "; "))
	}
	return nil
}

func sqliteSummary(ctx context.Context, db Database, op string) (Summary, error) {
	if err := sqliteExists(db.Path, op); err != nil {
		return Summary{}, err
	}
	out, err := sqlite3(ctx, op, ClassQueryFailed, db.Path, true, "", "-ascii",
		"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
	if err != nil {
		return Summary{}, err
	}
	var tables []string
	for _, rec := range bytes.Split(out, []byte{0x1e}) {
		if name := string(bytes.TrimSuffix(rec, []byte{0x1f})); name != "" {
			tables = append(tables, name)
		}
	}
	counts := map[string]int64{}
	if len(tables) == 0 {
		return newSummary(SQLite, counts), nil
	}
	// One read transaction: every count sees the same snapshot.
	var q strings.Builder
	q.WriteString("BEGIN;\n")
	for i, t := range tables {
		if i%maxCompound == 0 {
			if i > 0 {
				q.WriteString(";\n")
			}
		} else {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT %d, count(*) FROM %s", i, pgIdent(t))
	}
	q.WriteString(";\nCOMMIT;\n")
	out, err = sqlite3(ctx, op, ClassQueryFailed, db.Path, true, q.String(), "-list", "-separator", "|")
	if err != nil {
		return Summary{}, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		is, ns, ok := strings.Cut(line, "|")
		i, err1 := strconv.Atoi(is)
		n, err2 := strconv.ParseInt(ns, 10, 64)
		if !ok || err1 != nil || err2 != nil || i < 0 || i >= len(tables) {
			return Summary{}, errorf(ClassQueryFailed, op, "sqlite3 printed an unexpected summary line")
		}
		counts[tables[i]] = n
	}
	if len(counts) != len(tables) {
		return Summary{}, errorf(ClassQueryFailed, op, "sqlite3 printed %d counts for %d tables", len(counts), len(tables))
	}
	return newSummary(SQLite, counts), nil
}

func sqliteQuery(ctx context.Context, db Database, op, sql string) ([]byte, error) {
	if err := sqliteExists(db.Path, op); err != nil {
		return nil, err
	}
	return sqlite3(ctx, op, ClassQueryFailed, db.Path, true, sql+"\n;\n")
}

// RestoreSQLite replaces the live database at livePath with the database
// file restored from a snapshot. It copies the snapshot's file with the
// backup API into a temp file next to the live one (so the live volume is
// known to have room before anything changes), checks that copy with
// PRAGMA integrity_check, then writes it into the live database with
// .restore, which is the backup API again: it waits for the app's locks and
// replaces every page in one transaction, so the app's open connections
// see the old database or the new one, never a mix, and an interruption
// rolls back. A rename of the file over the live one was not chosen: it
// would leave the app's open connections on the old file and could pair the
// new file with the old one's -wal.
func RestoreSQLite(ctx context.Context, livePath, snapshotFile string, lockWait time.Duration) error {
	op := "restore " + filepath.Base(livePath)
	for _, p := range []string{livePath, snapshotFile} {
		if err := SQLiteFile(p).validate(op); err != nil {
			return err
		}
	}
	if err := sqliteExists(snapshotFile, op); err != nil {
		return err
	}
	if err := sqliteCheck(ctx, snapshotFile, "integrity_check", op, ClassVerifyFailed); err != nil {
		return fmt.Errorf("the snapshot's database fails its check; the live database was not touched: %w", err)
	}
	tmpPrefix := filepath.Join(filepath.Dir(livePath), "."+filepath.Base(livePath)+".devopsellence-restore-")
	// Temp files of a restore that was killed before its cleanup.
	if old, _ := filepath.Glob(tmpPrefix + "*"); len(old) > 0 {
		for _, p := range old {
			_ = os.Remove(p)
		}
	}
	tmp := tmpPrefix + randomHex(4)
	defer func() {
		for _, s := range []string{"", "-journal", "-wal", "-shm"} {
			_ = os.Remove(tmp + s)
		}
	}()
	if _, err := sqlite3(ctx, op, ClassRestoreFailed, snapshotFile, true, "", ".backup '"+tmp+"'"); err != nil {
		return fmt.Errorf("copy the snapshot's database next to the live one; the live database was not touched: %w", err)
	}
	if err := sqliteCheck(ctx, tmp, "quick_check", op, ClassVerifyFailed); err != nil {
		return fmt.Errorf("the copy next to the live database fails its check; the live database was not touched: %w", err)
	}
	if _, err := sqlite3Wait(ctx, op, ClassRestoreFailed, livePath, false, strconv.FormatInt(lockWait.Milliseconds(), 10), "", ".restore '"+tmp+"'"); err != nil {
		if ClassOf(err) == ClassLocked {
			return fmt.Errorf("the app kept the live database locked for longer than the restore waits for it (%s); nothing was changed: %w", lockWait, err)
		}
		return fmt.Errorf("write into the live database (in one transaction, so it is as it was): %w", err)
	}
	return sqliteCheck(ctx, livePath, "quick_check", op, ClassVerifyFailed)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
