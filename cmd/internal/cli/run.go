package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/spec"
)

type runOptions struct {
	apply applyOptions
	// Clock tells the time of each pass and drives the waits between them;
	// Jitter spreads the retry delays.
	Clock  reconcile.Clock
	Jitter func(time.Duration) time.Duration

	Interval   time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
	Poll       time.Duration
	StatusFile string
}

func newRunCmd(f *Factory, runF func(*runOptions) error) *cobra.Command {
	o := &runOptions{apply: newApplyOptions(f), Clock: f.Clock, Jitter: f.Jitter}
	o.apply.NonInteractive, o.apply.Yes = true, true
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Reconcile again and again, like a controller",
		Long: `run reconciles every --interval, level-triggered: each pass observes afresh and
converges (a pass with nothing to do does nothing). A failed pass is retried
with exponential backoff (from --min-backoff, doubling up to --max-backoff,
with jitter) instead of waiting the full interval. An error that retrying
cannot fix (an invalid spec, a conflict, a read-only devopsellence.yml) is
reported once and waited on until the spec or devopsellence.yml changes (its
bytes or its mode). Missing secret values are retried with backoff instead:
storing the secret by hand, or filling a --secret-file, fixes them without
touching either file.

It never prompts: secret values come only from the explicit sources
(--secret-env, --secret-file, DEVOPSELLENCE_BACKUP_SECRET_*). SIGINT and
SIGTERM stop it between steps, never in the middle of a write or a
devopsellence call. Each pass sets conditions per environment, Kubernetes
style (ConfigInSync, SecretsStored, Deployed), in the log and, with
--status-file, in a JSON file other tools can read.

EXIT STATUS
  0  stopped by SIGINT or SIGTERM
  1  could not start
  2  usage error, or a --status-file path refused (not a regular file or a
     new path, read-only, or a file devopsellence-backup manages)`,
		Example: `  devopsellence-backup run --interval 10m --status-file /var/lib/devopsellence-backup/status.json
  devopsellence-backup run --secret-env RESTIC_PASSWORD=RUNNER_RESTIC_PASSWORD`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.apply.bind(f, cmd)
			return runCommand(cmd.Context(), o, "", runF, runLoop)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&o.Interval, "interval", 10*time.Minute, "time between passes")
	fl.DurationVar(&o.MinBackoff, "min-backoff", 10*time.Second, "first retry delay after a failed pass")
	fl.DurationVar(&o.MaxBackoff, "max-backoff", 0, "longest retry delay (default: --interval)")
	fl.DurationVar(&o.Poll, "poll", 10*time.Second, "how often to look for changed inputs while an unfixable error stands")
	fl.StringVar(&o.StatusFile, "status-file", "", "write the status (conditions per environment) to this JSON file after each pass (a regular file or a new path)")
	o.apply.addFlags(fl)
	fl.StringSliceVar(&o.apply.Envs, "env", nil, "limit secrets and deploys to these environments")
	return cmd
}

// Status is the --status-file document.
type Status struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Status     StatusFields `json:"status"`
}

// StatusFields are the loop's view of the app after its last pass.
type StatusFields struct {
	App                 string                       `json:"app"`
	Pass                int                          `json:"pass"`
	LastPassTime        time.Time                    `json:"lastPassTime"`
	LastPassResult      string                       `json:"lastPassResult"`
	LastError           string                       `json:"lastError,omitempty"`
	ObservedFingerprint string                       `json:"observedFingerprint"`
	Environments        map[string]EnvironmentStatus `json:"environments"`
}

// EnvironmentStatus holds one environment's conditions.
type EnvironmentStatus struct {
	Conditions []reconcile.Condition `json:"conditions"`
}

// Pass results.
const (
	PassSucceeded = "Succeeded"
	PassRetrying  = "Retrying"
	PassBlocked   = "Blocked"
)

func runLoop(ctx context.Context, o *runOptions) error {
	if o.Interval <= 0 || o.MinBackoff <= 0 || o.Poll <= 0 {
		return usagef("--interval, --min-backoff and --poll must be positive")
	}
	maxBackoff := o.MaxBackoff
	if maxBackoff == 0 {
		maxBackoff = o.Interval
	}
	if o.StatusFile == stdoutPath {
		return usagef("--status-file -: stdout carries the pass lines; name a file")
	}
	w, err := o.apply.Workspace()
	if err != nil {
		return err
	}
	if o.StatusFile != "" {
		if err := w.checkOutPath("--status-file", o.StatusFile); err != nil {
			return err
		}
	}
	st := &StatusFields{App: w.dir, Environments: map[string]EnvironmentStatus{}}
	loop := &reconcile.Loop{
		Interval: o.Interval, MinBackoff: o.MinBackoff, MaxBackoff: maxBackoff, Poll: o.Poll,
		Clock: o.Clock, Jitter: o.Jitter,
		Terminal: blocking,
		Inputs:   func() string { return inputsHash(w) },
		Pass: func(stop context.Context) error {
			// The pass itself is not cancelled by a signal: it stops at the
			// next step boundary instead, so no write is cut in half.
			err := o.onePass(context.WithoutCancel(stop), stop, st)
			if errors.Is(err, reconcile.ErrStopped) {
				return nil
			}
			return err
		},
	}
	log := logr.FromContextOrDiscard(ctx)
	log.Info("reconcileLoopStarted", "app", w.dir, "interval", o.Interval)
	err = loop.Run(ctx)
	log.Info("reconcileLoopStopped", "passes", st.Pass)
	return err
}

