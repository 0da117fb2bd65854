package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// operateCommands are the commands that operate the backups once the backup
// service is deployed (backup, check, prune, drill, status, image).
func operateCommands(f *Factory) []*cobra.Command {
	return []*cobra.Command{
		newBackupCmd(f, nil), newCheckpointCmd(f, nil), newCheckCmd(f, nil), newPruneCmd(f, nil), newDrillCmd(f, nil),
		newStatusCmd(f, nil), newImageCmd(f, nil),
	}
}

// operateOptions are what every operating command shares: how it reaches
// the agent in the backup service, and its flags.
type operateOptions struct {
	IO        *iostreams.Streams
	LogJSON   bool
	Now       func() time.Time
	Workspace func() (*workspace, error)
	// Executor reaches the agent in the backup service of w, each exec
	// allowed to run for deadline.
	Executor func(w *workspace, deadline time.Duration) operate.Executor
	// Operation names the command in the documents it prints.
	Operation string

	Envs        []string
	Output      string
	Timeout     time.Duration
	UnlockStale bool

	// formats are the result formats --output takes (default text and json).
	formats []string
	// onData gets the pieces a dump sends, in base64, in order.
	onData func(string)
	// view shows the result, in the format --output chose (prepare sets
	// it).
	view render.OperateView
}

// outputFormats are the result formats --output takes.
func (o *operateOptions) outputFormats() []string {
	if o.formats != nil {
		return o.formats
	}
	return textOrJSON
}

// newOperateOptions holds the dependencies an operating command takes from
// f when built.
func newOperateOptions(f *Factory) operateOptions {
	return operateOptions{Now: f.Clock.Now, Workspace: f.Workspace, Executor: devopsellenceExec}
}

// devopsellenceExec reaches the agent through devopsellence exec in the app.
func devopsellenceExec(w *workspace, deadline time.Duration) operate.Executor {
	return w.client.WithTimeout(deadline)
}

// bind completes the dependencies once the root has parsed the global flags.
func (o *operateOptions) bind(f *Factory, cmd *cobra.Command) {
	o.IO, o.LogJSON, o.Operation = f.IO(), f.LogJSON(), cmd.CommandPath()
}

func (o *operateOptions) addFlags(cmd *cobra.Command, op operate.Op) {
	f := cmd.Flags()
	f.StringSliceVar(&o.Envs, "env", nil, "environments to operate (default: every environment the spec covers)")
	f.StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text or json")
	f.DurationVar(&o.Timeout, "timeout", operate.DefaultTimeout(op), "deadline of the run in each environment; restic is then interrupted so it releases its lock")
	if op != operate.OpStatus {
		f.BoolVar(&o.UnlockStale, "unlock-stale", false, "when the repository is locked, run restic unlock (stale locks only) and try once more")
	}
}

// prepare checks the flags, reads the spec and resolves the environments,
// in that order, so bad flags fail before any I/O.
func (o *operateOptions) prepare() (*workspace, *inputs, []string, error) {
	if err := checkOutput(o.Output, o.outputFormats()); err != nil {
		return nil, nil, nil, err
	}
	o.view = render.NewOperateView(o.Output, o.IO.Out)
	if o.Timeout <= 0 {
		return nil, nil, nil, usagef("--timeout %s: must be positive", o.Timeout)
	}
	w, err := o.Workspace()
	if err != nil {
		return nil, nil, nil, err
	}
	in, err := w.read()
	if err != nil {
		return nil, nil, nil, err
	}
	envs, err := coveredEnvs(w, in, o.Envs)
	if err != nil {
		return nil, nil, nil, err
	}
	return w, in, envs, nil
}

// coveredEnvs resolves --env: the environments asked for, each one the spec
// covers, or every covered environment when none is asked for.
func coveredEnvs(w *workspace, in *inputs, asked []string) ([]string, error) {
	if len(asked) == 0 {
		return in.desired.Covered, nil
	}
	for _, e := range asked {
		if !slices.Contains(in.desired.Covered, e) {
			return nil, usagef("--env %s: not an environment covered by %s (covered: %s)", e, w.specFile, strings.Join(in.desired.Covered, ", "))
		}
	}
	return asked, nil
}

// envRun is what one environment's run gave.
type envRun struct {
	env      string
	outcome  *operate.Outcome
	findings []reconcile.Finding
	// stopped: the run was interrupted from this side.
	stopped bool
	// copy is the copy that followed a backup, if one did.
	copy *envRun
}

