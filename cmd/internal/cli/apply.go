package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/logging"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
)

type applyOptions struct {
	*globalOptions
	Yes            bool
	NonInteractive bool
	NoDeploy       bool
	LabelNodes     bool
	Envs           []string
	Output         string
	SecretEnv      []string
	SecretFile     []string
	LockTimeout    time.Duration
	// PlanFile is a plan saved by `plan --out`, applied exactly.
	PlanFile string
	// ShowPlan prints the plan on stdout before applying it (init), unless
	// the terminal confirmation shows it anyway.
	ShowPlan bool
}

func newApplyCmd(g *globalOptions) *cobra.Command {
	o := &applyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "apply [PLAN_FILE]",
		Short: "Carry out the plan: patch devopsellence.yml, store missing secrets, validate, deploy",
		Long: `apply reconciles every covered environment, in this order: take the app's lock;
plan (stop there, writing nothing, when nothing is pending); gather every
missing secret value before changing anything; write devopsellence.yml
atomically; validate with devopsellence config resolve for every environment
(restoring the original on failure); store each secret with
devopsellence secret set --stdin; confirm with secret list; deploy each
environment that changed and record the deploy.

With PLAN_FILE (written by plan --out), apply carries out exactly that plan,
without asking for confirmation, and refuses a stale one: when the spec,
devopsellence.yml or the stored secrets changed since it was written.

Secret values come from, in order: --secret-file [ENV:]NAME=PATH,
--secret-env [ENV:]NAME=VAR, DEVOPSELLENCE_BACKUP_SECRET_<ENV>__<NAME>,
DEVOPSELLENCE_BACKUP_SECRET_<NAME>, then (on a terminal, unless
--non-interactive) a prompt without echo. No other variable is read.
Secrets mapped to 1Password in the spec need no value.

EXIT STATUS
  0    applied, or nothing to do
  1    error (devopsellence failed, deploy failed, lock held)
  2    invalid input, missing secret values, or confirmation needed off a terminal
  130  interrupted (a rerun converges)`,
		Example: `  devopsellence-backup apply
  devopsellence-backup apply --yes --env production
  DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=... devopsellence-backup apply --non-interactive
  devopsellence-backup apply --non-interactive --secret-env AWS_SECRET_ACCESS_KEY=CI_AWS_SECRET
  devopsellence-backup plan --out backup.plan && devopsellence-backup apply backup.plan`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.PlanFile = args[0]
			}
			return runApply(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Yes, "yes", "y", false, "apply without asking for confirmation")
	f.BoolVar(&o.NonInteractive, "non-interactive", false, "never prompt: take secrets only from explicit sources (implies --yes)")
	f.BoolVar(&o.NoDeploy, "no-deploy", false, "patch and store secrets, but do not deploy")
	f.BoolVar(&o.LabelNodes, "label-nodes", false, "label attached nodes worker when none is (keeping their other labels)")
	f.StringSliceVar(&o.Envs, "env", nil, "limit secrets and deploys to these environments")
	f.StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text or json")
	f.StringArrayVar(&o.SecretEnv, "secret-env", nil, "take secret NAME (in ENV, or every environment) from variable VAR: [ENV:]NAME=VAR")
	f.StringArrayVar(&o.SecretFile, "secret-file", nil, "take secret NAME (in ENV, or every environment) from a file: [ENV:]NAME=PATH")
	f.DurationVar(&o.LockTimeout, "lock-timeout", time.Minute, "how long to wait for another run on this app")
	return cmd
}

// ApplyDoc is apply's JSON document.
type ApplyDoc struct {
	render.PlanDoc
	Applied *reconcile.ApplyResult `json:"applied"`
}

func runApply(ctx context.Context, o *applyOptions) error {
	if err := checkOutput(o.Output, render.Text, render.JSON); err != nil {
		return err
	}
	o.output = o.Output
	if o.PlanFile != "" && len(o.Envs) > 0 {
		return usagef("--env cannot narrow a saved plan: plan again with the environments you want")
	}
	p, res, err := o.reconcileOnce(ctx, nil)
	if err != nil {
		if res != nil && o.Output == render.JSON {
			// The failure envelope follows; say what was done before it on stderr.
			fmt.Fprintf(o.streams.Err, "applied before the failure: config written %v, %d secret(s) stored, %d deploy(s)\n", res.ConfigWritten, len(res.Stored), len(res.Deployed))
		}
		return err
	}
	return o.printApply(p, res)
}

