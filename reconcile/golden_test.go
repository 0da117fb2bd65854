package reconcile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/fixtures/golden"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

const appsDir = "../fixtures/apps"

// fixture is one app under fixtures/apps, planned with no secret stored and
// one web+worker node attached to every environment.
type fixture struct {
	name    string
	dir     string
	before  []byte
	backup  *spec.Backup
	desired *reconcile.Desired
	app     *reconcile.App
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	dir := filepath.Join(appsDir, name)
	before, err := os.ReadFile(filepath.Join(dir, "devopsellence.yml"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, spec.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := spec.Parse(spec.DefaultFile, raw)
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{name: name, dir: dir, before: before, backup: b}
	f.app, f.desired = desire(t, b, before)
	return f
}

func desire(t *testing.T, b *spec.Backup, cfg []byte) (*reconcile.App, *reconcile.Desired) {
	t.Helper()
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app, err := reconcile.ReadApp(doc.Root(), b.ServiceName())
	if err != nil {
		t.Fatal(err)
	}
	d, err := reconcile.Desire(b, app, spec.DefaultFile)
	if err != nil {
		t.Fatal(err)
	}
	return app, d
}

func observe(t *testing.T, cfg []byte, app *reconcile.App, d *reconcile.Desired) *reconcile.Observed {
	t.Helper()
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	o := &reconcile.Observed{ConfigFile: "devopsellence.yml", Config: cfg, Doc: doc, App: app,
		Secrets: map[string][]reconcile.Secret{}, Deployed: map[string]string{}}
	for _, e := range d.Covered {
		o.Secrets[e] = []reconcile.Secret{}
	}
	o.Nodes = map[string][]reconcile.Node{}
	for _, e := range d.Scope() {
		o.Nodes[e] = []reconcile.Node{{Name: "vm-1", Labels: []string{"web", "worker"}}}
	}
	return o
}

func fixtureNames(t *testing.T) []string {
	entries, err := os.ReadDir(appsDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d fixture apps", len(names))
	}
	return names
}

func TestPlanGoldenOverFixtureApps(t *testing.T) {
	sim := simtest.New(t)
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			p, err := reconcile.Diff(f.desired, observe(t, f.before, f.app, f.desired), nil)
			var conflict *reconcile.ConflictError
			if errors.As(err, &conflict) {
				golden.Check(t, filepath.Join(f.dir, "want.error.txt"), []byte(err.Error()+"\n"))
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join(f.dir, "want.devopsellence.yml"), p.After)
			summary, _ := json.MarshalIndent(struct {
				Changes      []reconcile.Change
				Environments []reconcile.EnvPlan
				Findings     []reconcile.Finding
			}{p.Changes, p.Environments, p.Findings}, "", "  ")
			golden.Check(t, filepath.Join(f.dir, "want.plan.json"), append(summary, '\n'))

			assertSecondPlanIsEmpty(t, f, p.After)
			assertOutsideBlocksUnchanged(t, f, p)
			assertDecodesToIntent(t, f, p)
			assertSimulatorLoadsEveryEnvironment(t, sim, f, p.After)
		})
	}
}

func assertSecondPlanIsEmpty(t *testing.T, f fixture, after []byte) {
	t.Helper()
	app, d := desire(t, f.backup, after)
	p2, err := reconcile.Diff(d, observe(t, after, app, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2.Changes) > 0 || !bytes.Equal(p2.After, after) {
		t.Errorf("second plan is not empty: %+v", p2.Changes)
	}
}

// assertOutsideBlocksUnchanged strips the managed blocks from the patched
// file, and the blocks the plan replaced or removed from the original, and
// requires the rest to be the same lines, save the parent keys the patch had
// to create.
func assertOutsideBlocksUnchanged(t *testing.T, f fixture, p *reconcile.Plan) {
	t.Helper()
	var oldPaths, newPaths [][]string
	for _, c := range p.Changes {
		path := strings.Split(c.Path, ".")
		if c.Action != reconcile.ActionAdd {
			oldPaths = append(oldPaths, path)
		}
		if c.Action != reconcile.ActionRemove {
			newPaths = append(newPaths, path)
		}
	}
	before := stripBlocks(t, f.before, oldPaths)
	after := stripBlocks(t, p.After, newPaths)
	created := map[string]bool{}
	for _, path := range newPaths {
		for i := 1; i < len(path); i++ {
			if !hasPath(t, f.before, path[:i]) {
				created[path[i-1]] = true
			}
		}
	}
	i := 0
	for _, line := range after {
		if i < len(before) && line == before[i] {
			i++
			continue
		}
		key := strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(line, "\r")), ":")
		if !created[key] {
			t.Errorf("line %q of the patched file is outside the managed blocks and not in the original", line)
		}
	}
	if i != len(before) {
		t.Errorf("original lines missing from the patched file, from %q", before[i])
	}
}

