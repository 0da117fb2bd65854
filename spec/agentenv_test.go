package spec

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fullAgentConfig sets every field of AgentConfig away from its zero value
// and its default, so a field the encoding forgets cannot come back equal.
func fullAgentConfig() AgentConfig {
	return AgentConfig{
		Environment: "staging", Service: "backup", Host: "shop-staging", Tags: []string{"app:shop", "env:staging"},
		AppID: "0dd174fec1c4", Paths: []string{"/data/uploads", "/data/with space & <html>"},
		Databases: []Database{{Name: "main", Engine: EnginePostgres, URLSecret: "DATABASE_URL"},
			{Name: "cache", Engine: EngineCommand, Command: []string{"redis-cli", "--rdb", "-"}}},
		Retention: []string{"--keep-daily", "7", "--keep-within", "1y6m"},
		Schedule: &Schedule{At: "02:30", PruneEvery: Duration(2 * day), CheckEvery: Duration(14 * day),
			BackupTimeout: Duration(20 * time.Hour), PruneTimeout: Duration(3 * time.Hour), CheckTimeout: Duration(time.Hour)},
		CheckParts: 5, SampleFiles: 3,
		Secrets:        []string{"RESTIC_PASSWORD", "RESTIC_REPOSITORY", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "PING", "HOOK"},
		Repository:     "(secret RESTIC_REPOSITORY, type s3)",
		RepositoryType: "s3",
		CacheDir:       "/var/cache/restic",
		Alerts:         &Alerts{PingURLSecret: "PING", WebhookURLSecret: "HOOK", WebhookOn: WebhookOnAlways},
		Excludes:       []string{"/data/uploads/tmp", "*.swp"},
		ExcludeCaches:  true,
		Copies: []CopyConfig{{Name: "offsite", Repository: "(secret OFFSITE_URL, type b2)", URLSecret: "OFFSITE_URL",
			PasswordSecret: "OFFSITE_PW", Credentials: []string{"B2_ACCOUNT_ID"}, Retention: []string{"--keep-monthly", "12"}}},
		UndoRetention: []string{"--keep-last", "5"},
		LockWait:      3 * time.Second,
		AllowShrink:   true,
	}
}

func TestEveryAgentFieldSurvivesTheServiceEnvironment(t *testing.T) {
	want := fullAgentConfig()
	// Every field set: a field added to AgentConfig without a value here
	// would go untested.
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if v.Field(i).IsZero() && v.Type().Field(i).Name != "RepositoryURL" {
			t.Errorf("fullAgentConfig leaves %s unset", v.Type().Field(i).Name)
		}
	}
	env := want.Env()
	got, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n got %+v\nwant %+v", got, want)
	}

	// The plain URL travels in restic's own variable; the agent's
	// variables are all JSON, and none holds a newline.
	plain := fullAgentConfig()
	plain.RepositoryURL, plain.RepositoryType, plain.Repository = "s3:s3.amazonaws.com/shop", "", "s3:s3.amazonaws.com/shop"
	plain.Secrets = []string{"RESTIC_PASSWORD"}
	penv := plain.Env()
	if penv[ResticRepository] != plain.RepositoryURL || penv[AgentRepository] != "" {
		t.Errorf("plain URL rendered as %q, %s %q", penv[ResticRepository], AgentRepository, penv[AgentRepository])
	}
	back, err := ParseAgentEnv(func(k string) string { return penv[k] })
	if err != nil || !reflect.DeepEqual(back, plain) {
		t.Errorf("plain URL read back %+v, %v", back, err)
	}
	// Secrets travel by name only: none is rendered as a variable (its
	// value comes from devopsellence's secret_refs), and the repository
	// URL that is a secret is not in RESTIC_REPOSITORY.
	for _, name := range want.Secrets {
		if v, ok := env[name]; ok {
			t.Errorf("secret %s rendered into the block as %q", name, v)
		}
	}
	for k, v := range env {
		if strings.ContainsAny(v, "\n\x00") {
			t.Errorf("%s holds a newline or NUL: %q", k, v)
		}
		if strings.HasPrefix(k, "RESTIC_") {
			continue
		}
		if !json.Valid([]byte(v)) {
			t.Errorf("%s is not JSON: %s", k, v)
		}
	}
}

