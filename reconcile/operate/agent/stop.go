package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// StopGrace is how long the platform lets a stopped service take before
// it kills everything in it: devopsellence's node agent stops a service's
// container (replaced by a deploy, or stopped) with docker's stop and its
// --stop-timeout, 10s by default, as `docker stop` does; SIGKILL follows.
const StopGrace = 10 * time.Second

// Parts of the grace an interrupted run keeps for what it still owes:
// process 1 exits stopMargin before the kill; an evidence store gets
// evidenceReserve (its restic is interrupted resticCleanup before the end,
// so that it removes its lock in time); alerts get what is left before.
const (
	stopMargin      = time.Second
	evidenceReserve = 4 * time.Second
	resticCleanup   = 1500 * time.Millisecond
)

// alertChannels is how many alerts a run may send when it ends (the ping
// and the webhook), each within its own budget.
const alertChannels = 2

// Stopping is what the service's scheduler writes when the service is
// stopping: every run it knows of is interrupted and must be done by
// Deadline, when process 1 exits and the platform's kill follows.
type Stopping struct {
	At       time.Time `json:"at"`
	Deadline time.Time `json:"deadline"`
	PID      int       `json:"pid"`
	Ticks    string    `json:"ticks,omitempty"`
}

// MarkStopping records that the service stops, with its deadline.
func (r Registry) MarkStopping(s Stopping) error {
	if err := r.ensure(); err != nil {
		return err
	}
	s.Ticks = startTicks(s.PID)
	return writeJSON(r.path("stopping.json"), s)
}

// Stopping reports whether the service is stopping: its scheduler wrote
// the mark and still runs.
func (r Registry) Stopping() (Stopping, bool) {
	var s Stopping
	data, err := os.ReadFile(r.path("stopping.json"))
	if err != nil || json.Unmarshal(data, &s) != nil {
		return s, false
	}
	return s, alive(s.PID) && (s.Ticks == "" || startTicks(s.PID) == s.Ticks)
}

// ClearStopping removes the mark of an earlier stop: a container that was
// stopped and started again keeps its /tmp.
func (r Registry) ClearStopping() {
	_ = os.Remove(r.path("stopping.json"))
}

// SavePlan records the running scheduler's plan.
func (r Registry) SavePlan(p Plan) error {
	if err := r.ensure(); err != nil {
		return err
	}
	return writeJSON(r.path("schedule.json"), p)
}

// Planned is dues with the running scheduler's own plan in place of what
// the evidence says, for the kinds it plans (none when no scheduler runs in
// this service), except a retry that a good run since its failure (good,
// from the evidence) made moot: the scheduler skips it.
func (r Registry) Planned(dues []operate.Due, good func(kind string) *time.Time) []operate.Due {
	var p Plan
	data, err := os.ReadFile(r.path("schedule.json"))
	if err != nil || json.Unmarshal(data, &p) != nil || !alive(p.PID) || (p.Ticks != "" && startTicks(p.PID) != p.Ticks) {
		return dues
	}
	for i, d := range dues {
		for _, n := range p.Next {
			if n.Kind != d.Kind || n.At == nil {
				continue
			}
			if f, retry := p.Failed[n.Kind]; retry {
				if g := good(n.Kind); g != nil && g.After(f) {
					continue
				}
			}
			dues[i] = n
		}
	}
	return dues
}

// Active lists the runs registered in this service whose process lives.
func (r Registry) Active() []RunInfo {
	entries, err := os.ReadDir(r.path("runs"))
	if err != nil {
		return nil
	}
	var out []RunInfo
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			if info, running := r.Running(id); running {
				out = append(out, info)
			}
		}
	}
	return out
}

// StopAll interrupts every run of the service but the process's own (its
// scheduled run stops through its context), as `agent cancel` does: each
// gets SIGTERM, so restic gets SIGINT and removes its lock, and the run
// stores its evidence as interrupted. It waits until none runs, or until
// the deadline (the platform's kill follows it: wall-clock time), and
// returns the runs still going then.
func (r Registry) StopAll(deadline time.Time) []RunInfo {
	self := pid()
	for _, info := range r.Active() {
		if info.PID != self {
			_ = syscall.Kill(info.PID, syscall.SIGTERM)
		}
	}
	for {
		left := r.Active()
		if len(left) == 0 || !time.Now().Before(deadline) {
			return left
		}
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
	}
}

// finishBudget is how long a run that ends may take for its alerts (all
// channels together: each has its own budget within it) and for storing
// its evidence, and how long a restic it runs then gets to
// clean up after SIGINT (0: the runner's default). A run interrupted
// because the service stops gets what is left of the grace: its evidence
// store is interrupted in time for restic to remove its lock before
// process 1 exits, and its alerts leave the evidence its share.
func (a *Agent) finishBudget(interrupted bool) (alerts, evidence, grace time.Duration) {
	all := alertChannels * a.alertBudgetOf()
	if !interrupted {
		return all, evidenceWait, 0
	}
	s, stopping := a.Runs.Stopping()
	if !stopping {
		return all, evidenceWaitAfter, 0
	}
	left := time.Until(s.Deadline)
	return max(0, min(all, left-evidenceReserve)), max(0, min(evidenceWaitAfter, left-resticCleanup)), resticCleanup
}

// stopService is the scheduler's end when the service stops: it marks the
// service stopping (a run asked for now does not start), stops its own
// run through cancel, interrupts every other run, and waits for them
// within the grace, so that process 1 exits only when their restic has
// released its lock and their evidence is stored (or the grace is over).
func (a *Agent) stopService(cancel context.CancelFunc) {
	grace := a.StopGrace
	if grace <= 0 {
		grace = StopGrace
	}
	now := time.Now()
	s := Stopping{At: now.UTC(), Deadline: now.Add(grace - stopMargin), PID: pid()}
	if err := a.Runs.MarkStopping(s); err != nil {
		a.Out.Say("schedule: cannot mark the service stopping: %v", err)
	}
	cancel()
	active := a.Runs.Active()
	if len(active) == 0 {
		return
	}
	a.Out.Say("schedule: the service is stopping: interrupting %s, which must end by %s", plural(len(active), "run"), s.Deadline.UTC().Format(time.RFC3339))
	if left := a.Runs.StopAll(s.Deadline); len(left) > 0 {
		var ids []string
		for _, r := range left {
			ids = append(ids, r.Op+" "+r.ID)
		}
		a.Out.Say("schedule: still running at the end of the grace: %s", strings.Join(ids, ", "))
	}
}

// ErrStopping means a run was asked for while the service stops: it never
// starts, as a cancelled one.
var ErrStopping = fmt.Errorf("%w: the service is stopping", ErrCancelled)
