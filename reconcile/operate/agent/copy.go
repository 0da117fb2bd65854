package agent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// repoVars are the variables that name a repository and open it: a copy's
// runner gets its own, and the primary's move to RESTIC_FROM_* for restic
// copy.
var repoVars = []string{"RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE", "RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND", "RESTIC_KEY_HINT"}

// copyConfig is the spec's copy of that name.
func (a *Agent) copyConfig(name string) (spec.CopyConfig, error) {
	for _, c := range a.Config.Copies {
		if c.Name == name {
			return c, nil
		}
	}
	var names []string
	for _, c := range a.Config.Copies {
		names = append(names, c.Name)
	}
	return spec.CopyConfig{}, &stepError{class: "no_copy", msg: fmt.Sprintf("no copy named %q in the spec (copies: %s)", name, cmp.Or(strings.Join(names, ", "), "none"))}
}

// copyEnv is the service's environment with the copy as the repository.
func (a *Agent) copyEnv(c spec.CopyConfig) ([]string, error) {
	url := c.URL
	if c.URLSecret != "" {
		if url = environ.Get(a.Environ, c.URLSecret); url == "" {
			return nil, &stepError{class: "service_env", msg: "secret " + c.URLSecret + " (the repository of copy " + c.Name + ") is not set in the service: store it, then deploy with devopsellence-backup apply"}
		}
	}
	password := environ.Get(a.Environ, c.PasswordSecret)
	if password == "" {
		return nil, &stepError{class: "service_env", msg: "secret " + c.PasswordSecret + " (the password of copy " + c.Name + ") is not set in the service: store it, then deploy with devopsellence-backup apply"}
	}
	env := slices.DeleteFunc(slices.Clone(a.Environ), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(repoVars, name) || strings.HasPrefix(name, "RESTIC_FROM_")
	})
	return append(env, "RESTIC_REPOSITORY="+url, "RESTIC_PASSWORD="+password), nil
}

// fromEnv names the primary repository as restic copy's source.
func (a *Agent) fromEnv() []string {
	var out []string
	for _, name := range repoVars {
		if v := environ.Get(a.Environ, name); v != "" {
			out = append(out, "RESTIC_FROM_"+strings.TrimPrefix(name, "RESTIC_")+"="+v)
		}
	}
	return out
}

// copyRunner is a restic runner whose repository is the copy.
func (a *Agent) copyRunner(c spec.CopyConfig) (*restic.Runner, error) {
	env, err := a.copyEnv(c)
	if err != nil {
		return nil, err
	}
	return &restic.Runner{Bin: a.runner.Bin, Env: env, Dir: a.runner.Dir, Scrub: a.scrub, OnStderr: a.runner.OnStderr}, nil
}

// UseCopy makes the agent read (and write its evidence and pre-restore
// snapshots) in the copy named name instead of the primary repository:
// for when the primary is lost.
func (a *Agent) UseCopy(name string) error {
	c, err := a.copyConfig(name)
	if err != nil {
		return err
	}
	r, err := a.copyRunner(c)
	if err != nil {
		return err
	}
	a.restic, a.copy = r, c.Name
	a.Config.Repository = "copy " + c.Name + ": " + c.Repository
	return nil
}

// copyOut fills every copy with this app's snapshots (restic copy, which
// skips the ones a copy already holds). A missing copy is created with
// --init. Each copy is a step; one failing does not stop the others.
func (a *Agent) copyOut(ctx context.Context, rec *recorder, o RunOptions) {
	if len(a.Config.Copies) == 0 {
		s := rec.begin("copy", "copy")
		s.fail(nil, "no_copy", "the spec sets no copies: add spec.copies and run devopsellence-backup apply")
		return
	}
	// The source must open, or every copy fails for the same reason.
	s := rec.begin("repository", "repository")
	if err := a.call(ctx, rec, o, func() error { _, err := a.restic.Config(ctx); return err }); err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return
	}
	s.ok(0, "the primary repository opens")
	for _, c := range a.Config.Copies {
		if ctx.Err() != nil {
			return
		}
		a.copyOne(ctx, rec, o, c)
	}
}

