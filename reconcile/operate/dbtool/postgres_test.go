package dbtool

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

const pgSeed = `SET ROLE app;
CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, 100) g;
CREATE TABLE events (id bigserial PRIMARY KEY, user_id int REFERENCES users(id), payload text);
INSERT INTO events (user_id, payload) SELECT 1 + g % 100, md5(g::text) FROM generate_series(1, 1000) g;
CREATE SCHEMA billing;
CREATE TABLE billing."Odd ""Name""" (x int);
INSERT INTO billing."Odd ""Name""" VALUES (1), (2);
CREATE TABLE measurements (at date NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO measurements VALUES ('2025-03-01', 1), ('2025-04-01', 2), ('2025-05-01', 3);
`

const pgCheckQuery = "SELECT count(*), md5(string_agg(payload, ',' ORDER BY id)) FROM events"

func TestPostgres(t *testing.T) {
	t.Parallel()
	pg := dbtest.StartPostgres(t)
	pg.SQL(t, "appdb", pgSeed)
	source := OnServer(mustParse(t, Postgres, pg.URL("appdb")))
	server := mustParse(t, Postgres, pg.URL("postgres"))
	now := time.Now()

	t.Run("the summary counts every table once, partitions with their parent", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		s, err := Summarize(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"public.users": 100, "public.events": 1000, `billing."Odd ""Name"""`: 2, "public.measurements": 3}
		if s.Tables != 4 || s.Rows != 1105 || len(s.PerTable) != len(want) {
			t.Fatalf("summary %s %v", s, s.PerTable)
		}
		for k, v := range want {
			if s.PerTable[k] != v {
				t.Errorf("%s: %d rows, want %d", k, s.PerTable[k], v)
			}
		}
		if s.String() != "4 tables, 1105 rows" {
			t.Errorf("String() = %q", s.String())
		}
	})

	for _, format := range []Format{FormatCustom, FormatPlain} {
		t.Run(fmt.Sprintf("a %s dump loads into a scratch database with the same summary, then the scratch database goes", format), func(t *testing.T) {
			ctx := testCtx(t, 2*time.Minute)
			file := filepath.Join(t.TempDir(), "appdb.dump")
			if err := DumpToFile(ctx, source, DumpOptions{Format: format}, file); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(file)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("dump file: %v, mode %v", err, st.Mode())
			}
			func() {
				sc, err := NewScratch(server, "primary", now)
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
				if !strings.HasPrefix(sc.Name, "devopsellence_drill_primary_") {
					t.Errorf("scratch name %q", sc.Name)
				}
				if err := sc.Create(ctx); err != nil {
					t.Fatal(err)
				}
				f, err := os.Open(file)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := sc.Load(ctx, format, f); err != nil {
					t.Fatal(err)
				}
				restored, err := Summarize(ctx, sc.DB)
				if err != nil {
					t.Fatal(err)
				}
				src, err := Summarize(ctx, source)
				if err != nil {
					t.Fatal(err)
				}
				if !restored.Equal(src) || restored.Rows != 1105 {
					t.Errorf("restored %s, source %s: %v", restored, src, restored.Differences(src))
				}
				qc, err := CompareQuery(ctx, sc.DB, source, pgCheckQuery)
				if err != nil || !qc.Match || !strings.HasPrefix(qc.Restored, "1000|") {
					t.Errorf("check query: %+v, %v", qc, err)
				}
				res, err := RunCheckCommand(ctx, sc.DB, `psql -X -A -t -c "SELECT count(*) FROM users" && test "$BACKUP_RESTORED_URL" = "$(printf %s "$BACKUP_RESTORED_URL")"`)
				if err != nil || res.Output != "100" {
					t.Errorf("check command: %+v, %v", res, err)
				}
				if strings.Contains(sc.DB.String(), pg.Password) || strings.Contains(sc.DB.String(), url.QueryEscape(pg.Password)) {
					t.Errorf("the scratch database prints its password")
				}
			}()
			if left := pg.Databases(t, ScratchBase); len(left) != 0 {
				t.Errorf("scratch databases left: %v", left)
			}
		})
	}

	t.Run("the dump command for restic keeps the password out of argv", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		d, err := PrepareDump(ctx, source, DumpOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Cleanup()
		assertArgvClean(t, d.Argv, source.Conn, pg.Password)
		if d.Argv[0] != "pg_dump" || !slices.Contains(d.Argv, "--format=custom") || !slices.Contains(d.Argv, "--compress=0") {
			t.Errorf("argv %q", d.Argv)
		}
		if !slices.Contains(d.Env, "PGPASSWORD="+pg.Password) {
			t.Errorf("the password is not in the dumper's environment")
		}
		file := filepath.Join(t.TempDir(), "appdb.dump")
		runDump(t, d, file)
		if err := VerifyDump(ctx, Postgres, FormatCustom, file); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a dump cut short fails its check", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		dir := t.TempDir()
		for _, format := range []Format{FormatCustom, FormatPlain} {
			file := filepath.Join(dir, string(format))
			if err := DumpToFile(ctx, source, DumpOptions{Format: format}, file); err != nil {
				t.Fatal(err)
			}
			st, _ := os.Stat(file)
			if err := os.Truncate(file, st.Size()*2/3); err != nil {
				t.Fatal(err)
			}
			if err := VerifyDump(ctx, Postgres, format, file); ClassOf(err) != ClassDumpIncomplete {
				t.Errorf("%s cut short: class %q (%v), want dump_incomplete", format, ClassOf(err), err)
			}
		}
	})

	t.Run("a wrong password is auth_failed, and the error shows none of it", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		wrong := "Wr0ng/P@ss:w%rd-Zq8"
		u, _ := url.Parse(pg.URL("appdb"))
		u.User = url.UserPassword("app", wrong)
		c := mustParse(t, Postgres, u.String())
		file := filepath.Join(t.TempDir(), "appdb.dump")
		err := DumpToFile(ctx, OnServer(c), DumpOptions{}, file)
		if ClassOf(err) != ClassAuthFailed {
			t.Fatalf("class %q (%v), want auth_failed", ClassOf(err), err)
		}
		if !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "password authentication failed") {
			t.Errorf("the error should say what failed and name the secret: %v", err)
		}
		assertNoSecretIn(t, "the error", err.Error(), c, wrong)
		if _, serr := os.Stat(file); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("a failed dump left its file: %v", serr)
		}
	})

	t.Run("the URL's parameters reach the client, its password does not reach argv", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		c := mustParse(t, Postgres, pg.URL("appdb")+"?application_name=drill%20check&sslmode=disable")
		out, err := Query(ctx, OnServer(c), "SELECT current_setting('application_name')")
		if err != nil || out != "drill check" {
			t.Errorf("application_name %q (%v), want it from the URL", out, err)
		}
		argv, err := pgArgs(c, "test")
		if err != nil {
			t.Fatal(err)
		}
		assertArgvClean(t, argv, c, pg.Password)
		// sslmode=require on a server without SSL fails: the parameter is used.
		c = mustParse(t, Postgres, pg.URL("appdb")+"?sslmode=require")
		if _, err := Query(ctx, OnServer(c), "SELECT 1"); err == nil || !strings.Contains(err.Error(), "SSL") {
			t.Errorf("sslmode=require was not passed on: %v", err)
		}
	})

	t.Run("a query on the source cannot write", func(t *testing.T) {
		_, err := Query(testCtx(t, time.Minute), source, "DELETE FROM users")
		if ClassOf(err) != ClassQueryFailed || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("class %q (%v), want a read-only refusal", ClassOf(err), err)
		}
		if n := pg.SQL(t, "appdb", "SELECT count(*) FROM users"); n != "100" {
			t.Errorf("users: %s rows", n)
		}
	})

	t.Run("an unreachable server is connect_failed", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		c := mustParse(t, Postgres, fmt.Sprintf("postgres://app:x@127.0.0.1:%d/appdb", dbtest.FreePort(t, "127.0.0.1")))
		_, err := Summarize(ctx, OnServer(c))
		if ClassOf(err) != ClassConnectFailed {
			t.Errorf("class %q (%v), want connect_failed", ClassOf(err), err)
		}
	})

	t.Run("leftovers of interrupted drills of this database are dropped, nothing else", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		old := now.Add(-3 * time.Hour)
		names := map[string]bool{ // name → should be dropped
			scratchName(ScratchPrefix("primary"), old):                   true,
			scratchName(ScratchPrefix("primary"), now.Add(-time.Minute)): false, // a drill still under way
			scratchName(ScratchPrefix("primary_v2"), old):                false, // another database
			scratchName(ScratchPrefix("other"), old):                     false,
			ScratchPrefix("primary") + "notes":                           false, // not a name we make
			scratchName(RestorePrefix("primary"), old):                   false, // another prefix
		}
		for n := range names {
			pg.SQL(t, "postgres", "CREATE DATABASE "+pgIdent(n)+" OWNER app")
		}
		// A session left on a leftover must not keep it alive.
		var victim string
		for n, drop := range names {
			if drop {
				victim = n
			}
		}
		hold := startHolder(t, pg, victim)
		defer hold()
		dropped, err := CleanupLeftovers(ctx, server, ScratchPrefix("primary"), now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(dropped) != 1 || dropped[0] != victim {
			t.Errorf("dropped %v, want [%s]", dropped, victim)
		}
		left := map[string]bool{}
		for _, n := range pg.Databases(t, "devopsellence_") {
			left[n] = true
		}
		for n, drop := range names {
			if left[n] == drop {
				t.Errorf("%s: left=%v, want dropped=%v", n, left[n], drop)
			}
			if !drop {
				pg.SQL(t, "postgres", "DROP DATABASE "+pgIdent(n))
			}
		}
		if _, err := CleanupLeftovers(ctx, server, "app", now); err == nil {
			t.Error("a prefix that is not ours was accepted")
		}
	})

	t.Run("a killed drill still drops its scratch database", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		// A plain dump whose load hangs after creating a table.
		dump := "CREATE TABLE started (x int);\nSELECT pg_sleep(120);\n"
		runCtx, kill := context.WithCancel(ctx)
		var name string
		done := make(chan error, 1)
		go func() {
			done <- drill(runCtx, server, dump, func(n string) { name = n })
		}()
		waitUntil(t, 2*time.Minute, func() bool {
			return name != "" && len(pg.Databases(t, name)) == 1 &&
				pg.SQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = "+pgLiteral(name)+" AND query LIKE '%pg_sleep%'") == "1"
		})
		kill()
		select {
		case err := <-done:
			if ClassOf(err) != ClassInterrupted {
				t.Errorf("class %q (%v), want interrupted", ClassOf(err), err)
			}
		case <-time.After(StopGrace + 2*time.Minute):
			t.Fatal("the drill did not stop")
		}
		if left := pg.Databases(t, ScratchBase); len(left) != 0 {
			t.Errorf("scratch databases left after the kill: %v", left)
		}
	})

	t.Run("a restore into the live database runs in one transaction", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		live := mustParse(t, Postgres, pg.URL("appdb"))
		dir := t.TempDir()
		want, err := Summarize(ctx, source)
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range []Format{FormatCustom, FormatPlain} {
			file := filepath.Join(dir, string(format))
			if err := DumpToFile(ctx, source, DumpOptions{Format: format}, file); err != nil {
				t.Fatal(err)
			}
			// The app writes after the dump, and a view now depends on the
			// table that --clean drops last, so the restore fails after it
			// dropped the other tables and constraints.
			pg.SQL(t, "appdb", `SET ROLE app; INSERT INTO users VALUES (1001, 'late'); DELETE FROM events WHERE id <= 10; CREATE VIEW odd_names AS SELECT x FROM billing."Odd ""Name""";`)
			before, _ := Summarize(ctx, source)
			f, _ := os.Open(file)
			err := RestorePostgres(ctx, live, format, f, time.Minute)
			f.Close()
			if ClassOf(err) != ClassRestoreFailed || !strings.Contains(err.Error(), "one transaction") {
				t.Fatalf("%s: class %q (%v), want restore_failed", format, ClassOf(err), err)
			}
			after, _ := Summarize(ctx, source)
			if !after.Equal(before) || pg.SQL(t, "appdb", "SELECT count(*) FROM odd_names") != "2" ||
				pg.SQL(t, "appdb", "SELECT count(*) FROM pg_constraint WHERE conname IN ('users_pkey', 'events_user_id_fkey')") != "2" {
				t.Errorf("%s: the failed restore changed the live database: %v", format, before.Differences(after))
			}
			pg.SQL(t, "appdb", "DROP VIEW odd_names")
			f, _ = os.Open(file)
			err = RestorePostgres(ctx, live, format, f, time.Minute)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			got, _ := Summarize(ctx, source)
			if !got.Equal(want) {
				t.Errorf("%s: restored %s, want %s: %v", format, got, want, want.Differences(got))
			}
			if n := pg.SQL(t, "appdb", "SELECT count(*) FROM users WHERE id = 1001"); n != "0" {
				t.Errorf("%s: the row written after the dump is still there", format)
			}
		}
	})

	t.Run("an interrupted restore into the live database leaves it as it was", func(t *testing.T) {
		ctx := testCtx(t, 2*time.Minute)
		live := mustParse(t, Postgres, pg.URL("appdb"))
		file := filepath.Join(t.TempDir(), "plain.sql")
		if err := DumpToFile(ctx, source, DumpOptions{Format: FormatPlain}, file); err != nil {
			t.Fatal(err)
		}
		// Hang the restore after its DROP statements have run.
		b, _ := os.ReadFile(file)
		text := strings.Replace(string(b), "\nCREATE TABLE", "\nSELECT pg_sleep(120);\nCREATE TABLE", 1)
		if text == string(b) {
			t.Fatal("no CREATE TABLE in the plain dump")
		}
		before, _ := Summarize(ctx, source)
		runCtx, kill := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- RestorePostgres(runCtx, live, FormatPlain, strings.NewReader(text), time.Minute) }()
		waitUntil(t, 2*time.Minute, func() bool {
			return pg.SQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()") == "1"
		})
		kill()
		if err := <-done; ClassOf(err) != ClassInterrupted {
			t.Errorf("class %q (%v), want interrupted", ClassOf(err), err)
		}
		// The session is cancelled at once (not after its 120 s sleep), and
		// its transaction rolled back: the dropped tables are back.
		waitUntil(t, time.Minute, func() bool {
			return pg.SQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()") == "0"
		})
		after, err := Summarize(ctx, source)
		if err != nil || !after.Equal(before) {
			t.Errorf("the interrupted restore changed the live database (%v): %v", err, before.Differences(after))
		}
	})
}

// drill is the way the agent runs a drill: name the scratch database,
// defer its drop with a fresh context, create, load.
func drill(ctx context.Context, server Conn, plainDump string, started func(string)) error {
	sc, err := NewScratch(server, "primary", time.Now())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := CleanupContext(ctx)
		defer cancel()
		_ = sc.Drop(cctx)
	}()
	if err := sc.Create(ctx); err != nil {
		return err
	}
	started(sc.Name)
	return sc.Load(ctx, FormatPlain, strings.NewReader(plainDump))
}

// startHolder keeps a session open on database db until the returned
// function is called.
func startHolder(t *testing.T, pg *dbtest.Postgres, db string) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := mustParse(t, Postgres, pg.URL(db))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = psql(ctx, c, "hold", ClassQueryFailed, "SELECT pg_sleep(60);")
	}()
	waitUntil(t, 2*time.Minute, func() bool {
		return pg.SQL(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE datname = "+pgLiteral(db)) != "0"
	})
	return func() { cancel(); <-done }
}

func waitUntil(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