// pass is one reconcile pass: what was planned, what was done.
type pass struct {
	plan   *reconcile.Plan
	inputs reconcile.Inputs
	result *reconcile.ApplyResult
}

// reconcileOnce takes the app's lock, plans, and applies what is pending.
// stop, when done, ends it at the next step boundary.
func (o *applyOptions) reconcileOnce(ctx, stop context.Context) (*reconcile.Plan, *reconcile.ApplyResult, error) {
	ps, err := o.pass(ctx, stop)
	if ps == nil {
		return nil, nil, err
	}
	return ps.plan, ps.result, err
}

func (o *applyOptions) pass(ctx, stop context.Context) (*pass, error) {
	sources, err := prompt.ParseSources(o.SecretEnv, o.SecretFile, o.environ)
	if err != nil {
		return nil, usageError{err}
	}
	var saved *SavedPlan
	if o.PlanFile != "" {
		if saved, err = readSavedPlan(o.PlanFile); err != nil {
			return nil, err
		}
	}
	w, err := o.workspace()
	if err != nil {
		return nil, err
	}
	w.client.Env = prompt.Scrub(w.client.Env, sources.Named()...)
	unlock, err := w.lock(ctx, o.LockTimeout, w.configPath)
	if err != nil {
		return nil, err
	}
	defer unlock()

	p, in, err := w.plan(ctx)
	if err != nil {
		return nil, err
	}
	ps := &pass{plan: p, inputs: reconcile.InputsOf(w.specFile, in.specRaw, in.observed, p.Service)}
	if o.ShowPlan && o.Output != render.JSON && !o.willConfirm(saved) {
		if err := render.PlanText(o.streams.Out, p); err != nil {
			return ps, err
		}
		fmt.Fprintln(o.streams.Out)
	}
	if saved != nil {
		if err := saved.check(p, ps.inputs); err != nil {
			return ps, err
		}
	}
	if err := o.checkEnvs(p); err != nil {
		return ps, err
	}
	if u := in.observed.Unchecked; u != nil {
		return ps, fmt.Errorf("apply needs devopsellence: %s; %s", u.Message, nextCommand(*u))
	}
	ps.result = reconcile.NewApplyResult()
	if !p.Pending(o.Envs, !o.NoDeploy) {
		return ps, nil
	}
	// Everything that can stop apply is checked, confirmed and gathered
	// before the first change, labelling nodes included.
	if !bytes.Equal(p.Before, p.After) {
		if err := store.Writable(w.configPath); err != nil {
			return ps, err
		}
	}
	relabel, err := o.workerLabels(p, in.observed.Nodes)
	if err != nil {
		return ps, err
	}
	if saved == nil {
		if err := o.confirm(ctx, p); err != nil {
			return ps, err
		}
	}
	values, err := o.gather(ctx, p, sources)
	if err != nil {
		return ps, err
	}
	for _, n := range relabel {
		if err := w.client.SetNodeLabels(ctx, n.Name, n.Labels); err != nil {
			return ps, err
		}
		if o.LogFormat == logging.FormatJSON {
			o.log.Info("labelledNode", "node", n.Name, "labels", n.Labels)
		} else {
			fmt.Fprintf(o.streams.Err, "labelled node %s: %s\n", n.Name, strings.Join(n.Labels, ","))
		}
	}
	ps.result, err = reconcile.Apply(ctx, reconcile.ApplyInput{Plan: p, Environments: o.Envs, Values: values, Deploy: !o.NoDeploy, Stop: stop}, reconcile.ApplyDeps{
		Config:    fileConfig{path: w.configPath},
		Secrets:   w.client,
		Validator: w.client,
		Deployer:  w.client,
		Recorder:  recorder{w.store},
		Progress:  o.progress(),
		Now:       o.now,
	})
	if err == nil {
		o.checkImages(ctx, w, in, ps)
	}
	return ps, err
}

