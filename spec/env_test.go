package spec

import (
	"reflect"
	"testing"
	"time"
)

func mustParse(t *testing.T, doc string) *Backup {
	t.Helper()
	b, err := Parse(DefaultFile, []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return b
}

func TestForEnvironmentFillsDefaults(t *testing.T) {
	b := mustParse(t, base+"  volumes:\n    - name: app_storage\n    - name: /srv/media\n      target: /media\n  paths: [/etc/app]\n  schedule:\n    every: 6h\n")
	got := b.ForEnvironment("production", "shop")
	want := EnvSpec{
		Environment: "production",
		Service:     "backup",
		Image:       "img:1",
		Volumes:     []Volume{{Name: "app_storage", Target: "/data/app_storage"}, {Name: "/srv/media", Target: "/media"}},
		Paths:       []string{"/etc/app"},
		Repository:  Repository{URL: "/backups/repo", Volume: "restic_repo"},
		Tags:        []string{"app:shop", "env:production"},
		Host:        "shop-production",
		CacheDir:    "/var/cache/restic",
		Schedule:    &Schedule{Every: Duration(6 * time.Hour), CheckEvery: Duration(7 * day), PruneEvery: Duration(day)},
		Drill:       Drill{SampleFiles: 20},
		Freshness:   Freshness{Backup: Duration(26 * time.Hour), Check: Duration(8 * day), Drill: Duration(35 * day)},
		Restore:     Restore{UndoRetention: &Retention{KeepWithin: "14d"}, LockWait: Duration(10 * time.Second)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ForEnvironment\n got %#v\nwant %#v", got, want)
	}
	if got.Retention != nil {
		t.Errorf("Retention = %#v, want nil when none is set", got.Retention)
	}
	if b.Spec.Volumes[0].Target != "" {
		t.Error("ForEnvironment wrote the default target into the spec")
	}
}

func TestForEnvironmentKeepsWhatTheSpecSets(t *testing.T) {
	b := mustParse(t, base+"  service: restic\n  tags: [team:x]\n  host: h\n  cacheDir: /cache\n  env:\n    TZ: UTC\n  check:\n    readDataParts: 5\n  drill:\n    sampleFiles: 3\n  freshness:\n    backup: 2d\n  schedule:\n    at: \"01:00\"\n    checkEvery: 14d\n    pruneEvery: 2d\n")
	got := b.ForEnvironment("production", "shop")
	if got.Service != "restic" || got.Host != "h" || got.CacheDir != "/cache" || !reflect.DeepEqual(got.Tags, []string{"team:x"}) {
		t.Errorf("service/host/cacheDir/tags = %q %q %q %q", got.Service, got.Host, got.CacheDir, got.Tags)
	}
	if !reflect.DeepEqual(got.Env, map[string]string{"TZ": "UTC"}) || got.Check.ReadDataParts != 5 || got.Drill.SampleFiles != 3 {
		t.Errorf("env/check/drill = %v %v %v", got.Env, got.Check, got.Drill)
	}
	wantFresh := Freshness{Backup: Duration(2 * day), Check: Duration(8 * day), Drill: Duration(35 * day)}
	if got.Freshness != wantFresh {
		t.Errorf("Freshness = %v, want %v", got.Freshness, wantFresh)
	}
	if want := (Schedule{At: "01:00", CheckEvery: Duration(14 * day), PruneEvery: Duration(2 * day)}); got.Schedule == nil || *got.Schedule != want {
		t.Errorf("Schedule = %v, want %v", got.Schedule, want)
	}
}

func TestForEnvironmentAppliesOverrides(t *testing.T) {
	b := mustParse(t, head+`  image: img:1
  environments: [production, staging]
  repository:
    url: s3:host/prod
  retention:
    keepDaily: 7
  tags: [app:shop]
  secrets:
    RESTIC_PASSWORD:
      onePassword: op://prod/restic/password
    AWS_ACCESS_KEY_ID:
      onePassword: op://prod/aws/id
  overrides:
    staging:
      image: img:2
      repository:
        urlSecret: RESTIC_REPOSITORY
        type: rest
        credentials: [RESTIC_REST_USERNAME, RESTIC_REST_PASSWORD]
      retention:
        keepLast: 2
      tags: [app:shop, env:staging]
      secrets:
        RESTIC_PASSWORD:
          onePassword: op://staging/restic/password
`)
	tests := []struct {
		name string
		env  string
		want EnvSpec
	}{
		{"staging takes its override", "staging", EnvSpec{
			Image:      "img:2",
			Repository: Repository{URLSecret: RepositorySecret, Type: "rest", Credentials: []string{"RESTIC_REST_USERNAME", "RESTIC_REST_PASSWORD"}},
			Retention:  &Retention{KeepLast: 2},
			Tags:       []string{"app:shop", "env:staging"},
			Secrets: map[string]SecretSource{
				"RESTIC_PASSWORD":   {OnePassword: "op://staging/restic/password"},
				"AWS_ACCESS_KEY_ID": {OnePassword: "op://prod/aws/id"},
			},
		}},
		{"production keeps the base", "production", EnvSpec{
			Image:      "img:1",
			Repository: Repository{URL: "s3:host/prod"},
			Retention:  &Retention{KeepDaily: 7},
			Tags:       []string{"app:shop"},
			Secrets: map[string]SecretSource{
				"RESTIC_PASSWORD":   {OnePassword: "op://prod/restic/password"},
				"AWS_ACCESS_KEY_ID": {OnePassword: "op://prod/aws/id"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := b.ForEnvironment(tt.env, "shop")
			if got.Environment != tt.env || got.Image != tt.want.Image || !reflect.DeepEqual(got.Repository, tt.want.Repository) ||
				!reflect.DeepEqual(got.Retention, tt.want.Retention) || !reflect.DeepEqual(got.Tags, tt.want.Tags) || !reflect.DeepEqual(got.Secrets, tt.want.Secrets) {
				t.Errorf("ForEnvironment(%q)\n got %#v\nwant %#v", tt.env, got, tt.want)
			}
		})
	}
	staging := b.ForEnvironment("staging", "shop")
	staging.Secrets["X"] = SecretSource{}
	staging.Retention.KeepLast = 99
	staging.Repository.Credentials[0] = "CHANGED"
	if _, leaked := b.Spec.Secrets["X"]; leaked || b.Spec.Overrides["staging"].Retention.KeepLast != 2 || b.Spec.Overrides["staging"].Repository.Credentials[0] != "RESTIC_REST_USERNAME" {
		t.Error("changing an EnvSpec changed the Backup")
	}
}

func TestSecretNamesListsEachNeededSecretOnceInAStableOrder(t *testing.T) {
	tests := []struct {
		name string
		env  EnvSpec
		want []string
	}{
		{"a local repository needs only the password", EnvSpec{Repository: Repository{URL: "/srv/repo"}}, []string{"RESTIC_PASSWORD"}},
		{"s3 adds its keys, then the databases", EnvSpec{
			Repository: Repository{URL: "s3:host/b"},
			Databases:  []Database{{Name: "a", Engine: EnginePostgres, URLSecret: "DATABASE_URL"}, {Name: "b", Engine: EngineSQLite, Path: "/data/x/b.db"}, {Name: "c", Engine: EngineMySQL, URLSecret: "MYSQL_URL"}},
		}, []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "MYSQL_URL"}},
		{"a secret URL comes right after the password", EnvSpec{Repository: Repository{URLSecret: RepositorySecret, Type: "b2"}}, []string{"RESTIC_PASSWORD", "RESTIC_REPOSITORY", "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"}},
		{"names used twice appear once", EnvSpec{
			Repository: Repository{URLSecret: RepositorySecret, Type: "rest", Credentials: []string{"SHARED"}},
			Databases:  []Database{{URLSecret: "SHARED"}, {URLSecret: "DB"}, {URLSecret: "DB"}},
		}, []string{"RESTIC_PASSWORD", "RESTIC_REPOSITORY", "SHARED", "DB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.env.SecretNames(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SecretNames() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBackupPathsListsVolumeTargetsThenPaths(t *testing.T) {
	e := EnvSpec{Volumes: []Volume{{Name: "b", Target: "/data/b"}, {Name: "a", Target: "/m"}}, Paths: []string{"/etc/x", "/srv"}}
	if got, want := e.BackupPaths(), []string{"/data/b", "/m", "/etc/x", "/srv"}; !reflect.DeepEqual(got, want) {
		t.Errorf("BackupPaths() = %q, want %q", got, want)
	}
	if got := (EnvSpec{}).BackupPaths(); len(got) != 0 {
		t.Errorf("BackupPaths() of nothing = %q", got)
	}
}

func TestRetentionFlagsComeInAFixedOrder(t *testing.T) {
	tests := []struct {
		name string
		r    Retention
		want []string
	}{
		{"nothing", Retention{}, nil},
		{"the issue's policy", Retention{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6}, []string{"--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6"}},
		{"every keep", Retention{KeepWithin: "30d", KeepYearly: 1, KeepMonthly: 2, KeepWeekly: 3, KeepDaily: 4, KeepHourly: 5, KeepLast: 6}, []string{
			"--keep-last", "6", "--keep-hourly", "5", "--keep-daily", "4", "--keep-weekly", "3", "--keep-monthly", "2", "--keep-yearly", "1", "--keep-within", "30d",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Flags(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Flags() = %q, want %q", got, tt.want)
			}
		})
	}
}
