package reconcile

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/finding"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// Observed is what devopsellence-backup saw of the app.
type Observed struct {
	// ConfigFile is devopsellence.yml's path as shown to people.
	ConfigFile string
	// Config is devopsellence.yml's bytes and Doc their parse.
	Config []byte
	Doc    *yamlpatch.Doc
	App    *App
	// Secrets holds `secret list` per covered environment; nil when not checked.
	Secrets map[string][]Secret
	// Nodes maps each environment of the app or the spec to the nodes
	// attached to it for this app; nil when not checked.
	Nodes map[string][]Node
	// Unchecked says why secrets and nodes were not checked, if they were not.
	Unchecked *Finding
	// Deployed maps an environment to the fingerprint of its last successful deploy.
	Deployed map[string]string
}

// Plan is what it takes to bring the app to the desired state.
type Plan struct {
	Service    string
	SpecFile   string
	ConfigFile string
	// Before and After are devopsellence.yml's bytes now and after the patch.
	Before, After []byte
	Changes       []Change
	Environments  []EnvPlan
	Findings      []Finding
	// SecretsChecked is false when devopsellence could not be asked.
	SecretsChecked bool
	// Spans are where After differs from Before, as the patch spliced it, so
	// a diff need not compare the whole file; nil when not known.
	Spans []yamlpatch.Span
}

// Change is one edited block of devopsellence.yml.
type Change struct {
	// Action is add, update, adopt or remove.
	Action string `json:"action"`
	// Path is the block's key path, e.g. services.backup.
	Path string `json:"path"`
	// Environment is set for overlay blocks.
	Environment string `json:"environment,omitempty"`
	// Fields lists the changed fields of an update.
	Fields []string `json:"fields,omitempty"`
}

// Change actions.
const (
	ActionAdd    = "add"
	ActionUpdate = "update"
	ActionAdopt  = "adopt"
	ActionRemove = "remove"
)

// EnvPlan is one environment's part of the plan.
type EnvPlan struct {
	Name    string       `json:"name"`
	Covered bool         `json:"covered"`
	Secrets []SecretPlan `json:"secrets"`
	// Inert is set when the service idles there with no secrets and no
	// volumes: the environment is not covered, or not ready.
	Inert bool `json:"inert,omitempty"`
	// Deploy says whether apply deploys this environment, and why.
	Deploy       bool   `json:"deploy"`
	DeployReason string `json:"deploy_reason,omitempty"`
	// Fingerprint identifies the service a deploy would run.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// SecretPlan is one secret of one environment.
type SecretPlan struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	// Ref is the canonical secret_ref written into devopsellence.yml.
	Ref string `json:"ref"`
	// Status is present, missing or unknown (not checked).
	Status string `json:"status"`
	// Source is where the value is or comes from: stored (devopsellence
	// holds it), prompt (apply asks, or takes an explicit source) or
	// 1password (apply records the reference; devopsellence reads it).
	Source      string `json:"source"`
	OnePassword string `json:"onepassword,omitempty"`
	// About says what the value is, when the name alone may not (the
	// password of a database service).
	About string `json:"about,omitempty"`
}

// Secret statuses and sources.
const (
	StatusPresent = "present"
	StatusMissing = "missing"
	StatusUnknown = "unknown"

	SourceStored      = "stored"
	SourcePrompt      = "prompt"
	SourceOnePassword = "1password"
)

// Finding and Action are shared with the operations (package finding).
type (
	Finding = finding.Finding
	Action  = finding.Action
)

// Finding severities.
const (
	SeverityError   = finding.Error
	SeverityWarning = finding.Warning
	SeverityInfo    = finding.Info
)

// InSync reports whether there is nothing to change, store or deploy.
func (p *Plan) InSync() bool { return !p.Pending(nil, true) }

// Pending reports whether applying the plan to envs (every environment when
// empty) would do anything: a change to devopsellence.yml (one file for all
// environments), a secret to store, or, when deploy is set, a deploy.
func (p *Plan) Pending(envs []string, deploy bool) bool {
	if len(p.Changes) > 0 {
		return true
	}
	for _, e := range p.Environments {
		if !Selected(envs, e.Name) {
			continue
		}
		if e.Deploy && deploy {
			return true
		}
		for _, s := range e.Secrets {
			if s.Status == StatusMissing {
				return true
			}
		}
	}
	return false
}