// checkImages asks the agent of each deployed service, after the deploy,
// for its version and the tools it lacks: the deploy itself succeeds
// either way, but an image without the agent, with an older one, or
// without a database client would fail the first backup.
func (o *applyOptions) checkImages(ctx context.Context, w *workspace, in *inputs, ps *pass) {
	for _, d := range ps.result.Deployed {
		es := in.desired.Envs[d.Environment]
		out, err := operate.Ask(ctx, w.client, d.Environment, ps.plan.Service, operate.VersionArgv())
		switch {
		case err != nil:
			o.log.Error(err, "agentCheckFailed", "environment", d.Environment)
		case out.NotAnAgent:
			ps.plan.Findings = append(ps.plan.Findings, agentMissing(es, ps.plan.Service))
		case out.Agent == nil || out.Agent.Protocol < operate.Protocol:
			version := ""
			if out.Agent != nil {
				version = out.Agent.Version
			}
			ps.plan.Findings = append(ps.plan.Findings, agentOutdated(es, ps.plan.Service, version))
		case len(out.Agent.MissingTools) > 0:
			ps.plan.Findings = append(ps.plan.Findings, operate.ToolMissing(d.Environment, es.Image, ps.plan.Service, out.Agent.MissingTools))
		}
	}
}

func (o *applyOptions) checkEnvs(p *reconcile.Plan) error {
	for _, e := range o.Envs {
		if ep := p.Env(e); ep == nil || !ep.Covered {
			return usagef("--env %s: not an environment covered by %s", e, p.SpecFile)
		}
	}
	return nil
}

// workerLabels stops apply when a selected environment has no attached node
// that may run the worker, unless --label-nodes: then it returns the nodes to
// label (from the view the plan observed), each keeping its other labels.
// Without a deploy the labels do not matter.
func (o *applyOptions) workerLabels(p *reconcile.Plan, nodes []devopsellence.Node) ([]devopsellence.Node, error) {
	if o.NoDeploy {
		return nil, nil
	}
	var relabel []devopsellence.Node
	for _, f := range p.Findings {
		if f.Severity != reconcile.SeverityError || !reconcile.Selected(o.Envs, f.Environment) {
			continue
		}
		if f.Code != "no_worker_node" || !o.LabelNodes {
			return nil, fmt.Errorf("%s; %s (or pass --label-nodes)", f.Message, nextCommand(f))
		}
		for _, n := range nodes {
			if n.AttachedTo(f.Environment) && !n.HasLabel("worker") && !slices.ContainsFunc(relabel, func(r devopsellence.Node) bool { return r.Name == n.Name }) {
				relabel = append(relabel, devopsellence.Node{Name: n.Name, Labels: reconcile.WithWorker(n.Labels)})
				break
			}
		}
	}
	return relabel, nil
}

// willConfirm says whether apply will show the plan and ask on a terminal.
func (o *applyOptions) willConfirm(saved *SavedPlan) bool {
	return saved == nil && !o.Yes && !o.NonInteractive && o.streams.CanPrompt()
}

func (o *applyOptions) confirm(ctx context.Context, p *reconcile.Plan) error {
	if o.Yes || o.NonInteractive {
		return nil
	}
	if !o.streams.CanPrompt() {
		return usagef("apply would change the app and stdin is not a terminal: review `devopsellence-backup plan`, then pass --yes (or --non-interactive)")
	}
	if err := render.PlanText(o.streams.Err, p); err != nil {
		return err
	}
	t := &prompt.Terminal{Fd: o.streams.InFd(), Out: o.streams.Err}
	ok, err := t.Confirm(ctx, "Apply this plan?")
	if err != nil {
		return err
	}
	if !ok {
		return usagef("not applied: the plan was declined")
	}
	return nil
}

// gather collects every missing plaintext value before anything changes.
func (o *applyOptions) gather(ctx context.Context, p *reconcile.Plan, sources *prompt.Explicit) (map[reconcile.SecretKey]secret.Value, error) {
	values := map[reconcile.SecretKey]secret.Value{}
	var missing, errs []string
	canAsk := !o.NonInteractive && o.streams.CanPrompt()
	t := &prompt.Terminal{Fd: o.streams.InFd(), Out: o.streams.Err}
	for _, e := range p.Environments {
		if !reconcile.Selected(o.Envs, e.Name) {
			continue
		}
		for _, s := range e.Secrets {
			if s.Status != reconcile.StatusMissing || s.Source == reconcile.SourceOnePassword {
				continue
			}
			req := prompt.Request{Name: s.Name, Service: s.Service, Environment: e.Name, About: s.About}
			v, from, ok, err := sources.Lookup(ctx, req)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, err
			case err != nil:
				errs = append(errs, err.Error())
				continue
			case ok:
				o.log.V(1).Info("secret value source", "secret", s.Name, "environment", e.Name, "source", from)
			case canAsk:
				if v, err = t.Secret(ctx, req); err != nil {
					return nil, err
				}
			default:
				name := s.Name
				if s.About != "" {
					name += " (" + s.About + ")"
				}
				missing = append(missing, fmt.Sprintf("  %s for service %s in %s: %s", name, s.Service, e.Name, prompt.Hint(req)))
				continue
			}
			values[reconcile.SecretKey{Environment: e.Name, Name: s.Name}] = v
		}
	}
	if len(errs) > 0 {
		return nil, usagef("%s", strings.Join(errs, "\n"))
	}
	if len(missing) > 0 {
		return nil, usageError{fmt.Errorf("%w; nothing was changed. Provide each of these:\n%s", errMissingValues, strings.Join(missing, "\n"))}
	}
	return values, nil
}

