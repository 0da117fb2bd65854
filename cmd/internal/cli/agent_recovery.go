package cli

import (
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// agentRecoveryCommands are the agent's side of snapshots, ls, find,
// restore and copy.
func agentRecoveryCommands(f *Factory) []*cobra.Command {
	return []*cobra.Command{
		newAgentBrowseCmd(f, operate.OpSnapshots), newAgentBrowseCmd(f, operate.OpLs), newAgentBrowseCmd(f, operate.OpFind),
		newAgentRestoreCmd(f), newAgentCopyCmd(f),
	}
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

func newAgentBrowseCmd(f *Factory, op operate.Op) *cobra.Command {
	o := newAgentOptions(f)
	req := agent.BrowseRequest{Op: op}
	var copyName string
	cmd := &cobra.Command{
		Short: "Read this app's snapshots from the repository, without a lock",
		RunE: o.runE(f, func(cmd *cobra.Command, args []string) error {
			switch op {
			case operate.OpLs:
				req.Snapshot = args[0]
				if len(args) > 1 {
					req.Dir = args[1]
				}
			case operate.OpFind:
				req.Pattern = args[0]
			}
			if req.Limit < 0 || req.Offset < 0 {
				return usagef("--limit and --offset must not be negative")
			}
			a, err := o.agent()
			if err != nil {
				return err
			}
			if err := fromCopy(a, copyName); err != nil {
				return err
			}
			return exitWith(a.Browse(cmd.Context(), agent.RunOptions{Options: operate.Options{RunID: o.RunID, Timeout: o.Timeout}}, req))
		}),
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
	fl.StringVar(&copyName, "from-copy", "", "read the copy of this name instead of the primary repository")
	fl.IntVar(&req.Limit, "limit", 0, "at most this many snapshots per group, entries or matches")
	if op == operate.OpLs {
		fl.IntVar(&req.Offset, "offset", 0, "skip this many entries (the next page)")
		fl.BoolVar(&req.Recursive, "recursive", false, "list everything under DIR, not only its entries")
	}
	return cmd
}

func newAgentRestoreCmd(f *Factory) *cobra.Command {
	o := newAgentOptions(f)
	var req agent.RestoreRequest
	var copyName string
	cmd := &cobra.Command{
		Use:   "restore [SNAPSHOT] [PATH...]",
		Short: "Show a restore's plan, or carry out the plan whose ID --plan-id names",
		RunE: o.runE(f, func(cmd *cobra.Command, args []string) error {
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
			if err := fromCopy(a, copyName); err != nil {
				return err
			}
			ro := agent.RunOptions{Options: operate.Options{RunID: o.RunID, Timeout: o.Timeout}}
			if req.Plan == "" {
				return exitWith(a.PlanRestore(cmd.Context(), ro, req))
			}
			ro.Restore = &req
			return exitWith(a.Run(cmd.Context(), operate.OpRestore, ro))
		}),
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpRestore), "restic is then interrupted so it releases its lock; what was already moved into place is finished by the next run")
	fl := cmd.Flags()
	fl.StringVar(&req.Latest, "latest", "", "restore the newest snapshot of files or db:NAME")
	fl.StringVar(&req.Target, "target", "", "restore into this scratch folder instead of the live data")
	fl.StringVar(&req.Plan, "plan-id", "", "carry out the plan of this ID (it must still be the plan)")
	fl.StringVar(&req.Approve, "approve", "", "the snapshot ID a person approved (into live data)")
	fl.StringVar(&copyName, "from-copy", "", "restore from the copy of this name instead of the primary repository")
	return cmd
}

func newAgentCopyCmd(f *Factory) *cobra.Command {
	o := newAgentOptions(f)
	var ro agent.RunOptions
	cmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy this app's snapshots into each copy of the spec",
		Args:  cobra.NoArgs,
		RunE: o.runE(f, func(cmd *cobra.Command, _ []string) error {
			a, err := o.agent()
			if err != nil {
				return err
			}
			ro.RunID, ro.Timeout = o.RunID, o.Timeout
			return exitWith(a.Run(cmd.Context(), operate.OpCopy, ro))
		}),
	}
	o.addFlags(cmd, operate.DefaultTimeout(operate.OpCopy), "restic is then interrupted so it releases its lock")
	cmd.Flags().BoolVar(&ro.Init, "init", false, "create a copy's repository when it does not exist yet")
	cmd.Flags().BoolVar(&ro.UnlockStale, "unlock-stale", false, "when the primary repository is locked, run restic unlock (stale locks only) and try once more")
	return cmd
}
