package reconcile

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// idleCommand is the guide's backup service command: the service idles and
// is operated with `devopsellence exec`. Environments the spec does not
// cover run it, with no secrets and no volumes.
func idleCommand() []string { return []string{"sh", "-lc", "sleep infinity"} }

// Desired is the backup service the spec asks for in one app: the base block,
// the per-environment overlay blocks, and the secrets each environment needs.
type Desired struct {
	Service  string
	SpecFile string
	// Marker is the comment written above every managed block.
	Marker string
	// Covered are the spec's environments; Uncovered the app's other ones,
	// which still get the service from the base config.
	Covered, Uncovered []string
	// BaseEnv is the covered environment whose service is the base block.
	BaseEnv string
	Base    yamlpatch.Map
	// Overlays maps every environment but BaseEnv to its overlay block.
	Overlays map[string]yamlpatch.Map
	// Envs is the effective spec per covered environment.
	Envs map[string]spec.EnvSpec
	// Refs are the secret refs each covered environment's service carries.
	Refs map[string][]Ref
	// ServerVolumes are the live data volumes of the app's database
	// servers in the covered environments.
	ServerVolumes []ServerVolume
}

// Ref is one secret the backup service needs in one environment.
type Ref struct {
	Name string
	// Secret is the canonical secret_ref value devopsellence writes itself.
	Secret string
	// OnePassword is the op:// reference when the secret lives in 1Password.
	OnePassword string
	// About says what the value is, when the name alone may not.
	About string
}

// PlaintextRef is the canonical ref `devopsellence secret set --stdin` writes.
func PlaintextRef(name string) string { return "devopsellence://plaintext/" + name }

// Desire derives the desired state from the spec and the app.
func Desire(b *spec.Backup, app *App, specFile string) (*Desired, error) {
	return DesireRotating(b, app, specFile, "")
}

// DesireRotating is Desire while the secret rotating is being rotated:
// every environment that uses it also gets its next value, as
// spec.RotationSecret(rotating), from the secret of that name.
func DesireRotating(b *spec.Backup, app *App, specFile, rotating string) (*Desired, error) {
	svc := b.ServiceName()
	d := &Desired{
		Service:  svc,
		SpecFile: specFile,
		Marker:   fmt.Sprintf("%s from %s; edit that file, not this block", yamlpatch.MarkerPrefix, specFile),
		Overlays: map[string]yamlpatch.Map{},
		Envs:     map[string]spec.EnvSpec{},
		Refs:     map[string][]Ref{},
	}
	d.Covered = b.Spec.Environments
	if len(d.Covered) == 0 {
		d.Covered = []string{app.DefaultEnvironment}
	}
	d.ServerVolumes = serverVolumes(app, d.Covered, svc)
	problems := append(checkAgainstApp(b, app, svc), checkServerVolumes(b, d.ServerVolumes)...)
	d.BaseEnv = d.Covered[0]
	for _, e := range d.Covered {
		if e == app.DefaultEnvironment {
			d.BaseEnv = e
		}
	}
	covered := map[string]bool{}
	full := map[string]yamlpatch.Map{}
	for _, e := range d.Covered {
		covered[e] = true
		es := b.ForEnvironment(e, app.Project)
		problems = append(problems, resolveServers(b, app, svc, &es)...)
		if rotating != "" && slices.Contains(es.SecretNames(), rotating) {
			es.Rotating = rotating
		}
		d.Envs[e] = es
		d.Refs[e] = refs(es)
		full[e] = serviceBlock(es, spec.AppID(app.Project, b.Metadata.Name), d.Refs[e])
	}
	if err := spec.Invalid(b.File(), uniqueProblems(problems)...); err != nil {
		return nil, err
	}
	d.Base = full[d.BaseEnv]
	// Every covered environment but the base one gets an overlay, even an
	// empty one: devopsellence.yml then names it, so that devopsellence-backup
	// knows it later (to make it inert when the spec stops covering it).
	for _, e := range d.Covered {
		if e != d.BaseEnv {
			d.Overlays[e] = overlay(d.Base, full[e])
		}
	}
	for _, e := range app.Environments() {
		if !covered[e] {
			d.Uncovered = append(d.Uncovered, e)
			d.Overlays[e] = inert(d.Base)
		}
	}
	return d, nil
}

