package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// agentExit carries the agent's own exit status (0 ok, 3 partial, 1
// failed, 130 interrupted) to Main: the operator's side reads the result
// line, and the status only confirms it.
type agentExit struct{ code int }

func (e agentExit) Error() string { return fmt.Sprintf("agent exit status %d", e.code) }

// agentOptions are what every agent command shares: the service's
// streams, environment and clock, and the flags of the protocol.
type agentOptions struct {
	IO *iostreams.Streams
	// Environ is the service's environment, where the agent's
	// configuration is.
	Environ []string
	// Clock tells the agent the time; the scheduler waits on it.
	Clock reconcile.Clock

	JSON     bool
	Protocol int
	RunID    string
	Timeout  time.Duration
}

func newAgentOptions(f *Factory) agentOptions {
	return agentOptions{Environ: f.Environ, Clock: f.Clock}
}

// addFlags adds --json and --protocol, and for a run (timeout > 0) its
// --run-id and --timeout.
func (o *agentOptions) addFlags(cmd *cobra.Command, timeout time.Duration, what string) {
	f := cmd.Flags()
	f.BoolVar(&o.JSON, "json", false, "print one JSON line per event on stdout (progress, then the result)")
	f.IntVar(&o.Protocol, "protocol", operate.Protocol, "the protocol version the operator's side speaks")
	if timeout > 0 {
		f.StringVar(&o.RunID, "run-id", "", "names the run, so that agent cancel can stop it")
		f.DurationVar(&o.Timeout, "timeout", timeout, "deadline of the run; "+what)
	}
}

// agent builds the agent from the process's environment (the service's).
func (o *agentOptions) agent() (*agent.Agent, error) {
	if o.Protocol > operate.Protocol {
		return nil, usagef("this agent (%s) speaks protocol %d, but was asked for %d: deploy the image that matches devopsellence-backup with devopsellence-backup apply", buildinfo.Version(), operate.Protocol, o.Protocol)
	}
	out := &agent.Output{JSON: o.JSON, Stdout: o.IO.Out, Stderr: o.IO.Err, Now: o.Clock.Now}
	a, err := agent.New(o.Environ, buildinfo.Version(), out, o.Clock.Now)
	if err != nil {
		return nil, usageError{err}
	}
	return a, nil
}

// runOptions are the options of this run, as the agent takes them.
func (o *agentOptions) runOptions() agent.RunOptions {
	return agent.RunOptions{Options: operate.Options{RunID: o.RunID, Timeout: o.Timeout}}
}

func newAgentCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The part of devopsellence-backup that runs inside the backup service",
		Long: `agent runs inside the backup service, where restic, the database clients and
every secret are. The operator's commands (backup, check, prune, drill, status)
ask it to act through devopsellence exec, with a short command line; the
service's own command is "devopsellence-backup agent run", the scheduler. It
reads its configuration from the service's environment (BACKUP_* and RESTIC_*,
rendered from the spec into devopsellence.yml; no secret values), and with
--json prints one JSON line per event on stdout.

EXIT STATUS
  0    ok
  1    failed (the result says why)
  2    usage error, or the service's environment is not a valid configuration
  3    partial: a snapshot was saved without some source data
  130  interrupted (agent cancel, a signal, or --timeout)`,
		Hidden: true,
	}
	for _, op := range []operate.Op{operate.OpBackup, operate.OpCheck, operate.OpPrune, operate.OpDrill} {
		cmd.AddCommand(newAgentOpCmd(f, op, nil))
	}
	cmd.AddCommand(newAgentStatusCmd(f, nil), newAgentRunCmd(f, nil), newAgentCancelCmd(f, nil), newAgentVersionCmd(f, nil), newAgentRotateKeyCmd(f, nil), newAgentLocksCmd(f, nil))
	cmd.AddCommand(agentRecoveryCommands(f)...)
	return cmd
}

// agentOpOptions are the options of a run of backup, check, prune, drill
// or copy.
type agentOpOptions struct {
	agentOptions
	Op  operate.Op
	Run agent.RunOptions
}

