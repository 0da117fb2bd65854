package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// stepClock hands every wait to the test, which decides when it ends.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits chan stepWait
}

type stepWait struct {
	d  time.Duration
	ch chan time.Time
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), waits: make(chan stepWait)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- stepWait{d, ch}
	return ch
}

// next waits for the loop's next wait, lets it pass, and returns its length.
func (c *stepClock) next(t *testing.T) time.Duration {
	t.Helper()
	return c.nextAfter(t, nil)
}

// nextAfter is next, running during (the loop parked in its wait) first.
func (c *stepClock) nextAfter(t *testing.T, during func()) time.Duration {
	t.Helper()
	select {
	case w := <-c.waits:
		if during != nil {
			during()
		}
		c.mu.Lock()
		c.now = c.now.Add(w.d)
		now := c.now
		c.mu.Unlock()
		w.ch <- now
		return w.d
	case <-time.After(10 * time.Second):
		t.Fatal("the loop never waited")
		return 0
	}
}

var errTerminal = errors.New("invalid spec")

func TestLoopBacksOffOnFailuresWaitsOutTerminalErrorsAndStopsCleanly(t *testing.T) {
	clk := newStepClock()
	var mu sync.Mutex
	results := []error{nil, errors.New("boom"), errors.New("boom"), errors.New("boom"), errors.New("boom"), nil, errTerminal, nil}
	passes := 0
	inputs := "v1"
	ctx, cancel := context.WithCancel(context.Background())
	l := &reconcile.Loop{
		Interval: 10 * time.Minute, MinBackoff: 10 * time.Second, MaxBackoff: 30 * time.Second, Poll: 5 * time.Second,
		Clock: clk,
		Pass: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			err := results[passes]
			passes++
			return err
		},
		Terminal: func(err error) bool { return errors.Is(err, errTerminal) },
		Inputs: func() string {
			mu.Lock()
			defer mu.Unlock()
			return inputs
		},
	}
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()

	want := []time.Duration{10 * time.Minute, 10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second, 10 * time.Minute}
	for i, w := range want {
		if got := clk.next(t); got != w {
			t.Fatalf("wait %d = %s, want %s", i+1, got, w)
		}
	}
	// Pass 7 fails for good: the loop polls the inputs and does not run again.
	for i := 0; i < 3; i++ {
		if got := clk.next(t); got != 5*time.Second {
			t.Fatalf("poll %d = %s", i, got)
		}
	}
	got := clk.nextAfter(t, func() {
		mu.Lock()
		defer mu.Unlock()
		if passes != 7 {
			t.Errorf("passes = %d while the terminal error stands, want 7", passes)
		}
		inputs = "v2"
	})
	if got != 5*time.Second {
		t.Fatalf("poll = %s", got)
	}
	if got := clk.next(t); got != 10*time.Minute {
		t.Fatalf("after the inputs changed the loop waited %s, want a pass then the interval", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop")
	}
	if passes != 8 {
		t.Errorf("passes = %d, want 8", passes)
	}
}

func TestLoopJitterStaysWithinItsBounds(t *testing.T) {
	clk := newStepClock()
	var got []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	l := &reconcile.Loop{Interval: time.Hour, MinBackoff: 8 * time.Second, MaxBackoff: time.Minute, Poll: time.Second, Clock: clk,
		Jitter: func(d time.Duration) time.Duration { got = append(got, d); return d / 2 },
		Pass:   func(context.Context) error { return errors.New("x") }}
	go func() { _ = l.Run(ctx) }()
	if d := clk.next(t); d != 4*time.Second {
		t.Errorf("jittered wait = %s, want the jitter's answer", d)
	}
	if d := clk.next(t); d != 8*time.Second {
		t.Errorf("second wait = %s", d)
	}
	cancel()
	if len(got) < 2 || got[0] != 8*time.Second || got[1] != 16*time.Second {
		t.Errorf("jitter saw %v", got)
	}
}

// stopper cancels its context as soon as the first secret is stored.
type stopper struct {
	*world
	cancel func()
}

