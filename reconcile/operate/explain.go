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
		if ev.Copy != "" {
			f = explainCopy(f, es, service, ev.Copy, s)
		}
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

// explainCopy fixes the finding f of step s of a run that read a copy
// (--from-copy): the copy's own password secret and location, never the
// primary's.
func explainCopy(f Finding, es spec.EnvSpec, service, name string, s Step) Finding {
	i := slices.IndexFunc(es.Copies, func(c spec.Copy) bool { return c.Name == name })
	if i < 0 {
		return f
	}
	c, env := es.Copies[i], es.Environment
	switch s.Error {
	case "wrong_password":
		f.Message = fmt.Sprintf("copy %s at %s does not open with its password secret %s in service %s (wrong password or no key found); nothing was changed", name, c.Repository.Display(), c.PasswordSecret, service)
		f.NextActions = []Action{{Label: "store the copy's password", Command: setSecret(c.PasswordSecret, service, env)}, Deploy(env)}
	case "repository_missing":
		f.Message = fmt.Sprintf("there is no restic repository at %s, where copy %s should be", c.Repository.Display(), name)
		f.NextActions = []Action{{Label: "see what the copy holds, or whether it is reachable", Command: Command("status", env)}}
	}
	return f
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

// explainStep says what failed in one step and gives the actions that fix
// that cause (not "run it again" when a rerun cannot help).
func explainStep(op Op, es spec.EnvSpec, service string, s Step) Finding {
	if f, ok := explainRecovery(op, es, service, s); ok {
		return f
	}
	f := Finding{Severity: SeverityError, Code: s.Error, Message: fmt.Sprintf("%s: %s", s.Name, s.Message)}
	explain, ok := explainClass[s.Error]
	if !ok {
		explain = explainOther
	}
	explain(failedStep{op: op, es: es, service: service, s: s}, &f)
	return f
}

// failedStep is what an explanation reads: the step, its run and its
// environment.
type failedStep struct {
	op      Op
	es      spec.EnvSpec
	service string
	s       Step
}

func (c failedStep) env() string  { return c.es.Environment }
func (c failedStep) repo() string { return c.es.Repository.Display() }
func (c failedStep) rerun() Action {
	return Action{Label: "run it again", Command: Command(c.op, c.env())}
}
func (c failedStep) deploy() Action { return Deploy(c.env()) }

// setSecret is the action that stores secret name with the right value.
func (c failedStep) setSecret(label, name string) Action {
	return Action{Label: label, Command: setSecret(name, c.service, c.env())}
}

// explainClass explains a failed step by its error class: each fills in
// the message when the step's own says too little, and the actions.
var explainClass = map[string]func(c failedStep, f *Finding){
	"partial":            explainPartial,
	"repository_missing": explainRepositoryMissing,
	"wrong_password":     explainWrongPassword,
	"disk_full":          explainDiskFull,
	"locked":             explainLocked,
	"service_env": func(c failedStep, f *Finding) {
		f.NextActions = []Action{ApplyAction("deploy the backup service with its secrets", c.env())}
	},
	"bad_url":         explainBadURL,
	"tool_missing":    explainToolMissing,
	"dumper_failed":   explainDumpFailed,
	"dump_incomplete": explainDumpFailed,
	"auth_failed":     explainAuthFailed,
	"connect_failed": func(c failedStep, f *Finding) {
		f.NextActions = []Action{
			{Label: "check that the database server runs and that the backup service reaches it by the URL's host and port", Command: fmt.Sprintf("devopsellence status --env %s", c.env())},
			c.rerun(),
		}
	},
	"busy": func(c failedStep, f *Finding) {
		f.Message = fmt.Sprintf("%s: %s; runs in one service wait for each other", c.s.Name, c.s.Message)
		f.NextActions = []Action{{Label: "see what runs and when it started", Command: Command(OpStatus, c.env())}, {Label: "run it again when that run is done", Command: Command(c.op, c.env())}}
	},
	"client_too_old": func(c failedStep, f *Finding) {
		f.NextActions = []Action{
			{Label: "print a Dockerfile for a backup image with a current client", Command: Command("image", c.env())},
			ApplyAction("set spec.image to that image (or the official image of a current release), then deploy it", c.env()),
		}
	},
	"source_missing": func(c failedStep, f *Finding) {
		f.NextActions = []Action{ApplyAction("point the spec's database path at a file on a volume the backup service mounts (spec.volumes), then deploy", c.env())}
	},
	"no_snapshot": func(c failedStep, f *Finding) {
		f.NextActions = []Action{{Label: "back up first", Command: Command(OpBackup, c.env())}}
	},
	"backup_empty": func(c failedStep, f *Finding) {
		f.Message = fmt.Sprintf("%s: the backup holds nothing: %s", c.s.Name, c.s.Message)
		f.NextActions = []Action{ApplyAction("narrow spec.exclude (and the volumes' exclude) so they do not match every file, then deploy and back up", c.env())}
	},
	"backup_shrank": func(c failedStep, f *Finding) {
		f.Message = fmt.Sprintf("%s: the backup is much smaller than the one before: %s", c.s.Name, c.s.Message)
		f.NextActions = []Action{
			{Label: "see what it holds", Command: Command(OpLs, c.env(), ShortID(c.s.Fact("snapshot_id")))},
			ApplyAction("if the app removed those files on purpose, set spec.allowShrink: true, then deploy", c.env()),
		}
	},
	"no_retention": func(c failedStep, f *Finding) {
		f.NextActions = []Action{ApplyAction("set spec.retention, then deploy it", c.env())}
	},
	"databases_left_out": func(c failedStep, f *Finding) {
		f.Severity = SeverityWarning
		f.NextActions = []Action{ApplyAction("dump them too: add each to spec.databases (service and database), then deploy", c.env())}
	},
	"no_scratch": func(c failedStep, f *Finding) {
		f.NextActions = []Action{ApplyAction("set scratchUrlSecret for the database in the spec, then store it and deploy", c.env())}
	},
	"scratch_failed": func(c failedStep, f *Finding) {
		f.NextActions = []Action{ApplyAction("let the drill create its scratch database where it may: set scratchUrlSecret for the database in the spec (a user that may create and drop databases), then store it and deploy", c.env()), c.rerun()}
	},
	"verify_failed":  explainDrillFailed,
	"restore_failed": explainDrillFailed,
	"failed":         explainFailed,
}

func explainPartial(c failedStep, f *Finding) {
	f.Severity = SeverityWarning
	f.Message = fmt.Sprintf("%s: a snapshot was saved, but without some source data (restic exit 3): %s. This is not a complete backup", c.s.Name, c.s.Message)
	f.NextActions = []Action{{Label: "make the files readable by the backup service (or mount the missing volume), then back up again", Command: Command(OpBackup, c.env())}}
}

func explainRepositoryMissing(c failedStep, f *Finding) {
	f.Message = fmt.Sprintf("there is no restic repository at %s, and devopsellence-backup does not create one unasked (a typo in the URL would otherwise start a new, empty repository)", c.repo())
	f.NextActions = []Action{{Label: "create it, then back up", Command: Command(OpBackup, c.env(), "--init")}}
	if len(c.es.Copies) == 0 {
		return
	}
	// A lost primary: its copies hold the backups. A new, empty primary
	// comes after what needs restoring is restored.
	name := c.es.Copies[0].Name
	var names []string
	for _, cp := range c.es.Copies {
		names = append(names, cp.Name)
	}
	f.Message += fmt.Sprintf(". If the primary repository was lost, its copies (%s) still hold the backups", strings.Join(names, ", "))
	f.NextActions = []Action{
		{Label: "see the backups in copy " + name, Command: Command(OpSnapshots, c.env(), "--from-copy", name)},
		{Label: "restore from the copy what needs restoring", Command: Command(OpRestore, c.env(), "SNAPSHOT", "--from-copy", name, "--dry-run")},
		{Label: "then start a new, empty primary repository and back up into it", Command: Command(OpBackup, c.env(), "--init")},
	}
}

func explainDiskFull(c failedStep, f *Finding) {
	f.Message = fmt.Sprintf("the disk of the repository at %s is full (no space left on device): restic cannot even write its lock, so %s saved nothing there. %s", c.repo(), c.op, c.s.Message)
	f.NextActions = []Action{
		{Label: "free space on the repository's disk or grow it (prune needs a little room to remove old data), then run it again", Command: Command(c.op, c.env())},
	}
}

func explainWrongPassword(c failedStep, f *Finding) {
	f.Message = fmt.Sprintf("the repository at %s does not open with the RESTIC_PASSWORD of service %s in %s (wrong password or no key found); nothing was changed", c.repo(), c.service, c.env())
	f.NextActions = []Action{c.setSecret("store the repository's password", spec.PasswordSecret), c.deploy(), c.rerun()}
}

// explainLocked explains a step that found the repository locked, from
// the lock the agent read (older agents say nothing of it): who holds it,
// and when `restic unlock` (--unlock-stale) can remove it, so that it is
// not recommended when it cannot.
func explainLocked(c failedStep, f *Finding) {
	f.Message, f.NextActions = lockedText(c.op, c.repo(), c.service, c.env(), c.s)
}

func lockedText(op Op, repo, service, env string, s Step) (string, []Action) {
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

func explainBadURL(c failedStep, f *Finding) {
	if name := c.s.Fact("secret"); name != "" {
		f.NextActions = []Action{
			c.setSecret("store the database's connection URL (postgres://user:password@host/db or mysql://…, reserved characters percent-encoded)", name),
			c.deploy(), c.rerun(),
		}
	}
}

func explainToolMissing(c failedStep, f *Finding) {
	tool := c.s.Fact("tool")
	t := ToolMissing(c.env(), c.es.Image, c.service, []string{tool})
	if tool != "" {
		f.Message = c.s.Name + ": " + t.Message
	}
	f.NextActions = t.NextActions
}

func explainDumpFailed(c failedStep, f *Finding) {
	f.Message = fmt.Sprintf("%s: the dump did not complete, so no snapshot was made for it (never a truncated one): %s", c.s.Name, c.s.Message)
	f.NextActions = []Action{c.rerun()}
	if secret, what := dbSecret(c.es, strings.TrimPrefix(c.s.Name, "db:")); secret != "" && authFailure(c.s.Message) {
		f.NextActions = []Action{c.setSecret("store "+what+" with the right password", secret), c.deploy(), c.rerun()}
	}
}

func explainAuthFailed(c failedStep, f *Finding) {
	f.NextActions = []Action{c.rerun()}
	secret, what := dbSecret(c.es, strings.TrimPrefix(c.s.Name, "db:"))
	if named := c.s.Fact("secret"); named != "" {
		secret, what = named, "the database's connection URL"
	}
	if secret != "" {
		f.NextActions = []Action{c.setSecret("store "+what+" with the right user and password", secret), c.deploy(), c.rerun()}
	}
}

func explainDrillFailed(c failedStep, f *Finding) {
	f.Message = fmt.Sprintf("%s: the restore drill did not verify: %s", c.s.Name, c.s.Message)
	f.NextActions = []Action{{Label: "check the repository's data", Command: Command(OpCheck, c.env(), "--read-data-subset", "100%")}, c.rerun()}
}

// explainFailed explains a step that failed for no more specific reason:
// a check's is damage in the repository.
func explainFailed(c failedStep, f *Finding) {
	if c.s.Kind != string(OpCheck) {
		explainOther(c, f)
		return
	}
	f.Message = fmt.Sprintf("restic check found errors in the repository at %s: %s", c.repo(), c.s.Message)
	f.NextActions = []Action{
		{Label: "see which packs are damaged", Command: ExecRestic(c.service, c.env(), "check", "--read-data")},
		{Label: "rebuild the index, then drop the damaged data (restic's own repair)", Command: ExecRestic(c.service, c.env(), "repair", "index")},
		{Label: "back up again so the lost data is saved anew", Command: Command(OpBackup, c.env())},
	}
}

// explainOther: an error class without an explanation of its own; a rerun
// is all there is to suggest.
func explainOther(c failedStep, f *Finding) {
	if f.Code == "" {
		f.Code = string(c.op) + "_failed"
	}
	f.NextActions = []Action{c.rerun()}
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
