package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Documents for the table tests. head is lines 1-5; base adds a valid image
// and repository on lines 6-8, so a case's own lines start at line 9.
const (
	head = "apiVersion: backup.devopsellence.io/v1alpha1\nkind: Backup\nmetadata:\n  name: app\nspec:\n"
	base = head + "  image: img:1\n  repository: {volume: restic_repo,\n    url: /backups/repo}\n"
	file = DefaultFile + ":"
	next = "fix " + DefaultFile + " and run devopsellence-backup plan"
)

func TestParseDecodesAFullSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "specs", "full.yml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(DefaultFile, data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Backup{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "shop"},
		Spec: Spec{
			Service:      "backup",
			Image:        "ghcr.io/acme/shop-backup:2.4.1",
			Environments: []string{"production", "staging"},
			Volumes: []Volume{
				{Name: "app_storage"},
				{Name: "uploads", Target: "/srv/uploads"},
				{Name: "/var/lib/shop/media", Target: "/media"},
				{Name: "reports_pg_data", LiveDatabaseFiles: "the reports server is stopped while backups run"},
			},
			Paths: []string{"/etc/shop"},
			Databases: []Database{
				{Name: "primary", Engine: EnginePostgres, URLSecret: "DATABASE_URL", Check: &DatabaseCheck{Query: "select count(*) from orders"}},
				{Name: "analytics", Engine: EngineMariaDB, URLSecret: "ANALYTICS_DATABASE_URL"},
				{Name: "orders", Engine: EnginePostgres, Service: "db", Port: 5433, User: "shop", Database: "orders", PasswordSecret: "DB_POSTGRES_PASSWORD", ScratchURLSecret: "DRILL_DATABASE_URL"},
				{Name: "sessions", Engine: EngineRedis, Service: "redis", PasswordSecret: "REDIS_PASSWORD"},
				{Name: "cache", Engine: EngineSQLite, Path: "/data/app_storage/cache.sqlite3", Check: &DatabaseCheck{Command: `sqlite3 "$BACKUP_RESTORED_PATH" 'pragma integrity_check'`}},
			},
			Repository: Repository{URL: "s3:https://s3.eu-central-1.amazonaws.com/acme-backups/shop"},
			Secrets: map[string]SecretSource{
				"RESTIC_PASSWORD":       {OnePassword: "op://Infra/shop-restic/password"},
				"AWS_SECRET_ACCESS_KEY": {OnePassword: "op://Infra/shop-aws/secret access key"},
			},
			Retention: &Retention{KeepLast: 3, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12, KeepYearly: 2, KeepWithin: "2d"},
			Tags:      []string{"app:shop", "tier:gold"},
			Host:      "shop-prod",
			CacheDir:  "/cache/restic",
			Env:       map[string]string{"RESTIC_COMPRESSION": "max", "TZ": "UTC"},
			Schedule:  &Schedule{At: "02:30", CheckEvery: Duration(7 * day), PruneEvery: Duration(day)},
			Check:     &Check{ReadDataParts: 16},
			Drill:     &Drill{SampleFiles: 50},
			Freshness: &Freshness{Backup: Duration(26 * 60 * 60 * 1e9), Check: Duration(8 * day), Drill: Duration(35 * day)},
			Overrides: map[string]Override{
				"staging": {
					Image:      "ghcr.io/acme/shop-backup:2.5.0-rc1",
					Repository: &Repository{URLSecret: RepositorySecret, Type: "rest"},
					Retention:  &Retention{KeepDaily: 3},
					Tags:       []string{"app:shop", "env:staging"},
					Secrets:    map[string]SecretSource{"RESTIC_PASSWORD": {OnePassword: "op://Staging/shop-restic/password"}},
				},
			},
		},
	}
	if got := withoutSource(b); !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(full.yml)\n got %#v\nwant %#v", got, want)
	}
	if got := b.File(); got != DefaultFile {
		t.Errorf("File() = %q, want %q", got, DefaultFile)
	}
	lines := map[string]int{
		"spec":                          6,
		"spec.databases[1]":             28,
		"spec.databases[1].engine":      29,
		"spec.databases[2].port":        34,
		"spec.databases[4].check":       46,
		"spec.secrets.RESTIC_PASSWORD":  51,
		"spec.overrides.staging.image":  82,
		"spec.databases[1].check":       28, // not written: its parent's line
		"spec.overrides.staging.nosuch": 81,
		"nosuch":                        2, // a missing top-level field: the document's start
	}
	for path, want := range lines {
		if got := b.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if got := (&Backup{}).Line("spec"); got != 0 {
		t.Errorf("Line of a spec that was not parsed = %d, want 0", got)
	}
}

func TestParseAcceptsEveryFixture(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "fixtures", "specs", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(DefaultFile, data)
			if invalid := strings.HasPrefix(filepath.Base(f), "invalid-"); invalid != (err != nil) {
				t.Errorf("Parse error = %v, want an error: %v", err, invalid)
			}
		})
	}
}

