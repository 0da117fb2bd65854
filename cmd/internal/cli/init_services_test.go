package cli_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestOnlyVariablesNamedLikeURLsAreTakenForDatabaseURLs(t *testing.T) {
	for name, want := range map[string]string{
		"DATABASE_URL": spec.EnginePostgres, "PRIMARY_DATABASE_URL": spec.EnginePostgres, "CACHE_DB_URL": spec.EnginePostgres,
		"POSTGRES_URL": spec.EnginePostgres, "MYSQL_URL": spec.EngineMySQL, "CATALOG_MARIADB_URL": spec.EngineMariaDB,
		"REDIS_URL": spec.EngineRedis, "SIDEKIQ_REDIS_URL": spec.EngineRedis,
	} {
		if got, ok := cli.URLEngine(name); !ok || got != want {
			t.Errorf("%s: %q %v, want %q", name, got, ok, want)
		}
	}
	for _, name := range []string{
		"POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD", "MARIADB_ROOT_PASSWORD",
		"MYSQL_DATABASE", "PGHOST", "PGPASSWORD", "DATABASE_HOST", "DATABASE_PASSWORD", "REDIS_PASSWORD", "DB_HOST_URL",
		"DATABASE_PASSWORD_URL", "SECRET_KEY_BASE", "WEBHOOK_URL", "DRILL_DATABASE_URL",
	} {
		if got, ok := cli.URLEngine(name); ok {
			t.Errorf("%s taken for a %s URL", name, got)
		}
	}
}

// The app: web with DATABASE_URL and REDIS_URL, and PostgreSQL,
// MariaDB and Redis as services, each with its data volume.
func TestInitDumpsTheAppsDatabaseServicesAndLeavesTheirDataVolumesOutWithAFindingEach(t *testing.T) {
	sim := newApp(t, "db-services")
	withoutSpec(t, sim)
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--no-apply", "--output", "json",
		"--repository", "s3:s3.amazonaws.com/shop-backups", "--image", "registry.example.com/shop-backup:1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	s := loadSpec(t, sim).Spec
	if len(s.Volumes) != 1 || s.Volumes[0].Name != "uploads" {
		t.Errorf("volumes = %+v, want uploads only: a database's data directory is dumped, never copied", s.Volumes)
	}
	want := []spec.Database{
		{Name: "db", Engine: spec.EnginePostgres, Service: "db", PasswordSecret: "DB_POSTGRES_PASSWORD"},
		{Name: "mariadb", Engine: spec.EngineMariaDB, Service: "mariadb", PasswordSecret: "MARIADB_ROOT_PASSWORD"},
		{Name: "redis", Engine: spec.EngineRedis, Service: "redis"},
	}
	if len(s.Databases) != len(want) {
		t.Fatalf("databases = %+v, want %+v", s.Databases, want)
	}
	for i := range want {
		if !reflect.DeepEqual(s.Databases[i], want[i]) {
			t.Errorf("databases[%d] = %+v, want %+v", i, s.Databases[i], want[i])
		}
	}
	for _, note := range []string{
		"note: DATABASE_URL of service web is taken to be service db's database (the app's only postgres server), dumped once as db",
		"note: REDIS_URL of service web is taken to be service redis's database",
	} {
		if !strings.Contains(r.stderr, note) {
			t.Errorf("stderr lacks %q:\n%s", note, r.stderr)
		}
	}
	var doc struct {
		Findings     []reconcile.Finding
		Environments []reconcile.EnvPlan
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, v := range []string{"pg_data", "mariadb_data", "redis_data"} {
		n := 0
		for _, f := range doc.Findings {
			if f.Code == "database_volume_dumped" && strings.HasPrefix(f.Message, "volume "+v+" is the live data directory") && strings.Contains(f.Message, "dumps the server over the network instead") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d findings say why %s is left out, want 1: %+v", n, v, doc.Findings)
		}
	}
	// Each server's password is asked for once, named after what it is.
	var names []string
	for _, sp := range doc.Environments[0].Secrets {
		names = append(names, sp.Name)
		if strings.HasSuffix(sp.Name, "_URL") || strings.HasPrefix(sp.Name, "POSTGRES") {
			t.Errorf("secret %s asked for", sp.Name)
		}
	}
	if got := strings.Join(names, " "); got != "RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY DB_POSTGRES_PASSWORD MARIADB_ROOT_PASSWORD" {
		t.Errorf("secrets = %s", got)
	}
	// What the agent gets: each server by its service name, its user and
	// database from the service's own env, and no password.
	cfg := string(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")))
	if strings.Contains(cfg, "BACKUP_DATABASES") {
		t.Error("--no-apply patched devopsellence.yml")
	}
	p, _ := json.Marshal(doc.Environments)
	if !strings.Contains(string(p), `"about":"the password of user shop of service db"`) {
		t.Errorf("the plan does not say what DB_POSTGRES_PASSWORD is: %s", p)
	}
}

func TestInitThenApplyStoresEachServersPasswordOnceAndConverges(t *testing.T) {
	sim := newApp(t, "db-services")
	withoutSpec(t, sim)
	secrets := newSecrets("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DB_POSTGRES_PASSWORD", "MARIADB_ROOT_PASSWORD")
	r := runCLI(t, sim, secrets.env(), "init", "--non-interactive",
		"--repository", "s3:s3.amazonaws.com/shop-backups", "--image", "registry.example.com/shop-backup:1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sets := 0
	for _, c := range sim.Calls(t) {
		if c.Subcommand == "secret set" && strings.Contains(strings.Join(c.Argv, " "), "DB_POSTGRES_PASSWORD --service backup") {
			sets++
		}
	}
	if sets != 1 {
		t.Errorf("DB_POSTGRES_PASSWORD stored %d times, want once", sets)
	}
	cfg := string(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")))
	if !strings.Contains(cfg, `{"name":"db","engine":"postgres","service":"db","port":5432,"user":"shop","database":"shop","passwordSecret":"DB_POSTGRES_PASSWORD"}`) {
		t.Errorf("BACKUP_DATABASES does not tell the agent how to reach db:\n%s", cfg)
	}
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after init: exit %d\n%s", r.code, r.stdout)
	}
}

func TestAPlanOfASpecThatCopiesADatabasesDataVolumeIsRefusedWithTheReasonAndTheOptOut(t *testing.T) {
	sim := newApp(t, "db-services")
	sim.WriteFile(t, spec.DefaultFile, strings.Replace(sim.ReadFile(t, spec.DefaultFile), "volumes: [{name: uploads}]", "volumes: [{name: uploads}, {name: pg_data}]", 1))
	r := runCLI(t, sim, nil, "plan")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`spec.volumes[1].name: "pg_data" is the live data directory of service db (postgres, image postgres:16, mounted at /var/lib/postgresql/data)`,
		"may not start, or may silently lose committed rows",
		`liveDatabaseFiles: "<why copying the files is safe>"`,
		"fix devopsellence.backup.yml and run devopsellence-backup plan",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// The opt-out, with its reason, is accepted and shown.
	sim.WriteFile(t, spec.DefaultFile, strings.Replace(sim.ReadFile(t, spec.DefaultFile), "{name: pg_data}", `{name: pg_data, liveDatabaseFiles: "the server is stopped while backups run"}`, 1))
	r = runCLI(t, sim, nil, "plan")
	if r.code != 0 || !strings.Contains(r.stdout, `live_database_files: volume pg_data is the live data directory of service db`) {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