func newAgentOpCmd(f *Factory, op operate.Op, runF func(*agentOpOptions) error) *cobra.Command {
	o := &agentOpOptions{agentOptions: newAgentOptions(f), Op: op}
	cmd := &cobra.Command{
		Use:   string(op),
		Short: fmt.Sprintf("Run %s in this service now", op),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentOp)
		},
	}
	o.addFlags(cmd, operate.DefaultTimeout(op), "restic is then interrupted so it releases its lock")
	fl := cmd.Flags()
	fl.BoolVar(&o.Run.UnlockStale, "unlock-stale", false, "when the repository is locked, run restic unlock (stale locks only) and try once more")
	switch op {
	case operate.OpBackup:
		fl.BoolVar(&o.Run.Init, "init", false, "create the repository when it does not exist yet")
	case operate.OpCheck:
		fl.StringVar(&o.Run.Subset, "read-data-subset", "", "also read part of the data: auto (rotate), n/t, or x%")
	}
	return cmd
}

func runAgentOp(ctx context.Context, o *agentOpOptions) error {
	if o.Run.Subset != "" && !validSubset(o.Run.Subset) {
		return usagef("--read-data-subset %q: want auto, n/t (1 <= n <= t) or x%% (0 < x <= 100)", o.Run.Subset)
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	ro := o.Run
	ro.RunID, ro.Timeout = o.RunID, o.Timeout
	return exitWith(a.Run(ctx, o.Op, ro))
}

type agentStatusOptions struct {
	agentOptions
	// Now is the operator's clock (RFC 3339), or "".
	Now string
}

func newAgentStatusCmd(f *Factory, runF func(*agentStatusOptions) error) *cobra.Command {
	o := &agentStatusOptions{agentOptions: newAgentOptions(f)}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Read this app's snapshots and evidence from the repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentStatus)
		},
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpStatus), "the listing is then stopped")
	cmd.Flags().StringVar(&o.Now, "now", "", "the operator's clock (RFC 3339): snapshots dated after it are not trusted")
	return cmd
}

func runAgentStatus(ctx context.Context, o *agentStatusOptions) error {
	var at time.Time
	if o.Now != "" {
		t, err := time.Parse(time.RFC3339, o.Now)
		if err != nil {
			return usagef("--now %q: want an RFC 3339 time", o.Now)
		}
		at = t
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	return exitWith(a.Status(ctx, o.runOptions(), at))
}

type agentRunOptions struct {
	agentOptions
	BackupTimeout time.Duration
	PruneTimeout  time.Duration
	CheckTimeout  time.Duration
	StopGrace     time.Duration
}

func newAgentRunCmd(f *Factory, runF func(*agentRunOptions) error) *cobra.Command {
	o := &agentRunOptions{agentOptions: newAgentOptions(f)}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "The backup service's command: run the scheduled backups, prunes and checks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentScheduler)
		},
	}
	o.addFlags(cmd, 0, "")
	fl := cmd.Flags()
	fl.DurationVar(&o.BackupTimeout, "backup-timeout", 0, "deadline of each scheduled backup (default: spec.schedule.backupTimeout, else "+operate.DefaultTimeout(operate.OpBackup).String()+")")
	fl.DurationVar(&o.PruneTimeout, "prune-timeout", 0, "deadline of each scheduled prune (default: spec.schedule.pruneTimeout, else "+operate.DefaultTimeout(operate.OpPrune).String()+")")
	fl.DurationVar(&o.CheckTimeout, "check-timeout", 0, "deadline of each scheduled check (default: spec.schedule.checkTimeout, else "+operate.DefaultTimeout(operate.OpCheck).String()+")")
	fl.DurationVar(&o.StopGrace, "stop-grace", agent.StopGrace, "how long the platform waits after SIGTERM before it kills the service (devopsellence's node agent: --stop-timeout); runs interrupted by a stop end within it")
	return cmd
}

func runAgentScheduler(ctx context.Context, o *agentRunOptions) error {
	if code, ok := asInit(o.Environ); ok {
		return exitWith(code)
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	timeouts := agent.Timeouts{operate.OpBackup: o.BackupTimeout, operate.OpPrune: o.PruneTimeout, operate.OpCheck: o.CheckTimeout}
	a.StopGrace = o.StopGrace
	return a.Scheduler(ctx, timeouts, o.Clock.After)
}

type agentCancelOptions struct {
	agentOptions
	Wait time.Duration
}

func newAgentCancelCmd(f *Factory, runF func(*agentCancelOptions) error) *cobra.Command {
	o := &agentCancelOptions{agentOptions: newAgentOptions(f)}
	cmd := &cobra.Command{
		Use:   "cancel",
		Short: "Interrupt a run of this service and wait for it to stop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentCancel)
		},
	}
	o.addFlags(cmd, 0, "")
	cmd.Flags().StringVar(&o.RunID, "run-id", "", "the run to stop")
	cmd.Flags().DurationVar(&o.Wait, "wait", operate.CancelWait, "how long to wait for the run to stop")
	return cmd
}

