package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
)

// Finding codes about environments.
const (
	// CodeUnknownEnv: a covered environment devopsellence does not know.
	CodeUnknownEnv = "unknown_environment"
	// CodeNotReady: a covered environment whose secrets this apply does not
	// store stays inert.
	CodeNotReady = "environment_not_ready"
	// CodeBackupsStop: the plan makes an environment that is backed up now
	// inert; apply needs a confirmation for it.
	CodeBackupsStop = "backups_stop"
)

// effective is the desired state one apply can reach. devopsellence.yml is
// shared by every environment, so whatever --env says, an apply must leave
// each environment's service referencing only stored secrets: a covered
// environment whose secrets are neither stored nor stored by this apply is
// not ready, and stays inert (as an uncovered one) until they are.
type effective struct {
	overlays map[string]yamlpatch.Map
	// notReady maps each environment that is not ready to the secrets it lacks.
	notReady map[string][]string
}

func effectiveState(d *Desired, o *Observed, selected []string) effective {
	e := effective{overlays: maps.Clone(d.Overlays), notReady: map[string][]string{}}
	if o.Secrets == nil {
		return e // not checked: apply refuses to run anyway
	}
	for _, env := range d.Covered {
		if Selected(selected, env) {
			continue
		}
		stored := storedFor(o.Secrets[env], d.Service)
		var missing []string
		for _, r := range d.Refs[env] {
			if s, ok := stored[r.Name]; !ok || !storedMatches(s, r) {
				missing = append(missing, r.Name)
			}
		}
		if len(missing) > 0 {
			e.notReady[env] = missing
			e.overlays[env] = inertOver(d.Base, d.Overlays[env])
		}
	}
	return e
}

// inertOver is inert(base) for a covered environment: it keeps the
// environment's own image and env (host, tags, repository), so that nothing
// of another environment's shows in it, and idles with no secrets and no
// volumes.
func inertOver(base, own yamlpatch.Map) yamlpatch.Map {
	o := yamlpatch.Map{}
	if v := own.Get("image"); v != nil {
		o = append(o, yamlpatch.Field{Key: "image", Value: v})
	}
	for _, f := range inert(base) {
		if f.Key == "secret_refs" {
			if v := own.Get("env"); v != nil {
				o = append(o, yamlpatch.Field{Key: "env", Value: v})
			}
		}
		o = append(o, f)
	}
	return o
}

// environmentFindings says which covered environments devopsellence does
// not know, which are not ready, and which of those an apply would stop
// backing up. It returns the unknown ones too, for nodeFindings to skip.
func environmentFindings(d *Desired, o *Observed, e effective) ([]Finding, map[string]bool) {
	var out []Finding
	unknown := map[string]bool{}
	for _, env := range d.Covered {
		if o.App.HasEnvironment(env) {
			continue
		}
		if o.Nodes == nil {
			out = append(out, Finding{
				Severity: SeverityWarning, Code: CodeUnknownEnv, Environment: env,
				Message: fmt.Sprintf("environment %q is covered by %s but devopsellence.yml does not mention it, and its nodes were not checked; apply writes its overlay once devopsellence can be asked", env, d.SpecFile),
			})
			continue
		}
		if len(o.Nodes[env]) > 0 {
			continue // devopsellence knows it by its node; apply writes its overlay
		}
		unknown[env] = true
		out = append(out, unknownEnvironment(d, o, env))
	}
	for _, env := range d.Scope() {
		missing, notReady := e.notReady[env]
		switch {
		case backedUp(o, d.Service, env) && (notReady || slices.Contains(d.Uncovered, env)):
			out = append(out, backupsStop(d, env, missing))
		case notReady:
			out = append(out, Finding{
				Severity: SeverityWarning, Code: CodeNotReady, Environment: env,
				Message: fmt.Sprintf("%s is not ready: its secrets %s are not stored and this apply does not store them, so its service %q stays inert (idle, no secrets, no volumes) until they are",
					env, strings.Join(missing, ", "), d.Service),
				NextActions: []Action{{Label: "store them and deploy " + env, Command: "devopsellence-backup apply --env " + env}},
			})
		}
	}
	return out, unknown
}

