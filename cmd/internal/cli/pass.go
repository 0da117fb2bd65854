package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-logr/logr"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// pass is one reconcile pass: what was planned, what was done, and where.
type pass struct {
	plan   *reconcile.Plan
	inputs reconcile.Inputs
	result *reconcile.ApplyResult
	w      *workspace
	// shown counts the plan's findings printed on stdout with the plan
	// (init shows it first), which the result does not repeat.
	shown int
	// planned counts the findings of the plan itself; those after them
	// are what the checks after the deploy found.
	planned int
}

// passRun is what one pass works with, step to step.
type passRun struct {
	w       *workspace
	sources *prompt.Explicit
	saved   *SavedPlan
	in      *inputs
	ps      *pass
}

// pass runs the steps of one pass: open the workspace, take the lock, plan,
// check the plan may be applied, gather what it needs, then apply it. stop,
// when done, ends it at the next step boundary.
func (o *applyOptions) pass(ctx, stop context.Context) (*pass, error) {
	r, err := o.open()
	if err != nil {
		return nil, err
	}
	unlock, err := r.w.lock(ctx, o.LockTimeout, r.w.configPath)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := o.planPass(ctx, r); err != nil {
		return r.ps, err
	}
	if err := o.checkPlan(r); err != nil {
		return r.ps, err
	}
	o.warnIgnored(ctx, r.ps.plan, r.sources)
	r.ps.result = reconcile.NewApplyResult()
	if !r.ps.plan.Pending(o.Envs, !o.NoDeploy) {
		return r.ps, nil
	}
	relabel, values, err := o.prepare(ctx, r)
	if err != nil {
		return r.ps, err
	}
	if err := o.labelNodes(ctx, r.w, relabel); err != nil {
		return r.ps, err
	}
	return r.ps, o.applyPlan(ctx, stop, r, values)
}

// prepare checks, confirms and gathers everything that can stop apply,
// before the first change (labelling nodes included): a read-only file,
// error findings, backups the plan stops, the confirmation, secret values.
func (o *applyOptions) prepare(ctx context.Context, r *passRun) ([]reconcile.Node, map[reconcile.SecretKey]secret.Value, error) {
	p := r.ps.plan
	if !bytes.Equal(p.Before, p.After) {
		if err := store.Writable(r.w.configPath); err != nil {
			return nil, nil, err
		}
	}
	relabel, err := o.workerLabels(p, r.in.observed.Nodes)
	if err != nil {
		return nil, nil, err
	}
	stopping, err := o.stopping(p, r.saved)
	if err != nil {
		return nil, nil, err
	}
	if r.saved == nil {
		if err := o.confirm(ctx, p, stopping); err != nil {
			return nil, nil, err
		}
	}
	values, err := o.gather(ctx, p, r.sources, passwordSecrets(r.in.desired))
	if err != nil {
		return nil, nil, err
	}
	return relabel, values, nil
}

// passwordSecrets names, per environment, the secrets that are repository
// passwords (RESTIC_PASSWORD, and each copy's), the key to every backup,
// each with the repository it opens: environments that share a repository
// share its password.
func passwordSecrets(d *reconcile.Desired) map[reconcile.SecretKey]string {
	out := map[reconcile.SecretKey]string{}
	for env, es := range d.Envs {
		out[reconcile.SecretKey{Environment: env, Name: spec.PasswordSecret}] = es.Repository.Display()
		for _, c := range es.Copies {
			out[reconcile.SecretKey{Environment: env, Name: c.PasswordSecret}] = c.Repository.Display()
		}
	}
	return out
}

// open reads the flags' secret sources and saved plan, and opens the app.
func (o *applyOptions) open() (*passRun, error) {
	sources, err := prompt.ParseSources(o.SecretEnv, o.SecretFile, o.Environ)
	if err != nil {
		return nil, usageError{err}
	}
	r := &passRun{sources: sources}
	if o.PlanFile != "" {
		if r.saved, err = readSavedPlan(o.PlanFile); err != nil {
			return nil, err
		}
	}
	if r.w, err = o.Workspace(); err != nil {
		return nil, err
	}
	r.w.client.Env = prompt.Scrub(r.w.client.Env, sources.Named()...)
	return r, nil
}

