package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// agentRecoveryCommands are the agent's side of snapshots, ls, find,
// restore and copy.
func agentRecoveryCommands(f *Factory) []*cobra.Command {
	return []*cobra.Command{
		newAgentBrowseCmd(f, operate.OpSnapshots, nil), newAgentBrowseCmd(f, operate.OpLs, nil), newAgentBrowseCmd(f, operate.OpFind, nil),
		newAgentRestoreCmd(f, nil), newAgentCopyCmd(f, nil), newAgentDumpCmd(f, nil),
	}
}

type agentDumpOptions struct {
	agentOptions
	FromCopy string
	// Args are the snapshot and the path.
	Args []string
}

func newAgentDumpCmd(f *Factory, runF func(*agentDumpOptions) error) *cobra.Command {
	o := &agentDumpOptions{agentOptions: newAgentOptions(f)}
	cmd := &cobra.Command{
		Use:   "dump SNAPSHOT PATH",
		Short: "Write a file of a snapshot, or a folder as a tar, to stdout (data lines with --json)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IO, o.Args = f.IO(), args
			return runCommand(cmd.Context(), o, "", runF, runAgentDump)
		},
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpDump), "restic is then interrupted")
	cmd.Flags().StringVar(&o.FromCopy, "from-copy", "", "read the copy of this name instead of the primary repository")
	return cmd
}

func runAgentDump(ctx context.Context, o *agentDumpOptions) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	if err := fromCopy(a, o.FromCopy); err != nil {
		return err
	}
	return exitWith(a.Dump(ctx, o.runOptions(), agent.DumpRequest{Snapshot: o.Args[0], Path: o.Args[1]}))
}

// fromCopy switches the agent to a copy when asked.
func fromCopy(a *agent.Agent, name string) error {
	if name == "" {
		return nil
	}
	if err := a.UseCopy(name); err != nil {
		return usageError{err}
	}
	return nil
}

type agentBrowseOptions struct {
	agentOptions
	Request  agent.BrowseRequest
	FromCopy string
	// Args are the positional arguments: ls's SNAPSHOT [DIR], find's PATTERN.
	Args []string
}

func newAgentBrowseCmd(f *Factory, op operate.Op, runF func(*agentBrowseOptions) error) *cobra.Command {
	o := &agentBrowseOptions{agentOptions: newAgentOptions(f), Request: agent.BrowseRequest{Op: op}}
	cmd := &cobra.Command{
		Short: "Read this app's snapshots from the repository, without a lock",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IO, o.Args = f.IO(), args
			return runCommand(cmd.Context(), o, "", runF, runAgentBrowse)
		},
	}
	switch op {
	case operate.OpSnapshots:
		cmd.Use, cmd.Args = "snapshots", cobra.NoArgs
	case operate.OpLs:
		cmd.Use, cmd.Args = "ls SNAPSHOT [DIR]", cobra.RangeArgs(1, 2)
	case operate.OpFind:
		cmd.Use, cmd.Args = "find PATTERN", cobra.ExactArgs(1)
	}
	o.addFlags(cmd, operate.DefaultTimeout(op), "the listing is then stopped")
	fl := cmd.Flags()
	fl.StringVar(&o.FromCopy, "from-copy", "", "read the copy of this name instead of the primary repository")
	fl.IntVar(&o.Request.Limit, "limit", 0, "at most this many snapshots per group, entries or matches")
	if op == operate.OpLs {
		fl.IntVar(&o.Request.Offset, "offset", 0, "skip this many entries (the next page)")
		fl.BoolVar(&o.Request.Recursive, "recursive", false, "list everything under DIR, not only its entries")
	}
	return cmd
}

func runAgentBrowse(ctx context.Context, o *agentBrowseOptions) error {
	req := o.Request
	switch req.Op {
	case operate.OpLs:
		req.Snapshot = o.Args[0]
		if len(o.Args) > 1 {
			req.Dir = o.Args[1]
		}
	case operate.OpFind:
		req.Pattern = o.Args[0]
	}
	if req.Limit < 0 || req.Offset < 0 {
		return usagef("--limit and --offset must not be negative")
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	if err := fromCopy(a, o.FromCopy); err != nil {
		return err
	}
	return exitWith(a.Browse(ctx, o.runOptions(), req))
}

type agentRestoreOptions struct {
	agentOptions
	Request  agent.RestoreRequest
	FromCopy string
	// Args are the snapshot (unless --latest) and the paths.
	Args []string
}

func newAgentRestoreCmd(f *Factory, runF func(*agentRestoreOptions) error) *cobra.Command {
	o := &agentRestoreOptions{agentOptions: newAgentOptions(f)}
	cmd := &cobra.Command{
		Use:   "restore [SNAPSHOT] [PATH...]",
		Short: "Show a restore's plan, or carry out the plan whose ID --plan-id names",
		RunE: func(cmd *cobra.Command, args []string) error {
			o.IO, o.Args = f.IO(), args
			return runCommand(cmd.Context(), o, "", runF, runAgentRestore)
		},
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpRestore), "restic is then interrupted so it releases its lock; what was already moved into place is finished by the next run")
	fl := cmd.Flags()
	fl.StringVar(&o.Request.Latest, "latest", "", "restore the newest snapshot of files or db:NAME")
	fl.StringVar(&o.Request.Target, "target", "", "restore into this scratch folder instead of the live data")
	fl.StringVar(&o.Request.Plan, "plan-id", "", "carry out the plan of this ID (it must still be the plan)")
	fl.StringVar(&o.Request.Approve, "approve", "", "the plan ID a person approved (into live data)")
	fl.StringVar(&o.FromCopy, "from-copy", "", "restore from the copy of this name instead of the primary repository")
	fl.DurationVar(&o.Request.LockWait, "lock-wait", 0, "how long a database restore waits for a lock the app holds (default: spec.restore.lockWait)")
	return cmd
}

func runAgentRestore(ctx context.Context, o *agentRestoreOptions) error {
	req, args := o.Request, o.Args
	if req.Latest == "" {
		if len(args) == 0 {
			return usagef("name the snapshot to restore, or --latest files|db:NAME")
		}
		req.Snapshot, args = args[0], args[1:]
	}
	req.Paths = args
	a, err := o.agent()
	if err != nil {
		return err
	}
	if err := fromCopy(a, o.FromCopy); err != nil {
		return err
	}
	ro := o.runOptions()
	if req.Plan == "" {
		return exitWith(a.PlanRestore(ctx, ro, req))
	}
	ro.Restore = &req
	return exitWith(a.Run(ctx, operate.OpRestore, ro))
}

func newAgentCopyCmd(f *Factory, runF func(*agentOpOptions) error) *cobra.Command {
	o := &agentOpOptions{agentOptions: newAgentOptions(f), Op: operate.OpCopy}
	cmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy this app's snapshots into each copy of the spec",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runAgentOp)
		},
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpCopy), "restic is then interrupted so it releases its lock")
	cmd.Flags().BoolVar(&o.Run.Init, "init", false, "create a copy's repository when it does not exist yet")
	cmd.Flags().BoolVar(&o.Run.UnlockStale, "unlock-stale", false, "when the primary repository is locked, run restic unlock (stale locks only) and try once more")
	return cmd
}