// run asks the agent in every environment, one after the other, to carry
// out the request reqFor makes for it, under the --timeout that the agent
// enforces itself, and explains what went wrong (status runs are explained
// by operate.Assess instead). When the command is interrupted, the run in
// the service is stopped too (a second exec), and run returns what it
// found with the environments not yet run left out.
func (o *operateOptions) run(ctx context.Context, w *workspace, in *inputs, envs []string, reqFor func(env string) operate.RunRequest) ([]envRun, error) {
	service := in.desired.Service
	// The devopsellence client's own exec deadline must not cut the run short.
	ex := o.Executor(w, o.Timeout+operate.Grace+time.Minute)
	log := logr.FromContextOrDiscard(ctx)
	var runs []envRun
	for _, env := range envs {
		es := in.desired.Envs[env]
		req := reqFor(env)
		op, h := req.Operation(), req.RunHeader()
		h.Timeout, h.RunID = o.Timeout, operate.NewRunID()
		log.V(1).Info("asking the agent", "operation", op, "environment", env, "service", service, "timeout", o.Timeout, "runID", h.RunID)
		live := o.liveProgress(log, env, len(envs) > 1)
		began := o.Now()
		out, err := operate.Run(ctx, ex, env, service, req, 0, operate.Watch{OnProgress: live.show, OnLine: o.humanLines(log, env, len(envs) > 1, live), OnData: o.onData})
		live.end()
		r := envRun{env: env, outcome: out}
		switch {
		case errors.Is(err, operate.ErrStopped):
			r.stopped = true
			r.findings = append(r.findings, operate.Stopped(op, env, o.Timeout, out, ctx.Err() != nil, err))
		case errors.Is(err, reconcile.ErrNotInstalled):
			r.findings = append(r.findings, reconcile.Finding{
				Severity: reconcile.SeverityError, Code: "devopsellence_not_found", Environment: env,
				Message: fmt.Sprintf("could not run %s: devopsellence cannot be run (%v); the backup service is reached through devopsellence exec", op, err),
				NextActions: []reconcile.Action{
					{Label: "install devopsellence, or name the binary", Command: operate.Command(op, env, "--devopsellence", "/path/to/devopsellence")},
				},
			})
		case err != nil:
			r.findings = append(r.findings, reconcile.Finding{
				Severity: reconcile.SeverityError, Code: "exec_failed", Environment: env,
				Message: fmt.Sprintf("could not run %s in service %s: %v", op, service, err),
				NextActions: []reconcile.Action{
					operate.ApplyAction("deploy the backup service", env),
					{Label: "see whether it runs", Command: fmt.Sprintf("devopsellence status --env %s", env)},
				},
			})
		case out.NotAnAgent:
			r.findings = append(r.findings, operate.AgentMissing(es, service))
		case out.Result == nil && out.Status == nil && out.ExitCode > 128:
			// Killed by a signal: ask the service what became of it.
			r.findings = append(r.findings, killedFinding(op, env, service, out, began, askLocks(ctx, ex, env, service)))
		case out.Result == nil && out.Status == nil:
			r.findings = append(r.findings, operate.NoAnswer(op, es, service, out))
		}
		if a := out.Agent; a != nil && a.Protocol < operate.Protocol {
			r.findings = append(r.findings, operate.AgentOutdated(es, service, a.Version))
		}
		if out.Result != nil && op != operate.OpStatus && !r.stopped {
			explained := operate.Explain(op, es, service, out.Result)
			if out.Result.Interrupted {
				// Not from here: the agent says what stopped it.
				explained = slices.DeleteFunc(explained, func(f reconcile.Finding) bool { return f.Code == "interrupted" })
				explained = append(explained, interruptedFinding(op, env, o.Timeout, out))
			}
			r.findings = append(r.findings, explained...)
			if out.Stored != nil && !out.Stored.Stored && out.Result.Failure() == nil {
				r.findings = append(r.findings, reconcile.Finding{
					Severity: reconcile.SeverityWarning, Code: "evidence_not_stored", Environment: env,
					Message:     fmt.Sprintf("%s succeeded but its evidence could not be stored in the repository (%s: %s), so status will not see this run", op, out.Stored.Error, out.Stored.Message),
					NextActions: []reconcile.Action{{Label: "run it again", Command: operate.Command(op, env)}},
				})
			}
		}
		runs = append(runs, r)
		if r.stopped && ctx.Err() != nil {
			return runs, errStopped
		}
	}
	return runs, nil
}

// versionMismatch reports an agent whose version is not this tool's, when
// this tool is a release (a development build matches nothing).
func versionMismatch(agentVersion string) bool {
	v, ok := buildinfo.Release()
	return ok && agentVersion != v
}

