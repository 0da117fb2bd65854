package dbtool

import (
	"bytes"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

const mySeed = "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL) ENGINE=InnoDB;" +
	"INSERT INTO users SELECT seq, CONCAT('user ', seq) FROM seq_1_to_100;" +
	"CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, amount DECIMAL(10,2), note BLOB," +
	" FOREIGN KEY (user_id) REFERENCES users(id)) ENGINE=InnoDB;" +
	"INSERT INTO orders (user_id, amount, note) SELECT 1 + seq % 100, seq / 7, UNHEX(MD5(seq)) FROM seq_1_to_500;" +
	"CREATE TABLE `we``ird name` (x INT); INSERT INTO `we``ird name` VALUES (1), (2), (3);"

const myCheckQuery = "SELECT COUNT(*), SUM(amount), SUM(CRC32(note)) FROM orders"

func TestOptionFileCarriesAnyPasswordIntact(t *testing.T) {
	if _, err := exec.LookPath("my_print_defaults"); err != nil {
		t.Fatal("my_print_defaults not found: run `bash .ci/run`, which installs mariadb-client")
	}
	for _, pw := range []string{
		`p@ss:w/rd%?#`, `quote"both'kinds`, `a"b#c`, `x'y"z # w`, `back\slash\`, "new\nline\ttab\rcr", "  spaces around  ", `#start`, `'`, `\"`, `ends with \`,
	} {
		c := Conn{Engine: MySQL, User: "app", Host: "db", Port: 3306, password: pw}
		text, err := optionFile(c)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "client.cnf")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("my_print_defaults", "--defaults-file="+file, "client").Output()
		if err != nil {
			t.Fatal(err)
		}
		want := "--user=app\n--password=" + pw + "\n--host=db\n--port=3306\n--default-character-set=utf8mb4\n"
		if string(out) != want {
			t.Errorf("password %q: the client reads\n%q\nwant\n%q", pw, out, want)
		}
	}
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	my := dbtest.StartMariaDB(t)
	my.SQL(t, "appdb", mySeed)
	live := mustParse(t, MariaDB, my.URL("appdb"))
	source := OnServer(live)
	server := mustParse(t, MariaDB, my.URL(""))
	now := time.Now()

	t.Run("the summary counts every table", func(t *testing.T) {
		s, err := Summarize(testCtx(t, time.Minute), source)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != "3 tables, 603 rows" || s.PerTable["we`ird name"] != 3 || s.PerTable["orders"] != 500 {
			t.Errorf("summary %s %v", s, s.PerTable)
		}
	})

	t.Run("a dump loads into a scratch database with the same summary, then the scratch database goes", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		file := filepath.Join(t.TempDir(), "appdb.sql")
		if err := DumpToFile(ctx, source, DumpOptions{}, file); err != nil {
			t.Fatal(err)
		}
		func() {
			sc, err := NewScratch(server, "shop", now)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				cctx, cancel := CleanupContext(ctx)
				defer cancel()
				if err := sc.Drop(cctx); err != nil {
					t.Errorf("drop: %v", err)
				}
			}()
			if err := sc.Create(ctx); err != nil {
				t.Fatal(err)
			}
			f, _ := os.Open(file)
			defer f.Close()
			if err := sc.Load(ctx, "", f); err != nil {
				t.Fatal(err)
			}
			restored, err := Summarize(ctx, sc.DB)
			if err != nil {
				t.Fatal(err)
			}
			src, _ := Summarize(ctx, source)
			if !restored.Equal(src) || restored.Rows != 603 {
				t.Errorf("restored %s, source %s: %v", restored, src, restored.Differences(src))
			}
			qc, err := CompareQuery(ctx, sc.DB, source, myCheckQuery)
			if err != nil || !qc.Match || !strings.HasPrefix(qc.Restored, "500\t") {
				t.Errorf("check query: %+v, %v", qc, err)
			}
			res, err := RunCheckCommand(ctx, sc.DB, `mariadb --defaults-extra-file="$BACKUP_RESTORED_DEFAULTS_FILE" -N -B -e "SELECT COUNT(*) FROM users" "$BACKUP_RESTORED_DATABASE"`)
			if err != nil || res.Output != "100" {
				t.Errorf("check command: %+v, %v", res, err)
			}
		}()
		if left := my.Databases(t, ScratchBase); len(left) != 0 {
			t.Errorf("scratch databases left: %v", left)
		}
	})

	t.Run("the dump command for restic reads the password from a private option file", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		d, err := PrepareDump(ctx, source, DumpOptions{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Cleanup()
		assertArgvClean(t, d.Argv, live, my.Password)
		if len(d.Env) != 0 {
			t.Errorf("env %d entries, want none", len(d.Env))
		}
		cnf, ok := strings.CutPrefix(d.Argv[1], "--defaults-extra-file=")
		if !ok || d.Argv[len(d.Argv)-1] != "appdb" {
			t.Fatalf("argv %q: the option file must come first, the database last", d.Argv)
		}
		for _, p := range []string{cnf, filepath.Dir(cnf)} {
			st, err := os.Stat(p)
			if err != nil || st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s: %v, mode %v", p, err, st.Mode())
			}
		}
		file := filepath.Join(t.TempDir(), "appdb.sql")
		runDump(t, d, file)
		if err := VerifyDump(ctx, MariaDB, "", file); err != nil {
			t.Fatal(err)
		}
		d.Cleanup()
		if _, err := os.Stat(cnf); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Cleanup left the option file: %v", err)
		}
		// A dump without its last line is not complete.
		b, _ := os.ReadFile(file)
		cut := bytes.LastIndex(bytes.TrimRight(b, "\n"), []byte("\n"))
		if err := os.WriteFile(file, b[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := VerifyDump(ctx, MariaDB, "", file); ClassOf(err) != ClassDumpIncomplete {
			t.Errorf("class %q (%v), want dump_incomplete", ClassOf(err), err)
		}
	})

	t.Run("a wrong password is auth_failed, and the error shows none of it", func(t *testing.T) {
		wrong := "Wr0ng/P@ss:w%rd\"\\-Zq8"
		u, _ := url.Parse(my.URL("appdb"))
		u.User = url.UserPassword("app", wrong)
		c := mustParse(t, MariaDB, u.String())
		file := filepath.Join(t.TempDir(), "appdb.sql")
		err := DumpToFile(testCtx(t, time.Minute), OnServer(c), DumpOptions{}, file)
		if ClassOf(err) != ClassAuthFailed || !strings.Contains(err.Error(), "Access denied") {
			t.Fatalf("class %q (%v), want auth_failed", ClassOf(err), err)
		}
		assertNoSecretIn(t, "the error", err.Error(), c, wrong)
		if _, serr := os.Stat(file); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("a failed dump left its file")
		}
	})

	t.Run("leftovers of interrupted drills of this database are dropped, nothing else", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		oldName := scratchName(ScratchPrefix("shop"), now.Add(-2*time.Hour))
		newName := scratchName(ScratchPrefix("shop"), now)
		other := scratchName(ScratchPrefix("shop2"), now.Add(-2*time.Hour))
		for _, n := range []string{oldName, newName, other} {
			my.SQL(t, "", "CREATE DATABASE "+myIdent(n))
		}
		dropped, err := CleanupLeftovers(ctx, server, ScratchPrefix("shop"), now.Add(-time.Hour))
		if err != nil || len(dropped) != 1 || dropped[0] != oldName {
			t.Errorf("dropped %v (%v), want [%s]", dropped, err, oldName)
		}
		left := my.Databases(t, ScratchBase)
		if len(left) != 2 {
			t.Errorf("left %v, want %s and %s", left, newName, other)
		}
		for _, n := range left {
			my.SQL(t, "", "DROP DATABASE "+myIdent(n))
		}
	})

	t.Run("a restore swaps all tables at once, or changes nothing", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		file := filepath.Join(t.TempDir(), "appdb.sql")
		if err := DumpToFile(ctx, source, DumpOptions{}, file); err != nil {
			t.Fatal(err)
		}
		want, _ := Summarize(ctx, source)
		my.SQL(t, "appdb", "INSERT INTO users VALUES (1001, 'late'); DELETE FROM orders WHERE id <= 10; CREATE TABLE extra (x INT); "+
			"CREATE TRIGGER users_ai AFTER INSERT ON users FOR EACH ROW SET @x = 1")
		before, _ := Summarize(ctx, source)

		f, _ := os.Open(file)
		err := RestoreMySQL(ctx, live, Conn{}, f, now, time.Minute)
		f.Close()
		if ClassOf(err) != ClassRestoreFailed || !strings.Contains(err.Error(), "triggers") {
			t.Fatalf("with a trigger on the live database: class %q (%v), want restore_failed", ClassOf(err), err)
		}
		if after, _ := Summarize(ctx, source); !after.Equal(before) {
			t.Errorf("the refused restore changed the live database: %v", before.Differences(after))
		}
		if left := my.Databases(t, RestoreBase); len(left) != 0 {
			t.Errorf("helper databases left: %v", left)
		}

		my.SQL(t, "appdb", "DROP TRIGGER users_ai")
		f, _ = os.Open(file)
		err = RestoreMySQL(ctx, live, server, f, now, time.Minute)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := Summarize(ctx, source)
		if !got.Equal(want) {
			t.Errorf("restored %s, want %s: %v", got, want, want.Differences(got))
		}
		if ref := my.SQL(t, "", "SELECT REFERENCED_TABLE_SCHEMA FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = 'appdb' AND TABLE_NAME = 'orders' AND REFERENCED_TABLE_NAME = 'users'"); ref != "appdb" {
			t.Errorf("orders' foreign key points at schema %q, want appdb", ref)
		}
		if out, err := exec.Command("mariadb", "--no-defaults", "--socket="+my.Socket, "--user=root", "appdb", "-e", "INSERT INTO orders (user_id) VALUES (999999)").CombinedOutput(); err == nil {
			t.Errorf("the foreign key is no longer enforced: %s", out)
		}
		if left := my.Databases(t, RestoreBase); len(left) != 0 {
			t.Errorf("helper databases left: %v", left)
		}
	})
}
