package operate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// StatusData is what the agent reads from the repository for status. It is
// small whatever the history: newest snapshots per group and newest
// evidence per kind, read from one snapshot listing (plus, at most, one
// evidence document).
type StatusData struct {
	// AgentNow is the service's clock when it answered.
	AgentNow      time.Time `json:"agent_now"`
	ResticVersion string    `json:"restic_version,omitempty"`
	// Snapshots counts this app's snapshots.
	Snapshots int         `json:"snapshots"`
	Groups    []SnapGroup `json:"groups"`
	// Evidence is the newest trusted evidence of each kind.
	Evidence []EvidenceRef `json:"evidence"`
	// Foreign counts snapshots under this app's host and tags that carry
	// another app's identity: they are ignored.
	Foreign int `json:"foreign,omitempty"`
	// Future are this app's snapshots dated after the operator's clock:
	// they are not trusted.
	Future []SnapRef `json:"future,omitempty"`
	// Next says when the scheduler runs each operation next.
	Next []Due `json:"next,omitempty"`
	// Twins maps a URL database to the service database whose server and
	// database its URL names: backups skip it, as the same database.
	Twins map[string]string `json:"twins,omitempty"`
	// Copies is what each second repository holds of this app.
	Copies []CopyData `json:"copies,omitempty"`
	// History is what the backups did day by day, over the last
	// HistoryDays days (days without a backup left out).
	History []Day `json:"history,omitempty"`
	// Restores are the restore folders found in the volumes: unfinished
	// restores, folders kept for a person, folders the agent did not make.
	Restores []RestoreFolder `json:"restores,omitempty"`
}

// RestoreFolder is a folder named like a restore's scratch folder in a
// volume, as the agent judged it.
type RestoreFolder struct {
	// Folder is the folder (an owned restore's scratch folders, spaces
	// between them).
	Folder string `json:"folder"`
	// State is unfinished, interrupted, kept or unknown.
	State    string   `json:"state"`
	Plan     string   `json:"plan,omitempty"`
	Snapshot string   `json:"snapshot,omitempty"`
	Targets  []string `json:"targets,omitempty"`
	Done     int      `json:"done,omitempty"`
	Moves    int      `json:"moves,omitempty"`
	// Why says why an unknown folder is not trusted, or why one is kept.
	Why string `json:"why,omitempty"`
}

// Restore folder states.
const (
	// RestoreUnfinished was killed while it moved paths into place: the
	// live data is partly restored until a run finishes it.
	RestoreUnfinished = "unfinished"
	// RestoreInterrupted was killed before it moved anything: the live
	// data is untouched; the next run removes the folder.
	RestoreInterrupted = "interrupted"
	// RestoreKept holds what the app wrote during a restore, which could
	// not be saved to a snapshot.
	RestoreKept = "kept"
	// RestoreUnknown is not the agent's: no journal sealed by it.
	RestoreUnknown = "unknown"
)

// SnapGroup is one backup group: the files, or one database's dumps.
type SnapGroup struct {
	Kind   string   `json:"kind"` // files or db
	DB     string   `json:"db,omitempty"`
	Paths  []string `json:"paths"`
	Count  int      `json:"count"`
	Newest *SnapRef `json:"newest,omitempty"`
}

// SnapRef names one snapshot.
type SnapRef struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Kind string    `json:"kind,omitempty"`
}

// Due is when the scheduler runs an operation next.
type Due struct {
	Kind string     `json:"kind"`
	At   *time.Time `json:"at,omitempty"`
	// Why says what decided it: "schedule", "retry after a failure", "no
	// run yet", "manual" (never by itself) or "no retention" (prune).
	Why string `json:"why"`
}

// Group is the newest snapshot of one backup group, as judged.
type Group struct {
	Name string `json:"name"`
	// Kind is files or db.
	Kind string `json:"kind"`
	// Declared is false for SQLite files found in the volumes.
	Declared   bool       `json:"declared"`
	Snapshots  int        `json:"snapshots"`
	SnapshotID string     `json:"snapshot_id,omitempty"`
	Time       *time.Time `json:"time,omitempty"`
	AgeSeconds *int64     `json:"age_seconds,omitempty"`
	Stale      bool       `json:"stale"`
}

