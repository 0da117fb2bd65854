package agentcmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// Exit is how an agent command ends when not ok: the agent's exit status
// (operate.ExitPartial, ExitFailed, ExitInterrupted; the result line has
// said why), or ExitUsage for a bad request or a service environment
// that is not a valid configuration, with Err to report.
type Exit struct {
	Code int
	Err  error
}

func (e *Exit) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("agent exit status %d", e.Code)
}

func (e *Exit) Unwrap() error { return e.Err }

func exitWith(code int) error {
	if code == operate.ExitOK {
		return nil
	}
	return &Exit{Code: code}
}

// ended makes every error of a command an Exit: an interrupted command
// exits ExitInterrupted, any other failure ExitFailed.
func ended(ctx context.Context, err error) error {
	var e *Exit
	switch {
	case err == nil || errors.As(err, &e):
		return err
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return &Exit{Code: operate.ExitInterrupted, Err: err}
	}
	return &Exit{Code: operate.ExitFailed, Err: err}
}

func usageError(err error) error { return &Exit{Code: operate.ExitUsage, Err: err} }

func usagef(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// Deps are what the agent's commands take from the process: its streams
// (once the root has parsed the global flags), environment and clock.
type Deps struct {
	IO      func() *iostreams.Streams
	Environ []string
	Clock   reconcile.Clock
}

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
}

// agent builds the agent from the process's environment (the service's).
func (o *agentOptions) agent() (*agent.Agent, error) {
	if o.Protocol > operate.Protocol {
		return nil, usagef("this agent (%s) speaks protocol %d, but was asked for %d: deploy the image that matches devopsellence-backup with devopsellence-backup apply", buildinfo.Version(), operate.Protocol, o.Protocol)
	}
	out := &agent.Output{JSON: o.JSON, Stdout: o.IO.Out, Stderr: o.IO.Err, Now: o.Clock.Now}
	a, err := agent.New(o.Environ, buildinfo.Version(), out, o.Clock.Now)
	if err != nil {
		return nil, usageError(err)
	}
	a.After = o.Clock.After
	return a, nil
}

// New builds the agent's commands, one per request. runF, when a test
// gives one, takes each parsed request in place of the agent.
func New(d Deps, runF func(operate.Request) error) *cobra.Command {
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
	c := agentCalls{d: d, runF: runF}
	cmd.AddCommand(
		agentCall(c, &operate.BackupRequest{Header: header(operate.OpBackup)}, "Run backup in this service now", runAgentBackup),
		agentCall(c, &operate.CheckRequest{Header: header(operate.OpCheck)}, "Run check in this service now", runAgentCheck),
		agentCall(c, &operate.PruneRequest{Header: header(operate.OpPrune)}, "Run prune in this service now", runAgentPrune),
		agentCall(c, &operate.DrillRequest{Header: header(operate.OpDrill)}, "Run drill in this service now", runAgentDrill),
		agentCall(c, &operate.CopyRequest{Header: header(operate.OpCopy)}, "Copy this app's snapshots into each copy of the spec", runAgentCopy),
		agentCall(c, &operate.CheckpointRequest{Header: header(operate.OpCheckpoint)}, "Take a restore point in this service now", runAgentCheckpoint),
		agentCall(c, &operate.StatusRequest{Header: header(operate.OpStatus)}, "Read this app's snapshots and evidence from the repository", runAgentStatus),
		agentCall(c, &operate.SchedulerRequest{}, "The backup service's command: run the scheduled backups, prunes and checks", runAgentScheduler),
		agentCall(c, &operate.CancelRequest{Wait: operate.CancelWait}, "Interrupt a run of this service and wait for it to stop", runAgentCancel),
		agentCall(c, &operate.VersionRequest{}, "Print the agent's version, protocol, restic version and the tools the image lacks", runAgentVersion),
		agentCall(c, &operate.RotateKeyRequest{}, "One step of rotating a repository password: add a key for the next one, verify, or remove an old key", runAgentRotateKey),
		agentCall(c, &operate.LocksRequest{}, "List the repository's restic locks, who holds each, and when restic calls it stale", runAgentLocks),
	)
	cmd.AddCommand(agentRecoveryCommands(c)...)
	return cmd
}

// header is a run's header with its default deadline.
func header(op operate.Op) operate.Header {
	return operate.Header{Timeout: operate.DefaultTimeout(op)}
}

// agentCalls is what building an agent command takes.
type agentCalls struct {
	d    Deps
	runF func(operate.Request) error
}

