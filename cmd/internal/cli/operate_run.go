package cli

import (
	"context"
	"errors"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

const operateExitStatus = `
EXIT STATUS
  0    ok in every environment
  1    failed somewhere (the findings say why and what fixes it), or error; also a
       partial backup: a snapshot was saved without some unreadable source data
       (result "partial" and a warning finding, so it can be told from a failure)
  2    usage error or invalid input
  130  interrupted (restic was asked to stop and release its lock)`

// exitStatus is the EXIT STATUS section of check, prune, drill and copy:
// what went wrong in the words of the operation.
func exitStatus(failed string) string {
	return `
EXIT STATUS
  0    ok in every environment
  1    ` + failed + ` somewhere (the findings say why and what fixes
       it), or error; also a run that succeeded with a warning (result
       "partial"), such as its evidence not being stored in the repository
  2    usage error or invalid input
  130  interrupted (restic was asked to stop and release its lock)`
}

type backupOptions struct {
	operateOptions
	Init   bool
	NoCopy bool
}

func newBackupCmd(f *Factory, runF func(*backupOptions) error) *cobra.Command {
	o := &backupOptions{operateOptions: newOperateOptions(f)}
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Dump every database, then back up the files, in one tagged run per environment",
		Long: `backup runs inside the backup service (devopsellence exec), where the repository,
its password and the credentials are already in the environment. In one run per
environment it dumps each database of the spec into its own snapshot (postgres
with pg_dump -Fc -Z0 or plain, mysql/mariadb with --single-transaction, sqlite
through its online backup API), dumps every other SQLite file it finds in the
backed-up folders the same way, then backs up the folders without the live
database files. Every snapshot carries the spec's --host and tags plus kind:,
db: and engine: tags. A dumper that fails leaves no snapshot, never a truncated
one: restic 0.17+ runs it with --stdin-from-command, older restic backs up its
output file only after it succeeded. A snapshot saved without some unreadable
source data (restic exit 3) is reported as partial, not as a success.

The result is stored in the repository as evidence (see docs/evidence.md), so
status can read it from any machine. A missing repository is not created
unless --init is given. Afterwards the new snapshots are copied into each
copy of spec.copies (restic copy; --no-copy skips it), with evidence of its own.` + operateExitStatus,
		Example: `  devopsellence-backup backup
  devopsellence-backup backup --env production --init
  devopsellence-backup backup --output json --timeout 2h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runBackup)
		},
	}
	o.addFlags(cmd, operate.OpBackup)
	cmd.Flags().BoolVar(&o.Init, "init", false, "create the repository (and each copy's) when it does not exist yet")
	cmd.Flags().BoolVar(&o.NoCopy, "no-copy", false, "do not copy the new snapshots into the spec's copies afterwards")
	return cmd
}

func runBackup(ctx context.Context, o *backupOptions) error {
	w, in, envs, err := o.prepare()
	if err != nil {
		return err
	}
	runs, err := o.run(ctx, w, in, envs, func(string) operate.RunRequest {
		return &operate.BackupRequest{Init: o.Init, UnlockStale: o.UnlockStale}
	})
	if err == nil && !o.NoCopy {
		runs, err = o.copyAfterBackup(ctx, w, in, runs)
	}
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	return o.finish(o.operationResult(operate.OpBackup, runs))
}

// operate asks every environment for the request reqFor makes and prints
// the result.
func (o *operateOptions) operate(ctx context.Context, op operate.Op, reqFor func(env string) operate.RunRequest) error {
	w, in, envs, err := o.prepare()
	if err != nil {
		return err
	}
	runs, err := o.run(ctx, w, in, envs, reqFor)
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	return o.finish(o.operationResult(op, runs))
}

type checkOptions struct {
	operateOptions
	Subset string
}

func newCheckCmd(f *Factory, runF func(*checkOptions) error) *cobra.Command {
	o := &checkOptions{operateOptions: newOperateOptions(f)}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check the repository's integrity, reading a rotating part of the data when asked",
		Long: `check runs restic check inside the backup service. Without
--read-data-subset it checks the repository's structure (indexes, snapshots,
trees), which does not read the data packs. --read-data-subset n/t or x% also
reads that part of the data; auto reads the next of spec.check.readDataParts
parts (default ` + strconv.Itoa(operate.AutoParts) + `) after the part recorded in the newest check evidence, so
successive checks cover all the data. With spec.check.readDataParts set, auto
is the default. The result is stored as evidence.` + exitStatus("the check failed (errors in the repository) or could not run"),
		Example: `  devopsellence-backup check
  devopsellence-backup check --read-data-subset auto
  devopsellence-backup check --env production --read-data-subset 5% --unlock-stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runCheck)
		},
	}
	o.addFlags(cmd, operate.OpCheck)
	cmd.Flags().StringVar(&o.Subset, "read-data-subset", "", "also read part of the data: auto (rotate), n/t, or x%")
	return cmd
}