// Selected reports whether env is among envs, every environment being
// selected when envs is empty.
func Selected(envs []string, env string) bool { return len(envs) == 0 || slices.Contains(envs, env) }

// Missing lists the secrets to store, environment by environment (not
// those of an environment that is not ready: apply leaves them).
func (p *Plan) Missing() []SecretPlan {
	var out []SecretPlan
	for _, e := range p.Environments {
		if e.Inert {
			continue
		}
		for _, s := range e.Secrets {
			if s.Status == StatusMissing {
				out = append(out, s)
			}
		}
	}
	return out
}

// Finding codes the cli branches on.
const (
	// CodeNoNode: no node is attached to a covered environment of this app.
	CodeNoNode = "no_node_attached"
	// CodeNoWorker: no node attached to an environment is labelled worker.
	CodeNoWorker = "no_worker_node"
)

// Blocked reports the first error finding about envs (every environment
// when empty): apply must not go on while one stands.
func (p *Plan) Blocked(envs []string) *Finding {
	for i, f := range p.Findings {
		if f.Severity == SeverityError && (f.Environment == "" || Selected(envs, f.Environment)) {
			return &p.Findings[i]
		}
	}
	return nil
}

// Blocker is Blocked for an apply that deploys or not: without a deploy,
// what only a deploy needs (an attached node, a worker label) does not stop it.
func (p *Plan) Blocker(envs []string, deploy bool) *Finding {
	for i, f := range p.Findings {
		if f.Severity != SeverityError || (f.Environment != "" && !Selected(envs, f.Environment)) {
			continue
		}
		if !deploy && (f.Code == CodeNoNode || f.Code == CodeNoWorker) {
			continue
		}
		return &p.Findings[i]
	}
	return nil
}

// Env returns the plan of env.
func (p *Plan) Env(env string) *EnvPlan {
	for i := range p.Environments {
		if p.Environments[i].Name == env {
			return &p.Environments[i]
		}
	}
	return nil
}

// Diff compares desired with observed. It is pure. selected are the
// environments whose missing secrets the apply stores (every covered one
// when empty); a covered environment outside them that lacks a secret is not
// ready and is planned inert.
func Diff(d *Desired, o *Observed, selected []string) (*Plan, error) {
	p := &Plan{Service: d.Service, SpecFile: d.SpecFile, ConfigFile: o.ConfigFile, Before: o.Config, SecretsChecked: o.Secrets != nil}
	eff := effectiveState(d, o, selected)
	edits, err := diffConfig(d, o, p, eff.overlays)
	if err != nil {
		return nil, err
	}
	p.After = o.Config
	if len(edits) > 0 {
		if p.After, p.Spans, err = o.Doc.ApplySpans(edits...); err != nil {
			return nil, fmt.Errorf("patch %s: %w", o.ConfigFile, err)
		}
	}
	configChanged := len(p.Changes) > 0
	if o.Unchecked != nil {
		p.Findings = append(p.Findings, *o.Unchecked)
	}
	for _, env := range d.Covered {
		p.Environments = append(p.Environments, planEnv(d, o, eff, env, configChanged))
	}
	for _, env := range d.Uncovered {
		p.Environments = append(p.Environments, EnvPlan{Name: env, Inert: true, Secrets: []SecretPlan{}})
		p.Findings = append(p.Findings, Finding{
			Severity: SeverityWarning, Code: "environment_not_covered", Environment: env,
			Message:     fmt.Sprintf("environment %q is not covered by %s, yet it still gets service %q from the base config (overlays cannot remove services); its overlay keeps it idle with no secrets and no volumes, and its next deploy will include it", env, d.SpecFile, d.Service),
			NextActions: []Action{{Label: "back it up too: add it to spec.environments in " + d.SpecFile, Command: "devopsellence-backup plan"}},
		})
	}
	p.Findings = append(p.Findings, imageFindings(d)...)
	p.Findings = append(p.Findings, excludeFindings(d)...)
	p.Findings = append(p.Findings, repositoryFindings(d)...)
	p.Findings = append(p.Findings, serverFindings(d)...)
	p.Findings = append(p.Findings, clientFindings(d, o.App)...)
	envFindings, unknown := environmentFindings(d, o, eff)
	p.Findings = append(p.Findings, envFindings...)
	p.Findings = append(p.Findings, nodeFindings(d, o, unknown)...)
	return p, nil
}

