package cli

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

type restoreOptions struct {
	operateOptions
	// Args are the snapshot and the paths, as given.
	Args []string

	Latest   string
	Target   string
	Approve  string
	FromCopy string
	DryRun   bool
	Yes      bool
	LockWait time.Duration

	// BeforeRelease picks the newest snapshot taken before that release
	// was first deployed (restore_release.go).
	BeforeRelease string
}

func newRestoreCmd(f *Factory, runF func(*restoreOptions) error) *cobra.Command {
	o := &restoreOptions{operateOptions: newOperateOptions(f)}
	cmd := &cobra.Command{
		Use:   "restore [SNAPSHOT] [PATH...]",
		Short: "Restore a snapshot into the live app, after a plan, a fresh backup and a person's approval",
		Long: `restore follows devopsellence's rule: never restore over production data without
a fresh backup, a clear target and explicit human approval.

A clear target: SNAPSHOT is a snapshot ID (at least its first 8 characters, as
snapshots shows it), never a bare "latest"; --latest files or --latest db:NAME
picks the newest snapshot of that backup, and the plan shows its ID.
--before-release REV (a release ID, or a revision or its prefix, as
devopsellence release list shows them) picks the newest snapshot of the
database (the spec's one, or --latest db:NAME) taken before REV was first
deployed: the restore point checkpoint took before the deploy, else the newest
backup from before it. The plan names both releases. Pair it with
devopsellence release rollback to undo a migration (docs/operations.md). A files
snapshot restores its paths, or only the PATHs given, back into the live
volumes; a database dump restores into the live database.

First it prints the plan: what will be changed, deleted and added, and what is identical (file
counts and sizes), or, for a database, its tables and row counts now and in the
snapshot (read from a scratch copy when the spec gives a scratchUrlSecret).

Then a person approves: on a terminal, by typing the environment and the
snapshot the plan names; off a terminal, with --approve PLAN_ID, the ID of the
plan they reviewed (--dry-run prints the exact command). --yes is not enough.
The restore runs only if the plan is still the one approved (same snapshot,
target, files or tables: the plan's ID); the agent checks that itself.

Before anything is overwritten, exactly what will be overwritten is backed up
and found in the repository: the plan's undo. Files are restored into a scratch
folder on the same volume and moved into place, so an interrupted restore
leaves each path as it was or restored, never half; PostgreSQL restores in one
transaction, SQLite through its backup API, MySQL by an atomic table swap; each
waits at most --lock-wait (spec.restore.lockWait, default 10s) for a lock the
app holds, then gives up with nothing changed. The
result is stored as evidence; status shows the last restore.

--target DIR restores into a scratch folder in the service instead, like a
drill: no approval or backup is needed. --from-copy NAME restores from a copy
(spec.copies) when the primary repository is lost; the undo is then saved in
that copy.

EXIT STATUS
  0    restored (or, with --dry-run, the plan was shown)
  1    the restore failed or did not verify (the findings say why and where
       the undo is); or it was refused because the plan changed since it was
       approved, or the backup of what it would overwrite failed (nothing was
       changed); or error
  2    usage error, a snapshot or path that does not exist, or no approval
       of this plan (none, or --approve names another plan: it changed since
       it was reviewed): nothing was changed
  130  interrupted`,
		Example: `  devopsellence-backup snapshots --env production
  devopsellence-backup restore 1a2b3c4d /data/app_storage/uploads --env production --dry-run
  devopsellence-backup restore 1a2b3c4d /data/app_storage/uploads --env production --approve 9f8e7d6c5b4a
  devopsellence-backup restore --latest db:primary --env production
  devopsellence-backup restore --before-release 3f9c0d2 --env production --dry-run
  devopsellence-backup restore 1a2b3c4d --target /tmp/restored --env production`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.bind(f, cmd)
			o.Args = args
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runRestore)
		},
	}
	o.addFlags(cmd, operate.OpRestore)
	fl := cmd.Flags()
	fl.StringVar(&o.Latest, "latest", "", "restore the newest snapshot of files or db:NAME (the plan shows its ID)")
	fl.StringVar(&o.BeforeRelease, "before-release", "", "restore the newest snapshot taken before this release (an ID or revision from devopsellence release list) was first deployed")
	fl.StringVar(&o.Target, "target", "", "restore into this scratch folder in the service, not the live data (no approval needed)")
	fl.StringVar(&o.Approve, "approve", "", "off a terminal: the ID of the plan a person reviewed (--dry-run prints it), which approves restoring it into live data")
	fl.StringVar(&o.FromCopy, "from-copy", "", "restore from the copy of this name (spec.copies) instead of the primary repository")
	fl.BoolVar(&o.DryRun, "dry-run", false, "show the plan only")
	fl.DurationVar(&o.LockWait, "lock-wait", 0, "how long a database restore waits for a lock the app holds before it gives up, changing nothing (default: spec.restore.lockWait, 10s)")
	fl.BoolVarP(&o.Yes, "yes", "y", false, "not enough to restore into live data: use --approve")
	_ = fl.MarkHidden("yes")
	return cmd
}

