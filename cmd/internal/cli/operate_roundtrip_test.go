package cli_test

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shopDatabases adds the PostgreSQL database main to the shop spec.
const shopDatabases = `    - name: main
      engine: postgres
      urlSecret: DATABASE_URL
      scratchUrlSecret: DRILL_DATABASE_URL
      check:
        query: SELECT count(*), sum(amount) FROM orders`

// sqliteWriter is a live sqlite3 process inserting rows into a WAL-mode
// database without checkpoints, so committed rows sit in the -wal file that
// a plain copy of the database file would miss.
type sqliteWriter struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	stop  chan struct{}
	done  sync.WaitGroup
}

func startSQLiteWriter(t *testing.T, db string) *sqliteWriter {
	t.Helper()
	w := &sqliteWriter{cmd: exec.Command("sqlite3", db), stop: make(chan struct{})}
	var err error
	w.stdin, err = w.cmd.StdinPipe()
	must(t, err)
	w.cmd.Stdout, w.cmd.Stderr = io.Discard, io.Discard
	must(t, w.cmd.Start())
	bw := bufio.NewWriter(w.stdin)
	fmt.Fprintln(bw, ".timeout 10000\nPRAGMA wal_autocheckpoint=0;")
	must(t, bw.Flush())
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			fmt.Fprintf(bw, "INSERT INTO notes(body) VALUES ('live row %d');\n", i)
			if bw.Flush() != nil {
				return
			}
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *sqliteWriter) close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	w.done.Wait()
	_ = w.stdin.Close()
	_ = w.cmd.Wait()
}