func runAgentCancel(ctx context.Context, o *agentCancelOptions) error {
	if o.RunID == "" {
		return usagef("--run-id is required")
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	st := a.Runs.Cancel(ctx, o.RunID, o.Wait)
	a.Out.Line(operate.Line{Type: operate.LineCancel, Cancel: &st})
	if !o.JSON {
		a.Out.Say("run %s: found %t, stopped %t", st.RunID, st.Found, st.Stopped)
	}
	if !st.Stopped {
		return exitWith(1)
	}
	return nil
}

func newAgentVersionCmd(f *Factory, runF func(*agentOptions) error) *cobra.Command {
	o := new(newAgentOptions(f))
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the agent's version, protocol, restic version and the tools the image lacks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentVersion)
		},
	}
	o.addFlags(cmd, 0, "")
	return cmd
}

func runAgentVersion(ctx context.Context, o *agentOptions) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	info := a.Info(ctx)
	a.Out.Line(operate.Line{Type: operate.LineVersion, Agent: info})
	if !o.JSON {
		_, err = fmt.Fprintf(o.IO.Out, "devopsellence-backup agent %s (protocol %d), restic %s, missing tools: %v\n", info.Version, info.Protocol, info.ResticVersion, info.MissingTools)
	}
	return err
}

type agentRotateKeyOptions struct {
	agentOptions
	Request agent.KeyRequest
}

func newAgentRotateKeyCmd(f *Factory, runF func(*agentRotateKeyOptions) error) *cobra.Command {
	o := &agentRotateKeyOptions{agentOptions: newAgentOptions(f)}
	cmd := &cobra.Command{
		Use:   string(operate.OpRotateKey),
		Short: "One step of rotating a repository password: add a key for the next one, verify, or remove an old key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentRotateKey)
		},
	}
	o.addFlags(cmd, 0, "")
	fl := cmd.Flags()
	fl.StringVar(&o.Request.Secret, "secret", "", "the password secret being rotated (RESTIC_PASSWORD, or a copy's passwordSecret)")
	fl.StringVar(&o.Request.Step, "step", "", "add, verify or remove")
	fl.StringArrayVar(&o.Request.Keys, "key", nil, "remove: the ID of a key to remove (repeatable)")
	return cmd
}

func runAgentRotateKey(ctx context.Context, o *agentRotateKeyOptions) error {
	if o.Request.Secret == "" || o.Request.Step == "" {
		return usagef("--secret and --step are required")
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	return exitWith(a.RotateKey(ctx, o.runOptions(), o.Request))
}

func exitWith(code int) error {
	if code == 0 {
		return nil
	}
	return agentExit{code}
}

// isAgentExit reports an agent exit status.
func isAgentExit(err error) (int, bool) {
	var e agentExit
	if errors.As(err, &e) {
		return e.code, true
	}
	return 0, false
}

func newAgentLocksCmd(f *Factory, runF func(*agentOptions) error) *cobra.Command {
	o := new(newAgentOptions(f))
	cmd := &cobra.Command{
		Use:   "locks",
		Short: "List the repository's restic locks, who holds each, and when restic calls it stale",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentLocks)
		},
	}
	o.addFlags(cmd, 0, "")
	return cmd
}

func runAgentLocks(ctx context.Context, o *agentOptions) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	rep := a.Locks(ctx)
	a.Out.Line(operate.Line{Type: operate.LineLocks, Locks: &rep, Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol}})
	if !o.JSON {
		for _, l := range rep.Locks {
			a.Out.Say("%s: %s", l.ID[:min(8, len(l.ID))], agent.LockText(l, o.Clock.Now()))
		}
		if len(rep.Locks) == 0 && rep.Error == "" {
			a.Out.Say("the repository holds no lock")
		}
	}
	if rep.Error != "" {
		a.Out.Say("cannot read the repository's locks: %s", rep.Error)
		return exitWith(1)
	}
	return nil
}
