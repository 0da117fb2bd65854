package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// handClock hands every wait of the loop to the test.
type handClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan handWait
}

type handWait struct {
	d  time.Duration
	ch chan time.Time
}

func (c *handClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *handClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- handWait{d, ch}
	return ch
}

// pass waits for the loop to finish a pass and park in a wait, runs during,
// then lets the wait end.
func (c *handClock) pass(t *testing.T, want time.Duration, during func()) {
	t.Helper()
	select {
	case w := <-c.waits:
		if w.d != want {
			t.Errorf("the loop waits %s, want %s", w.d, want)
		}
		if during != nil {
			during()
		}
		c.mu.Lock()
		c.now = c.now.Add(w.d)
		c.mu.Unlock()
		w.ch <- c.Now()
	case <-time.After(5 * time.Minute):
		t.Fatal("the loop never waited")
	}
}

type conditionDoc struct {
	Type, Status, Reason, Message string
	ObservedFingerprint           string
	LastTransitionTime            time.Time
}

type statusDoc struct {
	Kind   string
	Status struct {
		Pass           int
		LastPassResult string
		LastError      string
		Environments   map[string]struct{ Conditions []conditionDoc }
	}
}

func readStatus(t *testing.T, path string) statusDoc {
	t.Helper()
	var s statusDoc
	if err := json.Unmarshal(readFile(t, path), &s); err != nil {
		t.Fatalf("status file: %v", err)
	}
	return s
}

func conds(s statusDoc, env string) string {
	var parts []string
	for _, c := range s.Status.Environments[env].Conditions {
		parts = append(parts, c.Type+"="+c.Status+"/"+c.Reason)
	}
	return strings.Join(parts, " ")
}

func TestRunLoopConvergesRetriesWaitsOutBadInputAndStopsOnASignal(t *testing.T) {
	sim := newApp(t, "basic")
	sim.ResetCalls(t)
	// Faults change while the loop runs: a wrapper reads them from a file.
	faults := filepath.Join(t.TempDir(), "faults")
	setFaults := func(f string) {
		if err := os.WriteFile(faults, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setFaults("deploy#1=exit:1:docker build: exit status 1")
	wrapper := filepath.Join(t.TempDir(), "devopsellence")
	script := fmt.Sprintf("#!/bin/sh\nDEVOPSELLENCE_SIM_FAULTS=\"$(cat %q)\" exec %q \"$@\"\n", faults, sim.Bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	mark := 0
	since := func() []simtest.Call { return sim.Calls(t)[mark:] }
	markNow := func() { mark = len(sim.Calls(t)) }
	statusPath := filepath.Join(t.TempDir(), "status.json")
	specPath := filepath.Join(sim.Workspace, "devopsellence.backup.yml")
	clk := &handClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), waits: make(chan handWait)}
	ctx, stop := context.WithCancel(context.Background())
	streams, stdout, stderr := iostreams.Test("")
	done := make(chan int)
	go func() {
		done <- cli.MainWithClock(ctx, []string{"run", "--interval", "10m", "--min-backoff", "10s", "--max-backoff", "40s", "--poll", "5s",
			"--status-file", statusPath, "--dir", sim.Workspace, "--devopsellence", wrapper, "--log-format", "json"},
			streams, append(sim.Environ(), basicSecrets().env()...), clk, func(d time.Duration) time.Duration { return d })
	}()

	// Pass 1: patch and store, but the deploy fails: retry after the backoff, not the interval.
	clk.pass(t, 10*time.Second, func() {
		s := readStatus(t, statusPath)
		if got := conds(s, "production"); got != "ConfigInSync=True/Patched SecretsStored=True/AllStored Deployed=False/DeployFailed" || s.Status.LastPassResult != "Retrying" {
			t.Errorf("pass 1: %s %s", got, s.Status.LastPassResult)
		}
		setFaults("")
	})
	var firstTransition time.Time
	// Pass 2: the deploy goes through.
	clk.pass(t, 10*time.Minute, func() {
		s := readStatus(t, statusPath)
		if got := conds(s, "production"); got != "ConfigInSync=True/InSync SecretsStored=True/AllStored Deployed=True/Deployed" {
			t.Errorf("pass 2: %s", got)
		}
		for _, c := range s.Status.Environments["production"].Conditions {
			if c.Type == "SecretsStored" {
				firstTransition = c.LastTransitionTime
			}
			if c.Type == "Deployed" && !c.LastTransitionTime.Equal(clk.Now()) {
				t.Errorf("Deployed changed at %s, want %s", c.LastTransitionTime, clk.Now())
			}
		}
		markNow()
	})
	// Pass 3: nothing to do, nothing done; then change the spec.
	clk.pass(t, 10*time.Minute, func() {
		calls := since()
		if len(calls) != 2 || count(calls, "secret list") != 1 || count(calls, "node list") != 1 {
			t.Errorf("an idle pass ran %+v", calls)
		}
		for _, c := range readStatus(t, statusPath).Status.Environments["production"].Conditions {
			if c.Type == "SecretsStored" && !c.LastTransitionTime.Equal(firstTransition) {
				t.Error("an unchanged condition got a new lastTransitionTime")
			}
		}
		spec := bytes.Replace(readFile(t, specPath), []byte("keepDaily: 7"), []byte("keepDaily: 14"), 1)
		if err := os.WriteFile(specPath, spec, 0o644); err != nil {
			t.Fatal(err)
		}
		markNow()
	})
	// Pass 4: the change is patched and deployed; then break the spec.
	clk.pass(t, 10*time.Minute, func() {
		if !strings.Contains(string(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))), `"--keep-daily","14"`) || count(since(), "deploy") != 1 {
			t.Error("the spec change was not applied")
		}
		if err := os.WriteFile(specPath, append(readFile(t, specPath), []byte("  bogusField: 1\n")...), 0o644); err != nil {
			t.Fatal(err)
		}
		markNow()
	})
	// Pass 5: the spec is invalid: reported once, then the loop only polls the inputs.
	clk.pass(t, 5*time.Second, func() {
		s := readStatus(t, statusPath)
		if s.Status.LastPassResult != "Blocked" || !strings.Contains(s.Status.LastError, "spec.bogusField") || !strings.Contains(conds(s, "production"), "Deployed=Unknown/InvalidSpec") {
			t.Errorf("pass 5: %s %q %s", s.Status.LastPassResult, s.Status.LastError, conds(s, "production"))
		}
	})
	clk.pass(t, 5*time.Second, nil)
	clk.pass(t, 5*time.Second, func() {
		if n := len(since()); n != 0 || readStatus(t, statusPath).Status.Pass != 5 {
			t.Errorf("the loop retried an invalid spec: %d calls", n)
		}
		spec := bytes.Replace(readFile(t, specPath), []byte("  bogusField: 1\n"), nil, 1)
		if err := os.WriteFile(specPath, spec, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	// Pass 6 runs as soon as the input changed; a devopsellence outage then backs off exponentially.
	clk.pass(t, 10*time.Minute, func() { setFaults("secret list#*=exit:1:state unreadable") })
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		clk.pass(t, want, nil)
	}
	clk.pass(t, 40*time.Second, func() { setFaults("") })
	// Recovered: the next pass succeeds and the loop is back to the interval.
	clk.pass(t, 10*time.Minute, func() {
		if s := readStatus(t, statusPath); s.Status.LastPassResult != "Succeeded" {
			t.Errorf("after recovery: %s", s.Status.LastPassResult)
		}
	})
	stop()
	go func() { // the loop may be parked in a wait: let it see the signal
		for w := range clk.waits {
			w.ch <- clk.Now()
		}
	}()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after the signal\n%s", code, stderr.String())
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("run did not stop")
	}
	for i, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("stderr line %d is not JSON: %q", i+1, line)
		}
	}
	if !strings.Contains(stdout.String(), "pass 1: retrying: deploy production") || !strings.Contains(stdout.String(), "pass 3: in sync") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

