package agent

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// Agent runs the operations of one environment's backups inside its
// backup service.
type Agent struct {
	Config spec.AgentConfig
	// Environ is the service's environment: where restic and the dumpers
	// find the repository, its password and every credential.
	Environ []string
	// Version is this binary's version.
	Version string
	Now     func() time.Time
	// After is the clock a run's deadline is kept on (nil: time.After).
	After func(time.Duration) <-chan time.Time
	Out   *Output
	Runs  Registry
	// HTTP sends alerts; nil uses a default client. AlertBudget is how
	// long each alert channel may take (0: 25s).
	HTTP        Doer
	AlertBudget time.Duration
	// StopGrace is how long the platform waits after asking the service
	// to stop before it kills it (0: StopGrace).
	StopGrace time.Duration

	// restic is the repository the agent works on: the primary, or the
	// copy UseCopy chose. runner is the primary's own runner, whose binary,
	// folder and stderr handling the copies' runners share.
	restic repository
	runner *restic.Runner
	scrub  func(string) string
	// creating is set for a run with --init, which creates a missing
	// repository instead of failing on it.
	creating bool
	// copy names the copy the agent reads instead of the primary (UseCopy).
	copy string
	// lastPlan is the scheduler's last plan line, said again only when it
	// changes.
	lastPlan string
	// primaryID is the primary repository's ID, once read.
	primaryID string
	// jkey seals restore journals (journal.go); nil when the service has
	// no repository password.
	jkey []byte
	// finished are the plans of interrupted restores this run finished.
	finished []string
	// afterMove, when set, is called after each move of a restore has
	// been counted (tests stop a restore there, as a kill would).
	afterMove func(done int)
}

// New reads the agent's configuration from the service's environment.
func New(env []string, version string, out *Output, now func() time.Time) (*Agent, error) {
	cfg, err := spec.ParseAgentEnv(func(k string) string { return environ.Get(env, k) })
	if err != nil {
		return nil, err
	}
	a := &Agent{Config: cfg, Environ: env, Version: version, Now: now, Out: out,
		Runs: Registry{Dir: filepath.Join(tempDir(env), "devopsellence-backup")}}
	a.scrub = newScrubber(cfg, env)
	a.jkey = journalKey(env, cfg.AppID)
	out.Scrub = a.scrub
	a.runner = &restic.Runner{Bin: "restic", Env: env, Dir: "/", Scrub: a.scrub,
		OnStderr: func(line string) {
			if a.creating && (missingRepository(line) || strings.TrimSpace(line) == a.Config.RepositoryURL) {
				return // backup --init creates it next; restic's own alarm would mislead
			}
			out.Say("restic: %s", line)
		}}
	a.restic = a.runner
	return a, nil
}

func tempDir(env []string) string {
	if d := environ.Get(env, "TMPDIR"); d != "" {
		return d
	}
	return "/tmp"
}

// RunOptions are the choices of one run: what the request asked, and who
// started it.
type RunOptions struct {
	operate.Header
	// Init creates a missing repository (backup) or copy's (copy).
	Init bool
	// UnlockStale runs `restic unlock` (stale locks only) when the
	// repository is locked, then tries once more.
	UnlockStale bool
	// Subset is check's --read-data-subset: "auto", "n/t", "x%" or "".
	Subset  string
	Trigger string
	// Tags are added to the data snapshots the run makes (the undo of a
	// restore carries its plan).
	Tags []string
	// Restore is what a restore run restores, and the plan it must match.
	Restore *operate.RestoreRequest
	// Point is what a checkpoint's restore point records (checkpoint only).
	Point *operate.RestorePoint
}

// MissingTools lists the tools the configuration needs that the service's
// PATH lacks, each as its alternatives joined by "|".
func (a *Agent) MissingTools() []string {
	var missing []string
	path := environ.Get(a.Environ, "PATH")
	for _, t := range operate.ToolsFor(a.Config.Databases) {
		found := false
		for _, c := range t.Commands {
			if lookPath(c, path) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, strings.Join(t.Commands, "|"))
		}
	}
	return missing
}

func lookPath(name, path string) bool {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil && p != "" {
			return true
		}
	}
	return false
}

// Info is what `agent version` reports.
func (a *Agent) Info(ctx context.Context) *operate.AgentInfo {
	info := &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol, MissingTools: a.MissingTools(), Schedule: a.Config.Schedule.Text()}
	if v, err := a.restic.Version(ctx); err == nil {
		info.ResticVersion = v.String()
	}
	return info
}