func (s stopper) SetSecret(ctx context.Context, env, svc, name string, v secret.Value) (reconcile.SetResult, error) {
	r, err := s.world.SetSecret(ctx, env, svc, name, v)
	s.cancel()
	return r, err
}

func TestApplyStopsAtTheNextStepBoundary(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	stop, cancel := context.WithCancel(context.Background())
	deps := w.deps()
	deps.Secrets = stopper{w, cancel}
	res, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true, Stop: stop}, deps)
	if !errors.Is(err, reconcile.ErrStopped) {
		t.Fatalf("err = %v", err)
	}
	log := strings.Join(w.log, "; ")
	// The original file goes back: the patch references secrets not stored yet.
	if log != "write; resolve production; resolve staging; set production/RESTIC_PASSWORD; write" || len(res.Stored) != 1 || res.ConfigWritten || string(w.file) != string(p.Before) {
		t.Errorf("steps before the stop: %s (%+v)", log, res)
	}
}

func TestConditionsFollowWhatThePassDid(t *testing.T) {
	p := applyPlan(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	full := &reconcile.ApplyResult{ConfigWritten: true}
	for _, e := range p.Environments {
		for _, s := range e.Secrets {
			full.Stored = append(full.Stored, reconcile.Stored{Environment: e.Name, Name: s.Name})
		}
		full.Deployed = append(full.Deployed, reconcile.Deployment{Environment: e.Name})
	}
	for _, tc := range []struct {
		name string
		res  *reconcile.ApplyResult
		err  error
		want string
	}{
		{"all done", full, nil, "ConfigInSync=True/Patched SecretsStored=True/AllStored Deployed=True/Deployed"},
		{"deploy failed", &reconcile.ApplyResult{ConfigWritten: true, Stored: full.Stored}, errors.New("docker build"), "ConfigInSync=True/Patched SecretsStored=True/AllStored Deployed=False/DeployFailed"},
		{"nothing done yet", &reconcile.ApplyResult{}, errors.New("secret store down"), "ConfigInSync=False/PatchFailed SecretsStored=False/StoreFailed Deployed=False/DeployFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conds := reconcile.Conditions(p, tc.res, tc.err, true, "fp")
			var parts []string
			for _, c := range conds["staging"] {
				parts = append(parts, c.Type+"="+c.Status+"/"+c.Reason)
				if c.ObservedInputs != "fp" {
					t.Errorf("observed fingerprint %q", c.ObservedInputs)
				}
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
	prev := reconcile.Conditions(p, full, nil, true, "fp")
	reconcile.Carry(at, nil, prev)
	next := reconcile.Conditions(p, &reconcile.ApplyResult{ConfigWritten: true, Stored: full.Stored}, errors.New("x"), true, "fp")
	reconcile.Carry(at.Add(time.Hour), prev, next)
	for _, c := range next["production"] {
		want := at
		if c.Type == reconcile.Deployed {
			want = at.Add(time.Hour)
		}
		if !c.LastTransitionTime.Equal(want) {
			t.Errorf("%s lastTransitionTime %s, want %s", c.Type, c.LastTransitionTime, want)
		}
	}
}

func TestInputsDiffNamesEachChangedInput(t *testing.T) {
	a := reconcile.Inputs{SpecFile: "s.yml", SpecSHA256: "1", ConfigFile: "c.yml", ConfigSHA256: "2", Secrets: map[string][]string{"production": {"A"}}}
	if d := a.Diff(a); len(d) != 0 {
		t.Errorf("equal inputs differ: %v", d)
	}
	b := a
	b.SpecSHA256, b.ConfigSHA256 = "x", "y"
	b.Secrets = map[string][]string{"production": {"A", "B"}}
	got := strings.Join(a.Diff(b), "; ")
	if got != "s.yml changed; c.yml changed; the secrets stored in production changed (were [A], now [A,B])" {
		t.Errorf("diff = %s", got)
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("different inputs share a fingerprint")
	}
}