// planPass plans, and shows the plan when asked to (init).
func (o *applyOptions) planPass(ctx context.Context, r *passRun) error {
	p, in, err := r.w.plan(ctx, o.Envs)
	if err != nil {
		return err
	}
	r.in = in
	r.ps = &pass{plan: p, inputs: reconcile.InputsOf(r.w.specFile, in.specRaw, in.observed, p.Service), w: r.w, planned: len(p.Findings)}
	if o.ShowPlan && o.Output != render.JSON && !o.willConfirm(r.saved) {
		if err := render.PlanText(o.IO.Out, p); err != nil {
			return err
		}
		fmt.Fprintln(o.IO.Out)
		r.ps.shown = len(p.Findings)
	}
	return nil
}

// checkPlan refuses a plan that must not be applied: a stale saved plan,
// environments it does not cover, or unchecked secrets and nodes.
func (o *applyOptions) checkPlan(r *passRun) error {
	if r.saved != nil {
		if err := r.saved.check(r.ps.plan, r.ps.inputs); err != nil {
			return err
		}
	}
	if err := o.checkEnvs(r.ps.plan); err != nil {
		return err
	}
	if u := r.in.observed.Unchecked; u != nil {
		return fmt.Errorf("apply needs devopsellence: %s; %s", u.Message, nextCommand(*u))
	}
	return nil
}

// labelNodes adds the worker label to the nodes workerLabels chose.
func (o *applyOptions) labelNodes(ctx context.Context, w *workspace, relabel []reconcile.Node) error {
	for _, n := range relabel {
		if err := w.client.SetNodeLabels(ctx, n.Name, n.Labels); err != nil {
			return err
		}
		if o.LogJSON {
			logr.FromContextOrDiscard(ctx).Info("labelledNode", "node", n.Name, "labels", n.Labels)
		} else {
			fmt.Fprintf(o.IO.Err, "labelled node %s: %s\n", n.Name, strings.Join(n.Labels, ","))
		}
	}
	return nil
}

// applyPlan carries the plan out, then checks the deployed images.
func (o *applyOptions) applyPlan(ctx, stop context.Context, r *passRun, values map[reconcile.SecretKey]secret.Value) error {
	w, p := r.w, r.ps.plan
	var err error
	r.ps.result, err = reconcile.Apply(ctx, reconcile.ApplyInput{Plan: p, Environments: o.Envs, Values: values, Deploy: !o.NoDeploy, Stop: stop}, reconcile.ApplyDeps{
		Config:    fileConfig{path: w.configPath},
		Secrets:   w.client,
		Validator: w.client,
		Deployer:  w.client,
		Recorder:  recorder{w.store},
		Progress:  o.progress(logr.FromContextOrDiscard(ctx)),
		Now:       o.Now,
	})
	if err == nil {
		o.checkImages(ctx, w, r.in, r.ps)
	}
	return err
}