func sqliteQuery(t *testing.T, db, sql string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", "-cmd", ".timeout 10000", db, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", db, sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// seedShop writes the volume's files and databases and the Postgres data.
func seedShop(t *testing.T, vol string, pg *pgServer) {
	t.Helper()
	big := make([]byte, 300<<10)
	_, _ = rand.Read(big)
	must(t, os.MkdirAll(filepath.Join(vol, "uploads", "2026"), 0o755))
	must(t, os.WriteFile(filepath.Join(vol, "uploads", "2026", "photo.bin"), big, 0o644))
	for i := range 8 {
		must(t, os.WriteFile(filepath.Join(vol, "uploads", fmt.Sprintf("doc-%d.txt", i)), []byte(strings.Repeat("line\n", 100*i+1)), 0o644))
	}
	notes := filepath.Join(vol, "notes.sqlite3")
	sqliteQuery(t, notes, "PRAGMA journal_mode=WAL; CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL); "+
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO notes(body) SELECT 'seed ' || i FROM n;")
	sqliteQuery(t, filepath.Join(vol, "cache.db"), "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('a', '1'), ('b', '2');")
	if pg != nil {
		pg.psql(t, "appdb", "SET ROLE app; CREATE TABLE orders(id serial PRIMARY KEY, amount int NOT NULL, note text NOT NULL); "+
			"INSERT INTO orders(amount, note) SELECT i % 97, md5(i::text) FROM generate_series(1, 2000) AS i;")
	}
}

const ordersDigest = "SELECT count(*) || '|' || sum(amount) || '|' || md5(string_agg(note, ',' ORDER BY id)) FROM orders"

func TestBackupDrillCheckPruneStatusOnRealFilesSQLiteAndPostgres(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		pg := startPostgres(t)
		app := newOpsApp(t, rb, opsConfig{
			databases: shopDatabases,
			secrets:   map[string]string{"DATABASE_URL": pg.url("appdb"), "DRILL_DATABASE_URL": pg.url("postgres")},
		})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, pg)
		notes := filepath.Join(vol, "notes.sqlite3")
		writer := startSQLiteWriter(t, notes)
		var before int
		waitUntil(t, "the writer adds rows", 5*time.Minute, func() bool {
			before, _ = strconv.Atoi(sqliteQuery(t, notes, "SELECT count(*) FROM notes"))
			return before > 1000
		})

		backup := app.mustOp(t, 0, "backup", "--init")
		writer.close()
		after, _ := strconv.Atoi(sqliteQuery(t, notes, "SELECT count(*) FROM notes"))
		if !backup.OK || backup.Environments[0].Result != "ok" || !backup.Environments[0].EvidenceStored {
			t.Fatalf("backup: %+v", backup)
		}
		if v := backup.Environments[0].Evidence.ResticVersion; v != rb.version {
			t.Errorf("restic_version = %q, want %q (the service's PATH picks the restic under test)", v, rb.version)
		}
		for _, name := range []string{"db:main", "db:notes", "db:auto-data-shop_storage-cache.db", "files"} {
			if s := backup.step(t, name); s["result"] != "ok" || s["snapshot_id"] == "" {
				t.Errorf("step %s = %v", name, s)
			}
		}

		// Every snapshot is scoped by host and tags; the files snapshot holds
		// no live database file.
		snaps := app.snapshots(t)
		var files snapshot
		for _, s := range snaps {
			if s.Hostname != "shop-production" || !slices.Contains(s.Tags, "app:shop") || !slices.Contains(s.Tags, "env:production") {
				t.Errorf("snapshot %s is not scoped: host %s tags %v", s.ID[:8], s.Hostname, s.Tags)
			}
			if slices.Contains(s.Tags, "kind:files") {
				files = s
			}
		}
		listing := string(app.restic(t, "ls", files.ID))
		for _, want := range []string{"/data/shop_storage/uploads/2026/photo.bin", "/data/shop_storage/uploads/doc-7.txt"} {
			if !strings.Contains(listing, want+"\n") {
				t.Errorf("files snapshot lacks %s", want)
			}
		}
		for _, live := range []string{"notes.sqlite3", "notes.sqlite3-wal", "notes.sqlite3-shm", "cache.db"} {
			if strings.Contains(listing, "/data/shop_storage/"+live+"\n") {
				t.Errorf("files snapshot holds the live database file %s", live)
			}
		}

		// The SQLite dump is a consistent copy that includes the rows still in
		// the WAL, and each of its rows is the source's.
		dump := filepath.Join(t.TempDir(), "notes.sqlite3")
		must(t, os.WriteFile(dump, app.restic(t, "dump", "--host", "shop-production", "--tag", "app:shop,env:production,db:notes", "latest", "/notes.sqlite3"), 0o600))
		if got := sqliteQuery(t, dump, "PRAGMA integrity_check"); got != "ok" {
			t.Fatalf("restored notes: integrity_check %q", got)
		}
		n, _ := strconv.Atoi(sqliteQuery(t, dump, "SELECT count(*) FROM notes"))
		if n < before || n > after {
			t.Errorf("restored notes has %d rows; the source had %d before the backup and %d after", n, before, after)
		}
		digest := fmt.Sprintf("SELECT md5sum FROM (SELECT group_concat(id || ':' || body, ',') AS md5sum FROM (SELECT * FROM notes WHERE id <= %d ORDER BY id))", n)
		if a, b := sqliteQuery(t, dump, digest), sqliteQuery(t, notes, digest); a != b {
			t.Error("restored notes rows differ from the source's")
		}

		// The Postgres dump restores to the same data.
		pgDump := filepath.Join(t.TempDir(), "main.pgdump")
		must(t, os.WriteFile(pgDump, app.restic(t, "dump", "--host", "shop-production", "--tag", "app:shop,env:production,db:main", "latest", "/main.pgdump"), 0o644))
		pg.psql(t, "postgres", "CREATE DATABASE verify")
		if out, err := exec.Command("pg_restore", "--exit-on-error", "--no-owner", "-h", pg.sock, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "verify", pgDump).CombinedOutput(); err != nil {
			t.Fatalf("pg_restore: %v\n%s", err, out)
		}
		if a, b := pg.psql(t, "verify", ordersDigest), pg.psql(t, "appdb", ordersDigest); a != b {
			t.Errorf("restored orders %s, source %s", a, b)
		}

		// The drill restores each group into scratch places and verifies it.
		drill := app.mustOp(t, 0, "drill")
		f := drill.step(t, "files")
		if f["result"] != "ok" || f["identical"] == 0.0 || f["different"] != 0.0 || f["files_restored"] != 9.0 {
			t.Errorf("drill files: %v", f)
		}
		m := drill.step(t, "db:main")
		if m["result"] != "ok" || m["matches_source"] != true || m["check_output"] != "2000|"+pg.psql(t, "appdb", "SELECT sum(amount) FROM orders") {
			t.Errorf("drill db:main: %v", m)
		}
		if !strings.HasPrefix(fmt.Sprint(m["restored"]), "1 tables, 2000 rows") {
			t.Errorf("drill db:main restored %v", m["restored"])
		}
		s := drill.step(t, "db:notes")
		// The writer went on after the backup: the drill sees the source has
		// moved on, and the restored copy is the snapshot's.
		if s["result"] != "ok" || s["integrity_check"] != "ok" || s["check_output"] != "500" ||
			s["restored"] != fmt.Sprintf("1 tables, %d rows", n) || s["source"] != fmt.Sprintf("1 tables, %d rows", after) || s["matches_source"] != (n == after) {
			t.Errorf("drill db:notes: %v (the snapshot has %d rows, the source %d)", s, n, after)
		}
		if got := drill.step(t, "db:auto-data-shop_storage-cache.db"); got["result"] != "ok" || got["restored"] != "1 tables, 2 rows" {
			t.Errorf("drill of the found database: %v", got)
		}
		if left := pg.databases(t, "devopsellence_drill_"); len(left) > 0 {
			t.Errorf("the drill left scratch databases behind: %v", left)
		}

		check := app.mustOp(t, 0, "check")
		if s := check.step(t, "check"); s["result"] != "ok" || s["subset"] != nil {
			t.Errorf("check: %v", s)
		}
		for _, want := range []string{"1/10", "2/10"} {
			c := app.mustOp(t, 0, "check", "--read-data-subset", "auto")
			if s := c.step(t, "check"); s["subset"] != want {
				t.Errorf("rotating check read %v, want %s", s["subset"], want)
			}
		}
		if doc := app.evidence(t, "check"); doc["result"] != "ok" || doc["kind"] != "check" {
			t.Errorf("check evidence: %v", doc)
		}
		// Each part a check verified is a tag of its evidence, and each run
		// says how it went.
		var parts []string
		for _, s := range app.snapshots(t, "--tag", "evidence:check") {
			var mine []string
			for _, tag := range s.Tags {
				if strings.HasPrefix(tag, "check-part:") || strings.HasPrefix(tag, "result:") {
					mine = append(mine, tag)
				}
			}
			slices.Sort(mine)
			parts = append(parts, strings.Join(mine, " "))
		}
		if want := []string{"result:ok", "check-part:1/10 result:ok", "check-part:2/10 result:ok"}; !slices.Equal(parts, want) {
			t.Errorf("check evidence tags %q, want %q", parts, want)
		}

		prune := app.mustOp(t, 0, "prune")
		if s := prune.step(t, "forget"); s["result"] != "ok" || s["policy"] != "--keep-last 3" {
			t.Errorf("forget: %v", s)
		}
		if s := prune.step(t, "prune"); s["result"] != "ok" {
			t.Errorf("prune: %v", s)
		}

		r := app.cli(t, "status", "--output", "json")
		if r.code != 0 {
			t.Fatalf("status: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		var st struct {
			OK           bool
			Environments []struct {
				RepositoryType string `json:"repository_type"`
				Backups        []struct {
					Name       string
					AgeSeconds *int64 `json:"age_seconds"`
					Stale      bool
				}
				Operations []struct{ Kind, Result string }
			}
		}
		must(t, json.Unmarshal([]byte(r.stdout), &st))
		if !st.OK || st.Environments[0].RepositoryType != "local" {
			t.Errorf("status: %s", r.stdout)
		}
		var groups []string
		for _, g := range st.Environments[0].Backups {
			if g.AgeSeconds == nil || g.Stale {
				t.Errorf("status group %s has no fresh snapshot", g.Name)
			}
			groups = append(groups, g.Name)
		}
		if want := []string{"files", "db:notes", "db:main", "db:auto-data-shop_storage-cache.db"}; !slices.Equal(groups, want) {
			t.Errorf("status groups = %v, want %v", groups, want)
		}
		for _, op := range st.Environments[0].Operations {
			if op.Result != "ok" {
				t.Errorf("status: last %s is %q", op.Kind, op.Result)
			}
		}
		if text := app.cli(t, "status"); text.code != 0 || !strings.Contains(text.stdout, "Evidence is fresh and ok in production.") {
			t.Errorf("status text: exit %d\n%s", text.code, text.stdout)
		}
	})
}
