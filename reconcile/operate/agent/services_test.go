package agent

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func serviceAgent(t *testing.T, dbs []spec.Database, env ...string) (*Agent, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cfg := spec.AgentConfig{Environment: "production", Databases: dbs}
	for _, d := range dbs {
		for _, s := range []string{d.URLSecret, d.PasswordSecret} {
			if s != "" {
				cfg.Secrets = append(cfg.Secrets, s)
			}
		}
	}
	env = append(env, "TMPDIR="+t.TempDir())
	a := &Agent{Config: cfg, Environ: env, Version: "v1", Now: time.Now, Runs: Registry{Dir: t.TempDir()}}
	a.scrub = newScrubber(cfg, env)
	a.Out = &Output{Stdout: io.Discard, Stderr: &stderr, Scrub: a.scrub, Now: time.Now}
	return a, &stderr
}

func TestAURLDatabaseIsTheTwinOfTheServiceDatabaseWhoseHostPortAndDatabaseItNames(t *testing.T) {
	db := spec.Database{Name: "db", Engine: spec.EnginePostgres, Service: "DB", Port: 5432, User: "shop", Database: "shop", PasswordSecret: "DB_POSTGRES_PASSWORD"}
	cache := spec.Database{Name: "cache", Engine: spec.EngineRedis, Service: "redis", Port: 6379}
	tests := []struct {
		url, engine, want string
	}{
		{"postgres://shop:pw@db:5432/shop", spec.EnginePostgres, "db"},
		{"postgresql://other:pw@db/shop?sslmode=disable", spec.EnginePostgres, "db"},
		{"postgres://shop:pw@db:5432/reports", spec.EnginePostgres, ""},
		{"postgres://shop:pw@db:6432/shop", spec.EnginePostgres, ""},
		{"postgres://shop:pw@db.example.com:5432/shop", spec.EnginePostgres, ""},
		{"redis://:pw@redis:6379/3", spec.EngineRedis, "cache"},
		{"mysql://shop:pw@db:5432/shop", spec.EngineMySQL, ""},
		{"host=db dbname=shop", spec.EnginePostgres, ""},
	}
	for _, tc := range tests {
		u := spec.Database{Name: "primary", Engine: tc.engine, URLSecret: "DATABASE_URL"}
		a, _ := serviceAgent(t, []spec.Database{db, cache, u}, "DATABASE_URL="+tc.url)
		if got := a.twinOf(u); got != tc.want {
			t.Errorf("%s: twin %q, want %q", tc.url, got, tc.want)
		}
	}
	a, _ := serviceAgent(t, []spec.Database{db})
	if got := a.twinOf(db); got != "" {
		t.Errorf("a service database is its own twin: %q", got)
	}
}

func TestAServiceDatabaseWithoutItsPasswordSecretFailsBeforeAnyClientRuns(t *testing.T) {
	db := spec.Database{Name: "db", Engine: spec.EnginePostgres, Service: "db", User: "shop", Database: "shop", PasswordSecret: "DB_POSTGRES_PASSWORD"}
	a, _ := serviceAgent(t, []spec.Database{db})
	_, err := a.database(db)
	if se, ok := err.(*stepError); !ok || se.class != "service_env" || !strings.Contains(se.msg, "secret DB_POSTGRES_PASSWORD (the password of service db) is not set in the service") {
		t.Errorf("err = %v", err)
	}
	a, _ = serviceAgent(t, []spec.Database{db}, "DB_POSTGRES_PASSWORD=pw")
	got, err := a.database(db)
	if err != nil || got.Conn.Redacted() != "postgresql://shop@db:5432/shop" || !got.Conn.HasPassword() {
		t.Errorf("database = %v, %v", got, err)
	}
}

