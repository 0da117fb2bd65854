package agent

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// identity is who this app's snapshots belong to.
func (a *Agent) identity() operate.Identity {
	return operate.Identity{Host: a.Config.Host, Tags: a.Config.Tags, AppID: a.Config.AppID}
}

// listOurs lists the snapshots under this app's host and tags (without a
// lock: a stale lock or a running prune does not stop a read), as the
// shared types.
func (a *Agent) listOurs(ctx context.Context, extra ...string) ([]operate.Snapshot, error) {
	tags := append(append([]string{}, a.Config.Tags...), extra...)
	list, err := a.restic.Snapshots(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{tags}, NoLock: true})
	if err != nil {
		return nil, err
	}
	out := make([]operate.Snapshot, len(list))
	for i, s := range list {
		out[i] = operate.Snapshot{ID: s.ID, Time: s.Time, Paths: s.Paths, Hostname: s.Hostname, Tags: s.Tags}
	}
	return out, nil
}

// checkParts is how many parts `--read-data-subset auto` rotates through.
func (a *Agent) checkParts() int {
	if a.Config.CheckParts > 0 {
		return a.Config.CheckParts
	}
	return operate.AutoParts
}

// check runs restic check. auto reads the next part of the data after the
// newest part a passing check verified, so successive checks cover all of
// it; a failed check records no part, so the rotation never skips one.
func (a *Agent) check(ctx context.Context, rec *recorder, o RunOptions) {
	subset := o.Subset
	if subset == "auto" {
		parts := a.checkParts()
		snaps, err := a.listOurs(ctx, operate.TagEvidence, operate.TagKind+string(operate.OpCheck))
		if err != nil {
			s := rec.begin("check", "check")
			s.fail(exitOf(err), class(err), "cannot read the earlier checks: "+message(err))
			return
		}
		subset = fmt.Sprintf("%d/%d", operate.LastCheckPart(snaps, a.identity(), parts, a.Now())+1, parts)
	}
	s := rec.begin("check", "check")
	if subset != "" {
		s.fact("subset", subset)
	}
	var res restic.CheckResult
	err := a.call(ctx, rec, o, func() error {
		var err error
		res, err = a.restic.Check(ctx, subset)
		return err
	})
	if res.NumErrors >= 0 {
		s.fact("num_errors", res.NumErrors)
	}
	if err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return
	}
	msg := "no errors were found"
	if subset != "" {
		msg += " (read data subset " + subset + ")"
		if strings.Contains(subset, "/") {
			rec.checkPart = subset
		}
	}
	s.ok(0, msg)
}

// prune forgets this app's snapshots beyond their retention, then prunes
// unreferenced data as a step of its own. The agent selects what to forget
// itself (operate.SelectForget): only what the trust rule says is this
// app's, each kind by its own retention (the undo snapshots of restores by
// spec.restore.undoRetention, never counted in spec.retention), and never
// the snapshot a recent restore brought back.
func (a *Agent) prune(ctx context.Context, rec *recorder, o RunOptions) {
	c := a.Config
	if len(c.Retention) == 0 {
		s := rec.begin("forget", "forget")
		s.fail(nil, "no_retention", "the spec sets no retention, so nothing is forgotten: set spec.retention and run devopsellence-backup apply")
		return
	}
	if c.AppID != "" && !a.adoptLegacy(ctx, rec, o) {
		return
	}
	s := rec.begin("forget", "forget")
	policies, err := a.policies(c.Retention)
	if err != nil {
		s.fail(nil, "bad_retention", err.Error()+": deploy the backup service from the spec with devopsellence-backup apply")
		return
	}
	s.fact("policy", policies[operate.KindBackups].Text)
	s.fact("undo_policy", policies[operate.KindUndo].Text)
	var sel operate.Forgetting
	err = a.call(ctx, rec, o, func() error {
		var err error
		sel, err = a.forget(ctx, a.restic, policies)
		return err
	})
	if err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return
	}
	forgotten(s, sel, policies)
	if ctx.Err() != nil {
		return
	}
	p := rec.begin("prune", "prune")
	var pr restic.PruneResult
	err = a.call(ctx, rec, o, func() error {
		var err error
		pr, err = a.restic.Prune(ctx)
		return err
	})
	if err != nil {
		p.fail(exitOf(err), class(err), message(err))
		return
	}
	p.ok(0, pr.Summary)
}