// restoreInputs checks the arguments before any I/O: the snapshot (or
// --latest) and absolute paths.
func (o *restoreOptions) restoreInputs(args []string) (snapshot string, paths []string, err error) {
	switch {
	case o.BeforeRelease != "":
		if err := o.beforeReleaseInputs(args); err != nil {
			return "", nil, err
		}
		paths = args
	case o.Latest != "":
		if db, ok := strings.CutPrefix(o.Latest, "db:"); o.Latest != "files" && (!ok || db == "") {
			return "", nil, usagef("--latest %q: want files or db:NAME", o.Latest)
		}
		paths = args
	case len(args) == 0:
		return "", nil, usagef("restore: name the snapshot (devopsellence-backup snapshots lists them), or --latest files|db:NAME")
	case strings.EqualFold(args[0], "latest"):
		return "", nil, usagef("restore: a bare \"latest\" is not a clear target: use --latest files or --latest db:NAME, which resolves to an ID the plan shows")
	default:
		snapshot, paths = args[0], args[1:]
		if len(snapshot) < 8 || strings.HasPrefix(snapshot, "-") {
			return "", nil, usagef("restore: %q: give at least the first 8 characters of a snapshot ID", snapshot)
		}
	}
	for _, p := range append(slices.Clone(paths), o.Target) {
		if p != "" && (!strings.HasPrefix(p, "/") || path.Clean(p) != p) {
			return "", nil, usagef("restore: %q is not a clean absolute path inside the service (such as /data/app_storage/uploads)", p)
		}
	}
	if o.LockWait < 0 || o.LockWait > time.Hour {
		return "", nil, usagef("--lock-wait %s: want a duration up to 1h", o.LockWait)
	}
	if o.Target != "" && o.Approve != "" {
		return "", nil, usagef("--approve is for restores into live data: a --target restore needs no approval")
	}
	return snapshot, paths, nil
}

// request asks the agent for the plan of restoring snapshot (or, without
// one, the newest of --latest) and paths.
func (o *restoreOptions) request(snapshot string, paths []string) *operate.RestoreRequest {
	r := &operate.RestoreRequest{FromCopy: o.FromCopy, Target: o.Target, Snapshot: snapshot, Paths: paths}
	if snapshot == "" {
		r.Latest = o.Latest
	}
	return r
}

// inputClasses are plan failures caused by what was asked: usage errors.
var inputClasses = []string{"bad_path", "bad_target", "bad_latest", "no_snapshot", "not_in_spec", "not_restorable", "no_copy"}

