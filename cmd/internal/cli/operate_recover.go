package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/agent"
)

// recoveryCommands browse the repository, restore from it and copy it.
func recoveryCommands(f *Factory) []*cobra.Command {
	return []*cobra.Command{
		newSnapshotsCmd(f, nil), newLsCmd(f, nil), newFindCmd(f, nil), newRestoreCmd(f, nil), newCopyCmd(f, nil), newDumpCmd(f, nil),
	}
}

const browseExitStatus = `
EXIT STATUS
  0  answered in every environment
  1  the repository could not be read somewhere (the findings say why), or error
  2  usage error or invalid input: a snapshot ID that names none of this
     app's snapshots, a folder that is not in the snapshot, a bad pattern`

// browseOptions are the options of snapshots, ls and find.
type browseOptions struct {
	operateOptions
	// Op is the question: snapshots, ls or find; Positional its arguments.
	Op         operate.Op
	Positional []string

	FromCopy  string
	Limit     int
	Offset    int
	Recursive bool
}

func (o *browseOptions) addBrowseFlags(cmd *cobra.Command, op operate.Op) {
	o.addFlags(cmd, op)
	f := cmd.Flags()
	f.StringVar(&o.FromCopy, "from-copy", "", "read the copy of this name (spec.copies) instead of the primary repository, e.g. when the primary is lost")
	switch op {
	case operate.OpSnapshots:
		f.IntVar(&o.Limit, "limit", 0, "at most this many snapshots per group, newest first (default 10)")
	case operate.OpLs:
		f.IntVar(&o.Limit, "limit", 0, "at most this many entries (default 200)")
		f.IntVar(&o.Offset, "offset", 0, "skip this many entries: the next page")
		f.BoolVar(&o.Recursive, "recursive", false, "list everything under DIR, not only its entries")
	case operate.OpFind:
		f.IntVar(&o.Limit, "limit", 0, "at most this many matches, newest snapshot first (default 100)")
	}
}

// request is the question the agent is asked.
func (o *browseOptions) request() *operate.BrowseRequest {
	r := &operate.BrowseRequest{Op: o.Op, FromCopy: o.FromCopy, Limit: o.Limit, Offset: o.Offset, Recursive: o.Recursive}
	switch o.Op {
	case operate.OpLs:
		r.Snapshot = o.Positional[0]
		if len(o.Positional) > 1 {
			r.Dir = o.Positional[1]
		}
	case operate.OpFind:
		r.Pattern = o.Positional[0]
	}
	return r
}

func (o *browseOptions) check() error {
	if o.Limit < 0 || o.Offset < 0 {
		return usagef("--limit and --offset must not be negative")
	}
	return nil
}

func newSnapshotsCmd(f *Factory, runF func(*browseOptions) error) *cobra.Command {
	o := &browseOptions{operateOptions: newOperateOptions(f), Op: operate.OpSnapshots}
	cmd := &cobra.Command{
		Use:   "snapshots",
		Short: "List this app's backups per environment: the files and each database, newest first",
		Long: `snapshots lists, inside the backup service and without a lock, this app's
snapshots (its host, tags and identity; another app's snapshots in a shared
repository are never shown), grouped: the files, then each database, newest
first, with time, size, host, their own tags and the evidence of the run that
made them (backup ok, from the schedule...). Evidence snapshots are not
backups and are not listed. A snapshot a restore took of what it overwrote
says so: it is that restore's undo.

--from-copy NAME reads the second repository of that name instead (spec.copies),
for when the primary is lost; its snapshot IDs are its own.` + browseExitStatus,
		Example: `  devopsellence-backup snapshots
  devopsellence-backup snapshots --env production --limit 30 --output json
  devopsellence-backup snapshots --from-copy offsite`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.start(f, cmd, args, runF)
		},
	}
	o.addBrowseFlags(cmd, operate.OpSnapshots)
	return cmd
}

func newLsCmd(f *Factory, runF func(*browseOptions) error) *cobra.Command {
	o := &browseOptions{operateOptions: newOperateOptions(f), Op: operate.OpLs}
	cmd := &cobra.Command{
		Use:   "ls SNAPSHOT [DIR]",
		Short: "List what a snapshot holds in a folder, as the service sees it",
		Long: `ls lists the entries of DIR in one of this app's snapshots (an ID, or at least its
first 8 characters, as snapshots shows it), with their mode, size and time.
Paths are the service's: /data/<volume>/... for a volume. Without DIR it lists
the snapshot's folder. --recursive lists everything under DIR; long listings
come a page at a time (--limit, --offset).` + browseExitStatus,
		Example: `  devopsellence-backup ls 1a2b3c4d
  devopsellence-backup ls 1a2b3c4d /data/app_storage/uploads --env production
  devopsellence-backup ls 1a2b3c4d /data/app_storage --recursive --offset 200`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.start(f, cmd, args, runF)
		},
	}
	o.addBrowseFlags(cmd, operate.OpLs)
	return cmd
}

