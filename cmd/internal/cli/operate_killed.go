package cli

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// askLocksFor is how long askLocks keeps asking a service that does not
// answer: a killed container is started again, and a replaced one
// replaced, within seconds.
const askLocksFor = 30 * time.Second

// askLocks asks the service which locks the repository holds and which
// container answers, until it answers or askLocksFor has passed (nil then).
func askLocks(ctx context.Context, ex operate.Executor, env, service string) *operate.LockReport {
	deadline := time.Now().Add(askLocksFor)
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, askLocksFor)
		out, err := operate.Ask(actx, ex, env, service, &operate.LocksRequest{})
		cancel()
		if err == nil && out.Locks != nil {
			return out.Locks
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

// killedFinding explains a run that a signal killed in the service, with
// no result: what the service says now (whether its container started
// again, or anew, after the run began) and the locks restic left, with
// when each clears.
func killedFinding(op operate.Op, env, service string, out *operate.Outcome, began time.Time, rep *operate.LockReport) reconcile.Finding {
	sig := syscall.Signal(out.ExitCode - 128)
	f := reconcile.Finding{Severity: reconcile.SeverityError, Code: "killed", Environment: env}
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s ended without a result: the agent in service %s was killed (exit %d, %s), and restic with it, so the run stored no evidence", op, env, service, out.ExitCode, sig)
	rerun := reconcile.Action{Label: "run it again", Command: operate.Command(op, env)}
	if rep == nil {
		b.WriteString(". The service did not answer afterwards, so what became of restic's lock is unknown")
		f.Message = b.String()
		f.NextActions = []reconcile.Action{{Label: "see whether the service runs", Command: "devopsellence status --env " + env}, rerun}
		return f
	}
	switch st := rep.ServiceStarted; {
	case st != nil && st.After(began):
		fmt.Fprintf(&b, ". The service's container (%s) started at %s, after the run began: its container was killed, stopped past its grace, or replaced meanwhile (docker kill, the OOM killer, a node restart)", rep.Container, st.Format(time.RFC3339))
	case st != nil:
		fmt.Fprintf(&b, ". The service's container (%s) has run since %s, before the run began: the run alone was killed (the OOM killer kills the largest process)", rep.Container, st.Format(time.RFC3339))
	}
	now := time.Now()
	var later []time.Time
	clearNow := false
	switch {
	case rep.Error != "":
		fmt.Fprintf(&b, ". The repository's locks could not be read (%s)", rep.Error)
	case len(rep.Locks) == 0:
		b.WriteString(". restic left no lock in the repository")
	default:
		fmt.Fprintf(&b, ". The repository holds %d lock(s): ", len(rep.Locks))
		for i, l := range rep.Locks {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(agent.LockText(l, now))
			switch {
			case l.Stale:
				clearNow = true
			case !l.Here:
				later = append(later, l.StaleAt)
			}
		}
	}
	f.Message = b.String()
	unlock := operate.Command(op, env, "--unlock-stale")
	switch {
	case clearNow:
		f.NextActions = []reconcile.Action{{Label: "remove the stale lock and run it again", Command: unlock}}
	case len(later) > 0:
		last := later[0]
		for _, t := range later {
			if t.After(last) {
				last = t
			}
		}
		f.NextActions = []reconcile.Action{{Label: "after " + last.Format(time.RFC3339) + ", when restic calls the lock stale, remove it and run it again", Command: unlock}}
	default:
		f.NextActions = []reconcile.Action{rerun}
	}
	return f
}
