package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// ConflictError means devopsellence.yml already has a service of the backup
// service's name that devopsellence-backup did not write and cannot adopt.
type ConflictError struct {
	File    string
	Line    int
	Service string
	Reason  string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s:%d: services.%s: a service of that name exists, was not written by devopsellence-backup and does not look like a backup service (%s); "+
		"refusing to overwrite it: rename it, or set spec.service to another name and run `devopsellence-backup plan`", e.File, e.Line, e.Service, e.Reason)
}

type blockState int

const (
	stateAbsent blockState = iota
	stateManaged
	stateAdopt
)

// diffConfig works out the edits of devopsellence.yml and records them as
// changes and findings on p. overlays are the overlay blocks to write, by
// environment (Desired's, with not-ready environments made inert).
func diffConfig(d *Desired, o *Observed, p *Plan, overlays map[string]yamlpatch.Map) ([]yamlpatch.Edit, error) {
	edits, state, err := diffService(d, o, p)
	if err != nil {
		return nil, err
	}
	edits = append(edits, pruneServices(d, o.Doc, p)...)
	edits = append(edits, diffOverlays(d, o, p, overlays, state)...)
	return edits, nil
}

// diffService edits the service block itself, and says whose it was: absent,
// managed, or written by hand and adopted.
func diffService(d *Desired, o *Observed, p *Plan) ([]yamlpatch.Edit, blockState, error) {
	var edits []yamlpatch.Edit
	basePath := []string{"services", d.Service}
	state := stateAbsent
	if cur, ok := o.Doc.Lookup(basePath...); ok {
		svc, _ := o.App.Service(d.Service)
		switch reason := notAdoptable(svc); {
		case managed(cur.Comment):
			state = stateManaged
		case reason == "":
			state = stateAdopt
		default:
			return nil, state, &ConflictError{File: o.ConfigFile, Line: cur.Line, Service: d.Service, Reason: reason}
		}
		if edit, ch, ok := replace(basePath, cur, d.Base, d.Marker, state, ""); ok {
			edits, p.Changes = append(edits, edit), append(p.Changes, ch)
		}
		if state == stateAdopt {
			p.Findings = append(p.Findings, Finding{
				Severity: SeverityWarning, Code: "service_adopted",
				Message: fmt.Sprintf("service %q in %s (line %d) was written by hand; devopsellence-backup adopts it: it is rewritten from %s, its secret refs in canonical form, and marked as managed", d.Service, o.ConfigFile, cur.Line, d.SpecFile),
			})
		}
	} else {
		edits = append(edits, yamlpatch.Edit{Path: basePath, Value: d.Base, Comment: d.Marker})
		p.Changes = append(p.Changes, Change{Action: ActionAdd, Path: strings.Join(basePath, ".")})
	}
	return edits, state, nil
}

// pruneServices removes the services this tool wrote earlier under another
// name: the spec renamed or dropped them. Their overlays go too, or
// devopsellence would reject overlays of a service that no longer exists.
func pruneServices(d *Desired, doc *yamlpatch.Doc, p *Plan) []yamlpatch.Edit {
	var edits []yamlpatch.Edit
	for _, name := range doc.KeysCommented(yamlpatch.MarkerPrefix, "services") {
		if name == d.Service {
			continue
		}
		path := []string{"services", name}
		edits = append(edits, yamlpatch.Edit{Path: path})
		p.Changes = append(p.Changes, Change{Action: ActionRemove, Path: strings.Join(path, ".")})
		for _, env := range doc.Keys("environments") {
			op := []string{"environments", env, "services", name}
			if _, ok := doc.Lookup(op...); ok {
				edits = append(edits, yamlpatch.Edit{Path: op})
				p.Changes = append(p.Changes, Change{Action: ActionRemove, Path: strings.Join(op, "."), Environment: env})
			}
		}
		p.Findings = append(p.Findings, Finding{
			Severity: SeverityWarning, Code: "service_pruned",
			Message:     fmt.Sprintf("service %q was managed by devopsellence-backup but %s now names %q; it is removed with its overlays, and its stored secrets stay until you delete them", name, d.SpecFile, d.Service),
			NextActions: []Action{{Label: "list what is left of it", Command: fmt.Sprintf("devopsellence secret list --service %s", name)}},
		})
	}
	return edits
}

