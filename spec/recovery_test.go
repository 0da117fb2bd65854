package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

const recoverySpec = base + `  volumes:
    - name: app_storage
      exclude: [tmp, "**/*.log"]
  exclude: [/data/app_storage/cache, "*.swp"]
  excludeCaches: true
  databases:
    - name: cache
      engine: command
      urlSecret: REDIS_URL
      command: [redis-cli, --rdb, "-"]
      restoreCommand: [redis-check-rdb, /dev/stdin]
  retention:
    keepDaily: 7
  copies:
    - name: offsite
      repository:
        urlSecret: OFFSITE_REPOSITORY
        type: b2
      passwordSecret: OFFSITE_RESTIC_PASSWORD
      retention:
        keepMonthly: 12
    - name: nas
      repository:
        url: rest:https://nas.example.com/shop/
      passwordSecret: RESTIC_PASSWORD
`

func TestCopiesExcludesAndCustomDumpsParseAndReachTheAgent(t *testing.T) {
	b, err := Parse(DefaultFile, []byte(recoverySpec))
	if err != nil {
		t.Fatal(err)
	}
	es := b.ForEnvironment("production", "shop")
	if got, want := es.ExcludePatterns(), []string{"/data/app_storage/cache", "*.swp", "/data/app_storage/tmp", "/data/app_storage/**/*.log"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ExcludePatterns = %q, want %q", got, want)
	}
	want := []string{"RESTIC_PASSWORD", "REDIS_URL", "OFFSITE_REPOSITORY", "OFFSITE_RESTIC_PASSWORD", "B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"}
	if got := es.SecretNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("SecretNames = %q, want %q", got, want)
	}
	if es.Copies[1].Retention == nil || es.Copies[1].Retention.KeepDaily != 7 {
		t.Errorf("a copy without retention should take the primary's: %+v", es.Copies[1].Retention)
	}
	a := es.Agent("id")
	env := a.Env()
	if !strings.Contains(env[AgentFiles], `"excludeCaches":true`) || !strings.Contains(env[AgentFiles], `"/data/app_storage/**/*.log"`) {
		t.Errorf("env lacks the excludes: %v", env)
	}
	got, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Copies, a.Copies) || !reflect.DeepEqual(got.Excludes, a.Excludes) || !got.ExcludeCaches {
		t.Errorf("read back %+v, want %+v", got, a)
	}
	off := got.Copies[0]
	if off.URLSecret != "OFFSITE_REPOSITORY" || off.Repository != "(secret OFFSITE_REPOSITORY, type b2)" || !slices.Equal(off.Retention, []string{"--keep-monthly", "12"}) {
		t.Errorf("offsite = %+v", off)
	}
	if got.Databases[0].Engine != EngineCommand || !slices.Equal(got.Databases[0].Command, []string{"redis-cli", "--rdb", "-"}) {
		t.Errorf("databases = %+v", got.Databases)
	}
	if out := Format(b); !strings.Contains(string(out), "excludeCaches: true") {
		t.Errorf("Format lost excludeCaches:\n%s", out)
	} else if b2, err := Parse(DefaultFile, out); err != nil || !reflect.DeepEqual(b2.Spec, b.Spec) {
		t.Errorf("Parse(Format(b)) = %v, %v", b2, err)
	}
}

func TestRecoveryFieldsRejectMistakesWithTheirPath(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"a copy without password, on the primary, with a bad name", base + "  copies:\n    - name: Offsite\n      repository:\n        url: /backups/repo\n        volume: restic_repo\n", []string{
			file + `10: spec.copies[0].name: "Offsite" is not a copy name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)`,
			file + "10: spec.copies[0].passwordSecret: required: the secret holding the copy's repository password (RESTIC_PASSWORD to use the primary's)",
			file + "12: spec.copies[0].repository.url: is the primary repository itself: a copy must live somewhere else (another bucket, provider or server)",
		}},
		{"a copy URL with credentials", base + "  copies:\n    - name: offsite\n      repository:\n        url: rest:https://u:p@h/\n      passwordSecret: OFF_PW\n", []string{
			file + `12: spec.copies[0].repository.url: "rest:https://h/" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: COPY_REPOSITORY and type: rest, and store the full URL as that secret`,
		}},
		{"a copy URL secret named like a managed variable", base + "  copies:\n    - name: offsite\n      repository:\n        urlSecret: RESTIC_REPOSITORY\n        type: s3\n      passwordSecret: BACKUP_PW\n", []string{
			file + "12: spec.copies[0].repository.urlSecret: RESTIC_REPOSITORY is always added by devopsellence-backup: leave it out here",
			file + "14: spec.copies[0].passwordSecret: BACKUP_PW is managed by devopsellence-backup",
		}},
		{"duplicate copies and a bad retention", base + "  copies:\n    - name: offsite\n      repository: {url: /srv/a, volume: copy_a}\n      passwordSecret: A_PW\n    - name: offsite\n      repository: {url: /srv/b, volume: copy_b}\n      passwordSecret: A_PW\n      retention: {}\n", []string{
			file + "13: spec.copies[1].name: duplicate of spec.copies[0]",
			file + "16: spec.copies[1].retention: set at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly and keepWithin",
		}},
		{"bad exclude patterns", base + "  exclude: [\"\", \"[x\", \"*\"]\n  volumes:\n    - name: v\n      exclude: [/abs, ../up]\n", []string{
			file + "9: spec.exclude[0]: must not be empty",
			file + `9: spec.exclude[1]: "[x" is not a valid pattern (syntax error in pattern)`,
			file + `9: spec.exclude[2]: "*" would exclude everything`,
			file + `12: spec.volumes[0].exclude[0]: "/abs": a volume's patterns are relative to its target (write "abs"); put patterns anchored elsewhere in spec.exclude`,
			file + `12: spec.volumes[0].exclude[1]: "../up" must not hold . or .. components`,
		}},
		{"excludeCaches that is not a boolean", base + "  excludeCaches: \"yes\"\n", []string{
			file + "9: spec.excludeCaches: want true or false, got a string",
		}},
		{"a command database without a command, with fields of other engines", base + "  databases:\n    - name: c\n      engine: command\n      path: /x\n      check: {query: select 1}\n", []string{
			file + "10: spec.databases[0].command: required for command: the dumper and its arguments, e.g. [redis-cli, --rdb, -]; its standard output is the dump",
			file + "12: spec.databases[0].path: not for command: the command reads what it dumps itself",
			file + "13: spec.databases[0].check: not for command: set restoreCommand, which a drill runs with the dump on its stdin",
		}},
		{"a command on a built-in engine", base + "  databases:\n    - name: c\n      engine: postgres\n      urlSecret: DATABASE_URL\n      command: [pg_dumpall]\n", []string{
			file + "13: spec.databases[0].command: only for engine command: postgres is dumped by its own client",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(DefaultFile, []byte(tt.doc))
			checkProblems(t, err, tt.want)
		})
	}
}

