package render

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// BrowseDoc is the JSON document of snapshots, ls and find.
type BrowseDoc struct {
	Envelope
	Findings     []reconcile.Finding `json:"findings"`
	Environments []BrowseEnv         `json:"environments"`
}

// BrowseEnv is what one environment's repository answered.
type BrowseEnv struct {
	Environment string          `json:"environment"`
	Browse      *operate.Browse `json:"browse"`
}

// RestoreDoc is the JSON document of restore: the plan, how it was
// approved, and what the restore did.
type RestoreDoc struct {
	Envelope
	Findings    []reconcile.Finding  `json:"findings"`
	Environment string               `json:"environment"`
	Plan        *operate.RestorePlan `json:"plan"`
	// Approval says who allowed it: terminal, --approve, or not needed
	// (a scratch --target); empty when it did not run.
	Approval string `json:"approval,omitempty"`
	// Command carries out the plan as shown: --dry-run prints it, with the
	// plan's ID as the approval of a restore into live data.
	Command string        `json:"command,omitempty"`
	Result  *OperationEnv `json:"result,omitempty"`
}

const timeFormat = "2006-01-02 15:04Z"

// SnapshotsText lists each environment's backups, newest first.
func SnapshotsText(w io.Writer, doc BrowseDoc) error {
	var b strings.Builder
	for _, e := range doc.Environments {
		if e.Browse == nil {
			fmt.Fprintf(&b, "%s: no answer\n", e.Environment)
			continue
		}
		fmt.Fprintf(&b, "%s: %s in %s\n", e.Environment, Count(e.Browse.Total, "snapshot"), e.Browse.Repository)
		for _, g := range e.Browse.Groups {
			fmt.Fprintf(&b, "  %s  %s  (%s)\n", printable(g.Name), strings.Join(printables(g.Paths), " "), Count(g.Count, "snapshot"))
			for _, s := range g.Snapshots {
				fmt.Fprintf(&b, "    %s\n", listedLine(s))
			}
			if len(g.Snapshots) < g.Count {
				fmt.Fprintf(&b, "    ... %d older (--limit shows more)\n", g.Count-len(g.Snapshots))
			}
		}
	}
	writeFindings(&b, doc.Findings)
	fmt.Fprintf(&b, "\n%s\n", doc.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

func listedLine(s operate.Listed) string {
	parts := []string{fmt.Sprintf("%.8s  %s  %-10s", s.ID, s.Time.UTC().Format(timeFormat), size(s.Bytes))}
	if s.Files > 0 {
		parts = append(parts, Count(int(s.Files), "file"))
	}
	parts = append(parts, "host "+s.Host)
	if r := s.Run; r != nil {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Kind, r.Result, cmp.Or(r.Trigger, operate.TriggerManual)))
	}
	if s.PreRestore != "" {
		before := "taken before restore " + s.PreRestore
		if s.RestoreOf != "" {
			before += fmt.Sprintf(" (of %.8s)", s.RestoreOf)
		}
		parts = append(parts, before)
	}
	if len(s.Tags) > 0 {
		parts = append(parts, "tags "+strings.Join(printables(s.Tags), ","))
	}
	return strings.Join(parts, "  ")
}