// A drill killed after creating its scratch database on a service's own
// server leaves it in the ledger; the next drill drops it there.
func TestTheNextDrillDropsAScratchDatabaseThatAKilledDrillLeftOnAServicesServer(t *testing.T) {
	t.Parallel()
	pg := dbtest.StartPostgres(t)
	// The service's name is its host: here the server's own address.
	db := spec.Database{Name: "db", Engine: spec.EnginePostgres, Service: pg.Host, Port: pg.Port, User: pg.User, Database: pg.Database, PasswordSecret: "DB_POSTGRES_PASSWORD"}
	a, stderr := serviceAgent(t, []spec.Database{db}, "DB_POSTGRES_PASSWORD="+pg.Password)
	server, err := a.scratchServer(db)
	if err != nil {
		t.Fatal(err)
	}
	scratch, err := dbtool.NewScratch(server.Conn, db.Name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a.noteScratch(db, scratch.Name)
	if err := scratch.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.readLedger()[scratch.Name]; got != "postgres @db" {
		t.Errorf("ledger entry %q", got)
	}
	a.sweepDrills(ctx)
	if left := pg.Databases(t, dbtool.ScratchBase); len(left) != 0 {
		t.Errorf("left on the server: %v\n%s", left, stderr)
	}
	if len(a.readLedger()) != 0 {
		t.Errorf("ledger still holds %v", a.readLedger())
	}
	if strings.Contains(stderr.String(), pg.Password) || strings.Contains(stderr.String(), url.QueryEscape(pg.Password)) {
		t.Error("stderr shows the password")
	}
}

func TestABackupNamesTheDatabasesOnAServicesServerThatNoSpecDatabaseDumps(t *testing.T) {
	t.Parallel()
	pg := dbtest.StartPostgres(t)
	pg.SQL(t, "postgres", "CREATE DATABASE reports OWNER app; CREATE DATABASE "+dbtool.ScratchBase+"db_1_abcdef12 OWNER app")
	db := spec.Database{Name: "db", Engine: spec.EnginePostgres, Service: pg.Host, Port: pg.Port, User: pg.User, Database: pg.Database, PasswordSecret: "DB_POSTGRES_PASSWORD"}
	run := func(extra ...spec.Database) operate.Step {
		t.Helper()
		env := []string{"DB_POSTGRES_PASSWORD=" + pg.Password}
		for _, d := range extra {
			if d.URLSecret != "" {
				u := url.URL{Scheme: "postgres", User: url.UserPassword(pg.User, pg.Password), Host: pg.Host + ":" + strconv.Itoa(pg.Port), Path: "/reports"}
				env = append(env, d.URLSecret+"="+u.String())
			}
		}
		a, _ := serviceAgent(t, append([]spec.Database{db}, extra...), env...)
		rec := &recorder{ev: &operate.Evidence{Kind: "backup"}, now: time.Now, out: a.Out, scrub: a.scrub}
		a.checkServers(context.Background(), rec)
		if len(rec.ev.Steps) != 1 {
			t.Fatalf("steps = %+v", rec.ev.Steps)
		}
		return rec.ev.Steps[0]
	}
	st := run()
	if st.Name != "server:"+pg.Host || st.Result != operate.ResultPartial || st.Error != "databases_left_out" || st.Facts["not_dumped"] != "reports" ||
		!strings.Contains(st.Message, "{name: NAME, engine: postgres, service: "+pg.Host+", database: reports}") {
		t.Errorf("step = %+v", st)
	}
	// Dumped by a URL database of its own, it is not left out.
	if st := run(spec.Database{Name: "reports", Engine: spec.EnginePostgres, URLSecret: "REPORTS_DATABASE_URL"}); st.Result != operate.ResultOK {
		t.Errorf("step = %+v", st)
	}
	// Nor as a second service database of the same server.
	if st := run(spec.Database{Name: "reports", Engine: spec.EnginePostgres, Service: pg.Host, Port: pg.Port, User: pg.User, Database: "reports", PasswordSecret: "DB_POSTGRES_PASSWORD"}); st.Result != operate.ResultOK {
		t.Errorf("step = %+v", st)
	}
}