// diffOverlays edits the service's overlay in each environment: the app's,
// those devopsellence.yml has overlays for, and the covered ones, which get
// their overlay whether or not the file mentions them yet. state is whose
// the service block was.
func diffOverlays(d *Desired, o *Observed, p *Plan, overlays map[string]yamlpatch.Map, state blockState) []yamlpatch.Edit {
	doc := o.Doc
	var edits []yamlpatch.Edit
	envs := o.App.Environments()
	for _, env := range slices.Concat(doc.Keys("environments"), d.Covered) {
		if !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	for _, env := range envs {
		path := []string{"environments", env, "services", d.Service}
		want, wanted := overlays[env]
		cur, exists := doc.Lookup(path...)
		switch {
		case !wanted && exists:
			edits = append(edits, yamlpatch.Edit{Path: path})
			p.Changes = append(p.Changes, Change{Action: ActionRemove, Path: strings.Join(path, "."), Environment: env})
		case wanted && !exists:
			edits = append(edits, yamlpatch.Edit{Path: path, Value: want, Comment: d.Marker})
			p.Changes = append(p.Changes, Change{Action: ActionAdd, Path: strings.Join(path, "."), Environment: env})
		case wanted:
			st := state
			if st == stateManaged && !managed(cur.Comment) {
				st = stateAdopt
				p.Findings = append(p.Findings, Finding{
					Severity: SeverityWarning, Code: "overlay_replaced", Environment: env,
					Message: fmt.Sprintf("%s (line %d) was written by hand for a managed service; it is replaced: put per-environment settings in spec.overrides.%s of %s", strings.Join(path, "."), cur.Line, env, d.SpecFile),
				})
			}
			if edit, ch, ok := replace(path, cur, want, d.Marker, st, env); ok {
				edits, p.Changes = append(edits, edit), append(p.Changes, ch)
			}
		}
	}
	return edits
}

// replace returns the edit that turns cur into want, if any is needed.
func replace(path []string, cur yamlpatch.Entry, want yamlpatch.Map, marker string, state blockState, env string) (yamlpatch.Edit, Change, bool) {
	edit := yamlpatch.Edit{Path: path, Value: want, Comment: marker}
	ch := Change{Path: strings.Join(path, "."), Environment: env}
	switch {
	case state == stateAdopt:
		ch.Action = ActionAdopt
	case !yamlpatch.Equal(cur.Value, want):
		ch.Action, ch.Fields = ActionUpdate, changedFields(cur.Value, want)
	case !strings.Contains(cur.Comment, marker):
		ch.Action, ch.Fields = ActionUpdate, []string{"marker"}
	default:
		return edit, ch, false
	}
	return edit, ch, true
}

func managed(comment string) bool { return strings.Contains(comment, yamlpatch.MarkerPrefix) }

// Adoptable reports whether a service written by hand looks like the
// guide's backup service, which devopsellence-backup takes over.
func Adoptable(s AppService) bool { return notAdoptable(s) == "" }

// notAdoptable says why a hand-written service is not the guide's backup
// service, or "" when it is: a worker (no ports, no healthcheck) that looks
// like restic by its command, image, env or secret refs.
func notAdoptable(s AppService) string {
	if len(s.Ports) > 0 || s.Healthcheck {
		return "it has ports or a healthcheck"
	}
	if strings.Join(s.Command, " ") == strings.Join(idleCommand(), " ") || strings.Contains(s.Image, "restic") {
		return ""
	}
	if _, ok := s.Env[spec.ResticRepository]; ok {
		return ""
	}
	for _, r := range s.SecretRefs {
		if r.Name == "RESTIC_PASSWORD" || r.Name == spec.ResticRepository {
			return ""
		}
	}
	return "no restic image, idle command, RESTIC_REPOSITORY or RESTIC_PASSWORD"
}

// changedFields names the fields that differ, env keys one by one.
func changedFields(cur yamlpatch.Value, want yamlpatch.Map) []string {
	cm, _ := cur.(yamlpatch.Map)
	var out []string
	seen := map[string]bool{}
	for _, f := range want {
		seen[f.Key] = true
		cv := cm.Get(f.Key)
		if f.Key == "env" {
			out = append(out, envKeysChanged(cv, f.Value)...)
			continue
		}
		if cv == nil || !yamlpatch.Equal(cv, f.Value) {
			out = append(out, f.Key)
		}
	}
	for _, f := range cm {
		if !seen[f.Key] {
			out = append(out, f.Key)
		}
	}
	return out
}

func envKeysChanged(cur, want yamlpatch.Value) []string {
	cm, _ := cur.(yamlpatch.Map)
	wm, _ := want.(yamlpatch.Map)
	var out []string
	for _, f := range wm {
		if v := cm.Get(f.Key); v == nil || !yamlpatch.Equal(v, f.Value) {
			out = append(out, "env."+f.Key)
		}
	}
	for _, f := range cm {
		if wm.Get(f.Key) == nil {
			out = append(out, "env."+f.Key)
		}
	}
	return out
}