// agentCall is the agent's command for requests like req (which holds the
// defaults): its flags and arguments are req's fields, bound from req's
// own declaration, so they are what operate.Argv writes.
func agentCall[R operate.Request](c agentCalls, req R, short string, run func(context.Context, *agentOptions, R) error) *cobra.Command {
	o := &agentOptions{Environ: c.d.Environ, Clock: c.d.Clock}
	cmd := &cobra.Command{
		Short: short,
		Args: func(_ *cobra.Command, args []string) error {
			return bindArgs(req, args)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = c.d.IO()
			if c.runF != nil {
				return c.runF(req)
			}
			return ended(cmd.Context(), run(cmd.Context(), o, req))
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.JSON, "json", false, "print one JSON line per event on stdout (progress, then the result)")
	fl.IntVar(&o.Protocol, "protocol", operate.Protocol, "the protocol version the operator's side speaks")
	b := &flagBinder{fs: fl}
	req.Fields(b)
	cmd.Use = string(req.Operation()) + b.use
	return cmd
}

// agentRun are the options of the run a request's header names.
func agentRun(h operate.Header) agent.RunOptions {
	return agent.RunOptions{Header: h}
}

func runAgentBackup(ctx context.Context, o *agentOptions, r *operate.BackupRequest) error {
	ro := agentRun(r.Header)
	ro.Init, ro.UnlockStale = r.Init, r.UnlockStale
	return runAgentOp(ctx, o, operate.OpBackup, ro)
}

func runAgentCheck(ctx context.Context, o *agentOptions, r *operate.CheckRequest) error {
	if r.Subset != "" && !operate.ValidSubset(r.Subset) {
		return usagef("--read-data-subset %q: want auto, n/t (1 <= n <= t) or x%% (0 < x <= 100)", r.Subset)
	}
	ro := agentRun(r.Header)
	ro.Subset, ro.UnlockStale = r.Subset, r.UnlockStale
	return runAgentOp(ctx, o, operate.OpCheck, ro)
}

func runAgentPrune(ctx context.Context, o *agentOptions, r *operate.PruneRequest) error {
	ro := agentRun(r.Header)
	ro.UnlockStale = r.UnlockStale
	return runAgentOp(ctx, o, operate.OpPrune, ro)
}

func runAgentDrill(ctx context.Context, o *agentOptions, r *operate.DrillRequest) error {
	ro := agentRun(r.Header)
	ro.UnlockStale = r.UnlockStale
	return runAgentOp(ctx, o, operate.OpDrill, ro)
}

func runAgentCopy(ctx context.Context, o *agentOptions, r *operate.CopyRequest) error {
	ro := agentRun(r.Header)
	ro.Init, ro.UnlockStale = r.Init, r.UnlockStale
	return runAgentOp(ctx, o, operate.OpCopy, ro)
}

func runAgentCheckpoint(ctx context.Context, o *agentOptions, r *operate.CheckpointRequest) error {
	if err := r.Point.Check(); err != nil {
		return usagef("%v", err)
	}
	ro := agentRun(r.Header)
	ro.UnlockStale, ro.Point = r.UnlockStale, &r.Point
	return runAgentOp(ctx, o, operate.OpCheckpoint, ro)
}

func runAgentOp(ctx context.Context, o *agentOptions, op operate.Op, ro agent.RunOptions) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	return exitWith(a.Run(ctx, op, ro))
}

func runAgentStatus(ctx context.Context, o *agentOptions, r *operate.StatusRequest) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	return exitWith(a.Status(ctx, agentRun(r.Header), r.Now))
}

func runAgentScheduler(ctx context.Context, o *agentOptions, r *operate.SchedulerRequest) error {
	if code, ok := asInit(o.Environ); ok {
		return exitWith(code)
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	timeouts := agent.Timeouts{operate.OpBackup: r.BackupTimeout, operate.OpPrune: r.PruneTimeout, operate.OpCheck: r.CheckTimeout}
	a.StopGrace = r.StopGrace
	return a.Scheduler(ctx, timeouts, o.Clock.After)
}

func runAgentCancel(ctx context.Context, o *agentOptions, r *operate.CancelRequest) error {
	if r.RunID == "" {
		return usagef("--run-id is required")
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	st := a.Runs.Cancel(ctx, r.RunID, r.Wait)
	a.Out.Line(operate.Line{Type: operate.LineCancel, Cancel: &st})
	if !o.JSON {
		a.Out.Say("run %s: found %t, stopped %t", st.RunID, st.Found, st.Stopped)
	}
	if !st.Stopped {
		return exitWith(operate.ExitFailed)
	}
	return nil
}

func runAgentVersion(ctx context.Context, o *agentOptions, _ *operate.VersionRequest) error {
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

func runAgentRotateKey(ctx context.Context, o *agentOptions, r *operate.RotateKeyRequest) error {
	if r.Secret == "" || r.Step == "" {
		return usagef("--secret and --step are required")
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	return exitWith(a.RotateKey(ctx, agent.RunOptions{}, *r))
}

func runAgentLocks(ctx context.Context, o *agentOptions, _ *operate.LocksRequest) error {
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
		return exitWith(operate.ExitFailed)
	}
	return nil
}