// checkImages asks the agent of each deployed service, after the deploy,
// for its version and the tools it lacks: the deploy itself succeeds
// either way, but an image without the agent, with an older one, or
// without a database client would fail the first backup.
func (o *applyOptions) checkImages(ctx context.Context, w *workspace, in *inputs, ps *pass) {
	for _, d := range ps.result.Deployed {
		es := in.desired.Envs[d.Environment]
		out, err := operate.Ask(ctx, w.client, d.Environment, ps.plan.Service, &operate.VersionRequest{})
		add := func(f reconcile.Finding) { ps.plan.Findings = append(ps.plan.Findings, f) }
		switch {
		case err != nil:
			logr.FromContextOrDiscard(ctx).Error(err, "agentCheckFailed", "environment", d.Environment)
		case out.NotAnAgent:
			add(operate.AgentMissing(es, ps.plan.Service))
		case out.Agent == nil:
			add(operate.NoAnswer(operate.OpVersion, es, ps.plan.Service, out))
		case out.Agent.Protocol < operate.Protocol:
			add(operate.AgentOutdated(es, ps.plan.Service, out.Agent.Version))
		default:
			if versionMismatch(out.Agent.Version) {
				add(agentVersionFinding(es, ps.plan.Service, out.Agent.Version))
			}
			if len(out.Agent.MissingTools) > 0 {
				add(operate.ToolMissing(d.Environment, es.Image, ps.plan.Service, out.Agent.MissingTools))
			}
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

// workerLabels stops apply on an error finding about a selected environment
// (without a deploy, on those only a deploy needs), unless it is a missing
// worker label and --label-nodes: then it returns the nodes to label (from
// the view the plan observed), each keeping its other labels.
func (o *applyOptions) workerLabels(p *reconcile.Plan, nodes map[string][]reconcile.Node) ([]reconcile.Node, error) {
	var relabel []reconcile.Node
	for _, f := range p.Findings {
		if f.Severity != reconcile.SeverityError || (f.Environment != "" && !reconcile.Selected(o.Envs, f.Environment)) {
			continue
		}
		if o.NoDeploy && (f.Code == reconcile.CodeNoNode || f.Code == reconcile.CodeNoWorker) {
			continue
		}
		if f.Code == reconcile.CodeUnknownEnv {
			return nil, usagef("%s; nothing was changed: %s", f.Message, nextCommand(f))
		}
		if f.Code == reconcile.CodeNoNode {
			return nil, fmt.Errorf("%s; nothing was changed. %s; or pass --no-deploy to patch and store the secrets now, and deploy once a node is attached", f.Message, capitalize(noNodeAdvice(f.Environment)))
		}
		if f.Code != reconcile.CodeNoWorker {
			return nil, fmt.Errorf("%s; %s", f.Message, nextCommand(f))
		}
		if !o.LabelNodes {
			return nil, fmt.Errorf("%s; %s (or pass --label-nodes)", f.Message, nextCommand(f))
		}
		for _, n := range nodes[f.Environment] {
			if !n.HasLabel("worker") && !slices.ContainsFunc(relabel, func(r reconcile.Node) bool { return r.Name == n.Name }) {
				relabel = append(relabel, reconcile.Node{Name: n.Name, Labels: reconcile.WithWorker(n.Labels)})
				break
			}
		}
	}
	return relabel, nil
}

// willConfirm says whether apply will show the plan and ask on a terminal.
func (o *applyOptions) willConfirm(saved *SavedPlan) bool {
	return saved == nil && !o.Yes && !o.NonInteractive && o.IO.CanPrompt()
}

// errDeclined: the person at the terminal said no.
var errDeclined = errors.New("not applied: the plan was declined")

// stopping lists the environments whose backups the plan stops (makes
// inert) without --disable-backups naming them. They need a confirmation:
// on a terminal the question says so; anywhere else the flag is required.
func (o *applyOptions) stopping(p *reconcile.Plan, saved *SavedPlan) ([]string, error) {
	for _, env := range o.DisableBackups {
		if p.Env(env) == nil {
			return nil, usagef("--disable-backups %s: not an environment of this app", env)
		}
	}
	var envs, why []string
	for _, f := range p.Findings {
		if f.Code == reconcile.CodeBackupsStop && !slices.Contains(o.DisableBackups, f.Environment) {
			envs = append(envs, f.Environment)
			why = append(why, f.Message)
		}
	}
	if len(envs) == 0 || o.willConfirm(saved) {
		return envs, nil
	}
	return nil, usagef("%s; nothing was changed. To stop backing it up, pass --disable-backups %s (or run apply on a terminal to confirm)",
		strings.Join(why, "; "), strings.Join(envs, " --disable-backups "))
}

func (o *applyOptions) confirm(ctx context.Context, p *reconcile.Plan, stopping []string) error {
	if o.Yes || o.NonInteractive {
		return nil
	}
	if !o.IO.CanPrompt() {
		return usagef("apply would change the app and stdin is not a terminal: review `devopsellence-backup plan`, then pass --yes (or --non-interactive)")
	}
	if err := render.PlanText(o.IO.Err, p); err != nil {
		return err
	}
	question := "Apply this plan?"
	if len(stopping) > 0 {
		question = fmt.Sprintf("This plan stops the backups of %s. Apply it?", strings.Join(stopping, ", "))
	}
	t := &prompt.Terminal{Fd: o.IO.InFd(), Out: o.IO.Err}
	ok, err := t.Confirm(ctx, question)
	if err != nil {
		return err
	}
	if !ok {
		return usageError{errDeclined}
	}
	return nil
}

// gather collects every missing plaintext value before anything changes.
// On a terminal a repository password is generated (the default) or typed
// twice.
func (o *applyOptions) gather(ctx context.Context, p *reconcile.Plan, sources *prompt.Explicit, passwords map[reconcile.SecretKey]string) (map[reconcile.SecretKey]secret.Value, error) {
	values := map[reconcile.SecretKey]secret.Value{}
	var missing, errs []string
	canAsk := !o.NonInteractive && o.IO.CanPrompt()
	t := &prompt.Terminal{Fd: o.IO.InFd(), Out: o.IO.Err}
	type askedPassword struct {
		env string
		v   secret.Value
	}
	asked := map[string]askedPassword{}
	for _, e := range p.Environments {
		if !reconcile.Selected(o.Envs, e.Name) {
			continue
		}
		for _, s := range e.Secrets {
			if s.Status != reconcile.StatusMissing || s.Source == reconcile.SourceOnePassword {
				continue
			}
			req := prompt.Request{Name: s.Name, Service: s.Service, Environment: e.Name, About: s.About}
			if v, ok := o.Preset[reconcile.SecretKey{Environment: e.Name, Name: s.Name}]; ok {
				values[reconcile.SecretKey{Environment: e.Name, Name: s.Name}] = v
				continue
			}
			v, from, ok, err := sources.Lookup(ctx, req)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, err
			case err != nil:
				errs = append(errs, err.Error())
				continue
			case ok:
				logr.FromContextOrDiscard(ctx).V(1).Info("secret value source", "secret", s.Name, "environment", e.Name, "source", from)
			case canAsk && passwords[reconcile.SecretKey{Environment: e.Name, Name: s.Name}] != "":
				repo := passwords[reconcile.SecretKey{Environment: e.Name, Name: s.Name}]
				if got, ok := asked[s.Name+"\n"+repo]; ok {
					fmt.Fprintf(t.Out, "%s in %s: the same as in %s, whose repository (%s) it shares\n", s.Name, e.Name, got.env, repo)
					v = got.v
					break
				}
				if v, err = askPassword(ctx, t, req); err != nil {
					return nil, err
				}
				asked[s.Name+"\n"+repo] = askedPassword{e.Name, v}
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

// askPassword gets a repository password on a terminal: generated (the
// default) and shown once for the person to keep, or typed twice.
func askPassword(ctx context.Context, t *prompt.Terminal, req prompt.Request) (secret.Value, error) {
	fmt.Fprintf(t.Out, "%s is a repository password: restic encrypts every backup with it, and without it no backup can be read. restic says: %q\n"+
		"For a repository that exists already (a new node, a new machine), answer n and type the password you kept: a new one opens nothing.\n", req.Name, restic.PasswordWarning)
	gen, err := t.ConfirmDefault(ctx, "Generate a strong one?", true)
	if err != nil {
		return secret.Value{}, err
	}
	if !gen {
		return t.NewSecret(ctx, req)
	}
	v, err := secret.Generate()
	if err != nil {
		return secret.Value{}, err
	}
	intro := fmt.Sprintf("%s for service %s in %s, generated: copy it now into a password manager, outside this machine and the node. It is shown only this once; devopsellence stores it, but a copy stored with the app is lost with it.", req.Name, req.Service, req.Environment)
	return v, t.Show(ctx, intro, v)
}

// warnIgnored warns when an explicit source names a secret that is stored
// already: apply stores only missing secrets, so a new value there changes
// nothing. Changing one is rotate-secret's work.
func (o *applyOptions) warnIgnored(ctx context.Context, p *reconcile.Plan, sources *prompt.Explicit) {
	for _, e := range p.Environments {
		if !reconcile.Selected(o.Envs, e.Name) {
			continue
		}
		for _, s := range e.Secrets {
			if s.Status != reconcile.StatusPresent || s.Source == reconcile.SourceOnePassword {
				continue
			}
			from := sources.Gives(prompt.Request{Name: s.Name, Service: s.Service, Environment: e.Name})
			if from == "" || o.warned[e.Name+"\n"+s.Name] {
				continue
			}
			if o.warned == nil {
				o.warned = map[string]bool{}
			}
			// Once per process: the run loop plans again and again.
			o.warned[e.Name+"\n"+s.Name] = true
			if o.LogJSON {
				logr.FromContextOrDiscard(ctx).Info("secretSourceIgnored", "secret", s.Name, "environment", e.Name, "source", from)
				continue
			}
			fmt.Fprintf(o.IO.Err, "warning: %s is already stored for service %s in %s, so the value %s gives is not used: apply stores only missing secrets. To change it, run `devopsellence-backup rotate-secret %s --env %s`\n",
				s.Name, s.Service, e.Name, from, s.Name, e.Name)
		}
	}
}