func runCheck(ctx context.Context, o *checkOptions) error {
	if o.Subset != "" && !operate.ValidSubset(o.Subset) {
		return usagef("--read-data-subset %q: want auto, n/t (1 <= n <= t) or x%% (0 < x <= 100)", o.Subset)
	}
	w, in, envs, err := o.prepare()
	if err != nil {
		return err
	}
	// With spec.check.readDataParts, an environment rotates through its data
	// unless --read-data-subset says otherwise.
	runs, err := o.run(ctx, w, in, envs, func(env string) operate.RunRequest {
		subset := o.Subset
		if subset == "" && in.desired.Envs[env].Check.ReadDataParts > 0 {
			subset = "auto"
		}
		return &operate.CheckRequest{Subset: subset, UnlockStale: o.UnlockStale}
	})
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	return o.finish(o.operationResult(operate.OpCheck, runs))
}

func newPruneCmd(f *Factory, runF func(*operateOptions) error) *cobra.Command {
	o := new(newOperateOptions(f))
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Forget this app's snapshots beyond the retention policy, then prune",
		Long: `prune runs restic forget with the spec's retention, filtered by the spec's
--host and tags so that it never touches another app's snapshots in a shared
repository, grouped by host and paths (so the files, each database and each
kind of evidence keep their own newest snapshots), then restic prune as a
separate step (prune removes only data no snapshot uses). The result is
stored as evidence.` + exitStatus("forget or prune failed"),
		Example: `  devopsellence-backup prune
  devopsellence-backup prune --env production --unlock-stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runPrune)
		},
	}
	o.addFlags(cmd, operate.OpPrune)
	return cmd
}

func newDrillCmd(f *Factory, runF func(*operateOptions) error) *cobra.Command {
	o := new(newOperateOptions(f))
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Restore the newest snapshots into a scratch place, verify them, clean up",
		Long: `drill restores, inside the backup service, the newest files snapshot and the
newest dump of each database, chosen by host, tags and path (never a bare
"latest"), into a scratch folder or a scratch database, and verifies them:
every backed-up folder came back and a sample of files (spec.drill.sampleFiles)
hashes the same as the live files that did not change since the snapshot;
SQLite passes PRAGMA integrity_check; postgres and mysql dumps load into a new
database on the server of the database's scratchUrlSecret with stop-on-error.
Row counts are compared with the source, and the spec's check query must give
the same output on the restored copy and the source (or its check command must
exit 0). Scratch copies are removed afterwards; live data is never a restore
target. The result is stored as evidence.` + exitStatus("the drill did not verify, or could not run"),
		Example: `  devopsellence-backup drill
  devopsellence-backup drill --env production --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runDrill)
		},
	}
	o.addFlags(cmd, operate.OpDrill)
	return cmd
}

func runPrune(ctx context.Context, o *operateOptions) error {
	return o.operate(ctx, operate.OpPrune, func(string) operate.RunRequest { return &operate.PruneRequest{UnlockStale: o.UnlockStale} })
}

func runDrill(ctx context.Context, o *operateOptions) error {
	return o.operate(ctx, operate.OpDrill, func(string) operate.RunRequest { return &operate.DrillRequest{UnlockStale: o.UnlockStale} })
}
