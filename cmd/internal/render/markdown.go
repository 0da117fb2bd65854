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
		fmt.Fprintf(&head, "| %s | %s | %s | %s | %s |\n", e.Name, cov, storedCell, missingCell, deploy)
	}
	switch {
	case p.ConfigOnly:
		head.WriteString("\n" + checksRun)
	case !p.SecretsChecked:
		head.WriteString("\nSecrets and nodes were not checked (see findings).\n")
	}

	if len(p.Findings) > 0 {
		tail.WriteString("\n**Findings**\n\n")
		for _, f := range p.Findings {
			fmt.Fprintf(&tail, "- %s **%s** `%s`: %s\n", severityIcon(f.Severity), f.Severity, f.Code, mdEscape(f.Message))
			for _, e := range f.Evidence {
				fmt.Fprintf(&tail, "  - evidence: %s\n", mdEscape(e))
			}
			for _, a := range f.NextActions {
				fmt.Fprintf(&tail, "  - next: %s: `%s`\n", mdEscape(a.Label), a.Command)
			}
		}
	}

	diff := strings.ReplaceAll(Diff(p), "\r", "")
	var body strings.Builder
	if diff == "" {
		fmt.Fprintf(&body, "\n`%s` does not change.\n", p.ConfigFile)
	} else {
		lines := strings.Count(diff, "\n")
		open := fmt.Sprintf("\n<details><summary>Diff of <code>%s</code> (%s)</summary>\n\n```diff\n", p.ConfigFile, Count(lines, "line"))
		closing := "```\n\n</details>\n"
		room := limit - head.Len() - tail.Len() - len(open) - len(closing) - 400
		if len(diff) > room {
			cut := diff[:max(room, 0)]
			if i := strings.LastIndexByte(cut, '\n'); i >= 0 {
				cut = cut[:i+1]
			}
			shown := strings.Count(cut, "\n")
			fmt.Fprintf(&body, "%s%s```\n\n**The diff is too long for a comment: %d of %d lines shown.** Run `devopsellence-backup plan` or read the job summary for the whole diff.\n\n</details>\n", open, cut, shown, lines)
		} else {
			body.WriteString(open + diff + closing)
		}
	}
	_, err := io.WriteString(w, head.String()+body.String()+tail.String())
	return err
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
