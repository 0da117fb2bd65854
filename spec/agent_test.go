package spec

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAgentEnvReadsBackWhatItRenders(t *testing.T) {
	files, _ := filepath.Glob("../fixtures/specs/*.yml")
	for _, f := range files {
		if strings.Contains(f, "invalid") || strings.Contains(f, "formatted") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(f, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, env := range b.environments() {
			if env == "" {
				env = "production"
			}
			want := b.ForEnvironment(env, "shop").Agent(AppID("shop", b.Metadata.Name))
			rendered := want.Env()
			if want.RepositoryURL == "" {
				// The URL is a secret: devopsellence injects it, the render leaves it out.
				rendered[ResticRepository] = "rest:https://user:pw@example.com/repo"
			}
			got, err := ParseAgentEnv(func(k string) string { return rendered[k] })
			if err != nil {
				t.Fatalf("%s %s: %v", f, env, err)
			}
			got.RepositoryURL = want.RepositoryURL
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", f, env, got, want)
			}
			for k, v := range rendered {
				if strings.ContainsAny(v, "\n\x00") {
					t.Errorf("%s %s: %s holds a newline or NUL: %q", f, env, k, v)
				}
			}
		}
	}
}

func TestScheduleDefaultsToADailyBackupAndManualTurnsItOff(t *testing.T) {
	base := "apiVersion: backup.devopsellence.io/v1alpha1\nkind: Backup\nmetadata: {name: shop}\nspec:\n  image: x\n  repository: {url: \"s3:s3.amazonaws.com/b/shop\"}\n"
	b, err := Parse("s.yml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	es := b.ForEnvironment("production", "shop")
	if es.Schedule == nil || es.Schedule.Every != DefaultBackupEvery {
		t.Fatalf("default schedule = %+v, want a backup every %s", es.Schedule, DefaultBackupEvery)
	}
	if got := es.Schedule.Text(); got != "backup every 1d; prune every 1d; check every 7d" {
		t.Errorf("schedule text = %q", got)
	}
	// As written in a spec, before defaults are filled in.
	if got := (&Schedule{Every: DefaultBackupEvery}).Text(); got != "backup every 1d; prune every 1d; check every 7d" {
		t.Errorf("unfilled schedule text = %q", got)
	}
	b, err = Parse("s.yml", []byte(base+"  schedule: manual\n"))
	if err != nil {
		t.Fatal(err)
	}
	if es := b.ForEnvironment("production", "shop"); es.Schedule != nil {
		t.Errorf("manual schedule = %+v, want none", es.Schedule)
	}
	out := Format(b)
	if !strings.Contains(string(out), "schedule: manual") {
		t.Errorf("Format lost the manual schedule:\n%s", out)
	}
	_, err = Parse("s.yml", []byte(base+"  schedule: sometimes\n"))
	if err == nil || !strings.Contains(err.Error(), "s.yml:7: spec.schedule") || !strings.Contains(err.Error(), `"manual"`) {
		t.Errorf("a schedule word other than manual: err = %v", err)
	}
}

func TestScheduledRunDeadlinesAreRenderedAndReadBack(t *testing.T) {
	base := "apiVersion: backup.devopsellence.io/v1alpha1\nkind: Backup\nmetadata: {name: shop}\nspec:\n  image: x\n  repository: {url: \"s3:s3.amazonaws.com/b/shop\"}\n"
	b, err := Parse("s.yml", []byte(base+"  schedule:\n    at: \"02:30\"\n    backupTimeout: 20h\n    pruneTimeout: 2d\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc := b.ForEnvironment("production", "shop").Schedule
	text := sc.Text()
	if text != "backup daily at 02:30 within 20h; prune every 1d within 2d; check every 7d" {
		t.Errorf("schedule text = %q", text)
	}
	env := b.ForEnvironment("production", "shop").Agent("id").Env()
	if got := env[AgentSchedule]; got != `{"at":"02:30","checkEvery":"7d","pruneEvery":"1d","backupTimeout":"20h","pruneTimeout":"2d"}` {
		t.Errorf("%s = %s", AgentSchedule, got)
	}
	back, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if sc := back.Schedule; sc.BackupTimeout != Duration(20*time.Hour) || sc.PruneTimeout != Duration(2*day) || sc.CheckTimeout != 0 || sc.At != "02:30" {
		t.Errorf("read back %+v", sc)
	}
	for bad, want := range map[string]string{
		`{"every":"1d","pruneEvery":"1d","checkEvery":"7d","backupTimeout":"30s"}`:  "deadline 30s is under 1m",
		`{"every":"1d","pruneEvery":"1d","checkEvery":"7d","backupTimeout":"soon"}`: `"soon"`,
		`{"every":"1d","at":"02:00","pruneEvery":"1d","checkEvery":"7d"}`:           "needs one of every and at",
		`{"every":"1d"}`:                  "needs pruneEvery and checkEvery",
		`{"every":"1d","often":true}`:     `unknown field "often"`,
		`"sometimes"`:                     `"sometimes"`,
		`backup every 1d; prune every 1d`: "not valid",
	} {
		env := maps.Clone(env)
		env[AgentSchedule] = bad
		if _, err := ParseAgentEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), AgentSchedule+": ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", bad, err, want)
		}
	}
	_, err = Parse("s.yml", []byte(base+"  schedule:\n    every: 1d\n    checkTimeout: 30s\n    pruneTimeout: 0s\n"))
	for _, want := range []string{"s.yml:9: spec.schedule.checkTimeout: must be at least 1m", "s.yml:10: spec.schedule.pruneTimeout: must be at least 1m"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}

func TestAlertsNeedAURLSecretAndAKnownTrigger(t *testing.T) {
	base := "apiVersion: backup.devopsellence.io/v1alpha1\nkind: Backup\nmetadata: {name: shop}\nspec:\n  image: x\n  repository: {url: \"s3:s3.amazonaws.com/b/shop\"}\n"
	for _, tc := range []struct{ yaml, want string }{
		{"  alerts: {}\n", "spec.alerts: set pingUrlSecret"},
		{"  alerts: {pingUrlSecret: BACKUP_PING}\n", "spec.alerts.pingUrlSecret: BACKUP_PING is managed"},
		{"  alerts: {webhookUrlSecret: HOOK, webhookOn: sometimes}\n", `spec.alerts.webhookOn: "sometimes"`},
		{"  alerts: {pingUrlSecret: PING, webhookOn: always}\n", "spec.alerts.webhookOn: needs webhookUrlSecret"},
	} {
		_, err := Parse("s.yml", []byte(base+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", strings.TrimSpace(tc.yaml), err, tc.want)
		}
	}
	b, err := Parse("s.yml", []byte(base+"  alerts: {pingUrlSecret: PING_URL, webhookUrlSecret: HOOK_URL}\n"))
	if err != nil {
		t.Fatal(err)
	}
	es := b.ForEnvironment("production", "shop")
	names := strings.Join(es.SecretNames(), " ")
	if !strings.Contains(names, "PING_URL") || !strings.Contains(names, "HOOK_URL") {
		t.Errorf("secret names %q lack the alert URLs", names)
	}
	if es.Alerts.WebhookOn != WebhookOnFailure {
		t.Errorf("webhookOn default = %q", es.Alerts.WebhookOn)
	}
}