func runRestore(ctx context.Context, o *restoreOptions) error {
	snapshot, paths, err := o.restoreInputs(o.Args)
	if err != nil {
		return err
	}
	w, in, _, err := o.prepare()
	if err != nil {
		return err
	}
	env, err := oneEnv(w, in, o.Envs)
	if err != nil {
		return err
	}
	if err := checkCopy(in, []string{env}, o.FromCopy); err != nil {
		return err
	}
	doc := render.RestoreDoc{Envelope: render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.Operation}, Findings: []reconcile.Finding{}, Environment: env}
	first := o.request(snapshot, paths)
	var rel *releaseRestore
	if o.BeforeRelease != "" {
		if rel, err = o.beforeRelease(ctx, w, in, env); err != nil {
			return err
		}
		first = o.request("", paths)
		first.Latest, first.Before, first.Now = rel.group, rel.deploys.First().CreatedAt, o.Now().UTC()
	}
	runs, err := o.run(ctx, w, in, []string{env}, func(string) operate.RunRequest { return first })
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	r := runs[0]
	plan := r.outcome.Plan
	doc.Plan, doc.Findings = plan, append(doc.Findings, r.findings...)
	if plan == nil || r.stopped {
		return o.noPlan(doc, r, rel)
	}
	plan.Writers = writers(in, env, plan)
	if rel != nil {
		rel.describe(plan)
	}
	if err := o.view.RestorePlan(plan); err != nil {
		return err
	}
	doc.Command = o.approveCommand(env, plan, paths)
	if o.DryRun {
		doc.OK, doc.Summary = true, fmt.Sprintf("Plan %s shown; nothing was changed (--dry-run). To carry out this plan as shown: %s", plan.ID, doc.Command)
		return o.finish(restoreResult(doc, false))
	}
	if doc.Approval, err = o.approve(ctx, env, plan, doc.Command); err != nil {
		return err
	}
	return o.carryOut(ctx, w, in, doc, plan, paths, rel)
}

// noPlan ends a restore the agent made no plan for: a usage error when
// what was asked does not exist, else the findings say why.
func (o *restoreOptions) noPlan(doc render.RestoreDoc, r envRun, rel *releaseRestore) error {
	if ev := r.outcome.Result; ev != nil && !r.stopped {
		if f := ev.Failure(); f != nil && slices.Contains(inputClasses, f.Error) {
			if rel != nil && f.Error == "no_snapshot" {
				return rel.noSnapshot(f.Message)
			}
			return usagef("restore: %s; nothing was changed", f.Message)
		}
	}
	doc.Summary = fmt.Sprintf("No restore plan in %s (see findings); nothing was changed.", doc.Environment)
	return o.finish(restoreResult(doc, r.stopped))
}

// carryOut runs the approved plan and reports how the restore ended.
func (o *restoreOptions) carryOut(ctx context.Context, w *workspace, in *inputs, doc render.RestoreDoc, plan *operate.RestorePlan, paths []string, rel *releaseRestore) error {
	env := doc.Environment
	// The agent checks again, against the plan it works out anew: the
	// plan's ID is both what must run and what was approved. The plan
	// resolved --latest: the restore names the ID.
	runs, err := o.run(ctx, w, in, []string{env}, func(string) operate.RunRequest {
		r := o.request(plan.Snapshot.ID, paths)
		r.Plan, r.LockWait, r.UnlockStale = plan.ID, o.LockWait, o.UnlockStale
		if plan.Live() {
			r.Approve = plan.ID
		}
		return r
	})
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	r := runs[0]
	doc.Result = operationEnv(r)
	doc.Findings = append(doc.Findings, r.findings...)
	if r.outcome.Plan != nil {
		doc.Plan = r.outcome.Plan
		if rel != nil {
			rel.describe(doc.Plan)
		}
	}
	doc.OK = doc.Result.Result == operate.ResultOK && !hasSeverity(doc.Findings, reconcile.SeverityError) && !r.stopped
	into := "the live data"
	if !plan.Live() {
		into = plan.Target
	}
	if doc.OK {
		doc.Summary = fmt.Sprintf("Restored snapshot %s into %s in %s.", operate.ShortID(plan.Snapshot.ID), into, env)
	} else {
		doc.Summary = fmt.Sprintf("Restore of snapshot %s into %s in %s did not complete (see findings).", operate.ShortID(plan.Snapshot.ID), into, env)
	}
	return o.finish(restoreResult(doc, r.stopped))
}

