package cli_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

// serviceDatabases are the spec's databases of the shop-services app: one
// per database service, and web's DATABASE_URL, which points at db.
const serviceDatabases = `    - name: db
      engine: postgres
      service: db
      passwordSecret: DB_POSTGRES_PASSWORD
      check:
        query: SELECT count(*) || '|' || sum(amount) FROM orders
    - name: mariadb
      engine: mariadb
      service: mariadb
      passwordSecret: MARIADB_PASSWORD
    - name: redis
      engine: redis
      service: redis
      passwordSecret: REDIS_PASSWORD
    - name: primary
      engine: postgres
      urlSecret: DATABASE_URL`

// serviceServers are real servers standing in for the app's database
// services, each on its own loopback address, which the simulator's exec
// resolves under the service's name, as the environment's network does.
type serviceServers struct {
	pg *dbtest.Postgres
	my *dbtest.MariaDB
	rd *dbtest.Redis
}

func startServiceServers(t *testing.T) serviceServers {
	t.Helper()
	s := serviceServers{pg: dbtest.StartPostgres(t, "127.0.0.2"), my: dbtest.StartMariaDB(t, "127.0.0.3"), rd: dbtest.StartRedis(t, "127.0.0.4")}
	s.pg.SQL(t, "appdb", "SET ROLE app; CREATE TABLE orders (id int PRIMARY KEY, amount int); INSERT INTO orders SELECT i, i * 3 FROM generate_series(1, 250) i;")
	s.my.SQL(t, "appdb", "CREATE TABLE items (id INT PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');")
	args := []string{"MSET"}
	for i := range 40 {
		args = append(args, fmt.Sprintf("session:%d", i), strconv.Itoa(i))
	}
	s.rd.Cmd(t, args...)
	return s
}

func (s serviceServers) hosts() map[string]string {
	return map[string]string{"db": s.pg.Host, "mariadb": s.my.Host, "redis": s.rd.Host}
}

// newServicesApp deploys the shop-services app: the app's own secrets for
// its services, then apply with the backup's.
func newServicesApp(t *testing.T, rb resticBin, s serviceServers, databases string) *opsApp {
	t.Helper()
	// web's DATABASE_URL names the server as the app's services reach it.
	dbURL := (&url.URL{Scheme: "postgresql", User: url.UserPassword(s.pg.User, s.pg.Password), Host: "db:" + strconv.Itoa(s.pg.Port), Path: "/appdb"}).String()
	app := newOpsApp(t, rb, opsConfig{
		app:       "shop-services",
		appVars:   map[string]string{"PG_PORT": strconv.Itoa(s.pg.Port), "MARIADB_PORT": strconv.Itoa(s.my.Port), "REDIS_PORT": strconv.Itoa(s.rd.Port)},
		databases: databases,
		secrets: map[string]string{
			"DB_POSTGRES_PASSWORD": s.pg.Password, "MARIADB_PASSWORD": s.my.Password, "REDIS_PASSWORD": s.rd.Password, "DATABASE_URL": dbURL,
		},
		noApply: true,
	})
	app.sim.ServiceHosts = s.hosts()
	for _, own := range []struct{ service, name, value string }{
		{"web", "DATABASE_URL", dbURL}, {"db", "POSTGRES_PASSWORD", s.pg.Password},
		{"mariadb", "MARIADB_PASSWORD", s.my.Password}, {"redis", "REDIS_PASSWORD", s.rd.Password},
	} {
		if r := app.sim.RunStdin(t, own.value, "secret", "set", own.name, "--service", own.service, "--env", "production", "--stdin"); r.Code != 0 {
			t.Fatalf("secret set %s: exit %d\n%s", own.name, r.Code, r.Stdout)
		}
	}
	sqliteQuery(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "notes.sqlite3"), "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('a'), ('b');")
	if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return app
}

