package dbtool

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

// session is an app's client that opens a transaction and keeps it, idle,
// until the test ends.
type session struct {
	in  io.WriteCloser
	out *bufio.Reader
}

func holdLock(t *testing.T, argv []string, env []string, sql, marker string) {
	t.Helper()
	// stdbuf: the clients' stdout is a pipe, which stdio would buffer.
	cmd := exec.Command("stdbuf", append([]string{"-oL"}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if _, err := fmt.Fprintf(in, "%s\n", sql); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", argv[0], err)
		}
		if strings.TrimSpace(line) == marker {
			return // the transaction holds its lock now
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestARestoreBehindTheAppsLockGivesUpAndSaysSo: an idle transaction of
// the app (or a SQLite writer) holds a lock the restore needs; the restore
// waits the lock wait it was given, not its whole deadline, fails with the
// cause, and changes nothing.
func TestARestoreBehindTheAppsLockGivesUpAndSaysSo(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, err error, unchanged func() bool) {
		t.Helper()
		if ClassOf(err) != ClassLocked || !strings.Contains(err.Error(), "lock") {
			t.Errorf("class %q: %v, want %s", ClassOf(err), err, ClassLocked)
		}
		if !unchanged() {
			t.Error("the restore changed the live database")
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 5*time.Minute)
		dir := t.TempDir()
		live, snap := filepath.Join(dir, "app.sqlite3"), filepath.Join(dir, "snap.sqlite3")
		sqliteExec(t, live, "PRAGMA journal_mode=WAL; CREATE TABLE t(v); INSERT INTO t VALUES ('live');")
		sqliteExec(t, snap, "CREATE TABLE t(v); INSERT INTO t VALUES ('snapshot');")
		app := openSQLite(t, live)
		app.query(t, "BEGIN IMMEDIATE; INSERT INTO t VALUES ('being written');")
		err := RestoreSQLite(ctx, live, snap, time.Second)
		check(t, err, func() bool { return sqliteExec(t, live, "SELECT group_concat(v) FROM t") == "live" })
	})
	t.Run("mariadb", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 5*time.Minute)
		my := dbtest.StartMariaDB(t)
		my.SQL(t, "appdb", "CREATE TABLE t (v VARCHAR(20)) ENGINE=InnoDB; INSERT INTO t VALUES ('snapshot');")
		live := mustParse(t, MariaDB, my.URL("appdb"))
		file := filepath.Join(t.TempDir(), "appdb.sql")
		must(t, DumpToFile(ctx, OnServer(live), DumpOptions{}, file))
		my.SQL(t, "appdb", "UPDATE t SET v = 'live'")
		holdLock(t, []string{"mariadb", "--no-defaults", "--socket=" + my.Socket, "--user=root", "-N", "-B", "appdb"}, nil,
			"BEGIN; SELECT count(*) FROM t; SELECT 'holding';", "holding")
		f, _ := os.Open(file)
		err := RestoreMySQL(ctx, live, Conn{}, f, time.Now(), time.Second)
		f.Close()
		check(t, err, func() bool { return my.SQL(t, "appdb", "SELECT v FROM t") == "live" })
		if left := my.Databases(t, RestoreBase); len(left) != 0 {
			t.Errorf("helper databases left: %v", left)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t, 5*time.Minute)
		pg := dbtest.StartPostgres(t)
		pg.SQL(t, "appdb", "SET ROLE app; CREATE TABLE t (v text); INSERT INTO t VALUES ('snapshot');")
		live := mustParse(t, Postgres, pg.URL("appdb"))
		file := filepath.Join(t.TempDir(), "appdb.pgdump")
		must(t, DumpToFile(ctx, OnServer(live), DumpOptions{Format: FormatCustom}, file))
		pg.SQL(t, "appdb", "UPDATE t SET v = 'live'")
		holdLock(t, []string{"psql", "-X", "-A", "-t", "-q", "-h", pg.Dir, "-p", strconv.Itoa(pg.Port), "-U", "postgres", "-d", "appdb"}, nil,
			"BEGIN; SELECT count(*) FROM t; SELECT 'holding';", "holding")
		f, _ := os.Open(file)
		err := RestorePostgres(ctx, live, FormatCustom, f, time.Second)
		f.Close()
		check(t, err, func() bool { return pg.SQL(t, "appdb", "SELECT v FROM t") == "live" })
	})
}