func TestRestoreSettingsParseAndReachTheAgentOnlyWhenNotTheDefault(t *testing.T) {
	b := mustParse(t, base+"  allowShrink: true\n  restore:\n    undoRetention:\n      keepWithin: 30d\n      keepLast: 5\n    lockWait: 3s\n")
	es := b.ForEnvironment("production", "shop")
	if es.Restore.LockWait.Std().String() != "3s" || es.Restore.UndoRetention.KeepWithin != "30d" || !es.AllowShrink {
		t.Errorf("EnvSpec = %+v, allowShrink %v", es.Restore, es.AllowShrink)
	}
	env := es.Agent("id").Env()
	if env[AgentRestore] != `{"undoRetention":["--keep-last","5","--keep-within","30d"],"lockWait":"3s"}` || !strings.Contains(env[AgentFiles], `"allowShrink":true`) {
		t.Errorf("env = %v", env)
	}
	got, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil || got.LockWait.String() != "3s" || strings.Join(got.UndoRetention, " ") != "--keep-last 5 --keep-within 30d" || !got.AllowShrink {
		t.Errorf("read back %+v, %v", got, err)
	}
	// The defaults render nothing, so existing services do not change.
	plain := mustParse(t, base).ForEnvironment("production", "shop")
	penv := plain.Agent("id").Env()
	if _, ok := penv[AgentRestore]; ok || strings.Contains(penv[AgentFiles], "allowShrink") {
		t.Errorf("the defaults rendered: %s %s", penv[AgentRestore], penv[AgentFiles])
	}
	back, err := ParseAgentEnv(func(k string) string { return penv[k] })
	if err != nil || strings.Join(back.UndoRetention, " ") != "--keep-within 14d" || back.LockWait.String() != "10s" || back.AllowShrink {
		t.Errorf("defaults read back as %+v, %v", back, err)
	}
	checkProblems(t, parseErr(base+"  restore:\n    undoRetention: {}\n    lockWait: 2h\n"), []string{
		file + "10: spec.restore.undoRetention: set at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly and keepWithin",
		file + "11: spec.restore.lockWait: must be between 1s and 1h",
	})
}

// TestACopyIsNeverThePrimaryUnderAnotherSpelling: the same folder written
// with ./, .., a doubled slash or local: is the primary repository.
func TestACopyIsNeverThePrimaryUnderAnotherSpelling(t *testing.T) {
	for _, url := range []string{"/backups/repo/./", "/backups/x/../repo", "//backups/repo", "local:/backups//repo/", "/backups/repo/"} {
		doc := base + "  copies:\n    - name: offsite\n      repository:\n        url: " + url + "\n        volume: restic_repo\n      passwordSecret: RESTIC_PASSWORD\n"
		checkProblems(t, parseErr(doc), []string{
			file + "12: spec.copies[0].repository.url: is the primary repository itself: a copy must live somewhere else (another bucket, provider or server)",
		})
	}
}

func TestACopyOnThePrimarysVolumeIsThePrimary(t *testing.T) {
	doc := base + "  copies:\n    - name: offsite\n      repository:\n        url: /copy\n        volume: restic_repo\n      passwordSecret: RESTIC_PASSWORD\n"
	checkProblems(t, parseErr(doc), []string{
		file + "13: spec.copies[0].repository.volume: restic_repo is the primary repository's volume, so the copy would be the primary repository itself: a copy must live somewhere else",
	})
}

func parseErr(doc string) error {
	_, err := Parse(DefaultFile, []byte(doc))
	return err
}