func unknownEnvironment(d *Desired, o *Observed, env string) Finding {
	f := Finding{
		Severity: SeverityError, Code: CodeUnknownEnv, Environment: env,
		Message: fmt.Sprintf("environment %q is covered by %s, but devopsellence does not know it: devopsellence.yml does not mention it and no node of this app is attached to it", env, d.SpecFile),
	}
	if near := closest(env, o.App.Environments()); near != "" {
		f.Message += fmt.Sprintf("; did you mean %q?", near)
		f.NextActions = append(f.NextActions, Action{Label: fmt.Sprintf("write %q in spec.environments of %s", near, d.SpecFile), Command: "devopsellence-backup plan"})
	}
	f.NextActions = append(f.NextActions, Action{Label: "or, for a new environment, attach a node to it first", Command: fmt.Sprintf("devopsellence node attach <node> --env %s", env)})
	return f
}

func backupsStop(d *Desired, env string, missing []string) Finding {
	f := Finding{Severity: SeverityWarning, Code: CodeBackupsStop, Environment: env}
	confirm := Action{Label: "or confirm that its backups stop", Command: "devopsellence-backup apply --disable-backups " + env}
	if len(missing) > 0 {
		f.Message = fmt.Sprintf("%s is backed up now, and this plan makes its service %q inert (idle, no secrets, no volumes): its secrets %s are not stored and this apply does not store them",
			env, d.Service, strings.Join(missing, ", "))
		f.NextActions = []Action{{Label: "store them and keep " + env + " backed up", Command: "devopsellence-backup apply --env " + env}, confirm}
		return f
	}
	f.Message = fmt.Sprintf("%s is backed up now, and this plan makes its service %q inert (idle, no secrets, no volumes): %s no longer covers it", env, d.Service, d.SpecFile)
	f.NextActions = []Action{{Label: "keep it backed up: add it to spec.environments in " + d.SpecFile, Command: "devopsellence-backup plan"}, confirm}
	return f
}

// backedUp reports whether devopsellence.yml as it is now gives env a backup
// service that backs something up (secret refs or volumes) with every
// secret it references stored, when that was checked.
func backedUp(o *Observed, service, env string) bool {
	refs, active := activeIn(o.Doc, service, env)
	if !active {
		return false
	}
	secrets, checked := o.Secrets[env]
	if !checked {
		return true
	}
	stored := storedFor(secrets, service)
	for _, r := range refs {
		if _, ok := stored[r]; !ok {
			return false
		}
	}
	return true
}

// activeIn reports whether doc gives env a backup service with secret refs
// or volumes, and the names of its refs.
func activeIn(doc *yamlpatch.Doc, service, env string) (refs []string, active bool) {
	if doc == nil {
		return nil, false
	}
	base, ok := doc.Lookup("services", service)
	if !ok {
		return nil, false
	}
	bm, _ := base.Value.(yamlpatch.Map)
	var om yamlpatch.Map
	if e, ok := doc.Lookup("environments", env, "services", service); ok {
		om, _ = e.Value.(yamlpatch.Map)
	}
	list := func(key string) yamlpatch.List {
		v := om.Get(key)
		if v == nil {
			v = bm.Get(key)
		}
		l, _ := v.(yamlpatch.List)
		return l
	}
	for _, r := range list("secret_refs") {
		m, _ := r.(yamlpatch.Map)
		name, _ := m.Get("name").(yamlpatch.Scalar)
		refs = append(refs, string(name))
	}
	return refs, len(refs)+len(list("volumes")) > 0
}

// closest is the candidate nearest to name by edit distance, when it is near
// enough to be a typo: at most two edits, and fewer than half its letters.
func closest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(name, c); d < bestD && 2*d < len(c) {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