// checkAgainstApp reports what the spec alone cannot know is wrong.
func checkAgainstApp(b *spec.Backup, app *App, svc string) []error {
	var errs []error
	if app.Project == "" {
		errs = append(errs, b.Problem("metadata.name", "devopsellence.yml has no project; run `devopsellence config resolve` to see why"))
	}
	used := app.VolumeSources(svc)
	checkVolumes := func(p string, vols []spec.Volume) {
		for i, v := range vols {
			if !slices.Contains(used, v.Name) {
				have := "no app service uses a volume"
				if len(used) > 0 {
					have = "volumes in use: " + strings.Join(used, ", ")
				}
				errs = append(errs, b.Problem(fmt.Sprintf("%s[%d].name", p, i), "%q is not a volume of any app service in devopsellence.yml (%s)", v.Name, have))
			}
		}
	}
	checkVolumes("spec.volumes", b.Spec.Volumes)
	checkRepo := func(p string, r *spec.Repository) {
		if r != nil && r.Volume != "" && slices.Contains(used, r.Volume) {
			errs = append(errs, b.Problem(p+".volume", "%q is a volume of an app service: the repository would sit in the app's data (and be backed up with it); give it a volume of its own", r.Volume))
		}
	}
	checkRepo("spec.repository", &b.Spec.Repository)
	for i := range b.Spec.Copies {
		checkRepo(fmt.Sprintf("spec.copies[%d].repository", i), &b.Spec.Copies[i].Repository)
	}
	for _, env := range slices.Sorted(maps.Keys(b.Spec.Overrides)) {
		p := "spec.overrides." + env
		checkVolumes(p+".volumes", b.Spec.Overrides[env].Volumes)
		checkRepo(p+".repository", b.Spec.Overrides[env].Repository)
	}
	envs := b.Spec.Environments
	if len(envs) == 0 {
		envs = []string{app.DefaultEnvironment}
	}
	for env := range b.Spec.Overrides {
		if !slices.Contains(envs, env) {
			errs = append(errs, b.Problem("spec.overrides."+env, "environment %q is not covered (covered: %s); add it to spec.environments or remove the override", env, strings.Join(envs, ", ")))
		}
	}
	return errs
}

