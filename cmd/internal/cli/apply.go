package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// applyOptions are apply's, and what init and run share with it.
type applyOptions struct {
	IO        *iostreams.Streams
	LogJSON   bool
	Environ   []string
	Now       func() time.Time
	Workspace func() (*workspace, error)
	// Operation names the command in the documents it prints.
	Operation string

	Yes            bool
	NonInteractive bool
	NoDeploy       bool
	LabelNodes     bool
	Envs           []string
	// DisableBackups confirms, off a terminal, that the plan may stop the
	// backups of these environments (make their service inert).
	DisableBackups []string
	Output         string
	SecretEnv      []string
	SecretFile     []string
	LockTimeout    time.Duration
	// PlanFile is a plan saved by `plan --out`, applied exactly.
	PlanFile string
	// ShowPlan prints the plan on stdout before applying it (init), unless
	// the terminal confirmation shows it anyway.
	ShowPlan bool

	// Preset are secret values already known (rotate-secret's next
	// value), used before any source.
	Preset map[reconcile.SecretKey]secret.Value

	// warned are the stored secrets already warned about ("ENV\nNAME"):
	// an explicit source for one gives a value that is not used.
	warned map[string]bool
}

// newApplyOptions holds the dependencies an apply takes from f when built.
func newApplyOptions(f *Factory) applyOptions {
	return applyOptions{Environ: f.Environ, Now: f.Clock.Now, Workspace: f.Workspace}
}

// bind completes the dependencies once the root has parsed the global flags.
func (o *applyOptions) bind(f *Factory, cmd *cobra.Command) {
	o.IO, o.LogJSON, o.Operation = f.IO(), f.LogJSON(), cmd.CommandPath()
}

