package reconcile

import (
	"fmt"
	"iter"
	"maps"
	"sort"

	"go.yaml.in/yaml/v3"
)

// App is what devopsellence-backup needs to know about an app's
// devopsellence.yml. It is read leniently: devopsellence itself validates the
// file strictly (config resolve) after every patch.
type App struct {
	Project            string
	DefaultEnvironment string
	// Services in file order.
	Services []AppService
	// Overlays are environments.<env>.services.<svc>, by environment in file order.
	Overlays []AppOverlay
}

// AppService is one service of the base config. Only the image and volumes
// of every service are read; the other fields are read for the service
// named by ReadApp's detail argument (the backup service), for database
// servers (recognised by their image), or for all with "*".
type AppService struct {
	Name        string
	Image       string
	Command     []string
	Args        []string
	Env         map[string]string
	SecretRefs  []SecretRef
	Volumes     []Volume
	Ports       []Port
	Healthcheck bool
}

// AppOverlay is one environment's overlay.
type AppOverlay struct {
	Environment string
	Services    []AppService
}

// SecretRef is a services.*.secret_refs item.
type SecretRef struct {
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
}

// Volume is a services.*.volumes item.
type Volume struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

// Port is a services.*.ports item.
type Port struct {
	Name string `yaml:"name"`
	Port int    `yaml:"port"`
}

type rawService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Args        []string          `yaml:"args"`
	Env         map[string]string `yaml:"env"`
	SecretRefs  []SecretRef       `yaml:"secret_refs"`
	Volumes     []Volume          `yaml:"volumes"`
	Ports       []Port            `yaml:"ports"`
	Healthcheck *yaml.Node        `yaml:"healthcheck"`
}

type volumesOnly struct {
	Image   string   `yaml:"image"`
	Volumes []Volume `yaml:"volumes"`
}

// ReadApp decodes the app config from an already parsed document root. Every
// service's volumes are read; the rest of a service only when its name is
// detail, or for every service when detail is "*" (a 2,000-service file
// should cost little more than its parse).
func ReadApp(root *yaml.Node, detail string) (*App, error) {
	if root == nil {
		return nil, fmt.Errorf("devopsellence.yml is empty; run `devopsellence init --mode solo` first")
	}
	var raw struct {
		Project            string    `yaml:"project"`
		DefaultEnvironment string    `yaml:"default_environment"`
		Services           yaml.Node `yaml:"services"`
		Environments       yaml.Node `yaml:"environments"`
	}
	if err := root.Decode(&raw); err != nil {
		return nil, fmt.Errorf("read devopsellence.yml: %w; run `devopsellence config resolve` to see what devopsellence makes of it", err)
	}
	app := &App{Project: raw.Project, DefaultEnvironment: raw.DefaultEnvironment}
	if app.DefaultEnvironment == "" {
		app.DefaultEnvironment = "production"
	}
	var err error
	if app.Services, err = readServices(&raw.Services, "services", detail, nil); err != nil {
		return nil, err
	}
	// Overlays of a database server are read in full too: an environment
	// may give it its own credentials or volume.
	servers := map[string]bool{}
	for _, s := range app.Services {
		if _, ok := serverImage(s.Image); ok {
			servers[s.Name] = true
		}
	}
	for _, kv := range mapping(&raw.Environments) {
		var env struct {
			Services yaml.Node `yaml:"services"`
		}
		if err := kv.value.Decode(&env); err != nil {
			return nil, fmt.Errorf("read devopsellence.yml: environments.%s: %w", kv.key, err)
		}
		svcs, err := readServices(&env.Services, "environments."+kv.key+".services", detail, servers)
		if err != nil {
			return nil, err
		}
		app.Overlays = append(app.Overlays, AppOverlay{Environment: kv.key, Services: svcs})
	}
	return app, nil
}

func readServices(n *yaml.Node, path, detail string, servers map[string]bool) ([]AppService, error) {
	kvs := mapping(n)
	out := make([]AppService, 0, len(kvs))
	for _, kv := range kvs {
		if detail != "*" && kv.key != detail && !servers[kv.key] {
			v, ok := plainVolumes(kv.value)
			if !ok {
				if err := kv.value.Decode(&v); err != nil {
					return nil, fmt.Errorf("read devopsellence.yml: %s.%s (line %d): %w", path, kv.key, kv.value.Line, err)
				}
			}
			if _, ok := serverImage(v.Image); !ok {
				out = append(out, AppService{Name: kv.key, Image: v.Image, Volumes: v.Volumes})
				continue
			}
		}
		var rs rawService
		if err := kv.value.Decode(&rs); err != nil {
			return nil, fmt.Errorf("read devopsellence.yml: %s.%s (line %d): %w", path, kv.key, kv.value.Line, err)
		}
		out = append(out, AppService{
			Name: kv.key, Image: rs.Image, Command: rs.Command, Args: rs.Args, Env: rs.Env, SecretRefs: rs.SecretRefs,
			Volumes: rs.Volumes, Ports: rs.Ports, Healthcheck: rs.Healthcheck != nil && rs.Healthcheck.Kind != 0 && rs.Healthcheck.Tag != "!!null",
		})
	}
	return out, nil
}

