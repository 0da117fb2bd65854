package agent

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// scheduledRun is the options of a run the scheduler starts. Nobody is
// there to run it again with --unlock-stale: a lock that restic itself
// calls stale (its process is gone from this host, or it has not been
// refreshed for 30 minutes) is removed, or a restic killed mid-run (a
// deploy, the OOM killer) would stop every backup after it.
func scheduledRun() RunOptions {
	o := RunOptions{Trigger: operate.TriggerSchedule}
	o.UnlockStale = true
	return o
}

// Timeouts are the deadlines of scheduled runs given to the scheduler
// (its flags); a zero one is the schedule's, else the manual command's.
type Timeouts map[operate.Op]time.Duration

// of is the deadline of a scheduled run of kind.
func (t Timeouts) of(kind operate.Op, sc *spec.Schedule) time.Duration {
	if d := t[kind]; d > 0 {
		return d
	}
	var d spec.Duration
	switch kind {
	case operate.OpBackup:
		d = sc.BackupTimeout
	case operate.OpPrune:
		d = sc.PruneTimeout
	case operate.OpCheck:
		d = sc.CheckTimeout
	}
	if d > 0 {
		return d.Std()
	}
	return operate.DefaultTimeout(kind)
}

// retryAfter is how soon a failed scheduled run is tried again.
func retryAfter(sc *spec.Schedule) time.Duration {
	if sc.At != "" {
		return time.Hour
	}
	return min(sc.Every.Std(), time.Hour)
}

// due is when kind runs next after a (re)start at now, given its newest
// good run and the newest failed run after it: every interval after the
// good run (now, when there is none), a daily backup at its time (now when
// the newest good one is older than 25 hours), and never later than
// retryAfter after a failure.
func due(sc *spec.Schedule, kind operate.Op, good, failed *time.Time, now time.Time) (time.Time, string) {
	every := map[operate.Op]spec.Duration{operate.OpBackup: sc.Every, operate.OpPrune: sc.PruneEvery, operate.OpCheck: sc.CheckEvery}[kind].Std()
	var next time.Time
	why := "schedule"
	switch {
	case good == nil:
		next, why = now, "no run yet"
	case kind == operate.OpBackup && sc.At != "":
		next = nextAt(sc.At, now)
		if now.Sub(*good) > 25*time.Hour {
			next, why = now, "the last good backup is over a day old"
		}
	default:
		next = good.Add(every)
	}
	if failed != nil {
		if retry := failed.Add(retryAfter(sc)); retry.Before(next) {
			next, why = retry, "retry after a failure"
		}
	}
	return next, why
}

// nextAt is the next HH:MM UTC after now.
func nextAt(at string, now time.Time) time.Time {
	var h, m int
	_, _ = fmt.Sscanf(at, "%d:%d", &h, &m)
	t := time.Date(now.Year(), now.Month(), now.Day(), h, m, 0, 0, time.UTC)
	if !t.After(now) {
		t = t.Add(24 * time.Hour)
	}
	return t
}

// dues says when each operation runs next, from the evidence in a listing.
func (a *Agent) dues(snaps []operate.Snapshot, now time.Time) []operate.Due {
	sc := a.Config.Schedule
	var out []operate.Due
	for _, kind := range []operate.Op{operate.OpBackup, operate.OpPrune, operate.OpCheck} {
		d := operate.Due{Kind: string(kind)}
		switch {
		case sc == nil:
			d.Why = "manual"
		case kind == operate.OpPrune && len(a.Config.Retention) == 0:
			d.Why = "no retention"
		default:
			good, failed := operate.LastRuns(snaps, a.identity(), kind, now)
			t, why := due(sc, kind, good, failed, now)
			d.At, d.Why = &t, why
		}
		out = append(out, d)
	}
	out = append(out, operate.Due{Kind: string(operate.OpDrill), Why: "manual"})
	return out
}

// Plan is what the running scheduler will do next, which `agent status`
// (exec'd into the same service) shows instead of what the evidence alone
// says: a failure that stored no evidence (the repository did not exist
// yet) still moves the scheduler's next run.
// A retry stands only until a good run of its kind (one run by hand)
// is recorded after the failure it retries.
type Plan struct {
	PID   int           `json:"pid"`
	Ticks string        `json:"ticks,omitempty"`
	Next  []operate.Due `json:"next"`
	// Failed is when each kind's scheduled run failed, for the kinds
	// whose next run is a retry.
	Failed map[string]time.Time `json:"failed,omitempty"`
}

// schedulePlan records and logs the scheduler's next runs, when they changed.
func (a *Agent) schedulePlan(next map[operate.Op]time.Time, why map[operate.Op]string, failed map[operate.Op]time.Time) {
	p := Plan{PID: pid(), Ticks: startTicks(pid())}
	for kind, at := range failed {
		if p.Failed == nil {
			p.Failed = map[string]time.Time{}
		}
		p.Failed[string(kind)] = at.UTC()
	}
	var text []string
	for _, kind := range []operate.Op{operate.OpBackup, operate.OpPrune, operate.OpCheck} {
		at, ok := next[kind]
		if !ok {
			continue
		}
		at = at.UTC()
		p.Next = append(p.Next, operate.Due{Kind: string(kind), At: &at, Why: why[kind]})
		text = append(text, fmt.Sprintf("%s %s (%s)", kind, at.Format(time.RFC3339), why[kind]))
	}
	if line := "schedule: next " + strings.Join(text, "; "); line != a.lastPlan {
		a.lastPlan = line
		a.Out.Say("%s", line)
	}
	_ = a.Runs.SavePlan(p)
}