// Operation is the newest evidence of one kind of run.
type Operation struct {
	Kind       string     `json:"kind"`
	Result     string     `json:"result,omitempty"`
	Time       *time.Time `json:"time,omitempty"`
	AgeSeconds *int64     `json:"age_seconds,omitempty"`
	Stale      bool       `json:"stale"`
	Trigger    string     `json:"trigger,omitempty"`
	Summary    string     `json:"summary,omitempty"`
	// Copy names the second repository the evidence was read from, when
	// it is not the primary (a restore from a copy).
	Copy     string    `json:"copy,omitempty"`
	Evidence *Evidence `json:"evidence,omitempty"`
	// RestorePoint is a checkpoint's: the releases it was taken between.
	RestorePoint *RestorePoint `json:"restore_point,omitempty"`
	// Next is when the scheduler runs it next (nil: never by itself).
	Next    *time.Time `json:"next,omitempty"`
	NextWhy string     `json:"next_why,omitempty"`
}

// Report is the evidence report of one environment.
type Report struct {
	Environment    string            `json:"environment"`
	Service        string            `json:"service"`
	RepositoryType string            `json:"repository_type"`
	Repository     string            `json:"repository"`
	ResticVersion  string            `json:"restic_version,omitempty"`
	AgentVersion   string            `json:"agent_version,omitempty"`
	Host           string            `json:"host"`
	Tags           []string          `json:"tags"`
	Retention      string            `json:"retention"`
	Schedule       string            `json:"schedule"`
	Freshness      map[string]string `json:"freshness"`
	Backups        []Group           `json:"backups"`
	Operations     []Operation       `json:"operations"`
	MissingTools   []string          `json:"missing_tools"`
	// Copies are the second repositories' newest snapshots.
	Copies []CopyReport `json:"copies,omitempty"`
	// History is what the backups did day by day over the last
	// HistoryDays days, for the chart of status --output markdown.
	History []Day `json:"history,omitempty"`
	// Findings go to the top of the status document, each with its environment.
	Findings []Finding `json:"-"`
}

// OK reports whether nothing is stale, missing or failed.
func (r *Report) OK() bool {
	for _, f := range r.Findings {
		if f.Severity == SeverityError || f.Severity == SeverityWarning {
			return false
		}
	}
	return true
}

// Assess judges what the agent read back from the repository against the
// spec's freshness limits at time now (the operator's clock). It is pure.
func Assess(es spec.EnvSpec, service string, out *Outcome, now time.Time) *Report {
	r := newReport(es, service)
	add := func(f Finding) {
		f.Environment = es.Environment
		r.Findings = append(r.Findings, f)
	}
	if a := out.Agent; a != nil {
		r.AgentVersion, r.ResticVersion = a.Version, a.ResticVersion
		if len(a.MissingTools) > 0 {
			r.MissingTools = a.MissingTools
			add(ToolMissing(es.Environment, es.Image, service, a.MissingTools))
		}
	}
	st := out.Status
	if st == nil {
		noStatus(es, service, out, add)
		return r
	}
	if st.ResticVersion != "" {
		r.ResticVersion = st.ResticVersion
	}
	r.History = st.History
	distrust(es, service, st, now, add)
	r.assessBackups(es, st, now, add)
	for _, kind := range EvidenceKinds() {
		if !reported(kind, es, st) {
			continue
		}
		r.operation(es, service, kind, st, now, add)
	}
	r.assessCopies(es, st, now, add)
	assessRestores(es, service, st.Restores, add)
	return r
}

// newReport is the report of env before anything is judged: what the
// spec says.
func newReport(es spec.EnvSpec, service string) *Report {
	r := &Report{
		Environment: es.Environment, Service: service,
		RepositoryType: es.Repository.Backend(), Repository: es.Repository.Display(),
		Host: es.Host, Tags: es.Tags, Retention: "none (nothing is forgotten)",
		Schedule: es.Schedule.Text(),
		Freshness: map[string]string{
			string(OpBackup): es.Freshness.Backup.String(),
			string(OpCheck):  es.Freshness.Check.String(),
			string(OpDrill):  es.Freshness.Drill.String(),
		},
		Backups: []Group{}, Operations: []Operation{}, Findings: []Finding{}, MissingTools: []string{},
	}
	if es.Retention != nil {
		r.Retention = strings.Join(es.Retention.Flags(), " ")
	}
	return r
}

// noStatus explains an answer without a status: the agent's failure, or
// nothing at all.
func noStatus(es spec.EnvSpec, service string, out *Outcome, add func(Finding)) {
	if out.Result != nil && out.Result.Failure() != nil {
		for _, f := range Explain(OpStatus, es, service, out.Result) {
			add(f)
		}
		return
	}
	add(Finding{Severity: SeverityError, Code: "status_failed", Message: "the agent returned no status",
		NextActions: []Action{{Label: "run it again with more detail", Command: Command(OpStatus, es.Environment) + " -v 1"}}})
}