func (a *Agent) copyOne(ctx context.Context, rec *recorder, o RunOptions, c spec.CopyConfig) {
	s := rec.begin("copy:"+c.Name, "copy")
	s.fact("repository", c.Repository)
	r, err := a.copyRunner(c)
	if err != nil {
		failStep(s, err)
		return
	}
	filter := restic.Filter{Host: a.Config.Host, Tags: [][]string{a.dataTags()}, NoLock: true}
	before, err := r.Snapshots(ctx, filter)
	if restic.ClassOf(err) == restic.ClassRepositoryMissing && o.Init {
		if err = r.Init(ctx); err == nil {
			s.fact("initialised", true)
			before, err = nil, nil
		}
	}
	if err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return
	}
	if err := a.notPrimary(ctx, r, c.Name); err != nil {
		failStep(s, err)
		return
	}
	filter.NoLock = false
	copyAll := func() error { return r.Copy(ctx, restic.CopyOptions{FromEnv: a.fromEnv(), Filter: filter}) }
	if err := unlockStale(ctx, rec, o, r, "unlock:"+c.Name, copyAll(), copyAll); err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return
	}
	filter.NoLock = true
	after, err := r.Snapshots(ctx, filter)
	if err != nil {
		s.fail(exitOf(err), class(err), "copied, but the copy could not be listed: "+message(err))
		return
	}
	s.fact("snapshots", len(after))
	s.fact("copied", len(after)-len(before))
	s.ok(0, fmt.Sprintf("%s copied; the copy holds %d of this app's", plural(len(after)-len(before), "snapshot"), len(after)))
}

// notPrimary refuses a copy that is the primary repository reached by
// another URL (a symlink, another spelling, the same bucket through
// another endpoint): both have the same repository ID, and copying into
// it is pointless while its retention would prune the primary.
func (a *Agent) notPrimary(ctx context.Context, r *restic.Runner, name string) error {
	if a.primaryID == "" {
		cfg, err := a.restic.Config(ctx)
		if err != nil {
			return err
		}
		a.primaryID = cfg.ID
	}
	cfg, err := r.Config(ctx)
	if err != nil {
		return err
	}
	if cfg.ID == a.primaryID {
		return &stepError{class: "copy_is_primary", msg: fmt.Sprintf("copy %s is the primary repository itself (both have repository ID %s), reached by another URL: nothing was copied or forgotten there. Point spec.copies[].repository at another repository", name, short(cfg.ID))}
	}
	return nil
}

// pruneCopies forgets each copy's snapshots beyond its own retention,
// then prunes it, after the primary's prune.
func (a *Agent) pruneCopies(ctx context.Context, rec *recorder, o RunOptions) {
	for _, c := range a.Config.Copies {
		if ctx.Err() != nil {
			return
		}
		s := rec.begin("forget:"+c.Name, "forget")
		if len(c.Retention) == 0 {
			s.done(resultSkipped, nil, "no_retention", "no retention for this copy, so nothing is forgotten")
			continue
		}
		r, err := a.copyRunner(c)
		if err != nil {
			failStep(s, err)
			continue
		}
		policies, err := a.policies(c.Retention)
		if err != nil {
			s.fail(nil, "bad_retention", err.Error()+": deploy the backup service from the spec with devopsellence-backup apply")
			continue
		}
		if err := a.notPrimary(ctx, r, c.Name); err != nil {
			failStep(s, err)
			continue
		}
		s.fact("policy", policies[operate.KindBackups].Text)
		s.fact("undo_policy", policies[operate.KindUndo].Text)
		var sel operate.Forgetting
		forget := func() (err error) {
			sel, err = a.forget(ctx, r, policies)
			return err
		}
		if err := unlockStale(ctx, rec, o, r, "unlock:"+c.Name, forget(), forget); err != nil {
			s.fail(exitOf(err), class(err), message(err))
			continue
		}
		forgotten(s, sel, policies)
		p := rec.begin("prune:"+c.Name, "prune")
		pr, err := r.Prune(ctx)
		if err != nil {
			p.fail(exitOf(err), class(err), message(err))
			continue
		}
		p.ok(0, pr.Summary)
	}
}

