package dbtool

import (
	"strings"
	"testing"
	"time"
)

func TestAURLThatDoesNotParseStartsNoProcess(t *testing.T) {
	tools := fakeTools(t, "pg_dump", "pg_restore", "psql", "mariadb-dump", "mysqldump", "mariadb", "mysql", "redis-cli")
	ctx := testCtx(t, time.Minute)
	for engine, raw := range map[Engine]string{
		Postgres: "postgresql://app:Qz9Xk7/Vw3Lp2@db:5432/appdb",
		MariaDB:  "mysql://app:Qz9Xk7/Vw3Lp2@db:3306/appdb",
		Redis:    "redis://:Qz9Xk7/Vw3Lp2@cache:6379/0",
	} {
		c, err := ParseSecret(engine, "DATABASE_URL", raw)
		if ClassOf(err) != ClassBadURL {
			t.Fatalf("%s: class %q (%v), want bad_url", engine, ClassOf(err), err)
		}
		for _, p := range parts("Qz9Xk7/Vw3Lp2", 4) {
			if strings.Contains(err.Error(), p) {
				t.Errorf("%s: the error shows %q: %v", engine, p, err)
			}
		}
		// What a caller holds after the refusal is the zero Conn: nothing
		// runs with it.
		db := Database{Engine: engine, Conn: c}
		errs := []error{DumpToFile(ctx, db, DumpOptions{}, t.TempDir()+"/x")}
		_, e := PrepareDump(ctx, db, DumpOptions{})
		errs = append(errs, e)
		_, e = Summarize(ctx, db)
		errs = append(errs, e)
		_, e = NewScratch(c, "primary", time.Now())
		errs = append(errs, e)
		_, e = CleanupLeftovers(ctx, c, ScratchPrefix("primary"), time.Now())
		errs = append(errs, e)
		for i, e := range errs {
			if ClassOf(e) != ClassBadURL {
				t.Errorf("%s, call %d: class %q (%v), want bad_url", engine, i, ClassOf(e), e)
			}
		}
	}
	if ran := ranTools(t, tools); len(ran) != 0 {
		t.Errorf("client programs ran: %v", ran)
	}
}

func TestScratchNamesFitAndMatchOnlyTheirDatabase(t *testing.T) {
	now := time.Unix(1767225600, 0)
	long := scratchName(ScratchPrefix("My-Very-Long Database Name, with punctuation"), now)
	if len(long) > 63 || !strings.HasPrefix(long, "devopsellence_drill_my_very_long_databas_1767225600_") {
		t.Errorf("name %q (%d bytes)", long, len(long))
	}
	if r := scratchName(RestorePrefix("x"), now); len(r) > 63 {
		t.Errorf("restore name %q too long", r)
	}
	prefix := ScratchPrefix("app")
	for name, want := range map[string]bool{
		scratchName(prefix, now):                  true,
		scratchName(ScratchPrefix("app_v2"), now): false,
		prefix + "1767225600_zzzzzzzz":            false,
		prefix + "1767225600_0123abcd_extra":      false,
		prefix + "notes":                          false,
		"devopsellence_drill_app":                 false,
		strings.ToUpper(scratchName(prefix, now)): false,
	} {
		got, ok := scratchTime(name, prefix)
		if ok != want || (ok && !got.Equal(now)) {
			t.Errorf("%q: %v %v, want %v", name, got, ok, want)
		}
	}
}

func TestPlainDumpCompletionLine(t *testing.T) {
	for lines, want := range map[string]bool{
		"x\n-- PostgreSQL database dump complete\n--":                        true,
		"x\n-- PostgreSQL database dump complete\n--\n\\unrestrict abc123":   true,
		"x\n-- PostgreSQL database dump complete\nINSERT INTO t VALUES (1);": false,
		"CREATE TABLE t (x int);":                                            false,
		"":                                                                   false,
	} {
		if got := plainComplete(strings.Split(lines, "\n")); got != want {
			t.Errorf("%q: %v, want %v", lines, got, want)
		}
	}
}

func TestClassifyReadsTheClientsMessages(t *testing.T) {
	for _, tt := range []struct {
		engine Engine
		stderr string
		want   Class
	}{
		{Postgres, `pg_dump: error: connection to server at "db" (10.0.0.2), port 5432 failed: FATAL:  password authentication failed for user "app"`, ClassAuthFailed},
		{Postgres, `psql: error: connection to server at "db", port 5432 failed: FATAL:  role "bob" does not exist`, ClassAuthFailed},
		{Postgres, `pg_restore: error: could not execute query: ERROR:  role "bob" does not exist`, ""},
		{Postgres, `pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused`, ClassConnectFailed},
		{Postgres, `pg_dump: error: connection to server at "db", port 5432 failed: FATAL:  database "nope" does not exist`, ""},
		{MariaDB, `mariadb-dump: Got error: 1045: "Access denied for user 'app'@'10.0.0.3' (using password: YES)" when trying to connect`, ClassAuthFailed},
		{MySQL, `ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)`, ClassConnectFailed},
		{Redis, `AUTH failed: WRONGPASS invalid username-password pair or user is disabled.`, ClassAuthFailed},
		{Redis, `Could not connect to Redis at 127.0.0.1:1: Connection refused`, ClassConnectFailed},
	} {
		if got := classify(tt.engine, tt.stderr); got != tt.want {
			t.Errorf("%s %q: %q, want %q", tt.engine, tt.stderr, got, tt.want)
		}
	}
}