func (o *applyOptions) printApply(p *reconcile.Plan, res *reconcile.ApplyResult) error {
	if o.Output == render.JSON {
		doc := ApplyDoc{PlanDoc: render.NewPlanDoc(o.operation, p), Applied: res}
		doc.Summary = applySummary(p, res)
		return render.WriteJSON(o.streams.Out, doc)
	}
	if _, err := fmt.Fprintln(o.streams.Out, applySummary(p, res)); err != nil {
		return err
	}
	for _, f := range p.Findings {
		if f.Code == "tool_missing" {
			fmt.Fprintf(o.streams.Out, "warning: %s; next: %s\n", f.Message, f.NextActions[0].Command)
		}
	}
	return nil
}

func applySummary(p *reconcile.Plan, res *reconcile.ApplyResult) string {
	if !res.ConfigWritten && len(res.Stored) == 0 && len(res.Deployed) == 0 {
		return fmt.Sprintf("Nothing to do: service %s is in sync.", p.Service)
	}
	var parts []string
	if res.ConfigWritten {
		parts = append(parts, fmt.Sprintf("%s patched (%d block(s))", p.ConfigFile, len(p.Changes)))
	}
	if n := len(res.Stored); n > 0 {
		parts = append(parts, fmt.Sprintf("%d secret(s) stored", n))
	}
	var envs []string
	for _, d := range res.Deployed {
		envs = append(envs, d.Environment)
	}
	if len(envs) > 0 {
		parts = append(parts, "deployed "+strings.Join(envs, ", "))
	} else {
		parts = append(parts, "not deployed")
	}
	return "Applied: " + strings.Join(parts, "; ") + "."
}

func nextCommand(f reconcile.Finding) string {
	if len(f.NextActions) == 0 {
		return ""
	}
	return "run `" + f.NextActions[0].Command + "`"
}

// fileConfig is devopsellence.yml on disk.
type fileConfig struct{ path string }

func (f fileConfig) Read() ([]byte, error) { return os.ReadFile(f.path) }
func (f fileConfig) Write(b []byte) error  { return store.WriteFile(f.path, b, 0o644) }

type recorder struct{ s *store.Store }

func (r recorder) RecordDeploy(env, fp, release string, at time.Time) error {
	return r.s.RecordDeploy(env, store.Record{Fingerprint: fp, ReleaseID: release, DeployedAt: at.UTC()})
}

// progress turns deploy events into readable lines on stderr: a terminal
// gets one live line per environment, rewritten at each step; with
// --log-format json each event is a log entry, so stderr stays JSON lines.
func (g *globalOptions) progress() func(string, devopsellence.Event) {
	w, tty, asLog := g.streams.Err, g.streams.ErrIsTerminal(), g.LogFormat == logging.FormatJSON
	return func(env string, ev devopsellence.Event) {
		if asLog {
			g.log.Info("deployProgress", "environment", env, "event", ev.Event, "step", ev.Step, "message", ev.Message, "phase", ev.Phase)
			return
		}
		var line string
		switch ev.Event {
		case "started":
			line = "starting"
		case "progress":
			line = strings.TrimSpace(ev.Step + ": " + ev.Message)
		case "result":
			line = "done: " + ev.Phase
		case "error":
			line = "failed"
		default:
			return
		}
		if tty {
			end := ""
			if ev.Event == "result" || ev.Event == "error" {
				end = "\n"
			}
			fmt.Fprintf(w, "\r\x1b[2Kdeploy %s: %s%s", env, line, end)
			return
		}
		fmt.Fprintf(w, "deploy %s: %s\n", env, line)
	}
}