// plainVolumes reads a service's image and volumes as Decode into
// volumesOnly would, without reflection, when the node has the plain shape
// nearly every service has: a mapping without aliases, merge keys or
// duplicate keys; an image that is a string or null; volumes that are null
// or a sequence of such mappings of string or null source and target.
// Anything else is left to Decode (ok false), errors included.
func plainVolumes(n *yaml.Node) (v volumesOnly, ok bool) {
	ok = plainMapping(n, func(key string, val *yaml.Node) bool {
		switch key {
		case "image":
			return plainString(val, &v.Image)
		case "volumes":
			return plainVolumeList(val, &v.Volumes)
		}
		return true
	})
	return v, ok
}

func plainVolumeList(n *yaml.Node, out *[]Volume) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		return false
	}
	vols := make([]Volume, len(n.Content))
	for i, item := range n.Content {
		ok := plainMapping(item, func(key string, val *yaml.Node) bool {
			switch key {
			case "source":
				return plainString(val, &vols[i].Source)
			case "target":
				return plainString(val, &vols[i].Target)
			}
			return true
		})
		if !ok {
			return false
		}
	}
	*out = vols
	return true
}

// plainMapping calls field for each key of mapping n, in order, if n is a
// mapping with plain string keys, no merge key and no key twice; it stops
// at the first field that returns false.
func plainMapping(n *yaml.Node, field func(key string, val *yaml.Node) bool) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || val.Kind == yaml.AliasNode {
			return false
		}
		for j := 0; j < i; j += 2 {
			if n.Content[j].Value == k.Value {
				return false
			}
		}
		if !field(k.Value, val) {
			return false
		}
	}
	return true
}

// plainString reads a string or null scalar.
func plainString(n *yaml.Node, out *string) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case "!!str":
		*out = n.Value
		return true
	case "!!null":
		return true
	}
	return false
}

type keyValue struct {
	key   string
	value *yaml.Node
}

// mapping lists a mapping node's entries in order, following aliases.
func mapping(n *yaml.Node) []keyValue {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]keyValue, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, keyValue{key: n.Content[i].Value, value: n.Content[i+1]})
	}
	return out
}

// Service returns the base service name, if present.
func (a *App) Service(name string) (AppService, bool) {
	for _, s := range a.Services {
		if s.Name == name {
			return s, true
		}
	}
	return AppService{}, false
}

// ServiceIn is the service name as environment env resolves it, following
// devopsellence's merge rules: the overlay's env merges key by key, its
// image overrides, and its command, args, secret_refs and volumes replace
// the base lists when present. ok is false when the base has no such
// service (overlays cannot add one).
func (a *App) ServiceIn(env, name string) (AppService, bool) {
	s, ok := a.Service(name)
	if !ok {
		return AppService{}, false
	}
	var ovs []AppService
	for _, o := range a.Overlays {
		if o.Environment != env {
			continue
		}
		for _, ov := range o.Services {
			if ov.Name == name {
				ovs = append(ovs, ov)
			}
		}
	}
	return merge(s, ovs), true
}

// ServicesIn yields every base service as environment env resolves it
// (see ServiceIn), in file order: one pass over the overlays, whatever the
// number of services, and no copy of the list.
func (a *App) ServicesIn(env string) iter.Seq[AppService] {
	return func(yield func(AppService) bool) {
		idx := map[string][]AppService{}
		for _, o := range a.Overlays {
			if o.Environment != env {
				continue
			}
			for _, ov := range o.Services {
				idx[ov.Name] = append(idx[ov.Name], ov)
			}
		}
		for _, s := range a.Services {
			if !yield(merge(s, idx[s.Name])) {
				return
			}
		}
	}
}

// merge applies an environment's overlays of base service s, in file
// order, by devopsellence's merge rules (see ServiceIn).
func merge(s AppService, overlays []AppService) AppService {
	if s.Env != nil {
		s.Env = maps.Clone(s.Env)
	}
	for _, ov := range overlays {
		if ov.Image != "" {
			s.Image = ov.Image
		}
		if len(ov.Env) > 0 {
			if s.Env == nil {
				s.Env = map[string]string{}
			}
			maps.Copy(s.Env, ov.Env)
		}
		if ov.Command != nil {
			s.Command = ov.Command
		}
		if ov.Args != nil {
			s.Args = ov.Args
		}
		if ov.SecretRefs != nil {
			s.SecretRefs = ov.SecretRefs
		}
		if ov.Volumes != nil {
			s.Volumes = ov.Volumes
		}
	}
	return s
}

// Environments lists the app's environments: default_environment first, then
// every environment that has an overlay, in file order.
func (a *App) Environments() []string {
	envs := []string{a.DefaultEnvironment}
	for _, o := range a.Overlays {
		if o.Environment != a.DefaultEnvironment {
			envs = append(envs, o.Environment)
		}
	}
	return envs
}

// HasEnvironment reports whether env is one of Environments.
func (a *App) HasEnvironment(env string) bool {
	for _, e := range a.Environments() {
		if e == env {
			return true
		}
	}
	return false
}

// VolumeSources lists, sorted, the volume sources that app services other than
// skip use, in the base config or any overlay.
func (a *App) VolumeSources(skip string) []string {
	seen := map[string]bool{}
	add := func(svcs []AppService) {
		for _, s := range svcs {
			if s.Name == skip {
				continue
			}
			for _, v := range s.Volumes {
				seen[v.Source] = true
			}
		}
	}
	add(a.Services)
	for _, o := range a.Overlays {
		add(o.Services)
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
