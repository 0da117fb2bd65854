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

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// operateCommands are the commands that operate the backups once the backup
// service is deployed (backup, check, prune, drill, status, image).
func operateCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{
		newBackupCmd(g), newCheckCmd(g), newPruneCmd(g), newDrillCmd(g),
		newStatusCmd(g), newImageCmd(g),
	}
}

// operateOptions are the flags every operating command shares.
type operateOptions struct {
	*globalOptions
	Envs        []string
	Output      string
	Timeout     time.Duration
	UnlockStale bool
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
	if err := checkOutput(o.Output, render.Text, render.JSON); err != nil {
		return nil, nil, nil, err
	}
	o.output = o.Output
	if o.Timeout <= 0 {
		return nil, nil, nil, usagef("--timeout %s: must be positive", o.Timeout)
	}
	w, err := o.workspace()
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

// sameOptions gives every environment the same options.
func sameOptions(opts operate.Options) func(string) operate.Options {
	return func(string) operate.Options { return opts }
}

// envRun is what one environment's run gave.
type envRun struct {
	env      string
	outcome  *operate.Outcome
	findings []reconcile.Finding
}

// run executes op in every environment, one after the other, each under its
// own deadline and with the options optsFor gives it, and explains what went
// wrong (status runs are explained by operate.Assess instead). It returns
// early only when the command itself is interrupted.
func (o *operateOptions) run(ctx context.Context, w *workspace, in *inputs, envs []string, op operate.Op, optsFor func(env string) operate.Options) ([]envRun, error) {
	service := in.desired.Service
	// The devopsellence client's own exec deadline must not cut the run short.
	client := w.client.WithTimeout(o.Timeout + time.Minute)
	var runs []envRun
	for _, env := range envs {
		es := in.desired.Envs[env]
		argv := operate.Argv(operate.Script(op, es, service), optsFor(env))
		o.log.V(1).Info("running operation", "operation", op, "environment", env, "service", service, "timeout", o.Timeout)
		runCtx, cancel := context.WithTimeout(ctx, o.Timeout)
		out, err := operate.Run(runCtx, client, env, service, argv, o.humanLines(env, len(envs) > 1))
		cancel()
		if ctx.Err() != nil {
			return runs, ctx.Err()
		}
		r := envRun{env: env, outcome: out}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			r.findings = append(r.findings, timeoutFinding(op, env, o.Timeout))
		case err != nil:
			r.findings = append(r.findings, reconcile.Finding{
				Severity: reconcile.SeverityError, Code: "exec_failed", Environment: env,
				Message: fmt.Sprintf("could not run %s in service %s: %v", op, service, err),
				NextActions: []reconcile.Action{
					operate.ApplyAction("deploy the backup service", env),
					{Label: "see whether it runs", Command: fmt.Sprintf("devopsellence status --env %s", env)},
				},
			})
		case out.Result == nil:
			r.findings = append(r.findings, reconcile.Finding{
				Severity: reconcile.SeverityError, Code: "no_result", Environment: env,
				Message:     fmt.Sprintf("%s in service %s exited with status %d without a result; its output above says why", op, service, out.ExitCode),
				NextActions: []reconcile.Action{{Label: "run it again", Command: operate.Command(op, env)}},
			})
		}
		if out.Result != nil && op != operate.OpStatus {
			explained := operate.Explain(op, es, service, out.Result)
			if errors.Is(err, context.DeadlineExceeded) {
				// The timeout finding says why the run was interrupted.
				explained = slices.DeleteFunc(explained, func(f reconcile.Finding) bool { return f.Code == "interrupted" })
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
	}
	return runs, nil
}

func timeoutFinding(op operate.Op, env string, d time.Duration) reconcile.Finding {
	return reconcile.Finding{
		Severity: reconcile.SeverityError, Code: "timeout", Environment: env,
		Message: fmt.Sprintf("%s in %s did not finish within %s (--timeout); it was interrupted with SIGINT so that restic releases its lock, and no evidence was stored. "+
			"restic 0.17+ retries a backend that does not answer for up to 15 minutes: check that the repository is reachable from the service", op, env, d),
		NextActions: []reconcile.Action{
			{Label: "check the repository and the service", Command: operate.Command(operate.OpStatus, env)},
			{Label: "or allow more time", Command: operate.Command(op, env, "--timeout", (2 * d).String())},
		},
	}
}

// humanLines prints the script's lines for people on stderr as they come.
func (o *operateOptions) humanLines(env string, prefix bool) func(stream, line string) {
	var mu sync.Mutex
	return func(_, line string) {
		mu.Lock()
		defer mu.Unlock()
		if prefix {
			line = "[" + env + "] " + line
		}
		_, _ = io.WriteString(o.streams.Err, line+"\n")
	}
}

// finishOperation prints the runs and decides the exit status: 0 when every
// environment is ok, 1 otherwise (a partial backup included: the result
// says partial).
func (o *operateOptions) finishOperation(op operate.Op, runs []envRun) error {
	doc := render.OperationDoc{
		Envelope:     render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.operation},
		Findings:     []reconcile.Finding{},
		Environments: []render.OperationEnv{},
	}
	var ok, partial, failed []string
	for _, r := range runs {
		e := render.OperationEnv{Environment: r.env, Result: operate.ResultFailed, ExitCode: r.outcome.ExitCode}
		if ev := r.outcome.Result; ev != nil {
			e.Result, e.Evidence = ev.Result, ev
		}
		if s := r.outcome.Stored; s != nil {
			e.EvidenceStored, e.EvidenceSnapshotID = s.Stored, s.SnapshotID
		}
		if len(r.findings) > 0 && e.Result == operate.ResultOK {
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
	}
	doc.OK = len(failed) == 0 && len(partial) == 0
	doc.Summary = operationSummary(op, ok, partial, failed)
	var err error
	if o.Output == render.JSON {
		err = render.WriteJSON(o.streams.Out, doc)
	} else {
		err = render.OperationText(o.streams.Out, string(op), doc)
	}
	switch {
	case err != nil:
		return err
	case len(failed) > 0:
		return errReported
	case len(partial) > 0:
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