// Scheduler is the service's command: it runs the scheduled backups,
// prunes and checks, each like the manual command (same evidence, alerts
// and lock) under its own deadline, until ctx ends. Due times come from the
// evidence in the repository, so a restarted service keeps its rhythm; a
// run that failed is tried again after a while. With a manual schedule it
// only waits, to be asked through devopsellence exec.
func (a *Agent) Scheduler(ctx context.Context, timeouts Timeouts, after func(time.Duration) <-chan time.Time) error {
	if missing := a.MissingTools(); len(missing) > 0 {
		return fmt.Errorf("the backup service's image lacks %s, which this environment's backups need: build the image with them (devopsellence-backup image prints a Dockerfile), then devopsellence-backup apply", strings.Join(missing, ", "))
	}
	// The runs go on until the service stops: then stopService marks it
	// stopping, cancels the runs' context and waits for the runs exec'd into the
	// service too, before process 1 exits and the platform kills the rest.
	a.Runs.ClearStopping()
	service := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(service))
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-service.Done():
			a.stopService(cancel)
		case <-ctx.Done():
		}
	}()
	defer func() {
		if service.Err() == nil {
			cancel()
		}
		<-stopped
		a.Out.Say("schedule: stopped")
	}()
	sc := a.Config.Schedule
	a.Out.Say("schedule: %s", sc.Text())
	if sc == nil {
		<-ctx.Done()
		return nil
	}
	next, why := a.firstDues(ctx)
	failed := map[operate.Op]time.Time{}
	for ctx.Err() == nil {
		for _, kind := range []operate.Op{operate.OpBackup, operate.OpPrune, operate.OpCheck} {
			at, scheduled := next[kind]
			if !scheduled || a.Now().Before(at) || ctx.Err() != nil {
				continue
			}
			if f, retry := failed[kind]; retry {
				delete(failed, kind)
				if good := a.goodSince(ctx, kind, f); good != nil {
					next[kind], why[kind] = due(sc, kind, good, nil, a.Now())
					a.Out.Say("schedule: %s ran by hand since it failed here: no retry", kind)
					continue
				}
			}
			var ok bool
			next[kind], why[kind], ok = a.runScheduled(ctx, kind, sc, timeouts)
			if !ok {
				failed[kind] = a.Now()
			}
		}
		a.schedulePlan(next, why, failed)
		wake := a.Now().Add(time.Hour)
		for _, t := range next {
			if t.Before(wake) {
				wake = t
			}
		}
		wait := max(wake.Sub(a.Now()), time.Second)
		// Idle until then: give back what the runs used.
		debug.FreeOSMemory()
		select {
		case <-ctx.Done():
		case <-after(wait):
		}
	}
	return nil
}

// firstDues are the scheduler's first due times and why, from the evidence
// in the repository; everything is due now when it cannot be read.
func (a *Agent) firstDues(ctx context.Context) (map[operate.Op]time.Time, map[operate.Op]string) {
	next := map[operate.Op]time.Time{}
	snaps, err := a.listOurs(ctx, operate.TagEvidence)
	if err != nil {
		a.Out.Say("schedule: cannot read the evidence in the repository (%s): running everything now", message(err))
	}
	why := map[operate.Op]string{}
	for _, d := range a.dues(snaps, a.Now()) {
		if d.At != nil {
			next[operate.Op(d.Kind)], why[operate.Op(d.Kind)] = *d.At, d.Why
		}
	}
	return next, why
}

// goodSince is the time of the newest good run of kind the evidence
// records after since, nil when there is none (or the evidence cannot be
// read: then the retry runs).
func (a *Agent) goodSince(ctx context.Context, kind operate.Op, since time.Time) *time.Time {
	snaps, err := a.listOurs(ctx, operate.TagEvidence)
	if err != nil {
		return nil
	}
	if good, _ := operate.LastRuns(snaps, a.identity(), kind, a.Now()); good != nil && good.After(since) {
		return good
	}
	return nil
}

// runScheduled runs kind like the manual command, under its own deadline,
// and says when it is due next: on its schedule, or soon after a failure
// (ok false).
func (a *Agent) runScheduled(ctx context.Context, kind operate.Op, sc *spec.Schedule, timeouts Timeouts) (next time.Time, why string, ok bool) {
	o := scheduledRun()
	o.Timeout = timeouts.of(kind, sc)
	if kind == operate.OpCheck && a.Config.CheckParts > 0 {
		o.Subset = "auto"
	}
	a.Out.Say("schedule: running %s", kind)
	started := a.Now()
	rc := a.Run(ctx, kind, o)
	a.Out.Say("schedule: %s finished with exit status %d", kind, rc)
	if kind == operate.OpBackup && (rc == 0 || rc == 3) {
		a.copyAfterBackup(ctx, timeouts.of(operate.OpBackup, sc))
	}
	if rc == 0 || (kind == operate.OpBackup && rc == 3) {
		good := started
		next, why = due(sc, kind, &good, nil, a.Now())
		return next, why, true
	}
	return a.Now().Add(retryAfter(sc)), "retry after a failure", false
}