// distrust warns of what makes the repository's times and names less
// than the truth: the service's clock, snapshots dated in the future, and
// snapshots under this app's host and tags that are not this app's.
func distrust(es spec.EnvSpec, service string, st *StatusData, now time.Time, add func(Finding)) {
	if skew := st.AgentNow.Sub(now); !st.AgentNow.IsZero() && (skew > FutureSlack || skew < -FutureSlack) {
		add(Finding{Severity: SeverityWarning, Code: "clock_skew",
			Message:     fmt.Sprintf("the backup service's clock is %s %s this machine's: snapshot and evidence times from it are off by as much", Age(int64(abs(skew).Seconds())), aheadOrBehind(skew)),
			NextActions: []Action{{Label: "fix the node's clock (NTP), then back up", Command: Command(OpBackup, es.Environment)}}})
	}
	if len(st.Future) > 0 {
		newest := st.Future[0]
		add(Finding{Severity: SeverityWarning, Code: "future_snapshots",
			Message: fmt.Sprintf("%d snapshot(s) of this app are dated after now (the latest %s, %s): a node with a wrong clock made them, or something else writes under this app's host and tags. They are not counted as fresh backups",
				len(st.Future), ShortID(newest.ID), newest.Time.UTC().Format(time.RFC3339)),
			NextActions: []Action{{Label: "fix the clock of the node that made them, then back up", Command: Command(OpBackup, es.Environment)}}})
	}
	if st.Foreign > 0 {
		add(Finding{Severity: SeverityWarning, Code: "foreign_snapshots",
			Message:     fmt.Sprintf("%d snapshot(s) in the repository carry this app's host and tags but are not this app's (another app's identity, or none on a snapshot newer than this app's first tagged one: written by another app or by hand): they are ignored, and prune never touches them. Give that app its own host or tags", st.Foreign),
			NextActions: []Action{{Label: "see them", Command: fmt.Sprintf("devopsellence exec %s --env %s -- restic snapshots --host %s", service, es.Environment, es.Host)}}})
	}
}

// assessBackups judges the newest snapshot of the files, of each declared
// database and of each SQLite file the agent found on its own.
func (r *Report) assessBackups(es spec.EnvSpec, st *StatusData, now time.Time, add func(Finding)) {
	limit := es.Freshness.Backup.Std()
	judge := func(g Group, declared bool) {
		r.Backups = append(r.Backups, judged(g, now, limit))
		if declared {
			if f, bad := groupFinding(r.Backups[len(r.Backups)-1], es.Environment, limit); bad {
				add(f)
			}
		}
	}
	if paths := es.BackupPaths(); len(paths) > 0 {
		judge(fromGroups("files", "files", true, st.Groups, func(g SnapGroup) bool { return g.Kind == "files" && sameSet(g.Paths, paths) }), true)
	}
	for _, d := range es.Databases {
		if twin := st.Twins[d.Name]; twin != "" {
			add(Finding{Severity: SeverityInfo, Code: "same_database", Environment: es.Environment,
				Message: fmt.Sprintf("db:%s: its URL (%s) names the server and database of db:%s, so backups dump it once, as db:%s; remove %s from spec.databases", d.Name, d.URLSecret, twin, twin, d.Name)})
			continue
		}
		g := fromGroups("db:"+d.Name, "db", true, st.Groups, func(g SnapGroup) bool {
			return g.Kind == "db" && g.DB == d.Name && slices.Contains(g.Paths, DumpFile(d))
		})
		if d.Optional && g.Time == nil {
			// The app has not created the file yet: nothing is missing.
			r.Backups = append(r.Backups, judged(g, now, limit))
			add(Finding{Severity: SeverityInfo, Code: ClassNotCreatedYet, Environment: es.Environment,
				Message:     fmt.Sprintf("db:%s: no snapshot yet; %s is optional (the app creates it when it first needs it), and a backup takes it once it exists", d.Name, d.Path),
				NextActions: []Action{{Label: "back up once the app has created it", Command: Command(OpBackup, es.Environment)}}})
			continue
		}
		judge(g, true)
	}
	for _, g := range st.Groups {
		if g.Kind == "db" && strings.HasPrefix(g.DB, "auto-") {
			judge(fromGroups("db:"+g.DB, "db", false, []SnapGroup{g}, func(SnapGroup) bool { return true }), false)
		}
	}
}

