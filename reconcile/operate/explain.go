package operate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/finding"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// Finding and Action are shared with the reconcile core (package finding).
type (
	Finding = finding.Finding
	Action  = finding.Action
)

// Severities.
const (
	SeverityError   = finding.Error
	SeverityWarning = finding.Warning
	SeverityInfo    = finding.Info
)

// Command is the devopsellence-backup command line of op for env.
func Command(op Op, env string, flags ...string) string {
	return strings.Join(append([]string{"devopsellence-backup", string(op), "--env", env}, flags...), " ")
}

// ApplyAction is the next action that deploys the backup service of env
// (with its spec and secrets) with devopsellence-backup apply.
func ApplyAction(label, env string) Action {
	return Action{Label: label, Command: Command("apply", env)}
}

// ToolMissing is the finding that image, which runs service in env, lacks
// tools the spec needs (each a command, or alternatives joined by "|").
func ToolMissing(env, image, service string, missing []string) Finding {
	what := "the image"
	if image != "" {
		what = "image " + image
	}
	return Finding{
		Severity: SeverityWarning, Code: "tool_missing", Environment: env,
		Message:     fmt.Sprintf("%s of service %s in %s lacks %s, which the spec's backups and drills need", what, service, env, strings.Join(missing, ", ")),
		Evidence:    slices.Clone(missing),
		NextActions: []Action{{Label: "build an image with restic and exactly the clients the spec needs", Command: Command("image", env)}},
	}
}

// Explain turns the failed and partial steps of a run into findings: what
// happened, why, and the command that fixes it.
func Explain(op Op, es spec.EnvSpec, service string, ev *Evidence) []Finding {
	var out []Finding
	for _, s := range ev.Steps {
		if s.Result == ResultSkipped && s.Error == ClassNotCreatedYet {
			out = append(out, Finding{Severity: SeverityInfo, Code: ClassNotCreatedYet, Environment: es.Environment, Message: s.Name + ": " + s.Message})
			continue
		}
		if s.Result != ResultFailed && s.Result != ResultPartial || s.Error == "interrupted" {
			continue
		}
		f := explainStep(op, es, service, s)
		f.Environment = es.Environment
		if s.Message != "" && !strings.Contains(f.Message, s.Message) {
			f.Evidence = append(f.Evidence, s.Name+": "+s.Message)
		}
		out = append(out, f)
	}
	if ev.Interrupted {
		out = append(out, Finding{
			Severity: SeverityError, Code: "interrupted", Environment: es.Environment,
			Message:     fmt.Sprintf("%s in %s was interrupted: restic was asked (SIGINT) to stop and release its lock, and the run is recorded as failed", op, es.Environment),
			NextActions: []Action{{Label: "run it again", Command: Command(op, es.Environment)}},
		})
	}
	return out
}

// Deploy is the command that recreates the backup service's container, so
// that it sees secrets stored since its last deploy: devopsellence's exec
// runs in the container as last deployed.
func Deploy(env string) Action {
	return Action{Label: "deploy the app so the backup service sees the new value (exec runs the container as last deployed)", Command: "devopsellence deploy --env " + env}
}

// ExecRestic is `restic ARGS` run by hand in the backup service.
func ExecRestic(service, env string, args ...string) string {
	return fmt.Sprintf("devopsellence exec %s --env %s -- restic %s", service, env, strings.Join(args, " "))
}

func setSecret(name, service, env string) string {
	return fmt.Sprintf("devopsellence secret set %s --service %s --env %s --stdin", name, service, env)
}