// LsText lists one folder of a snapshot.
func LsText(w io.Writer, doc BrowseDoc) error {
	var b strings.Builder
	for _, e := range doc.Environments {
		br := e.Browse
		if br == nil || br.Snapshot == nil {
			continue
		}
		s := br.Snapshot
		fmt.Fprintf(&b, "%s: snapshot %.8s (%s, %s) in %s\n", e.Environment, s.ID, kindName(*s), s.Time.UTC().Format(timeFormat), br.Repository)
		fmt.Fprintf(&b, "%s: %s\n", printable(br.Dir), countOf(br.Total, "entry", "entries"))
		for _, en := range br.Entries {
			name := printable(en.Path)
			if en.Type == "dir" {
				name += "/"
			}
			fmt.Fprintf(&b, "  %-10s %10s  %s  %s\n", en.Mode, size(en.Size), en.MTime.UTC().Format(timeFormat), name)
		}
		if br.Shortened {
			next := br.Offset + len(br.Entries)
			fmt.Fprintf(&b, "  (entries %d to %d of %d: the next page is --offset %d)\n", br.Offset+1, next, br.Total, next)
		}
	}
	writeFindings(&b, doc.Findings)
	fmt.Fprintf(&b, "\n%s\n", doc.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

// FindText lists what find found, newest snapshot first.
func FindText(w io.Writer, doc BrowseDoc) error {
	var b strings.Builder
	for _, e := range doc.Environments {
		br := e.Browse
		if br == nil {
			continue
		}
		fmt.Fprintf(&b, "%s: %s for %q in %s\n", e.Environment, countOf(br.Total, "match", "matches"), br.Pattern, br.Repository)
		for _, m := range br.Matches {
			fmt.Fprintf(&b, "  %.8s  %s  %10s  %s\n", m.SnapshotID, m.SnapshotTime.UTC().Format(timeFormat), size(m.Size), printable(m.Path))
		}
		if br.Shortened {
			fmt.Fprintf(&b, "  (%d of %d shown: narrow the pattern or raise --limit)\n", len(br.Matches), br.Total)
		}
	}
	writeFindings(&b, doc.Findings)
	fmt.Fprintf(&b, "\n%s\n", doc.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

func kindName(s operate.Listed) string {
	if s.Kind == "db" {
		return "db:" + s.DB
	}
	return s.Kind
}

// RestorePlanText writes a restore's plan for the person who approves it.
func RestorePlanText(w io.Writer, p *operate.RestorePlan) error {
	var b strings.Builder
	s := p.Snapshot
	fmt.Fprintf(&b, "Restore plan %s (%s)\n", p.ID, p.Environment)
	fmt.Fprintf(&b, "  from:        snapshot %.8s (%s, %s, host %s) in %s\n", s.ID, kindName(s), s.Time.UTC().Format(timeFormat), s.Host, p.Repository)
	if f := p.Files; f != nil {
		into := "the live data"
		if !p.Live() {
			into = "the scratch folder " + p.Target
		}
		fmt.Fprintf(&b, "  into:        %s: %s\n", printable(into), strings.Join(printables(f.Paths), " "))
		fmt.Fprintf(&b, "  snapshot:    %s\n", counts(f.Snapshot))
		if p.Live() {
			fmt.Fprintf(&b, "  live now:    %s\n", counts(f.Live))
			fmt.Fprintf(&b, "  changed:     %s%s\n", counts(f.Changed), names(f.ChangedSample, f.Changed.Files))
			fmt.Fprintf(&b, "  identical:   %s (same size and time: they come back as they are)%s\n", counts(f.Identical), names(f.IdenticalSample, f.Identical.Files))
			fmt.Fprintf(&b, "  deleted:     %s%s\n", counts(f.Deleted), names(f.DeletedSample, f.Deleted.Files))
			fmt.Fprintf(&b, "  added:       %s%s\n", counts(f.Added), names(f.AddedSample, f.Added.Files))
			if len(f.Kept) > 0 {
				fmt.Fprintf(&b, "  kept:        %s%s\n", strings.Join(printables(f.Kept), " "), more(len(f.Kept), f.KeptCount))
			}
		}
	}
	if d := p.Database; d != nil {
		if p.Live() {
			fmt.Fprintf(&b, "  into:        the live database %s (%s, %s)\n", d.Name, d.Engine, d.Target)
			fmt.Fprintf(&b, "  now:         %s\n", tableCounts(d.Now, "no database yet"))
			fmt.Fprintf(&b, "  snapshot:    %s\n", tableCounts(d.InSnapshot, "unknown: "+d.Unknown))
			for _, t := range d.Tables {
				fmt.Fprintf(&b, "    %-32s %12s → %s\n", t.Name, rows(t.Now), rows(t.InSnapshot))
			}
			if d.MoreTables > 0 {
				fmt.Fprintf(&b, "    ... %d more tables\n", d.MoreTables)
			}
		} else {
			fmt.Fprintf(&b, "  into:        the scratch folder: %s\n", d.Target)
		}
	}
	if p.Live() && p.Files != nil {
		who := "the app"
		if len(p.Writers) > 0 {
			who = "the app (services " + strings.Join(p.Writers, ", ") + ", which mount these paths)"
		}
		fmt.Fprintf(&b, "  writes:      %s must not write to these paths while the restore runs: a file written after the undo snapshot stops the restore, nothing changed\n", who)
	}
	if p.Live() {
		b.WriteString("  undo:        first, a backup of exactly what is overwritten is saved and found in the repository; its snapshot is the undo\n")
	} else {
		b.WriteString("  live data:   not touched (a scratch restore needs no approval)\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note:        %s\n", printable(n))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RestoreText writes what a restore did, after its plan.
func RestoreText(w io.Writer, doc RestoreDoc) error {
	var b strings.Builder
	if r := doc.Result; r != nil && r.Evidence != nil {
		fmt.Fprintf(&b, "%s: restore %s in %ds\n", doc.Environment, r.Result, r.Evidence.DurationSeconds)
		for _, s := range r.Evidence.Steps {
			fmt.Fprintf(&b, "  %-24s %-8s %s\n", printable(s.Name), s.Result, printable(s.Message))
		}
		if r.EvidenceStored {
			fmt.Fprintf(&b, "  evidence stored in the repository as snapshot %.8s\n", r.EvidenceSnapshotID)
		}
	}
	writeFindings(&b, doc.Findings)
	fmt.Fprintf(&b, "\n%s\n", doc.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

func counts(c operate.Counts) string {
	return fmt.Sprintf("%s, %s", Count(int(c.Files), "file"), size(c.Bytes))
}

func names(sample []string, total int64) string {
	if len(sample) == 0 {
		return ""
	}
	more := ""
	if int64(len(sample)) < total {
		more = fmt.Sprintf(" and %d more", total-int64(len(sample)))
	}
	return ": " + strings.Join(printables(sample), " ") + more
}

func tableCounts(c *operate.TableCounts, none string) string {
	if c == nil {
		return none
	}
	return fmt.Sprintf("%s, %s", Count(c.Tables, "table"), Count(int(c.Rows), "row"))
}

func rows(n *int64) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

// size renders bytes for people ("-" for none).
func size(n int64) string {
	if n <= 0 {
		return "-"
	}
	return operate.Bytes(n)
}

func more(shown, total int) string {
	if total > shown {
		return fmt.Sprintf(" and %d more", total-shown)
	}
	return ""
}

func countOf(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