func TestTheDefaultsRenderAShortBlock(t *testing.T) {
	a := AgentConfig{Environment: "production", Service: "backup", Host: "shop-production", Tags: []string{"app:shop"},
		Schedule: &Schedule{Every: DefaultBackupEvery}, SampleFiles: DefaultSampleFiles, Secrets: []string{"RESTIC_PASSWORD"},
		RepositoryURL: "/srv/repo", UndoRetention: DefaultUndoRetention().Flags(), LockWait: DefaultLockWait.Std()}
	want := map[string]string{
		AgentVersionKey:  "1",
		AgentIdentity:    `{"environment":"production","service":"backup","host":"shop-production","tags":["app:shop"]}`,
		AgentSchedule:    `{"every":"1d","checkEvery":"7d","pruneEvery":"1d"}`,
		AgentSecrets:     `["RESTIC_PASSWORD"]`,
		ResticRepository: "/srv/repo",
	}
	if got := a.Env(); !reflect.DeepEqual(got, want) {
		t.Errorf("env = %v\nwant %v", got, want)
	}
	manual := a
	manual.Schedule = nil
	if got := manual.Env()[AgentSchedule]; got != `"manual"` {
		t.Errorf("manual schedule = %s", got)
	}
	env := manual.Env()
	back, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil || back.Schedule != nil {
		t.Errorf("manual read back as %+v, %v", back.Schedule, err)
	}
}

func TestTheAgentRefusesAConfigurationOfAnotherVersion(t *testing.T) {
	env := fullAgentConfig().Env()
	old := map[string]string{"BACKUP_ENVIRONMENT": "production", "BACKUP_SERVICE": "backup", "BACKUP_HOST": "shop-production",
		"BACKUP_TAGS": "app:shop,env:production", "BACKUP_SCHEDULE": "backup every 1d; prune every 1d; check every 7d",
		"BACKUP_SECRETS": "RESTIC_PASSWORD", ResticRepository: "/srv/repo"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"a newer one", with(env, AgentVersionKey, "2"), []string{
			"BACKUP_CONFIG_VERSION: version 2, but this agent reads version 1",
			"newer devopsellence-backup than its image", "set spec.image", "devopsellence-backup apply"}},
		{"an older one", with(env, AgentVersionKey, "0"), []string{"is not a version"}},
		{"one written before versions", old, []string{
			"BACKUP_CONFIG_VERSION: not set", "older than this agent", "spec.image", "run devopsellence-backup apply"}},
		{"none at all", map[string]string{}, []string{"BACKUP_CONFIG_VERSION: not set", "devopsellence-backup apply"}},
		{"a version that is not a number", with(env, AgentVersionKey, `"1"`), []string{`"\"1\"" is not a version`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAgentEnv(func(k string) string { return tc.env[k] })
			if err == nil {
				t.Fatal("read without error")
			}
			msg := err.Error()
			// The operator's side recognises the agent's refusal by this.
			if !strings.Contains(msg, "not a valid agent configuration") {
				t.Errorf("err = %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("err = %v\nwant %q", err, w)
				}
			}
			// Refused as a whole: nothing else is reported.
			if strings.Contains(msg, AgentIdentity) {
				t.Errorf("a refused version still reads the rest: %v", err)
			}
		})
	}
}

func TestABrokenVariableIsNamedAndTheRestStillReported(t *testing.T) {
	env := fullAgentConfig().Env()
	env = with(env, AgentIdentity, `{"environment":"staging","service":"backup","host":"h","tags":["a"],"extra":1}`)
	env = with(env, AgentCopies, `[{"name":"offsite","passwordSecret":"PW"}]`)
	env = with(env, AgentChecks, `{"readDataParts":-1,"sampleFiles":1}`)
	env = with(env, AgentRestore, `{"undoRetention":[],"lockWait":"0s"}`)
	delete(env, AgentSecrets)
	_, err := ParseAgentEnv(func(k string) string { return env[k] })
	for _, want := range []string{
		`BACKUP_IDENTITY: not valid: json: unknown field "extra"`,
		`BACKUP_COPIES: copy "offsite" needs a name, a passwordSecret and one of url and urlSecret`,
		"BACKUP_CHECKS: counts must not be negative",
		"BACKUP_RESTORE: needs an undoRetention and a lockWait above 0",
		"BACKUP_SECRETS: not set",
		"deploy it again with devopsellence-backup apply",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant %q", err, want)
		}
	}
}

func with(env map[string]string, k, v string) map[string]string {
	env = maps.Clone(env)
	env[k] = v
	return env
}
