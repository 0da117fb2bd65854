package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// releaseRestore is what restore --before-release worked out before asking
// the agent: the release's deploys, from devopsellence's release list, and
// the backup group to restore.
type releaseRestore struct {
	env     string
	group   string
	history []reconcile.Release
	deploys reconcile.Deploys
}

// beforeReleaseInputs checks, before any I/O, what goes with
// --before-release: it picks the snapshot itself, so the arguments are
// paths only.
func (o *restoreOptions) beforeReleaseInputs(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "/") {
		return usagef("restore --before-release picks the snapshot itself: give no snapshot ID (%q), only paths of a files restore", args[0])
	}
	if o.Latest != "" && o.Latest != "files" && !strings.HasPrefix(o.Latest, "db:") {
		return usagef("--latest %q: want files or db:NAME", o.Latest)
	}
	return nil
}

// beforeRelease reads the release's deploys from devopsellence and picks the
// backup group: --latest's, else the spec's one database in env, else (a
// spec with volumes and no database) the one the backups found.
func (o *restoreOptions) beforeRelease(ctx context.Context, w *workspace, in *inputs, env string) (*releaseRestore, error) {
	r := &releaseRestore{env: env, group: o.Latest}
	if r.group == "" {
		var names []string
		for _, d := range in.desired.Envs[env].Databases {
			names = append(names, "db:"+d.Name)
		}
		switch len(names) {
		case 0:
			es := in.desired.Envs[env]
			if len(es.Volumes) == 0 && len(es.Paths) == 0 {
				return nil, usagef("restore --before-release: the spec backs up no database in %s; name the backup with --latest files", env)
			}
			// The SQLite file the backups found in the volumes.
			r.group = operate.LatestDatabase
		case 1:
			r.group = names[0]
		default:
			return nil, usagef("restore --before-release: the spec backs up %d databases in %s; name one with --latest (%s)", len(names), env, strings.Join(names, ", "))
		}
	}
	history, err := w.client.Releases(ctx, env)
	if err != nil {
		return nil, fmt.Errorf("restore --before-release: read the releases of %s: %w", env, err)
	}
	r.history = history
	if r.deploys, err = reconcile.DeploysOf(history, o.BeforeRelease); err != nil {
		if errors.Is(err, reconcile.ErrUnknownRelease) {
			return nil, usagef("restore --before-release: %v; nothing was changed. The releases of %s on this machine: devopsellence release list --env %s (run restore on the machine that deploys, where they are recorded)",
				strings.TrimSuffix(err.Error(), ": "+reconcile.ErrUnknownRelease.Error()), env, env)
		}
		return nil, err
	}
	return r, nil
}

// noSnapshot explains an agent that found nothing before the release.
func (r *releaseRestore) noSnapshot(agentMsg string) error {
	first := r.deploys.First()
	what := r.group
	if what == operate.LatestDatabase {
		what = "a database"
	}
	return usagef("restore --before-release %s: no restore point or backup of %s was taken before %s was first deployed (%s, release %s): %s; nothing was changed",
		r.deploys.Asked, what, r.deploys.Revision, first.CreatedAt.UTC().Format(time.RFC3339), first.ID, agentMsg)
}

// describe names, in the plan, the release the snapshot is from before and
// the one it was taken under, and says what a person must know: a
// release deployed several times, a restore point missing.
func (r *releaseRestore) describe(p *operate.RestorePlan) {
	d := r.deploys
	first := d.First()
	rc := &operate.ReleaseContext{Asked: d.Asked, Revision: d.Revision}
	for _, x := range d.Releases {
		rc.Deploys = append(rc.Deploys, operate.ReleaseDeploy{ReleaseID: x.ID, At: x.CreatedAt.UTC()})
	}
	s := p.Snapshot
	if pt := s.RestorePoint; pt != nil {
		rc.RestorePoint = true
		rc.Under, rc.UnderID = pt.Release, pt.ReleaseID
	}
	if rc.Under == "" {
		if u := reconcile.UnderAt(r.history, s.Time); u != nil {
			rc.Under, rc.UnderID = u.Revision, u.ID
		}
	}
	p.Release = rc
	var notes []string
	gap := first.CreatedAt.Sub(s.Time).Round(time.Second)
	if !rc.RestorePoint {
		notes = append(notes, fmt.Sprintf("no restore point was taken before %s was deployed: this is the newest backup from before it, taken %s before the deploy; what changed in between is not in it (devopsellence-backup checkpoint before each deploy takes one)",
			d.Revision, gap))
	} else if pt := s.RestorePoint; pt.NextRelease != "" && pt.NextRelease != d.Revision {
		notes = append(notes, fmt.Sprintf("this restore point was taken before %s was to be deployed, not %s: it is still the newest snapshot from before %s's deploy", pt.NextRelease, d.Revision, d.Revision))
	}
	if n := len(d.Releases); n > 1 {
		last := d.Releases[n-1]
		notes = append(notes, fmt.Sprintf("%s was deployed %d times (first %s, release %s; last %s, release %s): this is the newest snapshot from before the first deploy, so none of its release task's changes are in it",
			d.Revision, n, first.CreatedAt.UTC().Format(time.RFC3339), first.ID, last.CreatedAt.UTC().Format(time.RFC3339), last.ID))
	}
	for _, a := range d.Also {
		notes = append(notes, fmt.Sprintf("revision %s was deployed before this release too (release %s, %s), and its release task ran then: restore --before-release %s picks the snapshot from before that deploy",
			d.Revision, a.ID, a.CreatedAt.UTC().Format(time.RFC3339), d.Revision))
	}
	p.Notes = append(notes, p.Notes...)
}