// onePass runs one pass, then records its conditions.
func (o *runOptions) onePass(ctx, stop context.Context, st *StatusFields) error {
	log := logr.FromContextOrDiscard(ctx)
	st.Pass++
	ps, err := o.apply.pass(ctx, stop)
	now := o.Clock.Now()
	var conds map[string][]reconcile.Condition
	switch {
	case ps != nil:
		st.ObservedFingerprint = ps.inputs.Fingerprint()
		conds = reconcile.Conditions(ps.plan, ps.result, err, !o.apply.NoDeploy, st.ObservedFingerprint)
	default:
		envs := make([]string, 0, len(st.Environments))
		for env := range st.Environments {
			envs = append(envs, env)
		}
		if len(envs) == 0 {
			envs = []string{"*"}
		}
		sort.Strings(envs)
		reason := "PassFailed"
		if errors.Is(err, spec.ErrInvalid) {
			reason = "InvalidSpec"
		}
		conds = reconcile.Failed(envs, reason, err, st.ObservedFingerprint)
	}
	prev := map[string][]reconcile.Condition{}
	for env, es := range st.Environments {
		prev[env] = es.Conditions
	}
	reconcile.Carry(now, prev, conds)
	st.LastPassTime, st.LastError = now.UTC(), ""
	st.LastPassResult = PassSucceeded
	if err != nil && !errors.Is(err, reconcile.ErrStopped) {
		st.LastError = err.Error()
		st.LastPassResult = PassRetrying
		if blocking(err) {
			st.LastPassResult = PassBlocked
		}
	}
	st.Environments = map[string]EnvironmentStatus{}
	for env, cs := range conds {
		st.Environments[env] = EnvironmentStatus{Conditions: cs}
		for _, c := range cs {
			log.Info("condition", "pass", st.Pass, "environment", env, "type", c.Type, "status", c.Status, "reason", c.Reason, "message", c.Message)
		}
	}
	summary := "in sync"
	if ps != nil && ps.result != nil && (ps.result.ConfigWritten || len(ps.result.Stored) > 0 || len(ps.result.Deployed) > 0 || len(deployPending(ps.plan, ps.result, o.apply.Envs)) > 0) {
		summary = applySummary(ps.plan, ps.result, o.apply.Envs, brokenEnvs(ps))
	}
	if err != nil {
		summary = strings.ToLower(st.LastPassResult) + ": " + firstLine(err.Error())
	}
	fmt.Fprintf(o.apply.IO.Out, "pass %d: %s\n", st.Pass, summary)
	if o.StatusFile != "" {
		if werr := writeStatus(o.StatusFile, st); werr != nil {
			log.Error(werr, "statusFileNotWritten", "path", o.StatusFile)
		}
	}
	return err
}

func writeStatus(path string, st *StatusFields) error {
	doc := Status{APIVersion: spec.APIVersion, Kind: "BackupStatus", Status: *st}
	var b strings.Builder
	if err := render.WriteJSON(&b, doc); err != nil {
		return err
	}
	return store.WriteFile(path, []byte(b.String()), 0o644)
}

// blocking reports errors that retrying cannot fix: bad input (exit 2) other
// than missing secret values, which a person may store meanwhile.
func blocking(err error) bool {
	return exitCode(context.Background(), err) == operate.ExitUsage && !errors.Is(err, errMissingValues)
}

// inputsHash fingerprints the files a terminal error depends on: their
// bytes, and their modes, so that `chmod u+w` on a read-only
// devopsellence.yml ends the wait too.
func inputsHash(w *workspace) string {
	h := sha256.New()
	for _, p := range []string{w.specPath, w.configPath} {
		b, err := os.ReadFile(p)
		if err != nil {
			b = []byte(err.Error())
		}
		h.Write(b)
		if fi, err := os.Stat(p); err == nil {
			h.Write([]byte(fi.Mode().String()))
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