// assessRestores turns the restore folders found in the volumes into
// findings: an unfinished restore is an error until a run finishes it.
func assessRestores(es spec.EnvSpec, service string, folders []RestoreFolder, add func(Finding)) {
	env := es.Environment
	for _, f := range folders {
		switch f.State {
		case RestoreUnfinished:
			add(Finding{Severity: SeverityError, Code: "restore_unfinished",
				Message:     fmt.Sprintf("restore %s of snapshot %s was interrupted while it moved paths into place (%d of %d moves made): %s are partly restored until a run of the agent finishes it", f.Plan, ShortID(f.Snapshot), f.Done, f.Moves, strings.Join(f.Targets, " ")),
				NextActions: []Action{{Label: "finish it now: every run of the agent first finishes an interrupted restore, verifies it and records it as the restore's evidence", Command: Command(OpBackup, env)}}})
		case RestoreInterrupted:
			add(Finding{Severity: SeverityInfo, Code: "restore_interrupted",
				Message: fmt.Sprintf("restore %s of snapshot %s was interrupted before it changed anything; the next run of the agent removes its scratch folder %s", f.Plan, ShortID(f.Snapshot), f.Folder)})
		case RestoreKept:
			add(Finding{Severity: SeverityWarning, Code: "restore_kept",
				Message:     fmt.Sprintf("%s is kept: %s", f.Folder, f.Why),
				NextActions: []Action{{Label: "copy out what you need, then remove it", Command: fmt.Sprintf("devopsellence exec %s --env %s -- rm -rf %s", service, env, f.Folder)}}})
		default:
			add(Finding{Severity: SeverityWarning, Code: "restore_folder_unknown",
				Message:     fmt.Sprintf("%s is named like a restore's scratch folder, but it is not the agent's: %s. The agent leaves it alone and takes no direction from it (the app writes its volumes, so what they hold is data, never an instruction)", f.Folder, f.Why),
				NextActions: []Action{{Label: "see what it holds; if nothing needs it, remove it", Command: fmt.Sprintf("devopsellence exec %s --env %s -- ls -la %s", service, env, f.Folder)}}})
		}
	}
}

func fromGroups(name, kind string, declared bool, groups []SnapGroup, match func(SnapGroup) bool) Group {
	g := Group{Name: name, Kind: kind, Declared: declared}
	var best *SnapRef
	for _, sg := range groups {
		if !match(sg) {
			continue
		}
		g.Snapshots += sg.Count
		if sg.Newest != nil && (best == nil || sg.Newest.Time.After(best.Time)) {
			best = sg.Newest
		}
	}
	if best != nil {
		t := best.Time.UTC()
		g.SnapshotID, g.Time = best.ID, &t
	}
	return g
}

func judged(g Group, now time.Time, limit time.Duration) Group {
	if g.Time != nil {
		age := int64(now.Sub(*g.Time).Seconds())
		g.AgeSeconds = &age
		g.Stale = now.Sub(*g.Time) > limit
	}
	return g
}

func groupFinding(g Group, env string, limit time.Duration) (Finding, bool) {
	fix := []Action{{Label: "back up now", Command: Command(OpBackup, env)}}
	switch {
	case g.Time == nil:
		return Finding{Severity: SeverityError, Code: "backup_missing",
			Message:     fmt.Sprintf("%s: no snapshot in the repository for this host, tags and app", g.Name),
			NextActions: fix}, true
	case g.Stale:
		return Finding{Severity: SeverityError, Code: "backup_stale",
			Message:     fmt.Sprintf("%s: the newest snapshot (%s) is %s old, beyond the %s limit", g.Name, ShortID(g.SnapshotID), Age(*g.AgeSeconds), spec.Duration(limit)),
			NextActions: fix}, true
	}
	return Finding{}, false
}

