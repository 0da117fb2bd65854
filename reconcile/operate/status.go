package operate

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// Snapshot is one snapshot as `restic snapshots --json` lists it; other
// fields are ignored.
type Snapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Paths    []string  `json:"paths"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
}

// HasTag reports whether the snapshot carries tag.
func (s Snapshot) HasTag(tag string) bool { return slices.Contains(s.Tags, tag) }

// ParseSnapshots decodes restic's snapshot list.
func ParseSnapshots(data []byte) ([]Snapshot, error) {
	var list []Snapshot
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decode restic snapshots: %w", err)
	}
	return list, nil
}

// Group is the newest snapshot of one backup group: the files, or a database.
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
	Summary    string     `json:"summary,omitempty"`
	Evidence   *Evidence  `json:"evidence,omitempty"`
}

// Report is the evidence report of one environment.
type Report struct {
	Environment    string            `json:"environment"`
	Service        string            `json:"service"`
	RepositoryType string            `json:"repository_type"`
	Repository     string            `json:"repository"`
	RepositoryID   string            `json:"repository_id,omitempty"`
	ResticVersion  string            `json:"restic_version,omitempty"`
	Host           string            `json:"host"`
	Tags           []string          `json:"tags"`
	Retention      string            `json:"retention"`
	Freshness      map[string]string `json:"freshness"`
	Backups        []Group           `json:"backups"`
	Operations     []Operation       `json:"operations"`
	MissingTools   []string          `json:"missing_tools"`
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

// Assess judges what a status run read back from the repository against the
// spec's freshness limits at time now. It is pure.
func Assess(es spec.EnvSpec, service string, out *Outcome, now time.Time) *Report {
	r := &Report{
		Environment: es.Environment, Service: service,
		RepositoryType: es.Repository.Backend(), Repository: es.Repository.Display(),
		Host: es.Host, Tags: es.Tags, Retention: "none (nothing is forgotten)",
		Freshness: map[string]string{
			string(OpBackup): es.Freshness.Backup.String(),
			string(OpCheck):  es.Freshness.Check.String(),
			string(OpDrill):  es.Freshness.Drill.String(),
		},
		MissingTools: out.MissingTools,
		Backups:      []Group{}, Operations: []Operation{}, Findings: []Finding{},
	}
	if r.MissingTools == nil {
		r.MissingTools = []string{}
	}
	if es.Retention != nil {
		r.Retention = strings.Join(es.Retention.Flags(), " ")
	}
	add := func(f Finding) {
		f.Environment = es.Environment
		r.Findings = append(r.Findings, f)
	}
	if len(out.MissingTools) > 0 {
		add(ToolMissing(es.Environment, es.Image, service, out.MissingTools))
	}
	if out.Result == nil {
		add(Finding{Severity: SeverityError, Code: "status_failed", Message: "the status script printed no result",
			NextActions: []Action{{Label: "run it again with more detail", Command: Command(OpStatus, es.Environment) + " -v 1"}}})
		return r
	}
	r.RepositoryID, r.ResticVersion = out.Result.RepositoryID, out.Result.ResticVersion
	if out.Result.Host != "" {
		r.Host, r.Tags = out.Result.Host, out.Result.Tags
	}
	if out.Result.Failure() != nil {
		for _, f := range Explain(OpStatus, es, service, out.Result) {
			add(f)
		}
		return r
	}
	snaps, err := ParseSnapshots(out.Blobs["snapshots"])
	if err != nil {
		add(Finding{Severity: SeverityError, Code: "status_failed", Message: err.Error()})
		return r
	}
	snaps = slices.DeleteFunc(snaps, func(s Snapshot) bool { return !r.owns(s) })
	limit := es.Freshness.Backup.Std()
	if paths := es.BackupPaths(); len(paths) > 0 {
		g := newest("files", "files", true, snaps, func(s Snapshot) bool {
			return s.HasTag("kind:files") && sameSet(s.Paths, paths)
		}, now, limit)
		r.Backups = append(r.Backups, g)
		if f, bad := groupFinding(g, es.Environment, limit); bad {
			add(f)
		}
	}
	for _, d := range es.Databases {
		g := newest("db:"+d.Name, "db", true, snaps, func(s Snapshot) bool {
			return s.HasTag("kind:db") && s.HasTag("db:"+d.Name) && slices.Contains(s.Paths, DumpFile(d))
		}, now, limit)
		r.Backups = append(r.Backups, g)
		if f, bad := groupFinding(g, es.Environment, limit); bad {
			add(f)
		}
	}
	for _, name := range foundDatabases(snaps) {
		g := newest("db:"+name, "db", false, snaps, func(s Snapshot) bool {
			return s.HasTag("kind:db") && s.HasTag("db:"+name)
		}, now, limit)
		r.Backups = append(r.Backups, g)
	}
	for _, kind := range EvidenceKinds() {
		r.operation(es, service, kind, out.Blobs["evidence-"+string(kind)], now, add)
	}
	return r
}

// owns is a second guard behind restic's own host and tag filters: another
// app's snapshots in a shared repository are never counted.
func (r *Report) owns(s Snapshot) bool {
	if s.Hostname != r.Host {
		return false
	}
	for _, t := range r.Tags {
		if !s.HasTag(t) {
			return false
		}
	}
	return true
}

func newest(name, kind string, declared bool, snaps []Snapshot, match func(Snapshot) bool, now time.Time, limit time.Duration) Group {
	g := Group{Name: name, Kind: kind, Declared: declared}
	var best *Snapshot
	for i := range snaps {
		if !match(snaps[i]) {
			continue
		}
		g.Snapshots++
		if best == nil || snaps[i].Time.After(best.Time) {
			best = &snaps[i]
		}
	}
	if best != nil {
		t := best.Time.UTC()
		age := int64(now.Sub(t).Seconds())
		g.SnapshotID, g.Time, g.AgeSeconds = best.ID, &t, &age
		g.Stale = now.Sub(t) > limit
	}
	return g
}

func groupFinding(g Group, env string, limit time.Duration) (Finding, bool) {
	fix := []Action{{Label: "back up now", Command: Command(OpBackup, env)}}
	switch {
	case g.Time == nil:
		return Finding{Severity: SeverityError, Code: "backup_missing",
			Message:     fmt.Sprintf("%s: no snapshot in the repository for this host and tags", g.Name),
			NextActions: fix}, true
	case g.Stale:
		return Finding{Severity: SeverityError, Code: "backup_stale",
			Message:     fmt.Sprintf("%s: the newest snapshot (%.8s) is %s old, beyond the %s limit", g.Name, g.SnapshotID, Age(*g.AgeSeconds), spec.Duration(limit)),
			NextActions: fix}, true
	}
	return Finding{}, false
}

// foundDatabases names the SQLite files that backups found in the volumes.
func foundDatabases(snaps []Snapshot) []string {
	var out []string
	for _, s := range snaps {
		for _, t := range s.Tags {
			if name, ok := strings.CutPrefix(t, "db:auto-"); ok && !slices.Contains(out, "auto-"+name) {
				out = append(out, "auto-"+name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (r *Report) operation(es spec.EnvSpec, service string, kind Op, doc []byte, now time.Time, add func(Finding)) {
	op := Operation{Kind: string(kind)}
	env := es.Environment
	fix := []Action{{Label: "run it now", Command: Command(kind, env)}}
	limit := map[Op]time.Duration{OpBackup: es.Freshness.Backup.Std(), OpCheck: es.Freshness.Check.Std(), OpDrill: es.Freshness.Drill.Std()}[kind]
	if doc == nil {
		r.Operations = append(r.Operations, op)
		switch {
		case kind == OpCheck || kind == OpDrill:
			add(Finding{Severity: SeverityError, Code: string(kind) + "_missing", Message: fmt.Sprintf("no %s evidence in the repository: no %s has been recorded", kind, kind), NextActions: fix})
		case kind == OpPrune && es.Retention != nil:
			add(Finding{Severity: SeverityInfo, Code: "prune_missing", Message: "no prune evidence: the retention policy has not been applied yet", NextActions: fix})
		}
		return
	}
	ev, err := ParseEvidence(doc)
	if err != nil {
		r.Operations = append(r.Operations, op)
		add(Finding{Severity: SeverityError, Code: "evidence_unreadable", Message: fmt.Sprintf("the newest %s evidence is not a readable document: %v", kind, err), NextActions: fix})
		return
	}
	t := ev.FinishedAt.UTC()
	age := int64(now.Sub(t).Seconds())
	op.Result, op.Time, op.AgeSeconds, op.Evidence = ev.Result, &t, &age, ev
	op.Summary = summarize(ev)
	if limit > 0 && now.Sub(t) > limit {
		op.Stale = true
	}
	// A stale backup shows in its snapshot groups already.
	if op.Stale && kind != OpBackup {
		add(Finding{Severity: SeverityError, Code: string(kind) + "_stale",
			Message:     fmt.Sprintf("the newest %s evidence is %s old, beyond the %s limit", kind, Age(age), spec.Duration(limit)),
			NextActions: fix})
	}
	switch ev.Result {
	case ResultFailed:
		f := Finding{Severity: SeverityError, Code: string(kind) + "_failed",
			Message:     fmt.Sprintf("the last %s (%s) failed", kind, t.Format(time.RFC3339)),
			NextActions: fix}
		if kind == OpPrune {
			f.Severity = SeverityWarning
		}
		for _, x := range Explain(kind, es, service, ev) {
			f.Evidence = append(f.Evidence, x.Message)
			if len(x.NextActions) > 0 {
				f.NextActions = x.NextActions
			}
		}
		add(f)
	case ResultPartial:
		add(Finding{Severity: SeverityWarning, Code: string(kind) + "_partial",
			Message:     fmt.Sprintf("the last %s (%s) saved its snapshots without some source data", kind, t.Format(time.RFC3339)),
			Evidence:    []string{op.Summary},
			NextActions: fix})
	}
	r.Operations = append(r.Operations, op)
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
