package cli_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// alertReceiver is a healthchecks.io-style ping endpoint and a webhook on
// loopback, as the backup service reaches them.
type alertReceiver struct {
	mu   sync.Mutex
	hits []string // "METHOD /path" and, for POSTs, the body
	url  string
}

func startAlertReceiver(t *testing.T) *alertReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	r := &alertReceiver{url: "http://" + l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, req.Method+" "+req.URL.Path+" "+string(body))
		r.mu.Unlock()
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// waitFor waits until a hit starts with prefix, and returns it.
func (r *alertReceiver) waitFor(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, h := range r.hits {
			if strings.HasPrefix(h, prefix) {
				r.mu.Unlock()
				return h
			}
		}
		r.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no %q within %s; hits: %q", prefix, timeout, r.hits)
	return ""
}

func TestScheduledBackupsPingTheDeadMansSwitchAndAFailureReachesAPerson(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		pg := startPostgres(t)
		hooks := startAlertReceiver(t)
		// The database URL points at a port nobody listens on: every
		// scheduled backup fails its dump until the URL is fixed.
		badURL := fmt.Sprintf("postgresql://app:x@127.0.0.1:%d/appdb", freePort(t))
		app := newOpsApp(t, rb, opsConfig{
			databases: shopDatabases,
			extra:     "  schedule:\n    every: 1h\n  alerts:\n    pingUrlSecret: ALERT_PING_URL\n    webhookUrlSecret: ALERT_WEBHOOK_URL",
			secrets: map[string]string{"DATABASE_URL": badURL, "DRILL_DATABASE_URL": pg.url("postgres"),
				"ALERT_PING_URL": hooks.url + "/ping/5d2f-check-uuid", "ALERT_WEBHOOK_URL": hooks.url + "/hook/tok3n"},
			simEnv:  []string{"DEVOPSELLENCE_SIM_RUN_SERVICES=1"},
			noApply: true,
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), pg)
		app.restic(t, "init")
		if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		hooks.waitFor(t, "GET /ping/5d2f-check-uuid/start ", 10*time.Minute)
		hooks.waitFor(t, "GET /ping/5d2f-check-uuid/fail ", 10*time.Minute)
		hook := hooks.waitFor(t, "POST /hook/tok3n", 10*time.Minute)
		if !strings.Contains(hook, `"result":"failed"`) || !strings.Contains(hook, `"trigger":"schedule"`) || !strings.Contains(hook, `"name":"db:main"`) {
			t.Errorf("the webhook did not get the failed run's evidence: %s", hook)
		}
		if body := strings.TrimPrefix(hook, "POST /hook/tok3n "); strings.Contains(body, "tok3n") || strings.Contains(body, "5d2f-check-uuid") {
			t.Errorf("the webhook's body carries an alert URL: %s", hook)
		}
		// The files were still backed up.
		if len(app.snapshots(t, "--tag", "kind:files")) == 0 {
			t.Error("no files snapshot from the scheduled backup")
		}
		// Fix the URL and redeploy: the restarted scheduler retries at once
		// (no good backup yet) and the switch hears of the success.
		storeSecret(t, app, "DATABASE_URL", pg.url("appdb"))
		if r := app.sim.Run(t, "deploy", "--env", "production"); r.Code != 0 {
			t.Fatalf("deploy: %s", r.Stdout)
		}
		hooks.waitFor(t, "GET /ping/5d2f-check-uuid ", 10*time.Minute)
	})
}

// storeSecret stores a secret value for the backup service, as a person
// would with devopsellence secret set.
func storeSecret(t *testing.T, app *opsApp, name, value string) {
	t.Helper()
	if r := app.sim.RunStdin(t, value+"\n", "secret", "set", name, "--service", "backup", "--env", "production", "--stdin"); r.Code != 0 {
		t.Fatalf("secret set %s: %s", name, r.Stdout)
	}
}
