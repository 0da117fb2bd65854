package render

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// StatusMarker is the hidden first line of the Markdown status, so a bot
// can find and update its one comment or summary.
const StatusMarker = "<!-- devopsellence-backup:status -->"

// StatusMarkdown writes the evidence report for a job summary or a comment:
// per environment, the five evidence items in a table and a Mermaid chart
// of the backups of the last operate.HistoryDays days up to now (sizes and
// durations, failed days marked), which GitHub renders.
func StatusMarkdown(w io.Writer, doc StatusDoc, now time.Time) error {
	var b strings.Builder
	icon := "✅"
	if !doc.OK {
		icon = "⛔"
	}
	fmt.Fprintf(&b, "%s\n### %s devopsellence-backup status\n\n%s\n", StatusMarker, icon, mdEscape(doc.Summary))
	for _, r := range doc.Environments {
		writeStatusEnv(&b, r, now)
	}
	if len(doc.Findings) > 0 {
		b.WriteString("\n**Findings**\n\n")
		for _, f := range doc.Findings {
			msg := f.Message
			if f.Environment != "" {
				msg = f.Environment + ": " + msg
			}
			fmt.Fprintf(&b, "- %s **%s** `%s`: %s\n", severityIcon(f.Severity), f.Severity, f.Code, mdEscape(msg))
			for _, e := range f.Evidence {
				fmt.Fprintf(&b, "  - evidence: %s\n", mdEscape(e))
			}
			for _, a := range f.NextActions {
				fmt.Fprintf(&b, "  - next: %s: `%s`\n", mdEscape(a.Label), a.Command)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// StatusErrorMarkdown is what the summary shows when status itself failed.
func StatusErrorMarkdown(w io.Writer, msg string) error {
	_, err := fmt.Fprintf(w, "%s\n### ⛔ devopsellence-backup status failed\n\n```\n%s\n```\n", StatusMarker, strings.TrimSpace(msg))
	return err
}

func writeStatusEnv(b *strings.Builder, r *operate.Report, now time.Time) {
	codes := map[string]string{}
	for _, f := range r.Findings {
		if cur, ok := codes[f.Code]; !ok || rank(f.Severity) > rank(cur) {
			codes[f.Code] = f.Severity
		}
	}
	// state is the worst severity among the findings of a row.
	state := func(row ...string) string {
		worst := ""
		for _, c := range row {
			if s, ok := codes[c]; ok && rank(s) > rank(worst) {
				worst = s
			}
		}
		if worst == "" {
			return "✅"
		}
		return severityIcon(worst)
	}
	fmt.Fprintf(b, "\n#### %s\n\n| Evidence | | |\n|---|---|---|\n", mdCell(r.Environment))

	var snaps []string
	for _, g := range r.Backups {
		if !g.Declared {
			continue
		}
		if g.Time == nil {
			snaps = append(snaps, fmt.Sprintf("`%s`: none", mdCell(g.Name)))
			continue
		}
		snaps = append(snaps, fmt.Sprintf("`%s`: %s old (%s, `%.8s`)", mdCell(g.Name), operate.Age(*g.AgeSeconds), g.Time.Format("2006-01-02 15:04Z"), g.SnapshotID))
	}
	if len(snaps) == 0 {
		snaps = []string{"not read"}
	}
	fmt.Fprintf(b, "| Newest snapshot | %s | %s |\n", strings.Join(snaps, "<br>"), state("backup_missing", "backup_stale", "backup_failed", "backup_partial"))
	fmt.Fprintf(b, "| Last check | %s | %s |\n", lastRun(r, operate.OpCheck), state("check_missing", "check_stale", "check_failed"))
	retention := "`" + mdCell(r.Retention) + "`"
	retentionState := state("prune_failed")
	if strings.HasPrefix(r.Retention, "none") {
		retention, retentionState = mdCell(r.Retention), severityIcon(reconcile.SeverityWarning)
	}
	fmt.Fprintf(b, "| Retention policy | %s | %s |\n", retention, retentionState)
	repo := fmt.Sprintf("%s, `%s`", mdCell(r.RepositoryType), mdCell(r.Repository))
	if r.ResticVersion != "" {
		repo += ", restic " + mdCell(r.ResticVersion)
	}
	repoState := "✅"
	if len(r.Backups) == 0 && len(r.Operations) == 0 {
		// The agent read nothing: the findings say why.
		repoState = severityIcon(reconcile.SeverityError)
	}
	fmt.Fprintf(b, "| Repository | %s | %s |\n", repo, repoState)
	fmt.Fprintf(b, "| Last restore drill | %s | %s |\n", lastRun(r, operate.OpDrill), state("drill_missing", "drill_stale", "drill_failed"))
	for _, op := range r.Operations {
		if op.Kind == string(operate.OpCheckpoint) && op.Time != nil {
			point := lastRun(r, operate.OpCheckpoint)
			if op.RestorePoint != nil {
				point += "; " + mdCell(op.RestorePoint.Between())
			}
			fmt.Fprintf(b, "| Last restore point | %s | %s |\n", point, state("checkpoint_failed"))
		}
	}
	writeHistoryChart(b, r, now)
}

// lastRun is one operation's newest evidence, for a table cell.
func lastRun(r *operate.Report, kind operate.Op) string {
	for _, op := range r.Operations {
		if op.Kind != string(kind) {
			continue
		}
		if op.Time == nil {
			return "never"
		}
		s := fmt.Sprintf("%s, %s ago (%s", mdCell(op.Result), operate.Age(*op.AgeSeconds), op.Time.Format("2006-01-02 15:04Z"))
		if op.Trigger != "" {
			s += ", " + mdCell(op.Trigger)
		}
		return s + ")"
	}
	return "not read"
}

// writeHistoryChart draws the backups of the last days: one chart of the
// size each day's newest good backup holds (bars), one of the longest
// run's duration (a line). A day with a failed backup is marked ✗ on the
// axis, one with a partial backup !; a day without a backup is 0.
func writeHistoryChart(b *strings.Builder, r *operate.Report, now time.Time) {
	if len(r.History) == 0 {
		fmt.Fprintf(b, "\nNo backup recorded in the last %d days.\n", operate.HistoryDays)
		return
	}
	byDate := map[string]operate.Day{}
	for _, d := range r.History {
		byDate[d.Date] = d
	}
	last := now.UTC().Truncate(24 * time.Hour)
	var labels []string
	var sizes, seconds []int64
	var failed, partial []string
	var maxBytes, maxSeconds int64
	for i := operate.HistoryDays - 1; i >= 0; i-- {
		day := last.AddDate(0, 0, -i)
		d, ok := byDate[day.Format(time.DateOnly)]
		label := day.Format("01-02")
		switch {
		case ok && d.Failed > 0:
			failed = append(failed, fmt.Sprintf("%s (%d of %d)", label, d.Failed, d.Runs))
			label += " ✗"
		case ok && d.Partial > 0:
			partial = append(partial, label)
			label += " !"
		}
		labels = append(labels, strconv.Quote(label))
		sizes, seconds = append(sizes, max(d.Bytes, 0)), append(seconds, max(d.Seconds, 0))
		maxBytes, maxSeconds = max(maxBytes, d.Bytes), max(maxSeconds, d.Seconds)
	}
	unit, div := byteUnit(maxBytes)
	tunit, tdiv := "seconds", int64(1)
	if maxSeconds >= 600 {
		tunit, tdiv = "minutes", 60
	}
	axis := strings.Join(labels, ", ")
	env := strings.ReplaceAll(r.Environment, `"`, "")
	notes := []string{fmt.Sprintf("Backups over the last %d days, from their evidence.", operate.HistoryDays)}
	if len(failed) > 0 {
		notes = append(notes, fmt.Sprintf("✗ marks a day with a failed backup: %s.", strings.Join(failed, ", ")))
	} else {
		notes = append(notes, "No backup failed.")
	}
	if len(partial) > 0 {
		notes = append(notes, fmt.Sprintf("! marks a day with a partial backup (saved without some source data): %s.", strings.Join(partial, ", ")))
	}
	fmt.Fprintf(b, "\n%s\n", strings.Join(notes, " "))
	fmt.Fprintf(b, "\n```mermaid\nxychart-beta\n    title \"%s: backed-up size (%s)\"\n    x-axis [%s]\n    y-axis \"%s\"\n    bar [%s]\n```\n",
		env, unit, axis, unit, scaled(sizes, div))
	fmt.Fprintf(b, "\n```mermaid\nxychart-beta\n    title \"%s: backup duration (%s)\"\n    x-axis [%s]\n    y-axis \"%s\"\n    line [%s]\n```\n",
		env, tunit, axis, tunit, scaled(seconds, tdiv))
}

// byteUnit picks the binary unit that shows n as a number under 1024.
func byteUnit(n int64) (string, int64) {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	div := int64(1)
	i := 0
	for n/div >= 1024 && i < len(units)-1 {
		div *= 1024
		i++
	}
	return units[i], div
}

// scaled writes each value divided by div, with at most one decimal.
func scaled(values []int64, div int64) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strconv.FormatFloat(float64(v*10/div)/10, 'f', -1, 64)
	}
	return strings.Join(out, ", ")
}

func rank(severity string) int {
	return slices.Index([]string{reconcile.SeverityInfo, reconcile.SeverityWarning, reconcile.SeverityError}, severity) + 1
}

// mdCell keeps a value from breaking a table row or opening HTML.
func mdCell(s string) string {
	return strings.ReplaceAll(mdEscape(s), "|", `\|`)
}
