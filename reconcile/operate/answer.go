package operate

import (
	"fmt"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// What the operator's side finds when the agent's answer is not a result:
// a run interrupted, no agent, no answer, an agent too old, a deadline.

// Stopped says truthfully what interrupting a run did: whether the
// agent stopped restic (which then released its lock) and what it had
// saved, or that the run could not be reached and goes on in the service
// until its deadline.
func Stopped(op Op, env string, timeout time.Duration, out *Outcome, interrupted bool, err error) Finding {
	why := "it did not answer within its deadline"
	if interrupted {
		why = "it was interrupted here"
	}
	f := Finding{Severity: SeverityError, Code: "interrupted", Environment: env,
		NextActions: []Action{{Label: "see what the repository holds now", Command: Command(OpStatus, env)}, {Label: "run it again", Command: Command(op, env)}}}
	c := out.Cancel
	switch {
	case c == nil:
		f.Message = fmt.Sprintf("%s in %s: %s, and the run in the service could not be reached to stop it (%v): it goes on until it ends or its own deadline (%s)", op, env, why, err, timeout)
	case !c.Found && out.Result == nil:
		f.Message = fmt.Sprintf("%s in %s: %s before the run started in the service; nothing ran, and it will not start now", op, env, why)
	case !c.Stopped:
		f.Message = fmt.Sprintf("%s in %s: %s; the run was asked to stop but had not stopped within %s: it goes on until it ends or its own deadline (%s)", op, env, why, CancelWait, timeout)
	default:
		saved := "no snapshot was saved"
		if ev := out.Result; ev != nil {
			var ids []string
			for _, s := range ev.Steps {
				// Only what a backup step saved: a restore's plan names
				// the snapshot it reads, which nothing saved.
				if id := s.Fact("snapshot_id"); id != "" && s.Result != ResultFailed && (s.Kind == "files" || s.Kind == "db") {
					ids = append(ids, s.Name+" "+ShortID(id))
				}
			}
			if len(ids) > 0 {
				saved = "saved before it stopped: " + strings.Join(ids, ", ")
			}
		}
		stored := "no evidence was stored"
		if out.Stored != nil && out.Stored.Stored {
			stored = "the run is recorded as failed (interrupted) in the repository's evidence"
		}
		f.Message = fmt.Sprintf("%s in %s: %s; the agent stopped restic, which released its lock; %s; %s", op, env, why, saved, stored)
	}
	return f
}

// NoAnswer explains an agent that gave no result, from its last lines: a
// service environment that is not a valid configuration (a deploy from
// the spec fixes it), an agent too old to know the request, or else the
// exit status and what it said.
func NoAnswer(op Op, es spec.EnvSpec, service string, out *Outcome) Finding {
	said := strings.Join(out.Tail, " ")
	switch {
	case out.ExitCode == ExitUsage && strings.Contains(said, "not a valid agent configuration"):
		return Finding{Severity: SeverityError, Code: "service_env", Environment: es.Environment,
			Message:     fmt.Sprintf("the environment of service %s in %s is not what the spec renders, so the agent cannot run: %s", service, es.Environment, said),
			NextActions: []Action{ApplyAction("deploy the backup service from the spec", es.Environment)}}
	case out.ExitCode == ExitUsage && (strings.Contains(said, "unknown flag") || strings.Contains(said, "unknown command") || strings.Contains(said, "protocol")):
		return AgentOutdated(es, service, "")
	}
	f := Finding{Severity: SeverityError, Code: "no_result", Environment: es.Environment,
		Message:     fmt.Sprintf("%s in service %s exited with status %d without a result", op, service, out.ExitCode),
		NextActions: []Action{{Label: "run it again with more detail", Command: Command(op, es.Environment) + " -v 1"}}}
	if op == OpRestore {
		// Killed while it moved paths into place, it left them partly
		// restored: status says so, and the next run finishes it.
		f.Message += ": if it was moving restored paths into place, they may be partly restored until the next run of the agent finishes the restore (status shows an unfinished restore as an error)"
		f.NextActions = append([]Action{{Label: "see whether a restore is unfinished", Command: Command(OpStatus, es.Environment)}}, f.NextActions...)
	}
	if out.BadLines > 0 {
		f.Message += fmt.Sprintf(" (%d line(s) of its JSON output could not be read: cut or garbled on the way)", out.BadLines)
	}
	if said != "" {
		f.Evidence = []string{said}
	}
	return f
}

// AgentMissing: the service's image has no agent.
func AgentMissing(es spec.EnvSpec, service string) Finding {
	return Finding{Severity: SeverityError, Code: "agent_missing", Environment: es.Environment,
		Message: fmt.Sprintf("the image of service %s in %s (%s) has no devopsellence-backup agent on its PATH: it is not an agent image", service, es.Environment, es.Image),
		NextActions: []Action{
			ApplyAction("set spec.image to the official image (or one built from devopsellence-backup image), then deploy it", es.Environment),
		}}
}

// AgentOutdated: the agent in the image is older than this tool.
func AgentOutdated(es spec.EnvSpec, service, version string) Finding {
	v := "an older version"
	if version != "" {
		v = version
	}
	return Finding{Severity: SeverityError, Code: "agent_outdated", Environment: es.Environment,
		Message: fmt.Sprintf("the agent in service %s in %s (image %s) is %s and does not understand this devopsellence-backup (protocol %d)", service, es.Environment, es.Image, v, Protocol),
		NextActions: []Action{
			ApplyAction("set spec.image to the image matching this devopsellence-backup, then deploy it", es.Environment),
		}}
}

// TimedOut: the agent stopped the run at its own deadline (--timeout).
func TimedOut(op Op, env string, d time.Duration) Finding {
	return Finding{
		Severity: SeverityError, Code: "timeout", Environment: env,
		Message: fmt.Sprintf("%s in %s did not finish within %s (--timeout): the agent interrupted restic, which released its lock, and recorded the run as failed. "+
			"restic 0.17+ retries a backend that does not answer for up to 15 minutes: check that the repository is reachable from the service", op, env, d),
		NextActions: []Action{
			{Label: "check the repository and the service", Command: Command(OpStatus, env)},
			{Label: "or allow more time", Command: Command(op, env, "--timeout", (2 * d).String())},
		},
	}
}
