package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// MaxComment is the most a GitHub comment body may hold (65,536 characters),
// less room for the rest of the comment.
const MaxComment = 60000

// PlanMarkdown writes the plan as Markdown for a pull request comment or a job
// summary. When the whole diff would make the document longer than limit
// bytes, the diff is cut and the document says so.
func PlanMarkdown(w io.Writer, p *reconcile.Plan, limit int) error {
	var head, tail strings.Builder
	icon := "✅"
	if !p.InSync() {
		icon = "📝"
	}
	if p.Blocked(nil) != nil {
		icon = "⛔"
	}
	fmt.Fprintf(&head, "%s\n### %s devopsellence-backup plan\n\n%s\n\n", PlanMarker, icon, Summary(p))

	head.WriteString("| Environment | Covered | Secrets stored | Secrets missing | Deploy |\n|---|---|---|---|---|\n")
	for _, e := range p.Environments {
		head.WriteString(envRow(p, e))
	}
	switch {
	case p.ConfigOnly:
		head.WriteString("\n" + checksRun)
	case !p.SecretsChecked:
		head.WriteString("\nSecrets and nodes were not checked (see findings).\n")
	}

	if len(p.Findings) > 0 {
		tail.WriteString("\n**Findings**\n\n")
		mdFindings(&tail, p.Findings)
	}

	body := diffDetails(p, limit-head.Len()-tail.Len())
	_, err := io.WriteString(w, head.String()+body+tail.String())
	return err
}

// envRow is an environment's row in the plan's table: covered, its
// secrets stored and missing, and whether it deploys.
func envRow(p *reconcile.Plan, e reconcile.EnvPlan) string {
	var stored, missing []string
	for _, s := range e.Secrets {
		switch s.Status {
		case reconcile.StatusPresent:
			stored = append(stored, "`"+s.Name+"`")
		case reconcile.StatusMissing:
			missing = append(missing, "`"+s.Name+"`")
		}
	}
	deploy := "no"
	switch {
	case p.ConfigOnly && !e.Inert:
		deploy = "not checked here"
	case e.Deploy:
		deploy = "yes: " + e.DeployReason
	case e.Inert && e.Covered:
		deploy = "no: " + e.DeployReason
	}
	cov := "yes"
	if !e.Covered {
		cov, deploy = "no", "no"
	}
	storedCell, missingCell := orDash(stored), orDash(missing)
	if !p.SecretsChecked && e.Covered && len(e.Secrets) > 0 {
		storedCell, missingCell = "not checked here", "not checked here"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", e.Name, cov, storedCell, missingCell, deploy)
}

// mdFindings lists findings in Markdown, with their evidence and next actions.
func mdFindings(w *strings.Builder, findings []reconcile.Finding) {
	for _, f := range findings {
		fmt.Fprintf(w, "- %s **%s** `%s`: %s\n", severityIcon(f.Severity), f.Severity, f.Code, mdEscape(f.Message))
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "  - evidence: %s\n", mdEscape(e))
		}
		for _, a := range f.NextActions {
			fmt.Fprintf(w, "  - next: %s: `%s`\n", mdEscape(a.Label), a.Command)
		}
	}
}

// diffDetails is the plan's diff in a folded section, cut to fit in room
// bytes (less a margin) with a note saying so.
func diffDetails(p *reconcile.Plan, room int) string {
	diff := strings.ReplaceAll(Diff(p), "\r", "")
	if diff == "" {
		return fmt.Sprintf("\n`%s` does not change.\n", p.ConfigFile)
	}
	lines := strings.Count(diff, "\n")
	open := fmt.Sprintf("\n<details><summary>Diff of <code>%s</code> (%s)</summary>\n\n```diff\n", p.ConfigFile, Count(lines, "line"))
	closing := "```\n\n</details>\n"
	room -= len(open) + len(closing) + 400
	if len(diff) <= room {
		return open + diff + closing
	}
	cut := diff[:max(room, 0)]
	if i := strings.LastIndexByte(cut, '\n'); i >= 0 {
		cut = cut[:i+1]
	}
	shown := strings.Count(cut, "\n")
	return fmt.Sprintf("%s%s```\n\n**The diff is too long for a comment: %d of %d lines shown.** Run `devopsellence-backup plan` or read the job summary for the whole diff.\n\n</details>\n", open, cut, shown, lines)
}

// checksRun says, in a plan from the files alone, which checks ran where.
const checksRun = "**Checked here** (from the files alone): the diff of `devopsellence.yml`, the spec against the app, " +
	"and the findings that need no devopsellence state.  \n" +
	"**Not checked here**: stored secrets, nodes and deploys. They live on the machine that deploys, " +
	"and its `devopsellence-backup apply` checks them before it changes anything.\n"

// ErrorMarkdown is what the pull request shows when plan itself failed.
func ErrorMarkdown(w io.Writer, msg string) error {
	_, err := fmt.Fprintf(w, "%s\n### ⛔ devopsellence-backup plan failed\n\n```\n%s\n```\n", PlanMarker, strings.TrimSpace(msg))
	return err
}

func orDash(ss []string) string {
	if len(ss) == 0 {
		return "–"
	}
	return strings.Join(ss, ", ")
}

func severityIcon(s string) string {
	switch s {
	case reconcile.SeverityError:
		return "⛔"
	case reconcile.SeverityWarning:
		return "⚠️"
	}
	return "ℹ️"
}

// mdEscape keeps a message from opening HTML or breaking the list.
func mdEscape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}