func planEnv(d *Desired, o *Observed, eff effective, env string, configChanged bool) EnvPlan {
	ep := EnvPlan{Name: env, Covered: true, Fingerprint: fingerprint(d.Base, eff.overlays[env]), Secrets: []SecretPlan{}}
	listed, checked := o.Secrets[env]
	stored := storedFor(listed, d.Service)
	missing := 0
	for _, r := range d.Refs[env] {
		sp := SecretPlan{Name: r.Name, Service: d.Service, Ref: r.Secret, Source: SourcePrompt, Status: StatusUnknown, About: r.About}
		if r.OnePassword != "" {
			sp.Source, sp.OnePassword = SourceOnePassword, r.OnePassword
		}
		if checked {
			sp.Status = StatusMissing
			if s, ok := stored[r.Name]; ok && storedMatches(s, r) {
				sp.Status = StatusPresent
				if sp.Source == SourcePrompt {
					sp.Source = SourceStored
				}
			}
		}
		if sp.Status == StatusMissing {
			missing++
		}
		ep.Secrets = append(ep.Secrets, sp)
	}
	if _, notReady := eff.notReady[env]; notReady {
		ep.Inert, ep.DeployReason = true, fmt.Sprintf("not ready: %d secret(s) to store first, with `devopsellence-backup apply --env %s`", missing, env)
		return ep
	}
	// A deploy is needed unless this exact service was deployed successfully
	// and nothing is left to store. Rewriting the same patch into a fresh
	// checkout (CI) changes the file but not the service, so it deploys nothing.
	last, known := o.Deployed[env]
	if known && last == ep.Fingerprint && missing == 0 {
		return ep
	}
	ep.Deploy = true
	switch {
	case configChanged:
		ep.DeployReason = "devopsellence.yml changes"
	case missing > 0:
		ep.DeployReason = fmt.Sprintf("%d secret(s) to store", missing)
	case !known:
		ep.DeployReason = "no successful deploy of this configuration is recorded on this machine"
	default:
		ep.DeployReason = "the last deploy did not succeed or ran another configuration"
	}
	return ep
}

// storedMatches reports whether a stored secret serves ref: a 1Password ref
// needs a 1Password record of the same reference, a plaintext ref a plaintext value.
func storedMatches(s Secret, r Ref) bool {
	if r.OnePassword != "" {
		return s.Store == "1password" && s.Reference == r.OnePassword
	}
	return s.Store != "1password"
}

// nodeFindings checks that each environment that will run the (worker)
// backup service has a node attached for this app, labelled worker.
func nodeFindings(d *Desired, o *Observed, unknown map[string]bool) []Finding {
	if o.Nodes == nil {
		return nil
	}
	var out []Finding
	for _, env := range d.Scope() {
		if unknown[env] {
			continue
		}
		attached := o.Nodes[env]
		if len(attached) == 0 {
			if slices.Contains(d.Covered, env) {
				out = append(out, Finding{
					Severity: SeverityError, Code: CodeNoNode, Environment: env,
					Message:     fmt.Sprintf("no node is attached to %s of this app, so devopsellence cannot deploy it (a node attached to another app in the same state home does not count)", env),
					NextActions: NoNodeActions(env),
				})
			}
			continue
		}
		if slices.ContainsFunc(attached, func(n Node) bool { return n.HasLabel("worker") }) {
			continue
		}
		f := Finding{
			Severity: SeverityError, Code: CodeNoWorker, Environment: env,
			Message: fmt.Sprintf("no node attached to %s is labelled worker, and service %q is a worker: devopsellence would refuse to deploy (solo deploy requires at least one selected node labeled \"worker\")", env, d.Service),
		}
		for _, n := range attached {
			f.Evidence = append(f.Evidence, fmt.Sprintf("node %s labels: %s", n.Name, strings.Join(n.Labels, ",")))
			f.NextActions = append(f.NextActions, Action{Label: "label node " + n.Name + " worker, keeping its labels", Command: fmt.Sprintf("devopsellence node label set %s --labels %s", n.Name, strings.Join(WithWorker(n.Labels), ","))})
		}
		f.NextActions = append(f.NextActions, Action{Label: "or let apply do it", Command: "devopsellence-backup apply --label-nodes"})
		out = append(out, f)
	}
	return out
}

