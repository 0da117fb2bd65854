package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

type checkpointOptions struct {
	operateOptions
	Reason string
	Files  bool
}

func newCheckpointCmd(f *Factory, runF func(*checkpointOptions) error) *cobra.Command {
	o := &checkpointOptions{operateOptions: newOperateOptions(f)}
	cmd := &cobra.Command{
		Use:   "checkpoint",
		Short: "Take a restore point of the databases now, tagged with the release it was taken under and the one about to be deployed",
		Long: `checkpoint backs up the app's databases now (with --files, its files too): the
ones the spec names and the SQLite files found in its volumes, with the same
dumps and checks as backup, and tags every snapshot as a restore point:
restore-point, the release devopsellence runs now (release:<revision>,
release-id:<id>, from devopsellence release list) and the revision about to be
deployed (next-release:<revision>: git's HEAD, which devopsellence deploy
labels its release with). Run it before devopsellence deploy when the app has a
release task (tasks.release, e.g. bin/rails db:migrate): devopsellence does not
reverse migrations, and restore --before-release REV restores the newest
restore point taken before REV was deployed.

Its evidence (kind checkpoint, with --reason) is stored in the repository and
shows in status. Restore points are kept by their own retention rule
(spec.checkpoint.retention: by default the last 10 and those of the last 5
releases), apart from the regular backups.` + operateExitStatus,
		Example: `  devopsellence-backup checkpoint --env production
  devopsellence-backup checkpoint --env production --reason "deploy $GITHUB_SHA" && devopsellence deploy --env production
  devopsellence-backup checkpoint --env production --files`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runCheckpoint)
		},
	}
	o.addFlags(cmd, operate.OpCheckpoint)
	cmd.Flags().StringVar(&o.Reason, "reason", "", fmt.Sprintf("why the restore point is taken, recorded in its evidence (at most %d characters)", operate.MaxReason))
	cmd.Flags().BoolVar(&o.Files, "files", false, "back up the files too, not only the databases")
	return cmd
}

func runCheckpoint(ctx context.Context, o *checkpointOptions) error {
	if err := (operate.RestorePoint{Reason: o.Reason}).Check(); err != nil {
		return usageError{err}
	}
	w, in, envs, err := o.prepare()
	if err != nil {
		return err
	}
	for _, env := range envs {
		// Without databases in the spec, the SQLite files the agent finds
		// in the volumes are the restore point (as a backup dumps them).
		if es := in.desired.Envs[env]; len(es.Databases) == 0 && len(es.Volumes) == 0 && len(es.Paths) == 0 && !o.Files {
			return usagef("checkpoint --env %s: the spec backs up no database and no volume there, so a restore point would hold nothing: add --files to take one of the files", env)
		}
	}
	next := headRevision(ctx, w.client.Env, w.dir)
	log := logr.FromContextOrDiscard(ctx)
	points := map[string]*operate.RestorePoint{}
	var findings []reconcile.Finding
	for _, env := range envs {
		p := &operate.RestorePoint{NextRelease: next, Reason: o.Reason, Files: o.Files}
		history, err := w.client.Releases(ctx, env)
		switch {
		case err != nil && ctx.Err() != nil:
			return err
		case err != nil:
			// The restore point is worth taking all the same: restore
			// --before-release finds it by its time.
			findings = append(findings, reconcile.Finding{Severity: reconcile.SeverityWarning, Code: "release_unknown", Environment: env,
				Message:     fmt.Sprintf("the release devopsellence runs in %s could not be read (%v): the restore point does not name it", env, err),
				NextActions: []reconcile.Action{{Label: "see the releases", Command: "devopsellence release list --env " + env}}})
		default:
			if i := slices.IndexFunc(history, func(r reconcile.Release) bool { return r.Current }); i >= 0 {
				p.Release, p.ReleaseID = history[i].Revision, history[i].ID
			}
		}
		if err := p.Check(); err != nil {
			// A release that cannot be a tag is left out, not guessed at.
			log.V(1).Info("release left out of the restore point", "environment", env, "reason", err.Error())
			p.Release, p.ReleaseID, p.NextRelease = tagSafe(p.Release), tagSafe(p.ReleaseID), tagSafe(p.NextRelease)
		}
		points[env] = p
	}
	runs, err := o.run(ctx, w, in, envs, func(env string) operate.RunRequest {
		return &operate.CheckpointRequest{Point: *points[env], UnlockStale: o.UnlockStale}
	})
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	return o.finish(o.operationResult(operate.OpCheckpoint, runs, findings...))
}

// tagSafe keeps a value that can be a tag, and drops one that cannot.
func tagSafe(v string) string {
	if (operate.RestorePoint{Release: v}).Check() != nil {
		return ""
	}
	return v
}
