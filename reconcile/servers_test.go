package reconcile_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestDatabaseServersAreRecognisedByTheirImage(t *testing.T) {
	tests := []struct {
		image, engine, dataDir string
	}{
		{"postgres:16", spec.EnginePostgres, "/var/lib/postgresql"},
		{"docker.io/library/postgres:17-alpine", spec.EnginePostgres, "/var/lib/postgresql"},
		{"postgis/postgis:16-3.4", spec.EnginePostgres, "/var/lib/postgresql"},
		{"pgvector/pgvector:pg16", spec.EnginePostgres, "/var/lib/postgresql"},
		{"timescale/timescaledb:latest-pg16", spec.EnginePostgres, "/var/lib/postgresql"},
		{"bitnami/postgresql:16", spec.EnginePostgres, "/bitnami/postgresql"},
		{"registry.example.com:5000/mirror/postgres@sha256:abc", spec.EnginePostgres, "/var/lib/postgresql"},
		{"mysql:8.4", spec.EngineMySQL, "/var/lib/mysql"},
		{"bitnami/mysql:8.0", spec.EngineMySQL, "/bitnami/mysql"},
		{"mariadb:11", spec.EngineMariaDB, "/var/lib/mysql"},
		{"bitnami/mariadb", spec.EngineMariaDB, "/bitnami/mariadb"},
		{"redis:7-alpine", spec.EngineRedis, "/data"},
		{"bitnami/redis:7.2", spec.EngineRedis, "/bitnami/redis/data"},
		{"redis/redis-stack-server:latest", spec.EngineRedis, "/data"},
		{"redis/redis-stack", spec.EngineRedis, "/data"},
		{"valkey/valkey:8", spec.EngineRedis, "/data"},
	}
	for _, tc := range tests {
		srv, ok := reconcile.RecogniseServer(reconcile.AppService{Name: "db", Image: tc.image})
		if !ok || srv.Engine != tc.engine || srv.DataDir != tc.dataDir {
			t.Errorf("%s: recognised %v as %q in %q, want %q in %q", tc.image, ok, srv.Engine, srv.DataDir, tc.engine, tc.dataDir)
		}
	}
	for _, image := range []string{"", "ruby:3.3", "bitnami/nginx", "postgres-exporter:1", "prometheuscommunity/postgres-exporter", "registry.example.com/shop:1", "redis-commander"} {
		if srv, ok := reconcile.RecogniseServer(reconcile.AppService{Name: "x", Image: image}); ok {
			t.Errorf("%q taken for a %s server", image, srv.Engine)
		}
	}
}