func newFindCmd(f *Factory, runF func(*browseOptions) error) *cobra.Command {
	o := &browseOptions{operateOptions: newOperateOptions(f), Op: operate.OpFind}
	cmd := &cobra.Command{
		Use:   "find PATTERN",
		Short: "Find files by name in every backup of this app",
		Long: `find looks for PATTERN (restic find: a file name with * and ? wildcards, or a
path) in every files snapshot and dump of this app, and lists the matches,
newest snapshot first, with the snapshot to restore them from.` + browseExitStatus,
		Example: `  devopsellence-backup find invoice-2026-*.pdf
  devopsellence-backup find '*.sqlite3' --env production --output json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.start(f, cmd, args, runF)
		},
	}
	o.addBrowseFlags(cmd, operate.OpFind)
	return cmd
}

// start runs snapshots, ls or find with args, once the root has parsed the
// global flags.
func (o *browseOptions) start(f *Factory, cmd *cobra.Command, args []string, runF func(*browseOptions) error) error {
	o.bind(f, cmd)
	o.Positional = args
	return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runBrowse)
}

// runBrowse asks the agent of every environment asked for (ls and find:
// one) and prints the answers.
func runBrowse(ctx context.Context, o *browseOptions) error {
	op, positional := o.Op, o.Positional
	if op == operate.OpFind && strings.TrimSpace(positional[0]) == "" {
		return usagef("find: PATTERN must not be empty")
	}
	if op == operate.OpFind {
		if err := agent.CheckPattern(positional[0]); err != nil {
			return usagef("find: %v", err)
		}
	}
	if err := o.check(); err != nil {
		return err
	}
	w, in, envs, err := o.prepare()
	if err != nil {
		return err
	}
	if op != operate.OpSnapshots {
		env, err := oneEnv(w, in, o.Envs)
		if err != nil {
			return err
		}
		envs = []string{env}
	}
	if err := checkCopy(in, envs, o.FromCopy); err != nil {
		return err
	}
	runs, err := o.run(ctx, w, in, envs, func(string) operate.RunRequest { return o.request() })
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	doc := render.BrowseDoc{Envelope: render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.Operation},
		Findings: []reconcile.Finding{}, Environments: []render.BrowseEnv{}}
	if op != operate.OpSnapshots && len(runs) == 1 && !runs[0].stopped {
		// A snapshot or path that is not there is a question asked wrong.
		if ev := runs[0].outcome.Result; ev != nil && ev.Failure() != nil && slices.Contains(browseInputClasses, ev.Failure().Error) {
			return usagef("%s: %s", op, ev.Failure().Message)
		}
	}
	var failed []string
	for _, r := range runs {
		doc.Environments = append(doc.Environments, render.BrowseEnv{Environment: r.env, Browse: r.outcome.Browse})
		doc.Findings = append(doc.Findings, r.findings...)
		if r.outcome.Browse == nil || hasSeverity(r.findings, reconcile.SeverityError) {
			failed = append(failed, r.env)
		}
	}
	doc.OK = len(failed) == 0 && err == nil
	doc.Summary = browseSummary(op, positional, runs, failed)
	stopped := slices.ContainsFunc(runs, func(r envRun) bool { return r.stopped })
	return o.finish(func(v render.OperateView) error { return v.Browse(op, doc) }, ended(stopped, len(failed) > 0, false))
}

// browseInputClasses are answers of ls and find to a question asked wrong.
var browseInputClasses = []string{"no_snapshot", "bad_path", "bad_pattern"}

func browseSummary(op operate.Op, positional []string, runs []envRun, failed []string) string {
	var parts []string
	for _, r := range runs {
		b := r.outcome.Browse
		if b == nil {
			continue
		}
		switch op {
		case operate.OpSnapshots:
			parts = append(parts, fmt.Sprintf("%s in %s", plural(b.Total, "snapshot", "snapshots"), r.env))
		case operate.OpLs:
			parts = append(parts, fmt.Sprintf("%s in %s of snapshot %s in %s", plural(b.Total, "entry", "entries"), b.Dir, operate.ShortID(positional[0]), r.env))
		case operate.OpFind:
			parts = append(parts, fmt.Sprintf("%s for %q in %s", plural(b.Total, "match", "matches"), positional[0], r.env))
		}
	}
	if len(failed) > 0 {
		parts = append(parts, "no answer from "+strings.Join(failed, ", ")+" (see findings)")
	}
	return capitalize(strings.Join(parts, "; ")) + "."
}

// oneEnv is the one environment a command acts on: --env, or the only
// environment the spec covers.
func oneEnv(w *workspace, in *inputs, asked []string) (string, error) {
	switch {
	case len(asked) > 1:
		return "", usagef("--env: name one environment (got %s)", strings.Join(asked, ", "))
	case len(asked) == 1:
		envs, err := coveredEnvs(w, in, asked)
		if err != nil {
			return "", err
		}
		return envs[0], nil
	case len(in.desired.Covered) == 1:
		return in.desired.Covered[0], nil
	}
	return "", usagef("--env is required: %s covers %s", w.specFile, strings.Join(in.desired.Covered, ", "))
}

// checkCopy refuses a --from-copy that the spec does not define.
func checkCopy(in *inputs, envs []string, name string) error {
	if name == "" {
		return nil
	}
	for _, env := range envs {
		var names []string
		for _, c := range in.desired.Envs[env].Copies {
			names = append(names, c.Name)
		}
		if !slices.Contains(names, name) {
			return usagef("--from-copy %s: no copy of that name in spec.copies (copies: %s)", name, cmp.Or(strings.Join(names, ", "), "none"))
		}
	}
	return nil
}

type copyOptions struct {
	operateOptions
	Init bool
}

func newCopyCmd(f *Factory, runF func(*copyOptions) error) *cobra.Command {
	o := &copyOptions{operateOptions: newOperateOptions(f)}
	cmd := &cobra.Command{
		Use:   "copy",
		Short: "Copy this app's snapshots into each second repository (spec.copies)",
		Long: `copy runs restic copy inside the backup service, from the primary repository
into each copy of spec.copies, for this app's snapshots only; a snapshot a copy
already holds is skipped. backup and the scheduler run it after every backup;
run it by hand after a copy failed, or with --init to create a new copy's
repository. The result is stored as evidence, and status reports how fresh
each copy is.` + exitStatus("a copy failed"),
		Example: `  devopsellence-backup copy --init
  devopsellence-backup copy --env production`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runCopy)
		},
	}
	o.addFlags(cmd, operate.OpCopy)
	cmd.Flags().BoolVar(&o.Init, "init", false, "create a copy's repository when it does not exist yet")
	return cmd
}

func runCopy(ctx context.Context, o *copyOptions) error {
	return o.operate(ctx, operate.OpCopy, func(string) operate.RunRequest {
		return &operate.CopyRequest{Init: o.Init, UnlockStale: o.UnlockStale}
	})
}

// copyAfterBackup copies each environment's new snapshots into its
// copies, where the backup saved them, and attaches the result to the
// backup's.
func (o *backupOptions) copyAfterBackup(ctx context.Context, w *workspace, in *inputs, runs []envRun) ([]envRun, error) {
	for i := range runs {
		r := &runs[i]
		ev := r.outcome.Result
		if r.stopped || ev == nil || ev.Result == operate.ResultFailed || len(in.desired.Envs[r.env].Copies) == 0 {
			continue
		}
		copies, err := o.run(ctx, w, in, []string{r.env}, func(string) operate.RunRequest { return &operate.CopyRequest{Init: o.Init} })
		if len(copies) == 1 {
			c := copies[0]
			r.copy = &c
			r.stopped = r.stopped || c.stopped
		}
		if err != nil {
			return runs, err
		}
	}
	return runs, nil
}

// operationEnv is a run as the operation document shows it.
func operationEnv(r envRun) *render.OperationEnv {
	e := &render.OperationEnv{Environment: r.env, Result: operate.ResultFailed, ExitCode: r.outcome.ExitCode}
	if ev := r.outcome.Result; ev != nil {
		e.Result, e.Evidence = ev.Result, ev
	}
	if s := r.outcome.Stored; s != nil {
		e.EvidenceStored, e.EvidenceSnapshotID = s.Stored, s.SnapshotID
	}
	if hasSeverity(r.findings, reconcile.SeverityError) {
		e.Result = operate.ResultFailed
	}
	return e
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