// uniqueProblems drops repeats: a problem of a service database shows in
// every covered environment that resolves it alike.
func uniqueProblems(errs []error) []error {
	var out []error
	seen := map[string]bool{}
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

func refs(es spec.EnvSpec) []Ref {
	names := es.SecretNames()
	out := make([]Ref, 0, len(names))
	for _, n := range names {
		r := Ref{Name: n, Secret: PlaintextRef(n), About: aboutSecret(es, n)}
		if src, ok := es.Secrets[n]; ok && src.OnePassword != "" {
			r.Secret, r.OnePassword = src.OnePassword, src.OnePassword
		}
		out = append(out, r)
	}
	return out
}

// serviceBlock renders the whole backup service for one environment, in the
// key order devopsellence itself writes: the agent's scheduler as command,
// and its configuration as env.
func serviceBlock(es spec.EnvSpec, appID string, rs []Ref) yamlpatch.Map {
	env := es.Agent(appID).Env()
	for k, v := range es.Env {
		env[k] = v
	}
	m := yamlpatch.Map{
		{Key: "image", Value: yamlpatch.Scalar(es.Image)},
		{Key: "command", Value: scalars(spec.ServiceCommand())},
		{Key: "env", Value: sortedMap(env)},
	}
	if len(rs) > 0 {
		l := make(yamlpatch.List, 0, len(rs))
		for _, r := range rs {
			l = append(l, yamlpatch.Map{{Key: "name", Value: yamlpatch.Scalar(r.Name)}, {Key: "secret", Value: yamlpatch.Scalar(r.Secret)}})
		}
		m = append(m, yamlpatch.Field{Key: "secret_refs", Value: l})
	}
	volumes := slices.Clone(es.Volumes)
	// A local repository (the primary, or a copy) lives on a volume of its
	// own, mounted at its path.
	for _, r := range append([]spec.Repository{es.Repository}, copyRepositories(es)...) {
		if r.Volume != "" {
			volumes = append(volumes, spec.Volume{Name: r.Volume, Target: r.LocalPath()})
		}
	}
	if len(volumes) > 0 {
		l := make(yamlpatch.List, 0, len(volumes))
		for _, v := range volumes {
			l = append(l, yamlpatch.Map{{Key: "source", Value: yamlpatch.Scalar(v.Name)}, {Key: "target", Value: yamlpatch.Scalar(v.Target)}})
		}
		m = append(m, yamlpatch.Field{Key: "volumes", Value: l})
	}
	return m
}

// overlay is what env must change on top of base, following devopsellence's
// merge rules: scalars and lists replace, env merges key by key (so a key the
// base has and env lacks is blanked, since an overlay cannot remove it).
func overlay(base, full yamlpatch.Map) yamlpatch.Map {
	o := yamlpatch.Map{}
	for _, key := range []string{"image", "command", "env", "secret_refs", "volumes"} {
		b, f := base.Get(key), full.Get(key)
		if key == "env" {
			if diff := envDiff(b, f); len(diff) > 0 {
				o = append(o, yamlpatch.Field{Key: key, Value: diff})
			}
			continue
		}
		if f == nil && b != nil {
			f = yamlpatch.List{} // replace the base list with an empty one
		}
		if f != nil && !yamlpatch.Equal(b, f) {
			o = append(o, yamlpatch.Field{Key: key, Value: f})
		}
	}
	return o
}

func envDiff(base, full yamlpatch.Value) yamlpatch.Map {
	bm, _ := base.(yamlpatch.Map)
	fm, _ := full.(yamlpatch.Map)
	diff := map[string]string{}
	for _, f := range fm {
		if bv := bm.Get(f.Key); bv == nil || !yamlpatch.Equal(bv, f.Value) {
			diff[f.Key] = string(f.Value.(yamlpatch.Scalar))
		}
	}
	for _, f := range bm {
		if fm.Get(f.Key) == nil {
			diff[f.Key] = ""
		}
	}
	if len(diff) == 0 {
		return nil
	}
	return sortedMap(diff)
}

// inert is the overlay for an environment the spec does not cover: the
// service exists there (overlays cannot remove services) but idles with no
// secrets and no volumes, so it can neither fail a deploy for a missing
// secret nor write into another environment's repository.
func inert(base yamlpatch.Map) yamlpatch.Map {
	o := yamlpatch.Map{}
	if !yamlpatch.Equal(base.Get("command"), scalars(idleCommand())) {
		o = append(o, yamlpatch.Field{Key: "command", Value: scalars(idleCommand())})
	}
	return append(o,
		yamlpatch.Field{Key: "secret_refs", Value: yamlpatch.List{}},
		yamlpatch.Field{Key: "volumes", Value: yamlpatch.List{}},
	)
}

// Scope lists every environment the backup service exists in: the covered
// ones, then the app's others.
func (d *Desired) Scope() []string {
	return append(slices.Clone(d.Covered), d.Uncovered...)
}

// Fingerprint identifies what a deploy of env would run: the base and the
// overlay block. A recorded fingerprint equal to it means that exact service
// was deployed successfully.
func (d *Desired) Fingerprint(env string) string { return fingerprint(d.Base, d.Overlays[env]) }

func fingerprint(base, overlay yamlpatch.Map) string {
	var o yamlpatch.Value
	if len(overlay) > 0 {
		o = overlay // an empty overlay deploys what no overlay does
	}
	b, _ := json.Marshal(struct {
		Base, Overlay yamlpatch.Value
	}{base, o})
	return sum(b)
}

func scalars(ss []string) yamlpatch.List {
	l := make(yamlpatch.List, len(ss))
	for i, s := range ss {
		l[i] = yamlpatch.Scalar(s)
	}
	return l
}

func sortedMap(m map[string]string) yamlpatch.Map {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(yamlpatch.Map, len(keys))
	for i, k := range keys {
		out[i] = yamlpatch.Field{Key: k, Value: yamlpatch.Scalar(m[k])}
	}
	return out
}

func copyRepositories(es spec.EnvSpec) []spec.Repository {
	out := make([]spec.Repository, 0, len(es.Copies))
	for _, c := range es.Copies {
		out = append(out, c.Repository)
	}
	return out
}