// explainLocked explains a step that found the repository locked, from
// the lock the agent read (older agents say nothing of it): who holds it,
// and when `restic unlock` (--unlock-stale) can remove it, so that it is
// not recommended when it cannot.
func explainLocked(op Op, repo, service, env string, s Step) (string, []Action) {
	unlock := Command(op, env, "--unlock-stale")
	host, staleAt := s.Fact("lock_host"), s.Fact("lock_stale_at")
	kind := "a shared"
	if s.Fact("lock_exclusive") == "true" {
		kind = "an exclusive"
	}
	switch {
	case host == "" || staleAt == "":
		return fmt.Sprintf("the repository at %s is locked by another restic process, so %s could not start. If that process is still running, wait for it. If it is gone (a killed or crashed run), the lock is stale: --unlock-stale runs `restic unlock`, which removes only locks whose process is gone or that are older than 30 minutes, then tries once more", repo, op),
			[]Action{{Label: "remove a stale lock and retry", Command: unlock}}
	case s.Fact("lock_stale") == "true":
		return fmt.Sprintf("the repository at %s is locked, so %s could not start, by %s lock that restic calls stale (made at %s by restic on host %s, pid %s, which is gone, or over 30 minutes ago): --unlock-stale runs `restic unlock`, which removes only stale locks, then tries once more",
				repo, op, kind, s.Fact("lock_created"), host, s.Fact("lock_pid")),
			[]Action{{Label: "remove the stale lock and retry", Command: unlock}}
	case s.Fact("lock_here") == "true":
		return fmt.Sprintf("the repository at %s is locked, so %s could not start: restic (pid %s) in this service holds %s lock made at %s. If it still runs, wait for it; once it is gone, `restic unlock` removes the lock",
				repo, op, s.Fact("lock_pid"), kind, s.Fact("lock_created")),
			[]Action{{Label: "once that restic is gone, remove its lock and retry", Command: unlock}}
	}
	return fmt.Sprintf("the repository at %s is locked, so %s could not start: restic on host %s (pid %s) holds %s lock made at %s. That host is not this service's container: "+
			"a container of this service that a deploy replaced or a kill stopped leaves such a lock, and so does another app's restic on the same repository. "+
			"restic calls another host's lock stale only 30 minutes after its last refresh, at %s (a running restic refreshes it every 5 minutes): `restic unlock` (--unlock-stale) removes it then, not before. The scheduled runs retry by themselves",
			repo, op, host, s.Fact("lock_pid"), kind, s.Fact("lock_created"), staleAt),
		[]Action{
			{Label: "after " + staleAt + ", remove it and retry", Command: unlock},
			{Label: "see every lock", Command: ExecRestic(service, env, "--no-lock", "list", "locks")},
		}
}

