package agentcmd

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// agentRecoveryCommands are the agent's side of snapshots, ls, find,
// restore and dump.
func agentRecoveryCommands(c agentCalls) []*cobra.Command {
	const browse = "Read this app's snapshots from the repository, without a lock"
	return []*cobra.Command{
		agentCall(c, &operate.BrowseRequest{Op: operate.OpSnapshots, Header: header(operate.OpSnapshots)}, browse, runAgentBrowse),
		agentCall(c, &operate.BrowseRequest{Op: operate.OpLs, Header: header(operate.OpLs)}, browse, runAgentBrowse),
		agentCall(c, &operate.BrowseRequest{Op: operate.OpFind, Header: header(operate.OpFind)}, browse, runAgentBrowse),
		agentCall(c, &operate.RestoreRequest{Header: header(operate.OpRestore)}, "Show a restore's plan, or carry out the plan whose ID --plan-id names", runAgentRestore),
		agentCall(c, &operate.DumpRequest{Header: header(operate.OpDump)}, "Write a file of a snapshot, or a folder as a tar, to stdout (data lines with --json)", runAgentDump),
	}
}

func runAgentDump(ctx context.Context, o *agentOptions, r *operate.DumpRequest) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	if err := fromCopy(a, r.FromCopy); err != nil {
		return err
	}
	return exitWith(a.Dump(ctx, agentRun(r.Header), *r))
}

// fromCopy switches the agent to a copy when asked.
func fromCopy(a *agent.Agent, name string) error {
	if name == "" {
		return nil
	}
	if err := a.UseCopy(name); err != nil {
		return usageError(err)
	}
	return nil
}

func runAgentBrowse(ctx context.Context, o *agentOptions, r *operate.BrowseRequest) error {
	if r.Limit < 0 || r.Offset < 0 {
		return usagef("--limit and --offset must not be negative")
	}
	a, err := o.agent()
	if err != nil {
		return err
	}
	if err := fromCopy(a, r.FromCopy); err != nil {
		return err
	}
	return exitWith(a.Browse(ctx, agentRun(r.Header), *r))
}

func runAgentRestore(ctx context.Context, o *agentOptions, r *operate.RestoreRequest) error {
	a, err := o.agent()
	if err != nil {
		return err
	}
	if err := fromCopy(a, r.FromCopy); err != nil {
		return err
	}
	ro := agentRun(r.Header)
	if r.Plan == "" {
		return exitWith(a.PlanRestore(ctx, ro, *r))
	}
	ro.UnlockStale, ro.Restore = r.UnlockStale, r
	return exitWith(a.Run(ctx, operate.OpRestore, ro))
}