// Run runs one operation to its end and prints its result; it returns the
// exit status: ExitOK, ExitPartial, ExitFailed, or ExitInterrupted (by
// `agent cancel`, a signal, or its deadline).
func (a *Agent) Run(ctx context.Context, op operate.Op, o RunOptions) int {
	if o.RunID == "" {
		o.RunID = operate.NewRunID()
	}
	if o.Trigger == "" {
		o.Trigger = operate.TriggerManual
	}
	me := RunInfo{ID: o.RunID, PID: pid(), Op: string(op), Trigger: o.Trigger, Started: a.Now().UTC()}
	rec := a.newRecorder(op, o)
	a.creating = o.Init
	if err := a.Runs.Register(me); err != nil {
		if errors.Is(err, ErrStopping) {
			a.Out.Say("%s: not started: %v", op, err)
		}
		if errors.Is(err, ErrCancelled) {
			// Cancelled before it started: nothing ran, nothing to tell.
			return a.report(rec, o, true)
		}
		a.Out.Say("%s: %v", op, err)
	}
	defer a.Runs.Finish(o.RunID, nil)
	a.Runs.Sweep(a.Now())
	parent := ctx
	ctx, cancel := a.deadline(ctx, o.Timeout)
	defer cancel()
	var holder RunInfo
	lock, err := a.Runs.Acquire(ctx, me, func(h RunInfo) {
		holder = h
		msg := fmt.Sprintf("waiting for the %s run %s (%s, started %s) to finish", h.Op, h.ID, h.Trigger, h.Started.Format(time.RFC3339))
		a.Out.Say("%s: %s", op, msg)
		a.Out.Line(operate.Line{Type: operate.LineWaiting, Message: msg})
	})
	switch {
	case err != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		// Another run held the service until this one's deadline: a run
		// that failed, which a person must hear of.
		rec.started = true
		s := rec.begin("lock", "service")
		s.fail(nil, "busy", fmt.Sprintf("another run of this service (%s %s, %s, started %s) held it until this run's deadline", holder.Op, holder.ID, holder.Trigger, holder.Started.Format(time.RFC3339)))
		return a.report(rec, o, false)
	case err != nil:
		// Stopped while waiting: it never started.
		rec.ev.InterruptedBy = a.interruptedBy(parent, ctx, o.RunID)
		return a.report(rec, o, true)
	}
	defer lock.Release()
	rec.started = true
	v, err := a.restic.Version(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s := rec.begin("service", "service")
		s.fact("tool", "restic")
		s.fail(code(operate.ExitNotFound), "tool_missing", "restic does not run in the service: "+err.Error())
	case err == nil:
		rec.ev.ResticVersion = v.String()
		a.pingStart(ctx, rec)
		a.operate(ctx, rec, op, o)
	}
	if ctx.Err() != nil {
		rec.ev.InterruptedBy = a.interruptedBy(parent, ctx, o.RunID)
	}
	return a.report(rec, o, ctx.Err() != nil)
}

// interruptedBy says what ended ctx, the context of run id under parent.
func (a *Agent) interruptedBy(parent, ctx context.Context, id string) string {
	_, stopping := a.Runs.Stopping()
	switch {
	case parent.Err() == nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		return operate.InterruptedDeadline
	case a.Runs.Cancelled(id):
		return operate.InterruptedCancel
	case stopping:
		return operate.InterruptedServiceStop
	}
	return operate.InterruptedSignal
}

