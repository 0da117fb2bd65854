package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// Doer sends an HTTP request; *http.Client satisfies it.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Alert attempts and their deadline: a ping that cannot get through is
// retried a little, then given up, since it must never hold up or fail a
// backup.
const (
	alertAttempts = 3
	alertTimeout  = 10 * time.Second
)

func (a *Agent) http() Doer {
	if a.HTTP != nil {
		return a.HTTP
	}
	return &http.Client{Timeout: alertTimeout}
}

// pingStart tells the dead-man's switch that a backup started
// (healthchecks.io convention: <url>/start).
func (a *Agent) pingStart(ctx context.Context, rec *recorder) {
	al := a.Config.Alerts
	if al == nil || al.PingURLSecret == "" || rec.ev.Kind != string(operate.OpBackup) {
		return
	}
	rec.ev.Alerts = append(rec.ev.Alerts, a.send(ctx, "ping-start", http.MethodGet, a.secret(al.PingURLSecret), "/start", nil))
}

// alertBudgetOf is how long each alert channel may take, retries included.
func (a *Agent) alertBudgetOf() time.Duration {
	if a.AlertBudget > 0 {
		return a.AlertBudget
	}
	return alertBudget
}

// alert sends what a finished run owes: for a backup, the ping (<url> on
// success, <url>/fail otherwise); the webhook with the evidence document on
// failure (or after every run with webhookOn: always). Each has a budget of
// its own, so a ping endpoint that hangs cannot keep the webhook from
// going out. What they gave is recorded in the evidence; a failed alert is
// logged, never a failed run.
func (a *Agent) alert(ctx context.Context, ev *operate.Evidence) {
	al := a.Config.Alerts
	if al == nil {
		return
	}
	bad := ev.Result != operate.ResultOK
	if al.PingURLSecret != "" && ev.Kind == string(operate.OpBackup) {
		suffix := ""
		if bad {
			suffix = "/fail"
		}
		cctx, cancel := context.WithTimeout(ctx, a.alertBudgetOf())
		ev.Alerts = append(ev.Alerts, a.send(cctx, "ping", http.MethodGet, a.secret(al.PingURLSecret), suffix, nil))
		cancel()
	}
	if al.WebhookURLSecret != "" && (bad || al.WebhookOn == spec.WebhookOnAlways) {
		body, _ := json.Marshal(ev)
		body = []byte(a.scrub(string(body)))
		cctx, cancel := context.WithTimeout(ctx, a.alertBudgetOf())
		ev.Alerts = append(ev.Alerts, a.send(cctx, "webhook", http.MethodPost, a.secret(al.WebhookURLSecret), "", body))
		cancel()
	}
}

func (a *Agent) secret(name string) string { return environ.Get(a.Environ, name) }

// send makes one alert request, retried; its outcome never carries the
// URL, which is a secret.
func (a *Agent) send(ctx context.Context, kind, method, url, suffix string, body []byte) operate.Alert {
	res := operate.Alert{Kind: kind}
	if url == "" {
		res.Error = "the URL's secret is not set in the service: store it and deploy with devopsellence-backup apply"
		a.Out.Say("alert %s: %s", kind, res.Error)
		return res
	}
	target := strings.TrimRight(url, "/") + suffix
	for res.Attempts < alertAttempts && ctx.Err() == nil {
		res.Attempts++
		status, err := a.request(ctx, method, target, body)
		res.Status = status
		if err == nil && status >= 200 && status < 300 {
			res.OK, res.Error = true, ""
			return res
		}
		if err != nil {
			res.Error = a.scrub(err.Error())
		} else {
			res.Error = fmt.Sprintf("HTTP status %d", status)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(res.Attempts) * time.Second):
		}
	}
	a.Out.Say("alert %s: not delivered after %d attempt(s): %s", kind, res.Attempts, res.Error)
	return res
}

func (a *Agent) request(ctx context.Context, method, url string, body []byte) (int, error) {
	rctx, cancel := context.WithTimeout(ctx, alertTimeout)
	defer cancel()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, url, r)
	if err != nil {
		return 0, fmt.Errorf("not a URL")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "devopsellence-backup/"+a.Version)
	resp, err := a.http().Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}