// agentVersionFinding: the agent speaks this tool's protocol but is
// another release.
func agentVersionFinding(es spec.EnvSpec, service, agentVersion string) reconcile.Finding {
	v, _ := buildinfo.Release()
	return reconcile.Finding{Severity: reconcile.SeverityWarning, Code: "agent_version", Environment: es.Environment,
		Message: fmt.Sprintf("the agent in service %s in %s (image %s) is %s, this devopsellence-backup is %s; they work together, but the image of this release is %s",
			service, es.Environment, es.Image, agentVersion, v, operate.ImageFor(v)),
		NextActions: []reconcile.Action{operate.ApplyAction("set spec.image to "+operate.ImageFor(v)+", then deploy it", es.Environment)}}
}

// interruptedFinding explains a run the agent says was interrupted, not
// from this side: at its deadline, by the service stopping (a deploy or a
// docker stop), by someone's `agent cancel`, or by a signal.
func interruptedFinding(op operate.Op, env string, d time.Duration, out *operate.Outcome) reconcile.Finding {
	ev := out.Result
	stored := "no evidence could be stored"
	if out.Stored != nil && out.Stored.Stored {
		stored = "the run is recorded as failed (interrupted) in the repository's evidence"
	}
	rerun := reconcile.Action{Label: "run it again", Command: operate.Command(op, env)}
	switch ev.InterruptedBy {
	case operate.InterruptedServiceStop:
		return reconcile.Finding{Severity: reconcile.SeverityError, Code: "service_stopped", Environment: env,
			Message: fmt.Sprintf("%s in %s was interrupted because the backup service stopped: every deploy of the app replaces its container, and docker stop stops it. "+
				"The agent stopped restic, which released its lock, within the service's stop grace; %s", op, env, stored),
			NextActions: []reconcile.Action{rerun}}
	case operate.InterruptedCancel:
		return reconcile.Finding{Severity: reconcile.SeverityError, Code: "cancelled", Environment: env,
			Message:     fmt.Sprintf("%s in %s was cancelled in the service (agent cancel): the agent stopped restic, which released its lock; %s", op, env, stored),
			NextActions: []reconcile.Action{rerun}}
	case operate.InterruptedSignal:
		return reconcile.Finding{Severity: reconcile.SeverityError, Code: "interrupted", Environment: env,
			Message:     fmt.Sprintf("%s in %s was interrupted by a signal to the agent in the service: the agent stopped restic, which released its lock; %s", op, env, stored),
			NextActions: []reconcile.Action{rerun}}
	}
	return operate.TimedOut(op, env, d)
}

// liveLine shows the agent's progress on stderr: one line rewritten in
// place on a terminal, plain lines otherwise, log entries with
// --log-format json.
type liveLine struct {
	err    io.Writer
	tty    bool
	asLog  bool // --log-format json: progress goes to log
	log    logr.Logger
	now    func() time.Time
	env    string
	prefix string
	mu     sync.Mutex
	shown  bool
	last   time.Time
}

// plainEvery is how often progress goes out as plain lines or log entries
// (a terminal's live line follows every update).
const plainEvery = 10 * time.Second

func (o *operateOptions) liveProgress(log logr.Logger, env string, prefix bool) *liveLine {
	l := &liveLine{err: o.IO.Err, tty: o.IO.ErrIsTerminal(), asLog: o.LogJSON, log: log, now: o.Now, env: env}
	if prefix {
		l.prefix = "[" + env + "] "
	}
	return l
}

func (l *liveLine) show(p operate.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.tty || l.asLog {
		now := l.now()
		if now.Sub(l.last) < plainEvery && p.Percent < 100 {
			return
		}
		l.last = now
	}
	text := l.prefix + p.Text()
	switch {
	case l.asLog:
		l.log.Info("progress", "environment", l.env, "step", p.Step, "percent", p.Percent, "bytesDone", p.BytesDone, "bytesTotal", p.BytesTotal,
			"filesDone", p.FilesDone, "filesTotal", p.FilesTotal, "etaSeconds", p.ETASeconds)
	case l.tty:
		_, _ = fmt.Fprintf(l.err, "\r\033[K%s", text)
		l.shown = true
	default:
		_, _ = fmt.Fprintln(l.err, text)
	}
}

// clear takes the live line off the terminal, so that a line for people
// starts at the left edge instead of after the percentage.
func (l *liveLine) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		_, _ = io.WriteString(l.err, "\r\033[K")
		l.shown = false
	}
}

// end moves past the live line.
func (l *liveLine) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shown {
		_, _ = fmt.Fprintln(l.err)
		l.shown = false
	}
}

// humanLines prints the agent's lines for people on stderr as they come
// (as log entries with --log-format json), each on a line of its own: the
// live progress line is cleared first, and each is prefixed with its
// environment when several run.
func (o *operateOptions) humanLines(log logr.Logger, env string, prefix bool, live *liveLine) func(stream, line string) {
	var mu sync.Mutex
	return func(stream, line string) {
		mu.Lock()
		defer mu.Unlock()
		if o.LogJSON {
			log.Info("agent", "environment", env, "stream", stream, "line", line)
			return
		}
		live.clear()
		if prefix {
			line = "[" + env + "] " + line
		}
		_, _ = io.WriteString(o.IO.Err, line+"\n")
	}
}

