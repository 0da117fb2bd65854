package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// alertReceiver is a healthchecks.io-style ping endpoint and a webhook on
// loopback, as the backup service reaches them.
type alertReceiver struct {
	mu      sync.Mutex
	hits    []string      // "METHOD /path" and, for POSTs, the body
	changed chan struct{} // closed and replaced on every hit
	url     string
}

func startAlertReceiver(t *testing.T) *alertReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	r := &alertReceiver{url: "http://" + l.Addr().String(), changed: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, req.Method+" "+req.URL.Path+" "+string(body))
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// waitFor waits until a hit starts with prefix, and returns it: woken by
// each hit, however long the service takes; after timeout it gives up.
func (r *alertReceiver) waitFor(t *testing.T, prefix string, timeout time.Duration) string {
	t.Helper()
	give := time.After(timeout)
	for {
		r.mu.Lock()
		hits, changed := slices.Clone(r.hits), r.changed
		r.mu.Unlock()
		for _, h := range hits {
			if strings.HasPrefix(h, prefix) {
				return h
			}
		}
		select {
		case <-changed:
		case <-give:
			t.Fatalf("no %q within %s; hits: %q", prefix, timeout, hits)
		}
	}
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
		// The files were still backed up: the failed run's own evidence
		// names their snapshot, which is in the repository.
		var ev struct{ Steps []map[string]any }
		must(t, json.Unmarshal([]byte(strings.TrimPrefix(hook, "POST /hook/tok3n ")), &ev))
		files := map[string]any{}
		for _, s := range ev.Steps {
			if s["name"] == "files" {
				files = s
			}
		}
		id, _ := files["snapshot_id"].(string)
		if files["result"] != "ok" || id == "" {
			t.Errorf("the scheduled backup did not back up the files: %v\nsteps: %v", files, ev.Steps)
		} else if !slices.ContainsFunc(app.snapshots(t, "--tag", "kind:files"), func(s snapshot) bool { return strings.HasPrefix(s.ID, id) }) {
			t.Errorf("no files snapshot %s in the repository, which the scheduled backup's evidence names", id)
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
