package operate

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

const sampleSpec = `apiVersion: backup.devopsellence.io/v1alpha1
kind: Backup
metadata: {name: shop}
spec:
  image: img:1
  volumes: [{name: app_storage}]
  paths: ["/etc/shop it's", /srv/x]
  databases:
    - {name: main, engine: postgres, urlSecret: DATABASE_URL, scratchUrlSecret: DRILL_URL, format: plain, check: {query: "select 'x', count(*) from orders"}}
    - {name: analytics, engine: mariadb, urlSecret: ANALYTICS_URL}
    - {name: cache, engine: sqlite, path: /data/app_storage/cache.sqlite3, check: {command: "test -s \"$BACKUP_RESTORED_PATH\""}}
  repository: {urlSecret: RESTIC_REPOSITORY, type: rest}
  retention: {keepDaily: 7}
  schedule: {at: "02:30"}
`

func sampleEnv(t *testing.T) spec.EnvSpec {
	t.Helper()
	b, err := spec.Parse("spec.yml", []byte(sampleSpec))
	if err != nil {
		t.Fatal(err)
	}
	return b.ForEnvironment("production", "shop")
}

// specEnvs are every fixture spec's environments plus the sample.
func specEnvs(t *testing.T) []spec.EnvSpec {
	t.Helper()
	out := []spec.EnvSpec{sampleEnv(t)}
	files, _ := filepath.Glob("../../fixtures/specs/*.yml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := spec.Parse(filepath.Base(f), data)
		if err != nil {
			continue // the invalid fixtures
		}
		envs := b.Spec.Environments
		if len(envs) == 0 {
			envs = []string{"production"}
		}
		for _, e := range envs {
			out = append(out, b.ForEnvironment(e, "shop"))
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d specs", len(out))
	}
	return out
}

func TestEveryScriptIsValidPOSIXShell(t *testing.T) {
	for _, es := range specEnvs(t) {
		scheduled := es
		if scheduled.Schedule == nil {
			// ScheduleScript renders only a scheduled spec, defaults filled in.
			scheduled.Schedule = &spec.Schedule{Every: spec.Duration(24 * time.Hour), CheckEvery: spec.DefaultCheckEvery, PruneEvery: spec.DefaultPruneEvery}
		}
		scripts := map[string]string{"schedule": ScheduleScript(scheduled, "backup")}
		for _, op := range []Op{OpBackup, OpCheck, OpPrune, OpDrill, OpStatus} {
			scripts[string(op)] = Script(op, es, "backup")
		}
		for name, s := range scripts {
			out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput()
			if err != nil {
				t.Errorf("%s script for %s: %v\n%s", name, es.Environment, err, out)
			}
			if len(s) > 100<<10 {
				t.Errorf("%s script is %d bytes; an argument must stay under 128 KiB", name, len(s))
			}
		}
	}
}

func TestScriptsCarrySpecValuesAsExactWordsAndSecretsOnlyByName(t *testing.T) {
	es := sampleEnv(t)
	s := Script(OpDrill, es, "backup")
	head := s[:strings.Index(s, "# ---- library")]
	out, err := exec.Command("sh", "-c", head+`
spec_files printf '[%s]\n'
show() { printf '<%s|%s|%s|%s|%s|%s|%s>\n' "$@"; }
spec_databases show
spec_db_check main; printf '%s\n' "$CHECK_QUERY"
spec_db_check cache; printf '%s\n' "$CHECK_COMMAND"
printf '%s\n' "$SECRET_NAMES" "$REPOSITORY"`).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := `[/data/app_storage]
[/etc/shop it's]
[/srv/x]
<main|postgres|DATABASE_URL|plain||DRILL_URL|main.sql>
<analytics|mariadb|ANALYTICS_URL||||analytics.sql>
<cache|sqlite|||/data/app_storage/cache.sqlite3||cache.sqlite3>
select 'x', count(*) from orders
test -s "$BACKUP_RESTORED_PATH"
RESTIC_PASSWORD RESTIC_REPOSITORY DATABASE_URL ANALYTICS_URL DRILL_URL
(secret RESTIC_REPOSITORY, type rest)
`
	if string(out) != want {
		t.Errorf("the spec as the script sees it:\n%s\nwant:\n%s", out, want)
	}
}

func TestArgvPassesOptionsAsArgumentsSoTheScriptStaysTheSame(t *testing.T) {
	got := Argv("SCRIPT", Options{Init: true, UnlockStale: true, Subset: "2/5", Trigger: "manual"})
	want := []string{"sh", "-c", "SCRIPT", "devopsellence-backup", "init", "unlock-stale", "subset=2/5", "trigger=manual"}
	if !slices.Equal(got, want) {
		t.Errorf("Argv = %q", got)
	}
	if got := Argv("SCRIPT", Options{}); len(got) != 4 {
		t.Errorf("no options: %q", got)
	}
}

func TestScheduleScriptIsStableAndStatesItsRhythm(t *testing.T) {
	es := sampleEnv(t)
	a, b := ScheduleScript(es, "backup"), ScheduleScript(es, "backup")
	if a != b {
		t.Fatal("two renders differ")
	}
	for _, want := range []string{
		"# backup daily at 02:30 UTC, prune every 1d, check every 7d.",
		"AT_SECONDS=9000\n", "PRUNE_EVERY=86400\n", "CHECK_EVERY=604800\n", "CHECK_SUBSET=''\n", "BACKUP_TIMEOUT=21600\n",
		"\nschedule_main\n",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("schedule script lacks %q", want)
		}
	}
	es.Schedule = &spec.Schedule{Every: spec.Duration(6 * 3600e9), CheckEvery: spec.Duration(48 * 3600e9)}
	es.Check.ReadDataParts = 8
	es.Retention = nil
	s := ScheduleScript(es, "backup")
	for _, want := range []string{"# backup every 6h, no prune (the spec sets no retention), check every 2d (reading 1/8 of the data each time).", "AT_SECONDS=-1\n", "BACKUP_EVERY=21600\n", "RETRY_AFTER=3600\n", "CHECK_SUBSET=subset=auto\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("schedule script lacks %q", want)
		}
	}
}

func TestDumpFilesAreStableSnapshotPaths(t *testing.T) {
	for _, tc := range []struct {
		d    spec.Database
		want string
	}{
		{spec.Database{Name: "main", Engine: "postgres"}, "/main.pgdump"},
		{spec.Database{Name: "main", Engine: "postgres", Format: "plain"}, "/main.sql"},
		{spec.Database{Name: "a", Engine: "mysql"}, "/a.sql"},
		{spec.Database{Name: "c", Engine: "sqlite", Path: "/data/x/c.db"}, "/c.sqlite3"},
	} {
		if got := DumpFile(tc.d); got != tc.want {
			t.Errorf("DumpFile(%+v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}