func newApplyCmd(f *Factory, runF func(*applyOptions) error) *cobra.Command {
	o := new(newApplyOptions(f))
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

devopsellence.yml is one file for every environment: whatever --env says,
apply leaves every environment's backup service referencing only secrets
that are stored. A covered environment whose secrets this run does not store
stays inert (idle, no secrets, no volumes) until apply --env ENV stores them.
A plan that makes an environment that is backed up now inert needs a
confirmation: the question on a terminal, --disable-backups ENV anywhere.
A covered environment with no node attached for this app stops apply before
any change (unless --no-deploy), and so does one devopsellence does not know.

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
  devopsellence-backup apply --yes --disable-backups staging   # after removing staging from the spec
  devopsellence-backup plan --out backup.plan && devopsellence-backup apply backup.plan`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.PlanFile = args[0]
			}
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runApply)
		},
	}
	o.addAskFlags(cmd.Flags())
	o.addFlags(cmd.Flags())
	cmd.Flags().StringSliceVar(&o.Envs, "env", nil, "limit secrets and deploys to these environments")
	return cmd
}

// addAskFlags adds the flags of the commands that may ask a person and
// print a result (apply, init).
func (o *applyOptions) addAskFlags(fl *pflag.FlagSet) {
	fl.BoolVarP(&o.Yes, "yes", "y", false, "apply without asking for confirmation")
	fl.BoolVar(&o.NonInteractive, "non-interactive", false, "never prompt: take secrets only from explicit sources (implies --yes)")
	fl.StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text or json")
}

// addFlags adds the flags of every command that applies (apply, init, run).
func (o *applyOptions) addFlags(fl *pflag.FlagSet) {
	fl.BoolVar(&o.NoDeploy, "no-deploy", false, "patch and store secrets, but do not deploy")
	fl.BoolVar(&o.LabelNodes, "label-nodes", false, "label attached nodes worker when none is (keeping their other labels)")
	fl.StringSliceVar(&o.DisableBackups, "disable-backups", nil, "confirm that the plan stops backing up these environments (their backup service goes inert)")
	fl.StringArrayVar(&o.SecretEnv, "secret-env", nil, "take secret NAME (in ENV, or every environment) from variable VAR: [ENV:]NAME=VAR")
	fl.StringArrayVar(&o.SecretFile, "secret-file", nil, "take secret NAME (in ENV, or every environment) from a file: [ENV:]NAME=PATH")
	fl.DurationVar(&o.LockTimeout, "lock-timeout", time.Minute, "how long to wait for another run on this app")
}

// ApplyDoc is apply's JSON document.
type ApplyDoc struct {
	render.PlanDoc
	Applied *reconcile.ApplyResult `json:"applied"`
	// DeployPending lists the environments the plan deploys that this
	// apply did not deploy (--no-deploy).
	DeployPending []string `json:"deploy_pending"`
}

func runApply(ctx context.Context, o *applyOptions) error {
	_, err := o.applyAndPrint(ctx)
	return err
}

// applyAndPrint runs one pass and prints its result; init reads the pass
// to tell whether anything changed before a failure.
func (o *applyOptions) applyAndPrint(ctx context.Context) (*pass, error) {
	if err := checkOutput(o.Output, textOrJSON); err != nil {
		return nil, err
	}
	if o.PlanFile != "" && len(o.Envs) > 0 {
		return nil, usagef("--env cannot narrow a saved plan: plan again with the environments you want")
	}
	ps, err := o.pass(ctx, nil)
	if err != nil {
		if ps != nil && ps.result != nil && o.Output == render.JSON {
			// The failure envelope follows; say what was done before it on stderr.
			res := ps.result
			fmt.Fprintf(o.IO.Err, "applied before the failure: config written %v, %s stored, %s\n", res.ConfigWritten, render.Count(len(res.Stored), "secret"), render.Count(len(res.Deployed), "deploy"))
		}
		return ps, err
	}
	if f := uncommitted(ctx, ps.w, ps.plan); f != nil {
		ps.plan.Findings = append(ps.plan.Findings, *f)
	}
	if err := o.printApply(ps); err != nil {
		return ps, err
	}
	if cannotRun(ps) {
		// Deployed, but the backup service cannot do its job there: the
		// result says why; the run is not a success.
		return ps, errReported
	}
	return ps, nil
}

// cannotRun reports an error found by the checks after the deploy about
// an environment this apply deployed: the deploy succeeded, but what was
// deployed cannot back up (an image without the agent, an agent too old
// to understand this tool).
func cannotRun(ps *pass) bool {
	return len(brokenEnvs(ps)) > 0
}

// brokenEnvs lists the deployed environments that cannot run.
func brokenEnvs(ps *pass) []string {
	var out []string
	for _, f := range ps.plan.Findings[ps.planned:] {
		if f.Severity == reconcile.SeverityError && !slices.Contains(out, f.Environment) &&
			slices.ContainsFunc(ps.result.Deployed, func(d reconcile.Deployment) bool { return d.Environment == f.Environment }) {
			out = append(out, f.Environment)
		}
	}
	return out
}

// printApply prints apply's result: the summary, then every warning and
// error finding with its next step. It leaves out what the plan printed on
// stdout already shows (init shows it first), and the plan's errors: apply
// stops at those, so one it went past was settled (a worker label added,
// a deploy left for later).
func (o *applyOptions) printApply(ps *pass) error {
	p, res := ps.plan, ps.result
	summary := applySummary(p, res, o.Envs, brokenEnvs(ps))
	failed := cannotRun(ps)
	if o.Output == render.JSON {
		doc := ApplyDoc{PlanDoc: render.NewPlanDoc(o.Operation, p), Applied: res, DeployPending: deployPending(p, res, o.Envs)}
		doc.Summary, doc.OK = summary, !failed
		return render.WriteJSON(o.IO.Out, doc)
	}
	if _, err := fmt.Fprintln(o.IO.Out, summary); err != nil {
		return err
	}
	for _, st := range res.Stored {
		if st.Name == spec.PasswordSecret && st.Store != "1password" {
			fmt.Fprintf(o.IO.Out, "note: %s (%s)\n", passwordNote(st.Environment), restic.PasswordWarning)
		}
	}
	for i, f := range p.Findings {
		if i < ps.shown || (f.Severity != reconcile.SeverityWarning && f.Severity != reconcile.SeverityError) || (i < ps.planned && f.Severity == reconcile.SeverityError) {
			continue
		}
		line := fmt.Sprintf("%s: %s", f.Severity, f.Message)
		if len(f.NextActions) > 0 {
			line += "; next: " + f.NextActions[0].Command
		}
		if _, err := fmt.Fprintln(o.IO.Out, line); err != nil {
			return err
		}
	}
	return nil
}

// deployPending lists the selected environments the plan deploys that were
// not deployed: all of them with --no-deploy.
func deployPending(p *reconcile.Plan, res *reconcile.ApplyResult, envs []string) []string {
	out := []string{}
	for _, e := range p.Environments {
		if e.Deploy && reconcile.Selected(envs, e.Name) && !slices.ContainsFunc(res.Deployed, func(d reconcile.Deployment) bool { return d.Environment == e.Name }) {
			out = append(out, e.Name)
		}
	}
	return out
}

func applySummary(p *reconcile.Plan, res *reconcile.ApplyResult, envs, broken []string) string {
	var pending, noNode []string
	for _, env := range deployPending(p, res, envs) {
		if slices.ContainsFunc(p.Findings, func(f reconcile.Finding) bool { return f.Code == reconcile.CodeNoNode && f.Environment == env }) {
			noNode = append(noNode, env)
		} else {
			pending = append(pending, env)
		}
	}
	var waits []string
	if len(pending) > 0 {
		waits = append(waits, fmt.Sprintf("the deploy of %s is pending: run `devopsellence-backup apply` to deploy", strings.Join(pending, ", ")))
	}
	for _, env := range noNode {
		waits = append(waits, fmt.Sprintf("%s cannot be deployed until a node is attached to it: %s, then run `devopsellence-backup apply`", env, noNodeAdvice(env)))
	}
	deploy := strings.Join(waits, "; ")
	if !res.ConfigWritten && len(res.Stored) == 0 && len(res.Deployed) == 0 {
		if deploy != "" {
			return fmt.Sprintf("Nothing changed, but %s.", deploy)
		}
		return fmt.Sprintf("Nothing to do: service %s is in sync.", p.Service)
	}
	var parts []string
	if res.ConfigWritten {
		parts = append(parts, fmt.Sprintf("%s patched (%s)", p.ConfigFile, render.Count(len(p.Changes), "block")))
	}
	if n := len(res.Stored); n > 0 {
		parts = append(parts, render.Count(n, "secret")+" stored")
	}
	var deployed []string
	for _, d := range res.Deployed {
		deployed = append(deployed, d.Environment)
	}
	switch {
	case len(broken) > 0:
		parts = append(parts, "deployed "+strings.Join(deployed, ", ")+", but the backup service cannot run in "+strings.Join(broken, ", ")+" (see the errors below)")
	case len(deployed) > 0:
		parts = append(parts, "deployed "+strings.Join(deployed, ", "))
	case deploy == "":
		parts = append(parts, "no deploy needed")
	}
	if deploy != "" {
		parts = append(parts, deploy)
	}
	return "Applied: " + strings.Join(parts, "; ") + "."
}

// passwordNote says where the repository password is kept, and that a
// copy must be kept elsewhere.
func passwordNote(env string) string {
	return fmt.Sprintf("RESTIC_PASSWORD of %s is stored by devopsellence as a secret of the backup service: in devopsellence's state on this machine ($DEVOPSELLENCE_STATE_HOME, else ~/.local/state/devopsellence) and in the service's environment on the node. "+
		"Keep a copy outside the node and this machine (a password manager): without it no backup can be read, and a new node needs it to restore", env)
}

// noNodeAdvice says how to give env a node, in devopsellence's own words.
func noNodeAdvice(env string) string {
	a := reconcile.NoNodeActions(env)
	return fmt.Sprintf("attach a node this machine knows (`%s`), or create one and attach it (`%s`)", a[0].Command, a[1].Command)
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
// --log-format json each event is an entry of log, so stderr stays JSON lines.
func (o *applyOptions) progress(log logr.Logger) func(string, reconcile.DeployEvent) {
	w, tty, asLog := o.IO.Err, o.IO.ErrIsTerminal(), o.LogJSON
	return func(env string, ev reconcile.DeployEvent) {
		if asLog {
			log.Info("deployProgress", "environment", env, "event", ev.Kind, "step", ev.Step, "message", ev.Message, "phase", ev.Phase)
			return
		}
		var line string
		switch ev.Kind {
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
			if ev.Kind == "result" || ev.Kind == "error" {
				end = "\n"
			}
			fmt.Fprintf(w, "\r\x1b[2Kdeploy %s: %s%s", env, line, end)
			return
		}
		fmt.Fprintf(w, "deploy %s: %s\n", env, line)
	}
}