// CopyStatusTimeout bounds status's look into each copy.
const CopyStatusTimeout = time.Minute

// copiesStatus reads what each copy holds of this app, for status, and
// the newest restore evidence of each: a restore from a copy (the primary
// was lost) records its evidence in that copy.
func (a *Agent) copiesStatus(ctx context.Context, now time.Time) (out []operate.CopyData, restores []operate.EvidenceRef) {
	for _, c := range a.Config.Copies {
		d := operate.CopyData{Name: c.Name, Repository: c.Repository, Groups: []operate.SnapGroup{}}
		r, err := a.copyRunner(c)
		if err == nil {
			// restic 0.17+ retries a backend that does not answer for 15
			// minutes: a dead copy must not take status down with it.
			cctx, cancel := context.WithTimeout(ctx, CopyStatusTimeout)
			var list []restic.Snapshot
			list, err = r.Snapshots(cctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{a.Config.Tags}, NoLock: true})
			if cctx.Err() != nil && ctx.Err() == nil {
				err = &stepError{class: "timeout", msg: fmt.Sprintf("the copy did not answer within %s", CopyStatusTimeout)}
			}
			cancel()
			if err == nil {
				st := operate.Summarize(toShared(list), a.identity(), now)
				d.Snapshots, d.Groups = st.Snapshots, st.Groups
				for _, e := range st.Evidence {
					if e.Kind == string(operate.OpRestore) {
						e.Copy = c.Name
						restores = append(restores, e)
					}
				}
			}
		}
		if err != nil {
			d.Error, d.Message = class(err), message(err)
			if se, ok := err.(*stepError); ok {
				d.Error = se.class
			}
		}
		out = append(out, d)
	}
	return out, restores
}

// newestRestore puts into evidence the newest of the restores recorded in
// copies when it is newer than the primary's own last restore.
func newestRestore(evidence, restores []operate.EvidenceRef) []operate.EvidenceRef {
	own := slices.IndexFunc(evidence, func(e operate.EvidenceRef) bool { return e.Kind == string(operate.OpRestore) })
	for _, r := range restores {
		switch {
		case own < 0:
			evidence, own = append(evidence, r), len(evidence)
		case r.Time.After(evidence[own].Time):
			evidence[own] = r
		}
	}
	return evidence
}

func toShared(list []restic.Snapshot) []operate.Snapshot {
	out := make([]operate.Snapshot, len(list))
	for i, s := range list {
		out[i] = operate.Snapshot{ID: s.ID, Time: s.Time, Paths: s.Paths, Hostname: s.Hostname, Tags: s.Tags}
	}
	return out
}

// or is cmp.Or under the name the restore code (being reworked for issue
// 17) still calls; the other agent code calls cmp.Or.
func or(s, fallback string) string { return cmp.Or(s, fallback) }

// copyAfterBackup runs a scheduled copy right after a scheduled backup
// saved its snapshots. Its result does not move the backup's rhythm.
func (a *Agent) copyAfterBackup(ctx context.Context, timeout time.Duration) {
	if len(a.Config.Copies) == 0 || ctx.Err() != nil {
		return
	}
	o := scheduledRun()
	o.Timeout = timeout
	a.Out.Say("schedule: running copy")
	a.Out.Say("schedule: copy finished with exit status %d", a.Run(ctx, operate.OpCopy, o))
}