func TestRunRetriesMissingSecretValuesUntilTheyAreStoredByHand(t *testing.T) {
	sim := newApp(t, "basic")
	// The patched file is already there (a previous apply), the secrets are not.
	if err := os.WriteFile(filepath.Join(sim.Workspace, "devopsellence.yml"), readFile(t, filepath.Join(appsDir, "basic", "want.devopsellence.yml")), 0o644); err != nil {
		t.Fatal(err)
	}
	statusPath := filepath.Join(t.TempDir(), "status.json")
	clk := &handClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), waits: make(chan handWait)}
	ctx, stop := context.WithCancel(context.Background())
	streams, _, stderr := iostreams.Test("")
	done := make(chan int)
	go func() {
		done <- cli.MainWithClock(ctx, []string{"run", "--interval", "10m", "--min-backoff", "10s", "--status-file", statusPath,
			"--dir", sim.Workspace, "--devopsellence", sim.Bin}, streams, sim.Environ(), clk, func(d time.Duration) time.Duration { return d })
	}()
	clk.pass(t, 10*time.Second, func() {
		s := readStatus(t, statusPath)
		if s.Status.LastPassResult != "Retrying" || !strings.Contains(s.Status.LastError, "missing secret values") {
			t.Errorf("pass 1: %s %q", s.Status.LastPassResult, s.Status.LastError)
		}
		for name := range basicSecrets() {
			if r := sim.RunStdin(t, "stored-by-hand\n", "secret", "set", name, "--service", "backup", "--env", "production", "--stdin"); r.Code != 0 {
				t.Fatal(string(r.Stdout))
			}
		}
	})
	clk.pass(t, 10*time.Minute, func() {
		s := readStatus(t, statusPath)
		if s.Status.LastPassResult != "Succeeded" || conds(s, "production") != "ConfigInSync=True/InSync SecretsStored=True/AllStored Deployed=True/Deployed" {
			t.Errorf("pass 2: %s %s", s.Status.LastPassResult, conds(s, "production"))
		}
	})
	stop()
	go func() {
		for w := range clk.waits {
			w.ch <- clk.Now()
		}
	}()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