func TestAServersUserDatabaseAndPasswordComeFromItsOwnEnv(t *testing.T) {
	secret := func(names ...string) []reconcile.SecretRef {
		var out []reconcile.SecretRef
		for _, n := range names {
			out = append(out, reconcile.SecretRef{Name: n, Secret: reconcile.PlaintextRef(n)})
		}
		return out
	}
	tests := []struct {
		name string
		svc  reconcile.AppService
		want reconcile.Server // Port, User, Database, PasswordVar, Persistent
	}{
		{"postgres with everything set", reconcile.AppService{Image: "postgres:16", Env: map[string]string{"POSTGRES_USER": "shop", "POSTGRES_DB": "shop_db", "PGPORT": "6543"}, SecretRefs: secret("POSTGRES_PASSWORD")},
			reconcile.Server{Port: 6543, User: "shop", Database: "shop_db", PasswordVar: "POSTGRES_PASSWORD"}},
		{"postgres defaults: the database is named after the user", reconcile.AppService{Image: "postgres:16", Env: map[string]string{"POSTGRES_USER": "shop", "POSTGRES_PASSWORD_FILE": "/run/secrets/pg"}},
			reconcile.Server{Port: 5432, User: "shop", Database: "shop", PasswordVar: "POSTGRES_PASSWORD"}},
		{"postgres with trust and nothing else", reconcile.AppService{Image: "postgres", Env: map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"}},
			reconcile.Server{Port: 5432, User: "postgres", Database: "postgres"}},
		{"bitnami postgresql prefers its superuser", reconcile.AppService{Image: "bitnami/postgresql", Env: map[string]string{"POSTGRESQL_USERNAME": "app", "POSTGRESQL_DATABASE": "appdb"}, SecretRefs: secret("POSTGRESQL_PASSWORD", "POSTGRESQL_POSTGRES_PASSWORD")},
			reconcile.Server{Port: 5432, User: "postgres", Database: "appdb", PasswordVar: "POSTGRESQL_POSTGRES_PASSWORD"}},
		{"mysql prefers root, who may create a drill's scratch database", reconcile.AppService{Image: "mysql:8", Env: map[string]string{"MYSQL_DATABASE": "shop", "MYSQL_USER": "shop"}, SecretRefs: secret("MYSQL_ROOT_PASSWORD", "MYSQL_PASSWORD")},
			reconcile.Server{Port: 3306, User: "root", Database: "shop", PasswordVar: "MYSQL_ROOT_PASSWORD"}},
		{"mysql with only an app user", reconcile.AppService{Image: "mysql:8", Env: map[string]string{"MYSQL_DATABASE": "shop", "MYSQL_USER": "shop", "MYSQL_RANDOM_ROOT_PASSWORD": "yes", "MYSQL_TCP_PORT": "3307"}, SecretRefs: secret("MYSQL_PASSWORD")},
			reconcile.Server{Port: 3307, User: "shop", Database: "shop", PasswordVar: "MYSQL_PASSWORD"}},
		{"mariadb reads MARIADB_ before MYSQL_", reconcile.AppService{Image: "mariadb:11", Env: map[string]string{"MARIADB_DATABASE": "catalog", "MYSQL_DATABASE": "old"}, SecretRefs: secret("MYSQL_ROOT_PASSWORD")},
			reconcile.Server{Port: 3306, User: "root", Database: "catalog", PasswordVar: "MYSQL_ROOT_PASSWORD"}},
		{"bitnami mariadb's own names", reconcile.AppService{Image: "bitnami/mariadb:11", Env: map[string]string{"MARIADB_DATABASE": "c", "MARIADB_ROOT_USER": "admin", "MARIADB_PORT_NUMBER": "3310"}, SecretRefs: secret("MARIADB_ROOT_PASSWORD")},
			reconcile.Server{Port: 3310, User: "admin", Database: "c", PasswordVar: "MARIADB_ROOT_PASSWORD"}},
		{"redis on its own port with a password on its command line", reconcile.AppService{Image: "redis:7", Command: []string{"redis-server", "--port", "6380", "--requirepass", "x"}, Volumes: []reconcile.Volume{{Source: "r", Target: "/data"}}},
			reconcile.Server{Port: 6380, PasswordVar: "REDIS_PASSWORD", Persistent: true}},
		{"redis without a volume is a cache", reconcile.AppService{Image: "redis:7"},
			reconcile.Server{Port: 6379}},
		{"redis that saves nothing is a cache", reconcile.AppService{Image: "redis:7", Args: []string{"--save", "", "--appendonly", "no"}, Volumes: []reconcile.Volume{{Source: "r", Target: "/data"}}},
			reconcile.Server{Port: 6379}},
		{"redis with only an append-only file persists", reconcile.AppService{Image: "redis:7", Args: []string{"--save", "", "--appendonly", "yes"}, Volumes: []reconcile.Volume{{Source: "r", Target: "/data"}}},
			reconcile.Server{Port: 6379, Persistent: true}},
		{"bitnami redis", reconcile.AppService{Image: "bitnami/redis", Env: map[string]string{"REDIS_PORT_NUMBER": "6390"}, SecretRefs: secret("REDIS_PASSWORD"), Volumes: []reconcile.Volume{{Source: "r", Target: "/bitnami/redis/data"}}},
			reconcile.Server{Port: 6390, PasswordVar: "REDIS_PASSWORD", Persistent: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.svc.Name = "db"
			got, ok := reconcile.RecogniseServer(tc.svc)
			if !ok {
				t.Fatal("not recognised")
			}
			if got.Port != tc.want.Port || got.User != tc.want.User || got.Database != tc.want.Database || got.PasswordVar != tc.want.PasswordVar || got.Persistent != tc.want.Persistent {
				t.Errorf("got port %d user %q database %q password %q persistent %v, want %+v", got.Port, got.User, got.Database, got.PasswordVar, got.Persistent, tc.want)
			}
		})
	}
}

func TestOnlyTheVolumesOverAServersDataDirectoryAreItsLiveData(t *testing.T) {
	svc := reconcile.AppService{Name: "db", Image: "postgres:16", Env: map[string]string{"PGDATA": "/var/lib/postgresql/data/pgdata"}, Volumes: []reconcile.Volume{
		{Source: "pg_data", Target: "/var/lib/postgresql/data"},
		{Source: "pg_init", Target: "/docker-entrypoint-initdb.d"},
		{Source: "pg_wal", Target: "/var/lib/postgresql/data/pgdata/pg_wal"},
	}}
	srv, _ := reconcile.RecogniseServer(svc)
	var got []string
	for _, v := range srv.DataVolumes {
		got = append(got, v.Source)
	}
	if want := []string{"pg_data", "pg_wal"}; !slices.Equal(got, want) {
		t.Errorf("data volumes = %v, want %v", got, want)
	}
}

func TestPasswordSecretsAreNamedAfterTheServiceAndItsVariable(t *testing.T) {
	for _, tc := range []struct{ service, variable, want string }{
		{"db", "POSTGRES_PASSWORD", "DB_POSTGRES_PASSWORD"},
		{"redis", "REDIS_PASSWORD", "REDIS_PASSWORD"},
		{"mariadb", "MARIADB_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD"},
		{"catalog-db", "MYSQL_ROOT_PASSWORD", "CATALOG_DB_MYSQL_ROOT_PASSWORD"},
		{"backup-db", "POSTGRES_PASSWORD", "DB_BACKUP_DB_POSTGRES_PASSWORD"},
		{"restic", "POSTGRES_PASSWORD", "DB_RESTIC_POSTGRES_PASSWORD"},
		{"2nd", "POSTGRES_PASSWORD", "DB_2ND_POSTGRES_PASSWORD"},
	} {
		got := reconcile.PasswordSecretName(tc.service, tc.variable)
		if got != tc.want || !spec.IsEnvVarName(got) {
			t.Errorf("PasswordSecretName(%q, %q) = %q, want %q", tc.service, tc.variable, got, tc.want)
		}
	}
}

const serversApp = `schema_version: 1
organization: solo
project: shop
services:
  web:
    ports: [{name: http, port: 3000}]
    healthcheck: {path: /up}
    volumes: [{source: uploads, target: /rails/storage}]
  db:
    image: postgres:16
    env: {POSTGRES_USER: shop}
    secret_refs: [{name: POSTGRES_PASSWORD, secret: devopsellence://plaintext/POSTGRES_PASSWORD}]
    volumes: [{source: pg_data, target: /var/lib/postgresql/data}]
  mysql:
    image: mysql:8
    env: {MYSQL_RANDOM_ROOT_PASSWORD: "yes"}
    volumes: [{source: mysql_data, target: /var/lib/mysql}]
  cache:
    image: redis:7
    volumes: [{source: redis_data, target: /data}]
environments:
  staging:
    services:
      db:
        env: {POSTGRES_USER: shop_staging}
`

func desireErr(t *testing.T, body, cfg string) error {
	t.Helper()
	b := specDoc(t, "  image: img:1\n  repository: {url: \"s3:s3.amazonaws.com/shop\"}\n"+body)
	app, err := readApp(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = reconcile.Desire(b, app, spec.DefaultFile)
	return err
}

func TestASpecThatCopiesADatabasesLiveFilesIsRefusedWithTheReasonAndTheOptOut(t *testing.T) {
	err := desireErr(t, "  volumes: [{name: uploads}, {name: pg_data}]\n", serversApp)
	if !errors.Is(err, spec.ErrInvalid) {
		t.Fatalf("err = %v, want a spec problem", err)
	}
	for _, want := range []string{
		`devopsellence.backup.yml:8: spec.volumes[1].name: "pg_data" is the live data directory of service db (postgres, image postgres:16, mounted at /var/lib/postgresql/data)`,
		"may not start, or may silently lose committed rows",
		"add a database {name: db, engine: postgres, service: db}",
		`liveDatabaseFiles: "<why copying the files is safe>"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "uploads") {
		t.Errorf("an ordinary volume refused too:\n%v", err)
	}
	// An environment's own data volume, from its overlay, is live data too.
	staging := serversApp + "        volumes: [{source: pg_data_staging, target: /var/lib/postgresql/data}]\n"
	err = desireErr(t, "  environments: [production, staging]\n  volumes: [{name: pg_data_staging}]\n", staging)
	if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), `spec.volumes[0].name: "pg_data_staging" is the live data directory of service db`) {
		t.Errorf("staging's data volume: %v", err)
	}
	err = desireErr(t, "  environments: [production, staging]\n  volumes: [{name: uploads}]\n  overrides:\n    staging:\n      volumes: [{name: uploads}, {name: pg_data_staging}]\n", staging)
	if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), `spec.overrides.staging.volumes[1].name: "pg_data_staging" is the live data directory of service db`) {
		t.Errorf("staging's own volumes: %v", err)
	}
	// With a reason, it is copied, and the plan says on whose word.
	b := specDoc(t, "  image: img:1\n  repository: {url: \"s3:s3.amazonaws.com/shop\"}\n  volumes: [{name: pg_data, liveDatabaseFiles: the server is stopped while backups run}]\n")
	p := plan(t, b, serversApp, nil)
	f := findingOf(p, "live_database_files")
	if f == nil || f.Severity != reconcile.SeverityWarning || !strings.Contains(f.Message, `"the server is stopped while backups run"`) {
		t.Errorf("finding = %+v", f)
	}
}

func findingOf(p *reconcile.Plan, code string) *reconcile.Finding {
	for i := range p.Findings {
		if p.Findings[i].Code == code {
			return &p.Findings[i]
		}
	}
	return nil
}

func TestServiceDatabasesThatCannotBeReachedAreSpecProblems(t *testing.T) {
	tests := []struct{ name, db, want string }{
		{"no such service", "{name: x, engine: postgres, service: pg}", `spec.databases[0].service: "pg" is not a service of devopsellence.yml (services: web, db, mysql, cache)`},
		{"another engine", "{name: x, engine: mysql, service: db}", "spec.databases[0].engine: service db runs postgres (image postgres:16), not mysql"},
		{"a password and no secret for it", "{name: x, engine: postgres, service: db}", "spec.databases[0].passwordSecret: service db takes a password (its POSTGRES_PASSWORD), and the backup service needs its own copy of it, since devopsellence keeps secrets per service: set passwordSecret: DB_POSTGRES_PASSWORD"},
		{"no database named", "{name: x, engine: mysql, service: mysql}", "spec.databases[0].database: service mysql does not say which database the app uses (MYSQL_DATABASE is not set in its env): set database"},
		{"nobody to log in as", "{name: x, engine: mysql, service: mysql, database: shop}", "spec.databases[0].user: service mysql sets no root password and no user with a password (MYSQL_ROOT_PASSWORD, MYSQL_USER): set user and passwordSecret"},
		{"the backup service", "{name: x, engine: postgres, service: backup}", `"backup" is the backup service itself`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := desireErr(t, "  databases: ["+tc.db+"]\n", serversApp)
			if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
			if strings.Count(err.Error(), tc.want) != 1 {
				t.Errorf("reported more than once for two environments:\n%v", err)
			}
		})
	}
	ok := "{name: x, engine: mysql, service: mysql, database: shop, user: backup, passwordSecret: MYSQL_BACKUP_PASSWORD}"
	if err := desireErr(t, "  databases: ["+ok+"]\n", serversApp); err != nil {
		t.Errorf("a spec that says what the env does not: %v", err)
	}
}

func TestEachEnvironmentReachesItsOwnServerAsItsOverlaySaysAndLeftOutVolumesAreExplained(t *testing.T) {
	b := specDoc(t, "  image: img:1\n  environments: [production, staging]\n  repository: {url: \"s3:s3.amazonaws.com/shop\"}\n  volumes: [{name: uploads}]\n"+
		"  databases: [{name: main, engine: postgres, service: db, passwordSecret: DB_POSTGRES_PASSWORD, port: 6000}]\n")
	p := plan(t, b, serversApp, nil)
	_, d := desire(t, b, []byte(serversApp))
	for env, user := range map[string]string{"production": "shop", "staging": "shop_staging"} {
		got := d.Envs[env].Databases[0]
		want := spec.Database{Name: "main", Engine: spec.EnginePostgres, Service: "db", Port: 6000, User: user, Database: user, PasswordSecret: "DB_POSTGRES_PASSWORD"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", env, got, want)
		}
	}
	if f := findingOf(p, "database_volume_dumped"); f == nil || f.Environment != "" || !strings.Contains(f.Message, "volume pg_data is the live data directory of service db") || !strings.Contains(f.Message, "database main dumps the server over the network instead") {
		t.Errorf("dumped finding = %+v", f)
	}
	missing := findingOf(p, "database_not_backed_up")
	if missing == nil || !strings.Contains(missing.Message, "volume mysql_data") || len(missing.NextActions) == 0 || !strings.Contains(missing.NextActions[0].Label, "{name: mysql, engine: mysql, service: mysql}") {
		t.Errorf("not-backed-up finding = %+v", missing)
	}
	// redis_data of a redis that saves (by default) and that no database dumps.
	n := 0
	for _, f := range p.Findings {
		if f.Code == "database_not_backed_up" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d database_not_backed_up findings, want 2 (mysql_data, redis_data): %+v", n, p.Findings)
	}
}

func TestAnOverlayMergesAServersEnvAndReplacesItsLists(t *testing.T) {
	cfg := serversApp + `  review:
    services:
      db:
        image: postgis/postgis:16-3.4
        volumes: []
        secret_refs: []
`
	app, err := readApp(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	staging, _ := app.ServiceIn("staging", "db")
	if staging.Env["POSTGRES_USER"] != "shop_staging" || len(staging.Volumes) != 1 || len(staging.SecretRefs) != 1 {
		t.Errorf("staging db = %+v", staging)
	}
	review, _ := app.ServiceIn("review", "db")
	if review.Image != "postgis/postgis:16-3.4" || review.Env["POSTGRES_USER"] != "shop" || review.Volumes == nil || len(review.Volumes) != 0 || len(review.SecretRefs) != 0 {
		t.Errorf("review db = %+v", review)
	}
	if base, _ := app.Service("db"); base.Env["POSTGRES_USER"] != "shop" {
		t.Errorf("the overlay changed the base service: %+v", base)
	}
	// Resolving every service at once (as plan does, once per
	// environment) gives what resolving each one gives.
	for _, env := range []string{"production", "staging", "review"} {
		all := slices.Collect(app.ServicesIn(env))
		if len(all) != len(app.Services) {
			t.Fatalf("%s: %d services resolved, want %d", env, len(all), len(app.Services))
		}
		for i, got := range all {
			want, _ := app.ServiceIn(env, app.Services[i].Name)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: ServicesIn[%d] = %+v, ServiceIn = %+v", env, i, got, want)
			}
		}
	}
	// Read as plan reads it (details of the backup service only), a
	// server's overlay is still read in full.
	doc, err := yamlpatch.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	lean, err := reconcile.ReadApp(doc.Root(), "backup")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := lean.ServiceIn("staging", "db"); s.Env["POSTGRES_USER"] != "shop_staging" || len(s.SecretRefs) != 1 {
		t.Errorf("lean staging db = %+v", s)
	}
	if web, _ := lean.Service("web"); web.Env != nil || len(web.Volumes) != 1 {
		t.Errorf("web read in full or without its volumes: %+v", web)
	}
}
