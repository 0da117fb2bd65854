package dbtool

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sqliteProc is an app's open connection: a sqlite3 process fed statements.
type sqliteProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	mu  sync.Mutex
}

func openSQLite(t *testing.T, path string) *sqliteProc {
	t.Helper()
	cmd := exec.Command("sqlite3", "-bail", "-init", "/dev/null", path)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &sqliteProc{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	p.query(t, ".timeout 10000")
	return p
}

// query runs statements and returns the output line of the last SELECT,
// synchronising on a marker.
func (p *sqliteProc) query(t *testing.T, sql string) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.in, "%s\nSELECT 'done-marker';\n", sql); err != nil {
		t.Fatal(err)
	}
	var last string
	for {
		line, err := p.out.ReadString('\n')
		if err != nil {
			t.Fatalf("sqlite3: %v", err)
		}
		line = strings.TrimSpace(line)
		if line == "done-marker" {
			return last
		}
		last = line
	}
}

func sqliteExec(t *testing.T, path, sql string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", "-bail", "-init", "/dev/null", path, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "app.sqlite3")
	sqliteExec(t, live, "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); "+
		"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000) INSERT INTO t (v) SELECT 'row ' || n FROM s; "+
		`CREATE TABLE "we""ird" (x);`)
	app := openSQLite(t, live)
	// 5 000 committed rows that stay in the -wal file: a copy of the main
	// file alone would miss them.
	app.query(t, "PRAGMA wal_autocheckpoint=0; BEGIN; WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) INSERT INTO t (v) SELECT 'wal ' || n FROM s; COMMIT;")

	t.Run("a copy of a WAL database being written holds every committed row and passes quick_check", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		naive := filepath.Join(t.TempDir(), "main-file-only.sqlite3")
		b, _ := os.ReadFile(live)
		if err := os.WriteFile(naive, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if n := sqliteExec(t, naive, "SELECT count(*) FROM t"); n != "1000" {
			t.Fatalf("the main file alone holds %s rows; the test wants the 5000 new ones in the -wal", n)
		}
		stop, writing := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the app keeps writing during the copy
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				app.mu.Lock()
				_, _ = fmt.Fprintf(app.in, "INSERT INTO t (v) VALUES ('during %d');\n", i)
				app.mu.Unlock()
				if i == 0 {
					close(writing)
				}
				time.Sleep(time.Millisecond)
			}
		}()
		<-writing
		copyPath := filepath.Join(t.TempDir(), "app.sqlite3")
		err := DumpToFile(ctx, SQLiteFile(live), DumpOptions{}, copyPath)
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		s, err := Summarize(ctx, SQLiteFile(copyPath))
		if err != nil {
			t.Fatal(err)
		}
		if s.PerTable["t"] < 6000 || s.Tables != 2 {
			t.Errorf("the copy holds %s %v; want every one of the 6000 rows committed before it", s, s.PerTable)
		}
		if got := sqliteExec(t, copyPath, "PRAGMA integrity_check"); got != "ok" {
			t.Errorf("integrity_check: %s", got)
		}
	})

	t.Run("the dump command for restic reads a checked copy that Cleanup removes", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		d, err := PrepareDump(ctx, SQLiteFile(live), DumpOptions{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if d.File == "" || d.Argv[0] != "cat" || d.Argv[len(d.Argv)-1] != d.File {
			t.Fatalf("dump %+v", d)
		}
		out := filepath.Join(t.TempDir(), "out.sqlite3")
		runDump(t, d, out)
		if err := VerifyDump(ctx, SQLite, "", out); err != nil {
			t.Error(err)
		}
		d.Cleanup()
		d.Cleanup()
		if _, err := os.Stat(d.File); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Cleanup left the copy: %v", err)
		}
	})

	t.Run("a missing file is source_missing and is not created", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "gone.sqlite3")
		err := DumpToFile(testCtx(t, time.Minute), SQLiteFile(missing), DumpOptions{}, filepath.Join(t.TempDir(), "x"))
		if ClassOf(err) != ClassSourceMissing {
			t.Errorf("class %q (%v)", ClassOf(err), err)
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Error("the missing database was created")
		}
	})

	t.Run("the check query and command run on the restored copy", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		copyPath := filepath.Join(t.TempDir(), "copy.sqlite3")
		if err := DumpToFile(ctx, SQLiteFile(live), DumpOptions{}, copyPath); err != nil {
			t.Fatal(err)
		}
		qc, err := CompareQuery(ctx, SQLiteFile(copyPath), SQLiteFile(copyPath), "SELECT count(*), max(id) FROM t")
		if err != nil || !qc.Match || !strings.Contains(qc.Restored, "|") {
			t.Errorf("check query: %+v %v", qc, err)
		}
		res, err := RunCheckCommand(ctx, SQLiteFile(copyPath), `sqlite3 "$BACKUP_RESTORED_PATH" "SELECT count(*) > 5999 FROM t"`)
		if err != nil || res.Output != "1" {
			t.Errorf("check command: %+v %v", res, err)
		}
		res, err = RunCheckCommand(ctx, SQLiteFile(copyPath), `echo failing >&2; exit 3`)
		if ClassOf(err) != ClassVerifyFailed || res.ExitCode != 3 || !strings.Contains(err.Error(), "failing") {
			t.Errorf("a failing check command: %+v %v", res, err)
		}
	})

	t.Run("a restore replaces the live database under an open connection, or leaves it alone", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		snap := filepath.Join(t.TempDir(), "snapshot.sqlite3")
		if err := DumpToFile(ctx, SQLiteFile(live), DumpOptions{}, snap); err != nil {
			t.Fatal(err)
		}
		want, _ := Summarize(ctx, SQLiteFile(snap))
		app.query(t, "DELETE FROM t WHERE id <= 100; CREATE TABLE extra (y);")
		if app.query(t, "SELECT count(*) FROM t;") == fmt.Sprint(want.PerTable["t"]) {
			t.Fatal("the live database did not change")
		}

		bad := filepath.Join(t.TempDir(), "bad.sqlite3")
		b, _ := os.ReadFile(snap)
		copy(b[len(b)/2:], strings.Repeat("garbage!", 512))
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
		before := sqliteExec(t, live, "SELECT count(*), sum(id) FROM t")
		err := RestoreSQLite(ctx, live, bad, time.Minute)
		if err == nil || !strings.Contains(err.Error(), "not touched") {
			t.Fatalf("a damaged snapshot: %v", err)
		}
		if after := sqliteExec(t, live, "SELECT count(*), sum(id) FROM t"); after != before {
			t.Errorf("the refused restore changed the live database: %s → %s", before, after)
		}

		killed := filepath.Join(dir, ".app.sqlite3.devopsellence-restore-0badf00d")
		if err := os.WriteFile(killed, []byte("left by a killed restore"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := RestoreSQLite(ctx, live, snap, time.Minute); err != nil {
			t.Fatal(err)
		}
		got, _ := Summarize(ctx, SQLiteFile(live))
		if !got.Equal(want) {
			t.Errorf("restored %s, want %s: %v", got, want, want.Differences(got))
		}
		if n := app.query(t, "SELECT count(*) FROM t;"); n != fmt.Sprint(want.PerTable["t"]) {
			t.Errorf("the app's open connection sees %s rows, want %d", n, want.PerTable["t"])
		}
		if mode := sqliteExec(t, live, "PRAGMA journal_mode"); mode != "wal" {
			t.Errorf("journal_mode %s after the restore, want wal", mode)
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".*devopsellence-restore*"))
		if len(left) != 0 {
			t.Errorf("temp files left next to the live database: %v", left)
		}
	})
}

func TestCleanupPrivateDirsRemovesOnlyOldOnesOfOurs(t *testing.T) {
	tmp := t.TempDir()
	old := filepath.Join(tmp, privateDirPrefix+"old")
	fresh := filepath.Join(tmp, privateDirPrefix+"fresh")
	other := filepath.Join(tmp, "someone-else")
	for _, d := range []string{old, fresh, other} {
		if err := os.MkdirAll(filepath.Join(d, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-3 * time.Hour)
	for _, d := range []string{old, other} {
		if err := os.Chtimes(d, long, long); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := CleanupPrivateDirs(tmp, time.Now().Add(-time.Hour))
	if err != nil || len(removed) != 1 || removed[0] != old {
		t.Errorf("removed %v (%v), want [%s]", removed, err, old)
	}
	for _, d := range []string{fresh, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}
