package agent

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// Status reads what status reports from the repository, without a lock:
// one snapshot listing (this app's host and tags) gives the newest
// snapshot of each group and the newest evidence of each kind from its
// tags, and at most one more repository open reads the whole document of
// the newest evidence that is not ok, to say why. now is the operator's
// clock (zero: the service's own): snapshots dated after it are not trusted.
func (a *Agent) Status(ctx context.Context, o RunOptions, now time.Time) int {
	if o.RunID == "" {
		o.RunID = operate.NewRunID()
	}
	// Registered, so that `agent cancel` finds it; it takes no lock.
	if err := a.Runs.Register(RunInfo{ID: o.RunID, PID: pid(), Op: string(operate.OpStatus), Trigger: operate.TriggerManual, Started: a.Now().UTC()}); errors.Is(err, ErrCancelled) {
		return operate.ExitInterrupted
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	agentNow := a.Now().UTC()
	if now.IsZero() {
		now = agentNow
	}
	rec := a.newRecorder(operate.OpStatus, o)
	info := a.Info(ctx)
	rec.ev.ResticVersion = info.ResticVersion
	var st *operate.StatusData
	snaps, err := a.listOurs(ctx)
	if err != nil {
		s := rec.begin("snapshots", "status")
		s.fail(exitOf(err), class(err), message(err))
	} else {
		data := operate.Summarize(snaps, a.identity(), now)
		data.AgentNow, data.ResticVersion = agentNow, info.ResticVersion
		data.Next = a.Runs.Planned(a.dues(snaps, agentNow), func(kind string) *time.Time {
			good, _ := operate.LastRuns(snaps, a.identity(), operate.Op(kind), agentNow)
			return good
		})
		for _, d := range a.Config.Databases {
			if twin := a.twinOf(d); twin != "" {
				if data.Twins == nil {
					data.Twins = map[string]string{}
				}
				data.Twins[d.Name] = twin
			}
		}
		var restores []operate.EvidenceRef
		data.Copies, restores = a.copiesStatus(ctx, now)
		data.Evidence = newestRestore(data.Evidence, restores)
		a.readWorst(ctx, &data)
		data.Restores = a.restoreFolders()
		st = &data
	}
	ev := rec.finish(ctx.Err() != nil)
	data := a.Out.Line(operate.Line{Type: operate.LineResult, Evidence: ev, Status: st, Agent: info})
	a.Runs.Finish(o.RunID, data)
	if !a.Out.JSON && st != nil {
		for _, g := range st.Groups {
			if g.Newest != nil {
				a.Out.Say("%s %s: %d snapshot(s), newest %s at %s", g.Kind, g.DB, g.Count, short(g.Newest.ID), g.Newest.Time.Format(time.RFC3339))
			}
		}
		for _, e := range st.Evidence {
			a.Out.Say("last %s: %s at %s", e.Kind, e.Result, e.Time.Format(time.RFC3339))
		}
	}
	return ev.ExitCode
}

// readWorst reads the document of the newest evidence that is not ok,
// preferring backup, then check, drill and prune: one repository open.
func (a *Agent) readWorst(ctx context.Context, st *operate.StatusData) {
	pick := -1
	for _, kind := range []operate.Op{operate.OpBackup, operate.OpCheck, operate.OpDrill, operate.OpPrune} {
		for i, e := range st.Evidence {
			if e.Kind == string(kind) && e.Result != operate.ResultOK && pick < 0 {
				pick = i
			}
		}
	}
	if pick < 0 {
		return
	}
	e := &st.Evidence[pick]
	var buf bytes.Buffer
	if err := a.restic.Dump(ctx, e.SnapshotID, operate.EvidencePath(operate.Op(e.Kind)), &buf); err != nil {
		return
	}
	if doc, err := operate.ParseEvidence(buf.Bytes()); err == nil {
		e.Doc = doc
	}
}
