package cli

import (
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

func newAgentOptions(f *Factory) *agentOptions {
	return &agentOptions{Environ: f.Environ, Clock: f.Clock}
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
		cmd.AddCommand(newAgentOpCmd(f, op))
	}
	cmd.AddCommand(newAgentStatusCmd(f), newAgentRunCmd(f), newAgentCancelCmd(f), newAgentVersionCmd(f))
	cmd.AddCommand(agentRecoveryCommands(f)...)
	return cmd
}

func newAgentOpCmd(f *Factory, op operate.Op) *cobra.Command {
	o := newAgentOptions(f)
	var ro agent.RunOptions
	cmd := &cobra.Command{
		Use:   string(op),
		Short: fmt.Sprintf("Run %s in this service now", op),
		Args:  cobra.NoArgs,
		RunE: o.runE(f, func(cmd *cobra.Command, _ []string) error {
			if ro.Subset != "" && !validSubset(ro.Subset) {
				return usagef("--read-data-subset %q: want auto, n/t (1 <= n <= t) or x%% (0 < x <= 100)", ro.Subset)
			}
			a, err := o.agent()
			if err != nil {
				return err
			}
			ro.RunID, ro.Timeout = o.RunID, o.Timeout
			return exitWith(a.Run(cmd.Context(), op, ro))
		}),
	}
	o.addFlags(cmd, operate.DefaultTimeout(op), "restic is then interrupted so it releases its lock")
	fl := cmd.Flags()
	fl.BoolVar(&ro.UnlockStale, "unlock-stale", false, "when the repository is locked, run restic unlock (stale locks only) and try once more")
	switch op {
	case operate.OpBackup:
		fl.BoolVar(&ro.Init, "init", false, "create the repository when it does not exist yet")
	case operate.OpCheck:
		fl.StringVar(&ro.Subset, "read-data-subset", "", "also read part of the data: auto (rotate), n/t, or x%")
	}
	return cmd
}

func newAgentStatusCmd(f *Factory) *cobra.Command {
	o := newAgentOptions(f)
	var now string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Read this app's snapshots and evidence from the repository",
		Args:  cobra.NoArgs,
		RunE: o.runE(f, func(cmd *cobra.Command, _ []string) error {
			var at time.Time
			if now != "" {
				t, err := time.Parse(time.RFC3339, now)
				if err != nil {
					return usagef("--now %q: want an RFC 3339 time", now)
				}
				at = t
			}
			a, err := o.agent()
			if err != nil {
				return err
			}
			return exitWith(a.Status(cmd.Context(), agent.RunOptions{Options: operate.Options{RunID: o.RunID, Timeout: o.Timeout}}, at))
		}),
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpStatus), "the listing is then stopped")
	cmd.Flags().StringVar(&now, "now", "", "the operator's clock (RFC 3339): snapshots dated after it are not trusted")
	return cmd
}

func newAgentRunCmd(f *Factory) *cobra.Command {
	o := newAgentOptions(f)
	timeouts := agent.Timeouts{}
	var backupT, pruneT, checkT time.Duration
	cmd := &cobra.Command{
		Use:   "run",
		Short: "The backup service's command: run the scheduled backups, prunes and checks",
		Args:  cobra.NoArgs,
		RunE: o.runE(f, func(cmd *cobra.Command, args []string) error {
			if code, ok := asInit(o.Environ); ok {
				return exitWith(code)
			}
			a, err := o.agent()
			if err != nil {
				return err
			}
			timeouts[operate.OpBackup], timeouts[operate.OpPrune], timeouts[operate.OpCheck] = backupT, pruneT, checkT
			return a.Scheduler(cmd.Context(), timeouts, o.Clock.After)
		}),
	}
	o.addFlags(cmd, 0, "")
	fl := cmd.Flags()
	fl.DurationVar(&backupT, "backup-timeout", operate.DefaultTimeout(operate.OpBackup), "deadline of each scheduled backup")
	fl.DurationVar(&pruneT, "prune-timeout", operate.DefaultTimeout(operate.OpPrune), "deadline of each scheduled prune")
	fl.DurationVar(&checkT, "check-timeout", operate.DefaultTimeout(operate.OpCheck), "deadline of each scheduled check")
	return cmd
}

func newAgentCancelCmd(f *Factory) *cobra.Command {
	o := newAgentOptions(f)
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "cancel",
		Short: "Interrupt a run of this service and wait for it to stop",
		Args:  cobra.NoArgs,
		RunE: o.runE(f, func(cmd *cobra.Command, _ []string) error {
			if o.RunID == "" {
				return usagef("--run-id is required")
			}
			a, err := o.agent()
			if err != nil {
				return err
			}
			st := a.Runs.Cancel(cmd.Context(), o.RunID, wait)
			a.Out.Line(operate.Line{Type: operate.LineCancel, Cancel: &st})
			if !o.JSON {
				a.Out.Say("run %s: found %t, stopped %t", st.RunID, st.Found, st.Stopped)
			}
			if !st.Stopped {
				return exitWith(1)
			}
			return nil
		}),
	}
	o.addFlags(cmd, 0, "")
	cmd.Flags().StringVar(&o.RunID, "run-id", "", "the run to stop")
	cmd.Flags().DurationVar(&wait, "wait", operate.CancelWait, "how long to wait for the run to stop")
	return cmd
}

func newAgentVersionCmd(f *Factory) *cobra.Command {
	o := newAgentOptions(f)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the agent's version, protocol, restic version and the tools the image lacks",
		Args:  cobra.NoArgs,
		RunE: o.runE(f, func(cmd *cobra.Command, _ []string) error {
			a, err := o.agent()
			if err != nil {
				return err
			}
			info := a.Info(cmd.Context())
			a.Out.Line(operate.Line{Type: operate.LineVersion, Agent: info})
			if !o.JSON {
				_, err = fmt.Fprintf(o.IO.Out, "devopsellence-backup agent %s (protocol %d), restic %s, missing tools: %v\n", info.Version, info.Protocol, info.ResticVersion, info.MissingTools)
			}
			return err
		}),
	}
	o.addFlags(cmd, 0, "")
	return cmd
}

// runE runs an agent command's code, once the root has parsed the global
// flags; what it returns is the command's own error.
func (o *agentOptions) runE(f *Factory, run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		o.IO = f.IO()
		return own(run(cmd, args), "")
	}
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