// policies is the retention of each kind of snapshot: backups (and
// evidence) by the spec's retention (or a copy's), the undo snapshots of
// restores by their own.
func (a *Agent) policies(backups []string) (map[string]operate.Policy, error) {
	b, err := operate.ParsePolicy(backups)
	if err != nil {
		return nil, err
	}
	undo := a.Config.UndoRetention
	if len(undo) == 0 {
		undo = spec.DefaultUndoRetention().Flags()
	}
	u, err := operate.ParsePolicy(undo)
	if err != nil {
		return nil, err
	}
	return map[string]operate.Policy{operate.KindBackups: b, operate.KindUndo: u}, nil
}

// forget lists this app's snapshots in the repository r, selects what the
// policies do not keep, and forgets exactly those.
func (a *Agent) forget(ctx context.Context, r forgetter, policies map[string]operate.Policy) (operate.Forgetting, error) {
	list, err := r.Snapshots(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{a.Config.Tags}, NoLock: true})
	if err != nil {
		return operate.Forgetting{}, err
	}
	sel := operate.SelectForget(toShared(list), a.identity(), policies, a.Now())
	ids := make([]string, len(sel.Forget))
	for i, s := range sel.Forget {
		ids[i] = s.ID
	}
	return sel, r.ForgetIDs(ctx, ids)
}

// forgotten records what forget did on s.
func forgotten(s *stepRun, sel operate.Forgetting, policies map[string]operate.Policy) {
	kept := sel.Considered - len(sel.Forget)
	s.fact("snapshots_before", sel.Considered)
	s.fact("snapshots_after", kept)
	msg := fmt.Sprintf("%s forgotten, %d kept (%s; undo snapshots of restores: %s)", plural(len(sel.Forget), "snapshot"), kept,
		policies[operate.KindBackups].Text, policies[operate.KindUndo].Text)
	if len(sel.Sources) > 0 {
		var ids []string
		for _, src := range sel.Sources {
			ids = append(ids, short(src.ID))
		}
		s.fact("kept_as_restore_source", strings.Join(ids, " "))
		msg += "; kept as what a recent restore brought back: " + strings.Join(ids, " ")
	}
	s.ok(0, msg)
}

// plural writes "1 snapshot", "2 snapshots".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// adoptLegacy gives this app's identity to its snapshots made before the
// tool tagged them (as status trusts them: untagged, under this app's host
// and tags, older than its first tagged one), so that forget, which
// filters by the identity, applies the retention to them too instead of
// keeping them forever. After the first prune there are none left, and
// this costs one snapshot listing. It reports whether prune may go on.
func (a *Agent) adoptLegacy(ctx context.Context, rec *recorder, o RunOptions) bool {
	var snaps []operate.Snapshot
	err := a.call(ctx, rec, o, func() error {
		var err error
		snaps, err = a.listOurs(ctx)
		return err
	})
	if err != nil {
		s := rec.begin("adopt", "forget")
		s.fail(exitOf(err), class(err), message(err))
		return false
	}
	trusted, _ := a.identity().Trusted(snaps)
	var ids []string
	for _, sn := range trusted {
		if a.identity().Owner(sn) == operate.Legacy {
			ids = append(ids, sn.ID)
		}
	}
	if len(ids) == 0 {
		return true
	}
	s := rec.begin("adopt", "forget")
	s.fact("snapshots", len(ids))
	err = a.call(ctx, rec, o, func() error { return a.restic.Tag(ctx, ids, []string{operate.TagAppID + a.Config.AppID}) })
	if err != nil {
		s.fail(exitOf(err), class(err), message(err))
		return false
	}
	s.ok(0, fmt.Sprintf("%s made before snapshots carried this app's identity now carry it, so the retention applies to them", plural(len(ids), "snapshot")))
	return true
}