// stripBlocks removes the entries at paths (and a marker comment directly
// above each), by their yaml.v3 position and indentation.
func stripBlocks(t *testing.T, src []byte, paths [][]string) []string {
	t.Helper()
	lines := strings.SplitAfter(string(src), "\n")
	drop := map[int]bool{}
	for _, path := range paths {
		n := lookupKey(t, src, path)
		if n == nil {
			t.Fatalf("no %v in the file", path)
		}
		start := n.Line - 1
		indent := n.Column - 1
		if start > 0 && strings.Contains(lines[start-1], yamlpatch.MarkerPrefix) {
			drop[start-1] = true
		}
		drop[start] = true
		for j := start + 1; j < len(lines); j++ {
			l := strings.TrimRight(lines[j], "\r\n")
			if strings.TrimSpace(l) == "" {
				k := j + 1
				for k < len(lines) && strings.TrimSpace(lines[k]) == "" {
					k++
				}
				if k < len(lines) && leading(lines[k]) > indent && !strings.HasPrefix(strings.TrimSpace(lines[k]), "#") {
					drop[j] = true
					continue
				}
				break
			}
			if leading(l) <= indent && !(leading(l) == indent && strings.HasPrefix(strings.TrimSpace(l), "- ")) {
				break
			}
			drop[j] = true
		}
	}
	var out []string
	for i, l := range lines {
		if !drop[i] && l != "" {
			out = append(out, strings.TrimSuffix(l, "\n"))
		}
	}
	return out
}

func leading(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func lookupKey(t *testing.T, src []byte, path []string) *yaml.Node {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		t.Fatal(err)
	}
	n := root.Content[0]
	var key *yaml.Node
	for _, k := range path {
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				key, next = n.Content[i], n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return key
}

func hasPath(t *testing.T, src []byte, path []string) bool { return lookupKey(t, src, path) != nil }

// assertDecodesToIntent decodes the patched file: the managed blocks hold
// exactly the desired values, and everything else decodes as before.
func assertDecodesToIntent(t *testing.T, f fixture, p *reconcile.Plan) {
	after := p.After
	t.Helper()
	var was, now map[string]any
	if err := yaml.Unmarshal(f.before, &was); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(after, &now); err != nil {
		t.Fatalf("patched file does not parse: %v", err)
	}
	d := f.desired
	if got := dig(now, "services", d.Service); !reflect.DeepEqual(got, plain(d.Base)) {
		t.Errorf("services.%s = %v, want %v", d.Service, got, plain(d.Base))
	}
	cut(now, "services", d.Service)
	cut(was, "services", d.Service)
	for env, o := range d.Overlays {
		if got := dig(now, "environments", env, "services", d.Service); !reflect.DeepEqual(got, plain(o)) {
			t.Errorf("overlay %s = %v, want %v", env, got, plain(o))
		}
		cut(now, "environments", env, "services", d.Service)
	}
	for _, c := range p.Changes { // services the spec renamed or dropped are pruned, with their overlays
		if c.Action == reconcile.ActionRemove {
			cut(was, strings.Split(c.Path, ".")...)
		}
	}
	for env := range d.Overlays {
		cut(was, "environments", env, "services", d.Service)
	}
	prune(was)
	prune(now)
	if !reflect.DeepEqual(was, now) {
		t.Errorf("outside the managed blocks the decoded config changed:\nwas %v\nnow %v", was, now)
	}
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func cut(m map[string]any, path ...string) {
	parent, ok := dig(m, path[:len(path)-1]...).(map[string]any)
	if ok {
		delete(parent, path[len(path)-1])
	}
}

// prune drops maps left empty by cut.
func prune(m map[string]any) bool {
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok && prune(mm) {
			delete(m, k)
		}
	}
	return len(m) == 0
}

func plain(v yamlpatch.Value) any {
	switch v := v.(type) {
	case yamlpatch.Map:
		m := map[string]any{}
		for _, f := range v {
			m[f.Key] = plain(f.Value)
		}
		return m
	case yamlpatch.List:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = plain(x)
		}
		return l
	case yamlpatch.Scalar:
		return string(v)
	}
	return nil
}

func assertSimulatorLoadsEveryEnvironment(t *testing.T, sim *simtest.Env, f fixture, after []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "devopsellence.yml"), after, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, env := range f.app.Environments() {
		if r := sim.RunIn(t, dir, "config", "resolve", "--env", env); r.Code != 0 {
			t.Errorf("devopsellence config resolve --env %s: exit %d: %s", env, r.Code, r.Stdout)
		}
	}
}

func readApp(t *testing.T, cfg string) (*reconcile.App, error) {
	t.Helper()
	doc, err := yamlpatch.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return reconcile.ReadApp(doc.Root(), "*")
}
