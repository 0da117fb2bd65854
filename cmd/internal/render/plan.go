package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// PlanMarker is the hidden first line of the Markdown plan, so a bot can find
// and update its one comment on a pull request.
const PlanMarker = "<!-- devopsellence-backup:plan -->"

// PlanDoc is the JSON document of `plan` (and the planned part of `apply`).
type PlanDoc struct {
	Envelope
	InSync         bool                `json:"in_sync"`
	Service        string              `json:"service"`
	SpecFile       string              `json:"spec_file"`
	ConfigFile     string              `json:"config_file"`
	SecretsChecked bool                `json:"secrets_checked"`
	Changes        []reconcile.Change  `json:"changes"`
	Diff           string              `json:"diff"`
	Environments   []reconcile.EnvPlan `json:"environments"`
	Findings       []reconcile.Finding `json:"findings"`
}

// NewPlanDoc builds the JSON document of p for operation.
func NewPlanDoc(operation string, p *reconcile.Plan) PlanDoc {
	changes := p.Changes
	if changes == nil {
		changes = []reconcile.Change{}
	}
	findings := p.Findings
	if findings == nil {
		findings = []reconcile.Finding{}
	}
	return PlanDoc{
		Envelope:       Envelope{SchemaVersion: SchemaVersion, Operation: operation, OK: true, Summary: Summary(p)},
		InSync:         p.InSync(),
		Service:        p.Service,
		SpecFile:       p.SpecFile,
		ConfigFile:     p.ConfigFile,
		SecretsChecked: p.SecretsChecked,
		Changes:        changes,
		Diff:           Diff(p),
		Environments:   p.Environments,
		Findings:       findings,
	}
}

// Summary is the plan in one line.
func Summary(p *reconcile.Plan) string {
	if p.InSync() {
		return fmt.Sprintf("No changes: service %s is in sync in %s.", p.Service, strings.Join(covered(p), ", "))
	}
	count := map[string]int{}
	for _, c := range p.Changes {
		count[c.Action]++
	}
	parts := []string{fmt.Sprintf("%d to add, %d to update, %d to adopt, %d to remove in %s",
		count[reconcile.ActionAdd], count[reconcile.ActionUpdate], count[reconcile.ActionAdopt], count[reconcile.ActionRemove], p.ConfigFile)}
	if n := len(p.Missing()); n > 0 {
		parts = append(parts, Count(n, "secret")+" to store")
	}
	var deploy []string
	for _, e := range p.Environments {
		if e.Deploy {
			deploy = append(deploy, e.Name)
		}
	}
	if len(deploy) > 0 {
		parts = append(parts, "deploy "+strings.Join(deploy, ", "))
	}
	return "Plan: " + strings.Join(parts, "; ") + "."
}

func covered(p *reconcile.Plan) []string {
	var out []string
	for _, e := range p.Environments {
		if e.Covered {
			out = append(out, e.Name)
		}
	}
	return out
}

// PlanText writes the plan for people.
func PlanText(w io.Writer, p *reconcile.Plan) error {
	var b strings.Builder
	if d := Diff(p); d != "" {
		b.WriteString(strings.ReplaceAll(d, "\r", ""))
		if !strings.HasSuffix(d, "\n") {
			b.WriteString("\n")
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "%s: no changes\n\n", p.ConfigFile)
	}
	b.WriteString("Secrets:\n")
	for _, e := range p.Environments {
		if !e.Covered {
			fmt.Fprintf(&b, "  %s: not covered by %s (service %s idles there with no secrets)\n", e.Name, p.SpecFile, p.Service)
			continue
		}
		fmt.Fprintf(&b, "  %s (service %s):\n", e.Name, p.Service)
		if len(e.Secrets) == 0 {
			b.WriteString("    none needed\n")
		}
		for _, s := range e.Secrets {
			fmt.Fprintf(&b, "    %-28s %s\n", s.Name, secretStatus(s))
		}
	}
	if !p.SecretsChecked {
		b.WriteString("  (secrets were not checked: see findings)\n")
	}
	b.WriteString("\nDeploy:\n")
	for _, e := range p.Environments {
		switch {
		case !e.Covered:
			fmt.Fprintf(&b, "  %s: no (not covered)\n", e.Name)
		case e.Deploy:
			fmt.Fprintf(&b, "  %s: yes (%s)\n", e.Name, e.DeployReason)
		case e.Inert:
			fmt.Fprintf(&b, "  %s: no (%s)\n", e.Name, e.DeployReason)
		default:
			fmt.Fprintf(&b, "  %s: no (deployed and in sync)\n", e.Name)
		}
	}
	if len(p.Findings) > 0 {
		b.WriteString("\nFindings:\n")
		for _, f := range p.Findings {
			writeFinding(&b, f)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", Summary(p))
	_, err := io.WriteString(w, b.String())
	return err
}

func secretStatus(s reconcile.SecretPlan) string {
	switch s.Status {
	case reconcile.StatusPresent:
		return "stored"
	case reconcile.StatusUnknown:
		return "not checked"
	}
	if s.Source == reconcile.SourceOnePassword {
		return "missing: apply records the 1Password reference " + s.OnePassword
	}
	if s.About != "" {
		return "missing: " + s.About + "; apply asks for it (or takes it from an explicit --secret-env/--secret-file source)"
	}
	return "missing: apply asks for it (or takes it from an explicit --secret-env/--secret-file source)"
}

func writeFinding(b *strings.Builder, f reconcile.Finding) {
	fmt.Fprintf(b, "  %-7s %s: %s\n", f.Severity, f.Code, printable(f.Message))
	for _, e := range f.Evidence {
		fmt.Fprintf(b, "          evidence: %s\n", printable(e))
	}
	for _, a := range f.NextActions {
		fmt.Fprintf(b, "          next: %s: %s\n", printable(a.Label), printable(a.Command))
	}
}