// explainStep says what failed in one step and gives the actions that fix
// that cause (not "run it again" when a rerun cannot help).
func explainStep(op Op, es spec.EnvSpec, service string, s Step) Finding {
	if f, ok := explainRecovery(op, es, service, s); ok {
		return f
	}
	env := es.Environment
	repo := es.Repository.Display()
	rerun := Action{Label: "run it again", Command: Command(op, env)}
	f := Finding{Severity: SeverityError, Code: s.Error, Message: fmt.Sprintf("%s: %s", s.Name, s.Message)}
	switch s.Error {
	case "partial":
		f.Severity = SeverityWarning
		f.Message = fmt.Sprintf("%s: a snapshot was saved, but without some source data (restic exit 3): %s. This is not a complete backup", s.Name, s.Message)
		f.NextActions = []Action{{Label: "make the files readable by the backup service (or mount the missing volume), then back up again", Command: Command(OpBackup, env)}}
	case "repository_missing":
		f.Message = fmt.Sprintf("there is no restic repository at %s, and devopsellence-backup does not create one unasked (a typo in the URL would otherwise start a new, empty repository)", repo)
		f.NextActions = []Action{{Label: "create it, then back up", Command: Command(OpBackup, env, "--init")}}
	case "wrong_password":
		f.Message = fmt.Sprintf("the repository at %s does not open with the RESTIC_PASSWORD of service %s in %s (wrong password or no key found); nothing was changed", repo, service, env)
		f.NextActions = []Action{
			{Label: "store the repository's password", Command: setSecret(spec.PasswordSecret, service, env)},
			Deploy(env),
			rerun,
		}
	case "locked":
		f.Message, f.NextActions = explainLocked(op, repo, service, env, s)
	case "service_env":
		f.NextActions = []Action{ApplyAction("deploy the backup service with its secrets", env)}
	case "bad_url":
		if name := s.Fact("secret"); name != "" {
			f.NextActions = []Action{
				{Label: "store the database's connection URL (postgres://user:password@host/db or mysql://…, reserved characters percent-encoded)", Command: setSecret(name, service, env)},
				Deploy(env),
				rerun,
			}
		}
	case "tool_missing":
		tool := s.Fact("tool")
		t := ToolMissing(env, es.Image, service, []string{tool})
		if tool != "" {
			f.Message = s.Name + ": " + t.Message
		}
		f.NextActions = t.NextActions
	case "dumper_failed", "dump_incomplete":
		f.Message = fmt.Sprintf("%s: the dump did not complete, so no snapshot was made for it (never a truncated one): %s", s.Name, s.Message)
		f.NextActions = []Action{rerun}
		if secret, what := dbSecret(es, strings.TrimPrefix(s.Name, "db:")); secret != "" && authFailure(s.Message) {
			f.NextActions = []Action{{Label: "store " + what + " with the right password", Command: setSecret(secret, service, env)}, Deploy(env), rerun}
		}
	case "auth_failed":
		f.NextActions = []Action{rerun}
		secret, what := dbSecret(es, strings.TrimPrefix(s.Name, "db:"))
		if named := s.Fact("secret"); named != "" {
			secret, what = named, "the database's connection URL"
		}
		if secret != "" {
			f.NextActions = []Action{{Label: "store " + what + " with the right user and password", Command: setSecret(secret, service, env)}, Deploy(env), rerun}
		}
	case "connect_failed":
		f.NextActions = []Action{
			{Label: "check that the database server runs and that the backup service reaches it by the URL's host and port", Command: fmt.Sprintf("devopsellence status --env %s", env)},
			rerun,
		}
	case "busy":
		f.Message = fmt.Sprintf("%s: %s; runs in one service wait for each other", s.Name, s.Message)
		f.NextActions = []Action{{Label: "see what runs and when it started", Command: Command(OpStatus, env)}, {Label: "run it again when that run is done", Command: Command(op, env)}}
	case "client_too_old":
		f.NextActions = []Action{
			{Label: "print a Dockerfile for a backup image with a current client", Command: Command("image", env)},
			ApplyAction("set spec.image to that image (or the official image of a current release), then deploy it", env),
		}
	case "source_missing":
		f.NextActions = []Action{ApplyAction("point the spec's database path at a file on a volume the backup service mounts (spec.volumes), then deploy", env)}
	case "no_snapshot":
		f.NextActions = []Action{{Label: "back up first", Command: Command(OpBackup, env)}}
	case "no_retention":
		f.NextActions = []Action{ApplyAction("set spec.retention, then deploy it", env)}
	case "databases_left_out":
		f.Severity = SeverityWarning
		f.NextActions = []Action{ApplyAction("dump them too: add each to spec.databases (service and database), then deploy", env)}
	case "no_scratch":
		f.NextActions = []Action{ApplyAction("set scratchUrlSecret for the database in the spec, then store it and deploy", env)}
	case "scratch_failed":
		f.NextActions = []Action{ApplyAction("let the drill create its scratch database where it may: set scratchUrlSecret for the database in the spec (a user that may create and drop databases), then store it and deploy", env), rerun}
	case "verify_failed", "restore_failed":
		f.Message = fmt.Sprintf("%s: the restore drill did not verify: %s", s.Name, s.Message)
		f.NextActions = []Action{{Label: "check the repository's data", Command: Command(OpCheck, env, "--read-data-subset", "100%")}, rerun}
	case "failed":
		if s.Kind == string(OpCheck) {
			f.Message = fmt.Sprintf("restic check found errors in the repository at %s: %s", repo, s.Message)
			f.NextActions = []Action{
				{Label: "see which packs are damaged", Command: ExecRestic(service, env, "check", "--read-data")},
				{Label: "rebuild the index, then drop the damaged data (restic's own repair)", Command: ExecRestic(service, env, "repair", "index")},
				{Label: "back up again so the lost data is saved anew", Command: Command(OpBackup, env)},
			}
			break
		}
		fallthrough
	default:
		if f.Code == "" {
			f.Code = string(op) + "_failed"
		}
		f.NextActions = []Action{rerun}
	}
	return f
}

// dbSecret is the secret that logs in to the spec's database name (""
// when none), and what it holds.
func dbSecret(es spec.EnvSpec, name string) (secret, what string) {
	for _, d := range es.Databases {
		switch {
		case d.Name != name:
		case d.PasswordSecret != "":
			return d.PasswordSecret, "the password of service " + d.Service
		case d.URLSecret != "":
			return d.URLSecret, "the database's connection URL"
		}
	}
	return "", ""
}

// authFailure recognises the database clients' password errors.
func authFailure(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "password authentication failed") || strings.Contains(m, "access denied") || strings.Contains(m, "noauth") || strings.Contains(m, "wrongpass")
}