// NoNodeActions are the ways to give env a node: attach one this machine
// already knows, or create one (labelled worker, which the backup service
// needs) and attach it in the same step.
func NoNodeActions(env string) []Action {
	return []Action{
		{Label: "attach a node this machine knows to " + env, Command: fmt.Sprintf("devopsellence node attach <node> --env %s", env)},
		{Label: "or create a node and attach it", Command: fmt.Sprintf("devopsellence node create <node> --host <host> --user root --ssh-key <key> --labels web,worker --attach --env %s", env)},
		{Label: "see the nodes on this machine", Command: "devopsellence node list --all"},
	}
}

// WithWorker returns labels plus worker, sorted, without duplicates.
func WithWorker(labels []string) []string {
	set := map[string]bool{"worker": true}
	for _, l := range labels {
		set[l] = true
	}
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// excludeFindings warn about an exclude pattern that leaves out every
// file of a backed-up folder: the backups would hold nothing.
func excludeFindings(d *Desired) []Finding {
	var out []Finding
	for _, env := range d.Covered {
		es := d.Envs[env]
		for _, pat := range es.ExcludePatterns() {
			for _, root := range es.BackupPaths() {
				if spec.ExcludesEverything(root, pat) {
					out = append(out, Finding{
						Severity: SeverityWarning, Code: "exclude_everything", Environment: env,
						Message:     fmt.Sprintf("exclude pattern %q leaves out every file of %s: its backups would hold nothing", pat, root),
						NextActions: []Action{{Label: "narrow the pattern in " + d.SpecFile + " (spec.exclude or the volume's exclude)", Command: "devopsellence-backup plan"}},
					})
					break
				}
			}
		}
	}
	return out
}

// CodeRepositoryOnNode: the only repository is a folder on the node that
// runs the app, so losing the node loses the backups with it.
const CodeRepositoryOnNode = "repository_on_node"

// repositoryFindings warn when an environment's backups all live on the
// node itself: a local repository (a volume or a host path on the node)
// and no copy anywhere else.
func repositoryFindings(d *Desired) []Finding {
	var out []Finding
	for _, env := range d.Covered {
		es := d.Envs[env]
		local := es.Repository.LocalPath()
		if local == "" || slices.ContainsFunc(es.Copies, func(c spec.Copy) bool { return c.Repository.LocalPath() == "" }) {
			continue
		}
		out = append(out, Finding{
			Severity: SeverityWarning, Code: CodeRepositoryOnNode, Environment: env,
			Message: fmt.Sprintf("the repository of %s is %s on the node that runs the app (volume %s), and no copy is elsewhere: losing the node loses the app and its backups together. "+
				"Add a copy off the node (spec.copies, e.g. s3: or b2:), or use a remote repository", env, local, es.Repository.Volume),
			NextActions: []Action{{Label: "add a copy off the node to spec.copies, then apply and copy", Command: "devopsellence-backup copy --init --env " + env}},
		})
	}
	return out
}

// ResticImage reports restic's own image (restic/restic, from any
// registry, any tag), which the backup guide's hand-written service runs:
// it has restic but no devopsellence-backup agent.
func ResticImage(img string) bool {
	repo, _, _ := strings.Cut(img, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == "restic/restic" || strings.HasSuffix(repo, "/restic/restic")
}

// imageFindings warn, before anything is deployed, about an image known to
// lack the devopsellence-backup agent: restic's own, which the backup
// guide's hand-written service runs. The service's command would not start.
func imageFindings(d *Desired) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, env := range d.Covered {
		img := d.Envs[env].Image
		if seen[img] || !ResticImage(img) {
			continue
		}
		seen[img] = true
		out = append(out, Finding{
			Severity: SeverityWarning, Code: "image_not_agent", Environment: env,
			Message: fmt.Sprintf("spec.image %s is restic's own image, which has no devopsellence-backup agent: the backup service's command (devopsellence-backup agent run) would not start. "+
				"Use the official image, which has the agent, restic and the database clients, or build one with devopsellence-backup image", img),
			NextActions: []Action{{Label: "print a Dockerfile for an image with the agent", Command: "devopsellence-backup image --env " + env}},
		})
	}
	return out
}
