package agent

import (
	"fmt"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// Step results besides operate's ok, partial and failed.
const resultSkipped = operate.ResultSkipped

// recorder builds the evidence document of one run, step by step.
type recorder struct {
	ev    *operate.Evidence
	now   func() time.Time
	out   *Output
	scrub func(string) string
	// started is set once the run holds the service: only a started run
	// sends alerts and stores evidence.
	started bool
	// repoUnusable is set when restic found the repository missing or the
	// password wrong: no evidence can be stored in it then.
	repoUnusable bool
	// checkPart is the part of the data a passing check read (n/N).
	checkPart string
	// plan is the plan a restore carried out, for its result line.
	plan *operate.RestorePlan
	// lock is the lock that stopped the last call that found the
	// repository locked; the step that fails on it records it.
	lock *operate.LockInfo
}

// stepRun is one step being recorded.
type stepRun struct {
	r     *recorder
	name  string
	kind  string
	start time.Time
	facts map[string]any
}

func (r *recorder) begin(name, kind string) *stepRun {
	r.out.Say("%s: %s ...", r.ev.Kind, name)
	return &stepRun{r: r, name: name, kind: kind, start: r.now(), facts: map[string]any{}}
}

func (s *stepRun) fact(key string, v any) {
	if str, ok := v.(string); ok {
		v = s.r.scrub(str)
	}
	s.facts[key] = v
}

// done records the step; exit is the command's exit code (nil: no command
// ran), class the error class of a failure.
func (s *stepRun) done(result string, exit *int, class, message string) {
	if l := s.r.lock; class == "locked" && l != nil {
		s.r.lock = nil
		s.facts["lock_host"], s.facts["lock_pid"], s.facts["lock_exclusive"], s.facts["lock_here"], s.facts["lock_stale"] = l.Host, l.PID, l.Exclusive, l.Here, l.Stale
		s.facts["lock_created"], s.facts["lock_stale_at"] = l.Created.Format(time.RFC3339), l.StaleAt.Format(time.RFC3339)
		message = LockText(*l, s.r.now()) + ". " + message
	}
	message = s.r.scrub(message)
	if len(message) > 600 {
		message = message[:600] + "..."
	}
	st := operate.Step{Name: s.name, Kind: s.kind, Result: result, ExitCode: exit, Error: class, Message: message,
		DurationSeconds: int64(s.r.now().Sub(s.start).Seconds()), Facts: s.facts}
	s.r.ev.Steps = append(s.r.ev.Steps, st)
	line := fmt.Sprintf("%s: %s: %s", s.r.ev.Kind, s.name, result)
	if message != "" {
		line += ": " + message
	}
	s.r.out.Say("%s", line)
}

func (s *stepRun) ok(exit int, message string) { s.done(operate.ResultOK, &exit, "", message) }

func (s *stepRun) fail(exit *int, class, message string) {
	s.done(operate.ResultFailed, exit, class, message)
}

func code(n int) *int { return &n }

// finish closes the document: ok, partial (some snapshot lacks source
// data) or failed, with the exit status the agent exits with (ExitOK,
// ExitPartial, ExitFailed, or ExitInterrupted).
func (r *recorder) finish(interrupted bool) *operate.Evidence {
	ev := r.ev
	ev.FinishedAt = r.now().UTC()
	ev.DurationSeconds = int64(ev.FinishedAt.Sub(ev.StartedAt).Seconds())
	ev.Result, ev.ExitCode = operate.ResultOK, operate.ExitOK
	for _, s := range ev.Steps {
		switch s.Result {
		case operate.ResultFailed:
			ev.Result, ev.ExitCode = operate.ResultFailed, operate.ExitFailed
		case operate.ResultPartial:
			if ev.Result == operate.ResultOK {
				ev.Result, ev.ExitCode = operate.ResultPartial, operate.ExitPartial
			}
		}
	}
	if interrupted {
		ev.Interrupted = true
		ev.Result, ev.ExitCode = operate.ResultFailed, operate.ExitInterrupted
	} else {
		ev.InterruptedBy = ""
	}
	return ev
}
