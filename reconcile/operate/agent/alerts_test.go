package agent

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// hook records the requests an alert receiver got.
type hook struct {
	mu       sync.Mutex
	requests []string // METHOD path body
	fail     int      // answer 500 to this many requests first
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests = append(h.requests, r.Method+" "+r.URL.Path+" "+string(body))
	if h.fail > 0 {
		h.fail--
		w.WriteHeader(http.StatusInternalServerError)
	}
}

func alertAgent(t *testing.T, srv *httptest.Server, on string) (*Agent, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	cfg := spec.AgentConfig{Environment: "production", Secrets: []string{"PING", "HOOK"},
		Alerts: &spec.Alerts{PingURLSecret: "PING", WebhookURLSecret: "HOOK", WebhookOn: on}}
	env := []string{"PING=" + srv.URL + "/ping/0f4e-secret-uuid", "HOOK=" + srv.URL + "/hook/tok-secret"}
	a := &Agent{Config: cfg, Environ: env, Version: "v1", Now: time.Now}
	a.scrub = newScrubber(cfg, env)
	a.Out = &Output{Stdout: io.Discard, Stderr: &stderr, Scrub: a.scrub, Now: time.Now}
	return a, &stderr
}

func TestABackupPingsItsDeadMansSwitchAndAFailureHitsFailAndTheWebhook(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	a, _ := alertAgent(t, srv, spec.WebhookOnFailure)
	rec := &recorder{ev: &operate.Evidence{Kind: "backup"}, now: time.Now, out: a.Out, scrub: a.scrub}
	a.pingStart(context.Background(), rec)
	rec.ev.Result = operate.ResultOK
	a.alert(context.Background(), rec.ev)
	failed := &operate.Evidence{Kind: "backup", Result: operate.ResultFailed, Steps: []operate.Step{{Name: "files", Result: "failed", Message: "boom"}}}
	a.alert(context.Background(), failed)
	okCheck := &operate.Evidence{Kind: "check", Result: operate.ResultOK}
	a.alert(context.Background(), okCheck)
	want := []string{"GET /ping/0f4e-secret-uuid/start ", "GET /ping/0f4e-secret-uuid ", "GET /ping/0f4e-secret-uuid/fail "}
	if len(h.requests) != 4 || strings.Join(h.requests[:3], "|") != strings.Join(want, "|") || !strings.HasPrefix(h.requests[3], "POST /hook/tok-secret {") ||
		!strings.Contains(h.requests[3], `"result":"failed"`) {
		t.Fatalf("requests = %q", h.requests)
	}
	if len(failed.Alerts) != 2 || !failed.Alerts[0].OK || failed.Alerts[1].Kind != "webhook" || !failed.Alerts[1].OK {
		t.Errorf("recorded alerts = %+v", failed.Alerts)
	}
}

func TestAnAlertThatCannotGetThroughIsRetriedAndRecordedNeverFatal(t *testing.T) {
	h := &hook{fail: 10}
	srv := httptest.NewServer(h)
	defer srv.Close()
	a, stderr := alertAgent(t, srv, spec.WebhookOnAlways)
	ev := &operate.Evidence{Kind: "prune", Result: operate.ResultOK}
	a.alert(context.Background(), ev)
	if len(ev.Alerts) != 1 || ev.Alerts[0].OK || ev.Alerts[0].Attempts != alertAttempts || ev.Alerts[0].Status != 500 {
		t.Errorf("alerts = %+v", ev.Alerts)
	}
	if ev.Result != operate.ResultOK {
		t.Errorf("a failed alert changed the run's result to %s", ev.Result)
	}
	for _, secret := range []string{"0f4e-secret-uuid", "tok-secret"} {
		if strings.Contains(stderr.String(), secret) || strings.Contains(ev.Alerts[0].Error, secret) {
			t.Errorf("the URL secret %q leaked: %s", secret, stderr.String())
		}
	}
}

// TestAPingEndpointThatHangsLeavesTheWebhookItsOwnBudget: the failure
// webhook goes out although the ping used up all of its time.
func TestAPingEndpointThatHangsLeavesTheWebhookItsOwnBudget(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ping") {
			<-r.Context().Done() // hangs until the agent gives up on it
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	a, _ := alertAgent(t, srv, spec.WebhookOnFailure)
	a.AlertBudget = 300 * time.Millisecond
	ev := &operate.Evidence{Kind: "backup", Result: operate.ResultFailed}
	a.alert(context.Background(), ev)
	if len(ev.Alerts) != 2 || ev.Alerts[0].Kind != "ping" || ev.Alerts[0].OK || ev.Alerts[1].Kind != "webhook" || !ev.Alerts[1].OK || ev.Alerts[1].Attempts != 1 {
		t.Errorf("alerts = %+v", ev.Alerts)
	}
}