// deadline is ctx ended, with context.DeadlineExceeded as its cause, once
// d has passed on the agent's clock (d 0: no deadline). Tests end a run at
// its deadline at the moment they choose, not when the machine gets there.
func (a *Agent) deadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	after := a.After
	if after == nil {
		after = time.After
	}
	ctx, cancel := context.WithCancelCause(ctx)
	expired := after(d)
	go func() {
		select {
		case <-ctx.Done():
		case <-expired:
			cancel(context.DeadlineExceeded)
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

func (a *Agent) operate(ctx context.Context, rec *recorder, op operate.Op, o RunOptions) {
	// A restore killed while it moved paths into place is finished first:
	// nothing may see a volume half swapped.
	a.finished = a.finishSwaps(ctx, o)
	switch op {
	case operate.OpBackup:
		a.backup(ctx, rec, o)
	case operate.OpCheckpoint:
		a.checkpoint(ctx, rec, o)
	case operate.OpCheck:
		a.check(ctx, rec, o)
	case operate.OpPrune:
		a.prune(ctx, rec, o)
		a.pruneCopies(ctx, rec, o)
	case operate.OpCopy:
		a.copyOut(ctx, rec, o)
	case operate.OpRestore:
		a.restore(ctx, rec, o)
	case operate.OpDrill:
		a.drill(ctx, rec, o)
	}
}

func (a *Agent) newRecorder(op operate.Op, o RunOptions) *recorder {
	c := a.Config
	return &recorder{now: a.Now, out: a.Out, scrub: a.scrub, ev: &operate.Evidence{
		SchemaVersion: operate.EvidenceSchema, Kind: string(op), Environment: c.Environment, Service: c.Service,
		Host: c.Host, Tags: c.Tags, Repository: c.Repository, AgentVersion: a.Version, AppID: c.AppID,
		RunID: o.RunID, Trigger: o.Trigger, StartedAt: a.Now().UTC(), Steps: []operate.Step{}, Copy: a.copy,
	}}
}

// Deadlines of what a finished run still owes: each alert channel, then
// its evidence.
// They are fresh, since the run's own context may be over; an interrupted
// run's evidence gets less, since its backend may be what hung.
const (
	unlockBudget      = 10 * time.Second
	alertBudget       = 25 * time.Second
	evidenceWait      = 30 * time.Second
	evidenceWaitAfter = 10 * time.Second
)

// report closes the evidence of a run that started: it sends the alerts,
// stores the evidence (unless the repository cannot take it), and prints
// the result line. A run that never started (cancelled first) only says so.
func (a *Agent) report(rec *recorder, o RunOptions, interrupted bool) int {
	if interrupted && rec.ev.ResticVersion != "" && !rec.repoUnusable {
		a.releaseLocks()
	}
	ev := rec.finish(interrupted)
	line := operate.Line{Type: operate.LineResult, Evidence: ev, Plan: rec.plan,
		Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol, ResticVersion: ev.ResticVersion}}
	if rec.started && ev.Kind != string(operate.OpStatus) {
		alerts, wait, grace := a.finishBudget(interrupted)
		actx, cancel := context.WithTimeout(context.Background(), alerts)
		a.alert(actx, ev)
		cancel()
		if r, ok := a.restic.(*restic.Runner); ok && grace > 0 {
			r.Grace = grace
		}
		sctx, cancel := context.WithTimeout(context.Background(), wait)
		line.Stored = a.storeEvidence(sctx, rec)
		cancel()
	}
	data := a.Out.Line(line)
	if !a.Out.JSON {
		a.Out.Say("%s: %s", ev.Kind, ev.Result)
	}
	a.Runs.Finish(o.RunID, data)
	return ev.ExitCode
}

// releaseLocks removes, after an interrupted run, the lock a restic it
// stopped may have left: restic 0.14 to 0.16 exit from their signal
// handler, and one stopped while it was still taking its lock leaves that
// lock behind with its process gone. restic unlock removes only such stale
// locks (a process gone from this host, or 30 minutes without a refresh),
// never a live run's.
func (a *Agent) releaseLocks() {
	ctx, cancel := context.WithTimeout(context.Background(), unlockBudget)
	defer cancel()
	if _, err := a.restic.Unlock(ctx); err != nil {
		a.Out.Say("could not remove a lock the interrupted restic may have left: %s", message(err))
	}
}

// storeEvidence saves the document as its own snapshot: a fixed path per
// kind, this app's host and tags, and a summary in tags (result, trigger,
// run, error) that status and the scheduler read without opening it. Its
// time is restic's own (to the nanosecond; --time would round to the
// second and let two quick runs tie).
func (a *Agent) storeEvidence(ctx context.Context, rec *recorder) *operate.Stored {
	ev := rec.ev
	st := &operate.Stored{Kind: ev.Kind}
	if rec.repoUnusable {
		st.Message = "the repository cannot be written (missing, or the password does not open it), so the evidence is only in this result"
		return st
	}
	doc, err := jsonMarshal(ev)
	if err != nil {
		st.Error, st.Message = "failed", err.Error()
		return st
	}
	c := a.Config
	tags := append(slices.Clone(c.Tags), operate.EvidenceTags(ev, c.AppID, ev.RunID, rec.checkPart)...)
	if rec.plan != nil {
		// Prune keeps what a recent restore brought back.
		tags = append(tags, operate.TagRestoreOf+rec.plan.Snapshot.ID)
	}
	sum, err := a.restic.Backup(ctx, restic.BackupOptions{
		Host: c.Host, Tags: tags, StdinFilename: strings.TrimPrefix(operate.EvidencePath(operate.Op(ev.Kind)), "/"),
		Stdin: strings.NewReader(string(doc)), Quiet: true,
	}, nil)
	if err != nil {
		var re *restic.Error
		st.Error, st.Message = "failed", err.Error()
		if errors.As(err, &re) {
			st.Error, st.Message = string(re.Class), re.Message
		}
		return st
	}
	st.Stored, st.SnapshotID = true, sum.SnapshotID
	return st
}

// missingRepository recognises restic's lines about a repository that
// does not exist yet.
func missingRepository(line string) bool {
	return strings.Contains(line, "unable to open config file") || strings.Contains(line, "Is there a repository at the following location?") ||
		strings.Contains(line, "repository does not exist")
}