// operationResult is the document of op's runs, as finish shows it, and
// how they ended: ok when every environment is ok, else failed, partial
// (a partial backup: the result says partial) or stopped. notes are
// findings that do not change any run's result.
func (o *operateOptions) operationResult(op operate.Op, runs []envRun, notes ...reconcile.Finding) (func(render.OperateView) error, ending) {
	doc := render.OperationDoc{
		Envelope:     render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.Operation},
		Findings:     []reconcile.Finding{},
		Environments: []render.OperationEnv{},
	}
	var ok, partial, failed, copyFailed []string
	for _, r := range runs {
		e := render.OperationEnv{Environment: r.env, Result: operate.ResultFailed, ExitCode: r.outcome.ExitCode}
		if ev := r.outcome.Result; ev != nil {
			e.Result, e.Evidence = ev.Result, ev
		}
		if s := r.outcome.Stored; s != nil {
			e.EvidenceStored, e.EvidenceSnapshotID = s.Stored, s.SnapshotID
		}
		if c := r.copy; c != nil {
			e.Copy = operationEnv(*c)
			if e.Copy.Result != operate.ResultOK {
				copyFailed = append(copyFailed, r.env)
			}
		}
		if (hasSeverity(r.findings, reconcile.SeverityWarning) || hasSeverity(r.findings, reconcile.SeverityError)) && e.Result == operate.ResultOK {
			e.Result = operate.ResultFailed
			if !hasSeverity(r.findings, reconcile.SeverityError) {
				e.Result = operate.ResultPartial
			}
		}
		switch e.Result {
		case operate.ResultOK:
			ok = append(ok, r.env)
		case operate.ResultPartial:
			partial = append(partial, r.env)
		default:
			failed = append(failed, r.env)
		}
		doc.Environments = append(doc.Environments, e)
		doc.Findings = append(doc.Findings, r.findings...)
		if r.copy != nil {
			doc.Findings = append(doc.Findings, r.copy.findings...)
		}
	}
	doc.Findings = append(doc.Findings, notes...)
	stopped := slices.ContainsFunc(runs, func(r envRun) bool { return r.stopped })
	doc.OK = len(failed) == 0 && len(partial) == 0 && len(copyFailed) == 0 && !stopped
	doc.Summary = operationSummary(op, ok, partial, failed)
	if len(copyFailed) > 0 {
		// Say what failed: the backup may be fine, its copy not.
		doc.Summary = strings.TrimSuffix(doc.Summary, ".") + "; the copy into spec.copies failed in " + strings.Join(copyFailed, ", ") + " (see findings)."
	}
	return func(v render.OperateView) error { return v.Operation(op, doc) }, ended(stopped, len(failed) > 0 || len(copyFailed) > 0, len(partial) > 0)
}

// ending is how an operating command ended, beyond what it showed.
type ending int

const (
	endOK ending = iota
	// endPartial: a snapshot was saved without some source data.
	endPartial
	// endFailed: something failed, is stale or missing.
	endFailed
	// endStopped: the command was interrupted.
	endStopped
)

// ended is the ending of a command that was stopped, failed or partial,
// in that order of weight.
func ended(stopped, failed, partial bool) ending {
	switch {
	case stopped:
		return endStopped
	case failed:
		return endFailed
	case partial:
		return endPartial
	}
	return endOK
}

// finish is how every operating command ends: it shows its result with
// the view --output chose, then returns what decides the exit status (the
// result, findings included, is printed before; Main prints no error).
func (o *operateOptions) finish(show func(render.OperateView) error, end ending) error {
	if err := show(o.view); err != nil {
		return err
	}
	switch end {
	case endStopped:
		return errStopped
	case endFailed:
		return errReported
	case endPartial:
		return errPartial
	}
	return nil
}

func operationSummary(op operate.Op, ok, partial, failed []string) string {
	var parts []string
	if len(ok) > 0 {
		parts = append(parts, "ok in "+strings.Join(ok, ", "))
	}
	if len(partial) > 0 {
		parts = append(parts, "partial in "+strings.Join(partial, ", ")+" (not a complete backup: see findings)")
	}
	if len(failed) > 0 {
		parts = append(parts, "failed in "+strings.Join(failed, ", ")+" (see findings)")
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s: nothing to do.", op)
	}
	return fmt.Sprintf("%s %s.", capitalize(string(op)), strings.Join(parts, "; "))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func hasSeverity(fs []reconcile.Finding, sev string) bool {
	for _, f := range fs {
		if f.Severity == sev {
			return true
		}
	}
	return false
}