// operation adds to r what kind's newest evidence says, and through add
// what is missing, stale, failed or partial about it.
func (r *Report) operation(es spec.EnvSpec, service string, kind Op, st *StatusData, now time.Time, add func(Finding)) {
	op := Operation{Kind: string(kind)}
	for _, d := range st.Next {
		if d.Kind == string(kind) {
			op.Next, op.NextWhy = d.At, d.Why
		}
	}
	env := es.Environment
	fix := []Action{{Label: "run it now", Command: Command(kind, env)}}
	limit := map[Op]time.Duration{OpBackup: es.Freshness.Backup.Std(), OpCheck: es.Freshness.Check.Std(), OpDrill: es.Freshness.Drill.Std()}[kind]
	var ref *EvidenceRef
	for i := range st.Evidence {
		if st.Evidence[i].Kind == string(kind) {
			ref = &st.Evidence[i]
		}
	}
	if ref == nil {
		r.Operations = append(r.Operations, op)
		switch {
		case kind == OpCheck || kind == OpDrill:
			add(Finding{Severity: SeverityError, Code: string(kind) + "_missing", Message: fmt.Sprintf("no %s evidence in the repository: no %s has been recorded", kind, kind), NextActions: fix})
		case kind == OpPrune && es.Retention != nil:
			add(Finding{Severity: SeverityInfo, Code: "prune_missing", Message: "no prune evidence: the retention policy has not been applied yet", NextActions: fix})
		}
		return
	}
	t := ref.Time.UTC()
	age := int64(now.Sub(t).Seconds())
	op.Result, op.Time, op.AgeSeconds, op.Trigger, op.Evidence = ref.Result, &t, &age, ref.Trigger, ref.Doc
	op.Summary, op.RestorePoint, op.Copy = refSummary(ref), ref.RestorePoint, ref.Copy
	if limit > 0 && now.Sub(t) > limit {
		op.Stale = true
	}
	// A stale backup shows in its snapshot groups already.
	if op.Stale && kind != OpBackup {
		add(Finding{Severity: SeverityError, Code: string(kind) + "_stale",
			Message:     fmt.Sprintf("the newest %s evidence is %s old, beyond the %s limit", kind, Age(age), spec.Duration(limit)),
			NextActions: fix})
	}
	switch ref.Result {
	case ResultFailed:
		add(failedFinding(es, service, kind, ref, fix))
	case ResultPartial:
		add(Finding{Severity: SeverityWarning, Code: string(kind) + "_partial",
			Message:     fmt.Sprintf("the last %s (%s) saved its snapshots without some source data", kind, t.Format(time.RFC3339)),
			Evidence:    []string{op.Summary},
			NextActions: fix})
	}
	r.Operations = append(r.Operations, op)
}

// refSummary says in one line how the run ref records ended.
func refSummary(ref *EvidenceRef) string {
	summary := ref.Result
	if ref.Error != "" {
		summary += ": " + ref.Error
	}
	if ref.Doc != nil {
		summary = summarize(ref.Doc)
	}
	if pt := ref.RestorePoint; pt != nil {
		summary += ": restore point " + pt.Between()
	}
	if ref.Copy != "" {
		summary += " (recorded in copy " + ref.Copy + ")"
	}
	return summary
}

// failedFinding is the finding of a failed run of kind, with its evidence
// explained and the fix it points to.
func failedFinding(es spec.EnvSpec, service string, kind Op, ref *EvidenceRef, fix []Action) Finding {
	f := Finding{Severity: SeverityError, Code: string(kind) + "_failed",
		Message:     fmt.Sprintf("the last %s (%s, %s) failed", kind, ref.Time.UTC().Format(time.RFC3339), cmp.Or(ref.Trigger, TriggerManual)),
		NextActions: fix}
	switch kind {
	case OpPrune:
		f.Severity = SeverityWarning
	case OpRestore, OpCheckpoint:
		// The command said so when it ran (a failed checkpoint stops
		// the deploy workflow before its deploy); what it left is in
		// the evidence.
		f.Severity = SeverityInfo
	}
	if ref.Error != "" {
		f.Evidence = append(f.Evidence, "error: "+ref.Error)
	}
	if ref.Doc != nil {
		for _, x := range Explain(kind, es, service, ref.Doc) {
			f.Evidence = append(f.Evidence, x.Message)
			if len(x.NextActions) > 0 {
				f.NextActions = x.NextActions
			}
		}
	} else if ref.Error != "" {
		f.NextActions = explainStep(kind, es, service, Step{Name: string(kind), Error: ref.Error}).NextActions
	}
	return f
}

// summarize says in one line what a run did.
func summarize(ev *Evidence) string {
	var parts []string
	for _, s := range ev.Steps {
		msg := s.Result
		if s.Message != "" {
			msg += ": " + s.Message
		}
		parts = append(parts, s.Name+" "+msg)
	}
	if len(parts) == 0 {
		return ev.Result
	}
	return strings.Join(parts, "; ")
}

// Age renders seconds as a short age: 45s, 12m, 5h3m, 2d4h.
func Age(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", seconds)
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func aheadOrBehind(d time.Duration) string {
	if d > 0 {
		return "ahead of"
	}
	return "behind"
}
