package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// OperationDoc is the JSON document of backup, check, prune and drill.
type OperationDoc struct {
	Envelope
	Findings     []reconcile.Finding `json:"findings"`
	Environments []OperationEnv      `json:"environments"`
}

// OperationEnv is one environment's run.
type OperationEnv struct {
	Environment string `json:"environment"`
	// Result is ok, partial or failed.
	Result   string `json:"result"`
	ExitCode int    `json:"exit_code"`
	// EvidenceStored says whether the result is in the repository as evidence.
	EvidenceStored     bool              `json:"evidence_stored"`
	EvidenceSnapshotID string            `json:"evidence_snapshot_id,omitempty"`
	Evidence           *operate.Evidence `json:"evidence"`
	// Copy is the copy into the second repositories that followed a
	// backup.
	Copy *OperationEnv `json:"copy,omitempty"`
}

// StatusDoc is the JSON document of status.
type StatusDoc struct {
	Envelope
	Findings     []reconcile.Finding `json:"findings"`
	Environments []*operate.Report   `json:"environments"`
}

// OperationText writes one operation's result for people.
func OperationText(w io.Writer, op string, doc OperationDoc) error {
	var b strings.Builder
	for _, e := range doc.Environments {
		fmt.Fprintf(&b, "%s: %s %s", e.Environment, op, e.Result)
		if ev := e.Evidence; ev != nil {
			fmt.Fprintf(&b, " in %ds (restic %s, repository %s)", ev.DurationSeconds, ev.ResticVersion, ev.Repository)
		}
		b.WriteString("\n")
		if e.Evidence != nil {
			if pt := e.Evidence.RestorePoint; pt != nil {
				fmt.Fprintf(&b, "  restore point %s", pt.Between())
				if pt.Reason != "" {
					fmt.Fprintf(&b, " (%s)", pt.Reason)
				}
				b.WriteString("\n")
			}
			for _, s := range e.Evidence.Steps {
				fmt.Fprintf(&b, "  %-24s %-8s %s\n", s.Name, s.Result, s.Message)
			}
		}
		switch {
		case e.EvidenceStored:
			fmt.Fprintf(&b, "  evidence stored in the repository as snapshot %.8s\n", e.EvidenceSnapshotID)
		case e.Evidence != nil && e.Evidence.Kind != "status":
			b.WriteString("  evidence not stored (the repository could not be written)\n")
		}
		if c := e.Copy; c != nil {
			fmt.Fprintf(&b, "  then copy %s\n", c.Result)
			if c.Evidence != nil {
				for _, s := range c.Evidence.Steps {
					fmt.Fprintf(&b, "    %-22s %-8s %s\n", s.Name, s.Result, s.Message)
				}
			}
		}
	}
	writeFindings(&b, doc.Findings)
	fmt.Fprintf(&b, "\n%s\n", doc.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

// StatusText writes the evidence report for people.
func StatusText(w io.Writer, doc StatusDoc) error {
	var b strings.Builder
	for _, r := range doc.Environments {
		fmt.Fprintf(&b, "%s (service %s, host %s, tags %s)\n", r.Environment, r.Service, r.Host, strings.Join(r.Tags, ","))
		fmt.Fprintf(&b, "  repository: %s %s", r.RepositoryType, r.Repository)
		if r.ResticVersion != "" {
			fmt.Fprintf(&b, ", restic %s", r.ResticVersion)
		}
		if r.AgentVersion != "" {
			fmt.Fprintf(&b, ", agent %s", r.AgentVersion)
		}
		fmt.Fprintf(&b, "\n  retention:  %s\n", r.Retention)
		fmt.Fprintf(&b, "  schedule:   %s\n", r.Schedule)
		fmt.Fprintf(&b, "  stale after: backup %s, check %s, drill %s\n", r.Freshness["backup"], r.Freshness["check"], r.Freshness["drill"])
		if len(r.Backups) > 0 {
			b.WriteString("  newest snapshots:\n")
		}
		for _, g := range r.Backups {
			if g.Time == nil {
				fmt.Fprintf(&b, "    %-28s none\n", g.Name)
				continue
			}
			fmt.Fprintf(&b, "    %-28s %-10s %s  %.8s (%s)%s\n", g.Name, operate.Age(*g.AgeSeconds)+" old", g.Time.Format("2006-01-02 15:04Z"), g.SnapshotID, Count(g.Snapshots, "snapshot"), staleMark(g.Stale))
		}
		if len(r.Operations) > 0 {
			b.WriteString("  last runs:\n")
		}
		for _, op := range r.Operations {
			if op.Time == nil {
				fmt.Fprintf(&b, "    %-8s never%s\n", op.Kind, nextText(op))
				continue
			}
			point := ""
			if op.RestorePoint != nil {
				point = "; restore point " + op.RestorePoint.Between()
			}
			fmt.Fprintf(&b, "    %-8s %-8s %-10s %s%s%s%s\n", op.Kind, op.Result, operate.Age(*op.AgeSeconds)+" ago", op.Time.Format("2006-01-02 15:04Z"), staleMark(op.Stale), nextText(op), point)
		}
		for _, c := range r.Copies {
			fmt.Fprintf(&b, "  copy %s (%s):", c.Name, c.Repository)
			if c.Error != "" {
				fmt.Fprintf(&b, " %s\n", c.Error)
				continue
			}
			b.WriteString("\n")
			for _, g := range c.Backups {
				if g.Time == nil {
					fmt.Fprintf(&b, "    %-28s none\n", g.Name)
					continue
				}
				fmt.Fprintf(&b, "    %-28s %-10s %s  %.8s%s\n", g.Name, operate.Age(*g.AgeSeconds)+" old", g.Time.Format("2006-01-02 15:04Z"), g.SnapshotID, staleMark(g.Stale))
			}
		}
		if len(r.MissingTools) > 0 {
			fmt.Fprintf(&b, "  missing tools: %s\n", strings.Join(r.MissingTools, ", "))
		}
	}
	writeFindings(&b, doc.Findings)
	fmt.Fprintf(&b, "\n%s\n", doc.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

// nextText says when the scheduler runs an operation next.
func nextText(op operate.Operation) string {
	switch {
	case op.Next != nil:
		return fmt.Sprintf("; next %s (%s)", op.Next.Format("2006-01-02 15:04Z"), op.NextWhy)
	case op.NextWhy != "":
		return "; next: never by itself (" + op.NextWhy + ")"
	}
	return ""
}

func staleMark(stale bool) string {
	if stale {
		return "  STALE"
	}
	return ""
}

func writeFindings(b *strings.Builder, fs []reconcile.Finding) {
	if len(fs) == 0 {
		return
	}
	b.WriteString("\nFindings:\n")
	for _, f := range fs {
		if f.Environment != "" {
			f.Message = f.Environment + ": " + f.Message
		}
		writeFinding(b, f)
	}
}
