package dbtool

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

func TestAServerReachedByHostNameIsTheConnectionItsURLWouldBe(t *testing.T) {
	const pw = "p@ss:w/rd%?#x"
	c, err := ServerConn(Postgres, "DB_POSTGRES_PASSWORD", "db", 5432, "shop", "shop_db", pw)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Redacted(); got != "postgresql://shop@db:5432/shop_db" {
		t.Errorf("redacted = %q", got)
	}
	if !c.HasPassword() || !strings.Contains(strings.Join(c.Fragments(), "\n"), pw) {
		t.Errorf("the password is not kept for the client and the scrubber: %v", c.Fragments())
	}
	for _, tc := range []struct {
		name                 string
		engine               Engine
		host                 string
		port                 int
		user, database, pass string
		want                 string
	}{
		{"sqlite is no server", SQLite, "db", 1, "", "", "", `engine "sqlite" is not a server`},
		{"no host", Postgres, "", 5432, "u", "d", "", `the host "" is not a host name`},
		{"a host with a slash", Postgres, "db/x", 5432, "u", "d", "", `the host "db/x" is not a host name`},
		{"port zero", MySQL, "db", 0, "u", "d", "", "the port 0 is not a number"},
		{"a newline in the user", MySQL, "db", 3306, "u\n", "d", "", "NUL or newline"},
		{"a NUL in the password", Redis, "db", 6379, "", "", "se\x00cret", "its value is not shown"},
	} {
		_, err := ServerConn(tc.engine, "X_PASSWORD", tc.host, tc.port, tc.user, tc.database, tc.pass)
		var de *Error
		if !errors.As(err, &de) || de.Class != ClassBadURL || de.Secret != "X_PASSWORD" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want bad_url %q", tc.name, err, tc.want)
		}
		if tc.pass != "" && strings.Contains(err.Error(), "cret") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

func TestAServerConnectionDumpsAndCountsARealServer(t *testing.T) {
	t.Parallel()
	pg := dbtest.StartPostgres(t)
	pg.SQL(t, "appdb", "SET ROLE app; CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 42);")
	c, err := ServerConn(Postgres, "DB_POSTGRES_PASSWORD", pg.Host, pg.Port, pg.User, pg.Database, pg.Password)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, time.Minute)
	s, err := Summarize(ctx, OnServer(c))
	if err != nil || s.String() != "1 tables, 42 rows" {
		t.Fatalf("summary %s, %v", s, err)
	}
	d, err := PrepareDump(ctx, OnServer(c), DumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Cleanup()
	assertArgvClean(t, d.Argv, c, pg.Password)
	wrong, _ := ServerConn(Postgres, "DB_POSTGRES_PASSWORD", pg.Host, pg.Port, pg.User, pg.Database, "not-"+pg.Password)
	_, err = Summarize(ctx, OnServer(wrong))
	if ClassOf(err) != ClassAuthFailed {
		t.Errorf("a wrong password: %v (class %s), want %s", err, ClassOf(err), ClassAuthFailed)
	}
}