// writers are the app's services (but the backup service) that mount
// the volumes a live files restore replaces paths in.
func writers(in *inputs, env string, plan *operate.RestorePlan) []string {
	if plan.Files == nil || !plan.Live() || in.observed == nil || in.observed.App == nil {
		return nil
	}
	es := in.desired.Envs[env]
	var sources []string
	for _, p := range plan.Files.Paths {
		for _, v := range es.Volumes {
			if (p == v.Target || strings.HasPrefix(p, v.Target+"/")) && !slices.Contains(sources, v.Name) {
				sources = append(sources, v.Name)
			}
		}
	}
	var out []string
	for s := range in.observed.App.ServicesIn(env) {
		if s.Name == in.desired.Service {
			continue
		}
		for _, v := range s.Volumes {
			if slices.Contains(sources, v.Source) && !slices.Contains(out, s.Name) {
				out = append(out, s.Name)
			}
		}
	}
	return out
}

// approve asks for, or checks, a person's approval of a restore into live
// data: off a terminal, --approve names the plan they reviewed. A scratch
// restore needs none.
func (o *restoreOptions) approve(ctx context.Context, env string, plan *operate.RestorePlan, command string) (string, error) {
	id := operate.ShortID(plan.Snapshot.ID)
	switch {
	case !plan.Live():
		return "not needed (--target)", nil
	case o.Approve == plan.ID:
		return "--approve", nil
	case operate.SameSnapshot(o.Approve, plan.Snapshot.ID):
		return "", usagef("restore: --approve takes the ID of the plan a person reviewed, not a snapshot's: this restore's plan is %s (shown above). Nothing was changed; to carry it out as shown: %s", plan.ID, command)
	case o.Approve != "":
		return "", usagef("restore: --approve %s does not name this plan: the plan is now %s (shown above), so it changed since it was reviewed, or the ID is mistyped. Nothing was changed; review the plan, then, to carry it out as shown: %s", o.Approve, plan.ID, command)
	case o.IO.CanPrompt():
		want := env + " " + id
		t := &prompt.Terminal{Fd: o.IO.InFd(), Out: o.IO.Err}
		line, err := t.Line(ctx, fmt.Sprintf("This overwrites live data in %s. To restore snapshot %s as planned, type %q", env, id, want))
		if err != nil {
			return "", err
		}
		if strings.Join(strings.Fields(line), " ") != want {
			return "", usagef("restore: not approved: the answer did not match %q; nothing was changed", want)
		}
		return "terminal", nil
	case o.Yes:
		return "", usagef("restore: --yes is not enough to restore over live data: a person reviews the plan and approves it with --approve %s; nothing was changed", plan.ID)
	}
	return "", usagef("restore into live data needs a person's approval: review the plan (--dry-run), then run it again with --approve %s (or on a terminal); nothing was changed: %s", plan.ID, command)
}

// approveCommand is the command line that carries out plan as shown: the
// plan's snapshot by ID, the paths, and (into live data) its approval.
func (o *restoreOptions) approveCommand(env string, plan *operate.RestorePlan, paths []string) string {
	args := []string{"devopsellence-backup", "restore", operate.ShortID(plan.Snapshot.ID)}
	args = append(args, paths...)
	args = append(args, "--env", env)
	if o.FromCopy != "" {
		args = append(args, "--from-copy", o.FromCopy)
	}
	if o.Target != "" {
		args = append(args, "--target", o.Target)
	}
	if plan.Live() {
		args = append(args, "--approve", plan.ID)
	}
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// restoreResult is the restore's document, as finish shows it, and how it
// ended.
func restoreResult(doc render.RestoreDoc, stopped bool) (func(render.OperateView) error, ending) {
	return func(v render.OperateView) error { return v.Restore(doc) }, ended(stopped, !doc.OK, false)
}