func TestBackupAndDrillDumpTheAppsDatabaseServicesReachedByTheirServiceNames(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		s := startServiceServers(t)
		app := newServicesApp(t, rb, s, serviceDatabases)
		secrets := []string{s.pg.Password, s.my.Password, s.rd.Password}

		r := app.cli(t, "backup", "--init", "--output", "json")
		assertNoneIn(t, "backup output", r.stdout+r.stderr, secrets)
		if r.code != 0 {
			t.Fatalf("backup: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		backup := decodeOp(t, r)
		for _, name := range []string{"db:db", "db:mariadb", "db:redis", "server:db", "server:mariadb", "files"} {
			st := backup.step(t, name)
			id, _ := st["snapshot_id"].(string)
			if st["result"] != "ok" || (id == "") != strings.HasPrefix(name, "server:") {
				t.Errorf("step %s = %v", name, st)
			}
		}
		// web's DATABASE_URL names db's server and database: the same
		// database, dumped once.
		if st := backup.step(t, "db:primary"); st["result"] != "skipped" || st["same_as"] != "db" || st["error"] != "same_database" {
			t.Errorf("step db:primary = %v", st)
		}
		if twins := app.snapshots(t, "--tag", "db:primary"); len(twins) != 0 {
			t.Errorf("the twin was dumped too: %d snapshot(s)", len(twins))
		}
		for file, engine := range map[string]string{"/db.pgdump": "postgres", "/mariadb.sql": "mariadb", "/redis.rdb": "redis"} {
			name := strings.TrimSuffix(strings.TrimPrefix(file, "/"), file[strings.LastIndex(file, "."):])
			snaps := app.snapshots(t, "--tag", "kind:db,db:"+name+",engine:"+engine)
			if len(snaps) != 1 || len(snaps[0].Paths) != 1 || snaps[0].Paths[0] != file {
				t.Errorf("%s: snapshots %+v", file, snaps)
			}
		}
		if rdb := app.restic(t, "dump", "--tag", "db:redis", "latest", "/redis.rdb"); !strings.HasPrefix(string(rdb), "REDIS") {
			t.Errorf("the redis dump is not an RDB file: %q", rdb[:min(len(rdb), 16)])
		}
		if sql := string(app.restic(t, "dump", "--tag", "db:mariadb", "latest", "/mariadb.sql")); !strings.Contains(sql, "INSERT INTO `items`") {
			t.Errorf("the mariadb dump lacks the table's rows")
		}

		r = app.cli(t, "drill", "--output", "json")
		assertNoneIn(t, "drill output", r.stdout+r.stderr, secrets)
		if r.code != 0 {
			t.Fatalf("drill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		drill := decodeOp(t, r)
		for name, restored := range map[string]string{"db:db": "1 tables, 250 rows", "db:mariadb": "1 tables, 3 rows", "db:redis": "40 keys"} {
			st := drill.step(t, name)
			if st["result"] != "ok" || st["matches_source"] != true || st["restored"] != restored {
				t.Errorf("drill step %s = %v", name, st)
			}
		}
		// A scratch database on the service's own server, reached by name,
		// dropped after.
		pgStep := drill.step(t, "db:db")
		if scratch, _ := pgStep["scratch_database"].(string); !strings.HasPrefix(scratch, "devopsellence_drill_db_") || !strings.Contains(fmt.Sprint(pgStep["scratch_server"]), "@db:") {
			t.Errorf("drill step db:db = %v", pgStep)
		}
		if pgStep["check_output"] != "250|94125" {
			t.Errorf("check query on the restored copy: %v", pgStep["check_output"])
		}
		if left := s.pg.Databases(t, "devopsellence_"); len(left) != 0 {
			t.Errorf("scratch databases left on db: %v", left)
		}
		if left := s.my.Databases(t, "devopsellence_"); len(left) != 0 {
			t.Errorf("scratch databases left on mariadb: %v", left)
		}
		if st := drill.step(t, "db:primary"); st["result"] != "skipped" {
			t.Errorf("drill step db:primary = %v", st)
		}

		// status counts the twin as backed up by db, not as missing.
		st := decodeOp(t, app.cli(t, "status", "--output", "json"))
		if f := st.finding("same_database"); f == nil || !strings.Contains(f.Message, "db:primary: its URL (DATABASE_URL) names the server and database of db:db") {
			t.Errorf("status findings: %+v", st.Findings)
		}
		for _, f := range st.Findings {
			if strings.Contains(f.Message, "db:primary: no snapshot") {
				t.Errorf("status calls the twin missing: %+v", f)
			}
		}

		// A database of the app on db's server that no spec database dumps
		// (the app made its own) makes the backup partial, by name.
		s.pg.SQL(t, "postgres", "CREATE DATABASE reports OWNER app")
		partial := app.mustOp(t, 1, "backup")
		if partial.Environments[0].Result != "partial" {
			t.Errorf("backup result %q, want partial", partial.Environments[0].Result)
		}
		if st := partial.step(t, "server:db"); st["result"] != "partial" || st["not_dumped"] != "reports" || st["error"] != "databases_left_out" {
			t.Errorf("step server:db = %v", st)
		}
		if f := partial.finding("databases_left_out"); f == nil || f.Severity != "warning" || !strings.Contains(f.Message, "database: reports}") {
			t.Errorf("backup findings: %+v", partial.Findings)
		}
		if st := partial.step(t, "server:mariadb"); st["result"] != "ok" {
			t.Errorf("step server:mariadb = %v", st)
		}
	})
}

func assertNoneIn(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) || strings.Contains(text, url.QueryEscape(s)) {
			t.Errorf("%s shows a password", what)
		}
	}
}
