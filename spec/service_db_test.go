package spec

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestServiceDatabasesAreCheckedField(t *testing.T) {
	tests := []struct {
		name string
		db   string
		want string // "" when valid
	}{
		{"postgres run by a service", "engine: postgres\n      service: db\n      passwordSecret: DB_POSTGRES_PASSWORD", ""},
		{"every field set", "engine: mariadb\n      service: mariadb\n      port: 3307\n      user: root\n      database: shop\n      passwordSecret: MARIADB_ROOT_PASSWORD", ""},
		{"redis run by a service", "engine: redis\n      service: redis", ""},
		{"redis through a URL secret", "engine: redis\n      urlSecret: REDIS_URL", ""},
		{"a service with a scratch server", "engine: postgres\n      service: db\n      scratchUrlSecret: DRILL_URL", ""},
		{"both service and urlSecret", "engine: postgres\n      service: db\n      urlSecret: DATABASE_URL", "spec.databases[0].urlSecret: set service or urlSecret, not both"},
		{"neither", "engine: redis", "spec.databases[0].urlSecret: required for redis: the secret that holds the connection URL, such as REDIS_URL; or set service"},
		{"a port out of range", "engine: postgres\n      service: db\n      port: 70000", "spec.databases[0].port: must be between 1 and 65535"},
		{"a zero port written out", "engine: postgres\n      service: db\n      port: 0", "spec.databases[0].port: must be between 1 and 65535"},
		{"a password secret the tool sets", "engine: postgres\n      service: db\n      passwordSecret: BACKUP_DB_PASSWORD", "spec.databases[0].passwordSecret: BACKUP_DB_PASSWORD is managed by devopsellence-backup"},
		{"a password secret named like restic's", "engine: postgres\n      service: db\n      passwordSecret: RESTIC_PASSWORD", "spec.databases[0].passwordSecret: RESTIC_PASSWORD is always added"},
		{"a password secret that is not a name", "engine: postgres\n      service: db\n      passwordSecret: db-password", `spec.databases[0].passwordSecret: "db-password" is not an env var name`},
		{"a database for redis", "engine: redis\n      service: redis\n      database: \"0\"", "spec.databases[0].database: not for redis"},
		{"a database name that reads as a flag", "engine: postgres\n      service: db\n      database: -x", `spec.databases[0].database: "-x" must not contain whitespace nor start with -`},
		{"a service name with a space", "engine: postgres\n      service: my db", `spec.databases[0].service: "my db" is not a service name`},
		{"user without service", "engine: postgres\n      urlSecret: DATABASE_URL\n      user: app", "spec.databases[0].user: only with service: the URL in urlSecret says it"},
		{"a password secret without service", "engine: mysql\n      urlSecret: DATABASE_URL\n      passwordSecret: X_PASSWORD", "spec.databases[0].passwordSecret: only with service"},
		{"a service for sqlite", "engine: sqlite\n      path: /data/app_storage/db.sqlite3\n      port: 5432", "spec.databases[0].port: not for sqlite"},
		{"a scratch server for redis", "engine: redis\n      service: redis\n      scratchUrlSecret: DRILL_URL", "spec.databases[0].scratchUrlSecret: not for redis"},
		{"a check for redis", "engine: redis\n      service: redis\n      check:\n        command: \"true\"", "spec.databases[0].check: not for redis"},
		{"a format for redis", "engine: redis\n      service: redis\n      format: plain", "spec.databases[0].format: only for postgres"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := base + "  volumes:\n    - name: app_storage\n  databases:\n    - name: main\n      " + tc.db + "\n"
			_, err := Parse("spec.yml", []byte(doc))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAServiceDatabasesPasswordSecretIsOneOfTheServicesSecretsOnce(t *testing.T) {
	doc := base + "  databases:\n" +
		"    - {name: a, engine: postgres, urlSecret: A_URL, scratchUrlSecret: DRILL_URL}\n" +
		"    - {name: b, engine: postgres, service: db, passwordSecret: DB_POSTGRES_PASSWORD}\n" +
		"    - {name: c, engine: postgres, service: db, database: other, passwordSecret: DB_POSTGRES_PASSWORD}\n" +
		"    - {name: d, engine: redis, service: redis}\n"
	b, err := Parse("spec.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := b.ForEnvironment("production", "shop").SecretNames()
	if want := []string{"RESTIC_PASSWORD", "A_URL", "DB_POSTGRES_PASSWORD", "DRILL_URL"}; !slices.Equal(got, want) {
		t.Fatalf("SecretNames = %v, want %v", got, want)
	}
	// The service's env must not carry it in plain text either.
	bad := strings.Replace(doc, "  databases:", "  env:\n    DB_POSTGRES_PASSWORD: x\n  databases:", 1)
	if _, err := Parse("spec.yml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "spec.env.DB_POSTGRES_PASSWORD: DB_POSTGRES_PASSWORD is a secret of this backup") {
		t.Fatalf("err = %v", err)
	}
}

func TestAVolumeMayGiveAReasonToCopyLiveDatabaseFilesButNotABlankOne(t *testing.T) {
	ok := base + "  volumes:\n    - name: pg_data\n      liveDatabaseFiles: the server is stopped while backups run\n"
	b, err := Parse("spec.yml", []byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Spec.Volumes[0].LiveDatabaseFiles; got != "the server is stopped while backups run" {
		t.Errorf("reason = %q", got)
	}
	if again, err := Parse("spec.yml", Format(b)); err != nil || !reflect.DeepEqual(again.Spec.Volumes[0], b.Spec.Volumes[0]) {
		t.Errorf("Format does not keep the reason: %v %+v", err, again)
	}
	blank := base + "  volumes:\n    - name: pg_data\n      liveDatabaseFiles: \"  \"\n"
	if _, err := Parse("spec.yml", []byte(blank)); err == nil || !strings.Contains(err.Error(), "spec.volumes[0].liveDatabaseFiles: must say why") {
		t.Fatalf("err = %v", err)
	}
}

func TestServiceDatabasesSurviveTheAgentsEnvironment(t *testing.T) {
	dbs := []Database{{Name: "db", Engine: EnginePostgres, Service: "db", Port: 5433, User: "app", Database: "shop", PasswordSecret: "DB_POSTGRES_PASSWORD"}, {Name: "redis", Engine: EngineRedis, Service: "redis", Port: 6379}}
	a := AgentConfig{Environment: "production", Service: "backup", Host: "h", Tags: []string{"app:x"}, RepositoryURL: "/srv/repo", Databases: dbs,
		Secrets: []string{"RESTIC_PASSWORD", "DB_POSTGRES_PASSWORD"}}
	env := a.Env()
	if strings.Contains(env[AgentDatabases], "PASSWORD\":") {
		t.Errorf("a password value field in %s", env[AgentDatabases])
	}
	got, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got.Databases, dbs, func(a, b Database) bool { return reflect.DeepEqual(a, b) }) {
		t.Errorf("databases = %+v, want %+v", got.Databases, dbs)
	}
}

func TestNetworkAliasIsTheNameDevopsellenceGivesTheContainer(t *testing.T) {
	for in, want := range map[string]string{"db": "db", "Postgres": "postgres", "my db!": "my-db-", "cache_1.main": "cache_1.main"} {
		if got := NetworkAlias(in); got != want {
			t.Errorf("NetworkAlias(%q) = %q, want %q", in, got, want)
		}
	}
}