func TestParseDropsEmptyListsAndMapsButKeepsEmptyCredentials(t *testing.T) {
	b, err := Parse(DefaultFile, []byte(head+"  image: img:1\n  repository:\n    url: s3:host/bucket\n    credentials: []\n  volumes: []\n  env: {}\n  tags: []\n  overrides:\n    staging:\n      tags: []\n      secrets: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := b.Spec
	if s.Volumes != nil || s.Env != nil || s.Tags != nil || s.Overrides["staging"].Tags != nil || s.Overrides["staging"].Secrets != nil {
		t.Errorf("empty lists and maps kept: %#v", s)
	}
	if s.Repository.Credentials == nil || len(s.Repository.Credentials) != 0 {
		t.Errorf("credentials = %#v, want an empty, non-nil list", s.Repository.Credentials)
	}
}

func TestParseReportsEveryProblemWithFileLineAndPath(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "specs", "invalid-several.yml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(DefaultFile, data)
	want := []string{
		file + `2: apiVersion: want "backup.devopsellence.io/v1alpha1", got "backup.devopsellence.io/v1"`,
		file + `5: metadata.name: "Example_App" is not a lower-case DNS label (a-z, 0-9 and -, starting and ending with a letter or digit, at most 63 characters)`,
		file + `10: spec.volumes[0].mountPath: unknown field (want one of exclude, liveDatabaseFiles, name, target)`,
		file + `13: spec.databases[0].engine: unsupported "mongo" (want postgres, mysql, mariadb, redis, sqlite, command)`,
		file + `15: spec.repository.url: "rest:https://rest.example.com/app/" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: RESTIC_REPOSITORY and type: rest, and store the full URL as that secret`,
		file + `17: spec.retention.keepDaily: want an integer, got a string`,
	}
	checkProblems(t, err, want)
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the repository password: %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line != 2 || fe.Path != "apiVersion" {
		t.Errorf("errors.As(FieldError) = %+v, want the apiVersion problem first", fe)
	}
}

// checkProblems compares the whole error text: the problems, one a line, then
// the next step.
func checkProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want:\n%s", strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	if got, w := err.Error(), strings.Join(append(want, next), "\n"); got != w {
		t.Errorf("error text\n got:\n%s\nwant:\n%s", got, w)
	}
}

func TestLoadSaysToRunInitWhenTheFileIsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFile)
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("a missing file matches ErrInvalid: %v", err)
	}
	if want := "run devopsellence-backup init to create " + path; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Load(missing) = %q, want it to end with %q", err, want)
	}
}

func TestLoadReportsReadErrorsAsSuch(t *testing.T) {
	_, err := Load(t.TempDir()) // a directory cannot be read as a file
	if err == nil || errors.Is(err, ErrInvalid) || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(directory) = %v, want a plain read error", err)
	}
	if !strings.HasPrefix(err.Error(), "read spec: ") {
		t.Errorf("Load(directory) = %q, want the operation as prefix", err)
	}
}

func TestLoadParsesAFileUnderItsPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultFile)
	if err := os.WriteFile(path, []byte(base+"  service: Backup\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:9: spec.service: "Backup" is not a service name (lower-case a-z, 0-9, _, . and -, starting with a letter or digit)` +
		"\nfix " + path + " and run devopsellence-backup plan"
	if err == nil || err.Error() != want || !errors.Is(err, ErrInvalid) {
		t.Errorf("Load = %v, want %q", err, want)
	}
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Load(path)
	if err != nil || b.File() != path || b.Spec.Image != "img:1" {
		t.Fatalf("Load = %+v, %v", b, err)
	}
}

func TestFieldErrorLeavesOutWhatIsUnknown(t *testing.T) {
	tests := []struct {
		name string
		err  FieldError
		want string
	}{
		{"everything known", FieldError{File: "f.yml", Line: 3, Path: "spec.image", Message: "m"}, "f.yml:3: spec.image: m"},
		{"no line", FieldError{File: "f.yml", Path: "spec.image", Message: "m"}, "f.yml: spec.image: m"},
		{"no path", FieldError{File: "f.yml", Line: 1, Message: "m"}, "f.yml:1: m"},
		{"message only", FieldError{Message: "m"}, "m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInvalidJoinsProblemsInLineOrderAndEndsWithTheNextStep(t *testing.T) {
	if err := Invalid("f.yml"); err != nil {
		t.Errorf("Invalid without problems = %v, want nil", err)
	}
	err := Invalid("f.yml", &FieldError{File: "f.yml", Line: 9, Message: "b"}, nil, &FieldError{File: "f.yml", Line: 2, Message: "a"})
	if want := "f.yml:2: a\nf.yml:9: b\nfix f.yml and run devopsellence-backup plan"; err == nil || err.Error() != want {
		t.Errorf("Invalid = %q, want %q", err, want)
	}
	if !errors.Is(Invalid("f.yml", errors.New("other")), ErrInvalid) {
		t.Error("Invalid does not match ErrInvalid")
	}
}

func TestProblemLocatesAFieldOfAParsedSpec(t *testing.T) {
	b, err := Parse("x.yml", []byte(base+"  volumes:\n    - name: app_storage\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := b.Problem("spec.volumes[0].name", "volume %s is not in devopsellence.yml", "app_storage")
	if want := "x.yml:10: spec.volumes[0].name: volume app_storage is not in devopsellence.yml"; got.Error() != want {
		t.Errorf("Problem = %q, want %q", got, want)
	}
}
