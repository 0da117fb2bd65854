package agent

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func TestDueTimesFollowTheEvidenceSoARestartKeepsTheRhythm(t *testing.T) {
	every := &spec.Schedule{Every: spec.Duration(6 * time.Hour), PruneEvery: spec.Duration(24 * time.Hour), CheckEvery: spec.Duration(7 * 24 * time.Hour)}
	daily := &spec.Schedule{At: "02:30", PruneEvery: spec.Duration(24 * time.Hour), CheckEvery: spec.Duration(7 * 24 * time.Hour)}
	tests := []struct {
		name         string
		sc           *spec.Schedule
		kind         operate.Op
		good, failed *time.Time
		want         time.Time
		why          string
	}{
		{"never ran: now", every, operate.OpBackup, nil, nil, t0, "no run yet"},
		{"every 6h after the last good run", every, operate.OpBackup, at(-2 * time.Hour), nil, t0.Add(4 * time.Hour), "schedule"},
		{"overdue runs at once", every, operate.OpBackup, at(-8 * time.Hour), nil, t0.Add(-2 * time.Hour), "schedule"},
		{"a failure after it is retried within the hour", every, operate.OpBackup, at(-2 * time.Hour), at(-30 * time.Minute), t0.Add(30 * time.Minute), "retry after a failure"},
		{"daily at 02:30 UTC", daily, operate.OpBackup, at(-10 * time.Hour), nil, time.Date(2026, 11, 26, 2, 30, 0, 0, time.UTC), "schedule"},
		{"daily, but the last good one is two days old: now", daily, operate.OpBackup, at(-48 * time.Hour), nil, t0, "the last good backup is over a day old"},
		{"check weekly", daily, operate.OpCheck, at(-24 * time.Hour), nil, t0.Add(6 * 24 * time.Hour), "schedule"},
	}
	for _, tc := range tests {
		got, why := due(tc.sc, tc.kind, tc.good, tc.failed, t0)
		if !got.Equal(tc.want) || why != tc.why {
			t.Errorf("%s: due %s (%s), want %s (%s)", tc.name, got, why, tc.want, tc.why)
		}
	}
}

func TestTheSchedulerRefusesToStartWithoutTheToolsItNeeds(t *testing.T) {
	a := &Agent{
		Config:  spec.AgentConfig{Schedule: &spec.Schedule{Every: spec.DefaultBackupEvery}, Databases: []spec.Database{{Name: "main", Engine: spec.EnginePostgres}, {Name: "shop", Engine: spec.EngineMariaDB}}},
		Environ: []string{"PATH=" + t.TempDir()},
		Now:     time.Now,
	}
	err := a.Scheduler(context.Background(), Timeouts{}, time.After)
	if err == nil {
		t.Fatal("the scheduler started without restic")
	}
	for _, want := range []string{"restic", "pg_dump", "mariadb-dump|mysqldump", "devopsellence-backup image"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %s: %v", want, err)
		}
	}
}

func TestAScheduledRunsDeadlineIsTheFlagsElseTheSchedulesElseTheCommands(t *testing.T) {
	sc := &spec.Schedule{Every: spec.Duration(24 * time.Hour), PruneTimeout: spec.Duration(30 * time.Hour)}
	flags := Timeouts{operate.OpCheck: 90 * time.Minute}
	for _, tc := range []struct {
		kind operate.Op
		want time.Duration
	}{
		{operate.OpPrune, 30 * time.Hour},                            // the spec's schedule.pruneTimeout
		{operate.OpCheck, 90 * time.Minute},                          // the scheduler's --check-timeout
		{operate.OpBackup, operate.DefaultTimeout(operate.OpBackup)}, // neither: the backup command's
	} {
		if got := flags.of(tc.kind, sc); got != tc.want {
			t.Errorf("%s: deadline %s, want %s", tc.kind, got, tc.want)
		}
	}
}

// TestAFailedScheduledRunIsNotRetriedAfterAGoodRunByHand is onboarding: the
// scheduler's first round fails (no repository yet); the person then
// initialises it and backs up by hand. When the retries come, the
// scheduler reads the evidence, skips the backup, which ran well since,
// and runs only what has not.
func TestAFailedScheduledRunIsNotRetriedAfterAGoodRunByHand(t *testing.T) {
	r := newRig(t, restictest.Bins(t)[0], func(c *spec.AgentConfig) {
		c.Schedule = &spec.Schedule{Every: spec.Duration(6 * time.Hour), PruneEvery: spec.Duration(24 * time.Hour), CheckEvery: spec.Duration(7 * 24 * time.Hour)}
	})
	writeFiles(t, r.vol, map[string]string{"a.txt": "a\n"})
	var mu sync.Mutex
	now := time.Now()
	r.a.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// The scheduler waits on the test: each wait is a channel handed over
	// once a round is done.
	waits := make(chan chan time.Time)
	after := func(time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		waits <- c
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.a.Scheduler(ctx, Timeouts{}, after) }()
	round := func() chan time.Time {
		t.Helper()
		select {
		case c := <-waits:
			return c
		case err := <-done:
			t.Fatalf("the scheduler ended: %v\n%s", err, r.stderr.String())
		case <-time.After(5 * time.Minute):
			t.Fatalf("the scheduler's round did not end\n%s", r.stderr.String())
		}
		return nil
	}
	wake := round()
	if n := strings.Count(r.stderr.String(), "finished with exit status 0"); n != 0 {
		t.Fatalf("a run succeeded without a repository:\n%s", r.stderr.String())
	}

	r.restic("init")
	if rc := r.a.Run(context.Background(), operate.OpBackup, RunOptions{}); rc != 0 {
		t.Fatalf("the backup by hand: exit %d\n%s", rc, r.stderr.String())
	}
	mu.Lock()
	now = now.Add(61 * time.Minute)
	mu.Unlock()
	wake <- time.Now()
	round()
	cancel()
	<-done

	log := r.stderr.String()
	files := 0
	for _, s := range r.snapshots() {
		if s.HasTag(operate.TagFiles) {
			files++
		}
	}
	if files != 1 || !strings.Contains(log, "schedule: backup ran by hand since it failed here: no retry") {
		t.Errorf("the backup was retried after the good one by hand (%d files snapshots):\n%s", files, log)
	}
	for _, kind := range []string{"prune", "check"} {
		if !strings.Contains(log, "schedule: "+kind+" finished with exit status 0") {
			t.Errorf("the %s that never ran well was not retried:\n%s", kind, log)
		}
	}
}
