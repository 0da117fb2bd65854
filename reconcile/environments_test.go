package reconcile_test

import (
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// service is the backup service of one environment as devopsellence resolves
// it from a file: lists replace, env merges key by key.
type service struct {
	refs, volumes []string
	command       string
	env           map[string]string
}

// agent is the configuration the agent in the service reads.
func (s service) agent(t *testing.T) spec.AgentConfig {
	t.Helper()
	a, err := spec.ParseAgentEnv(func(k string) string { return s.env[k] })
	if err != nil {
		t.Fatalf("the agent cannot read its service's environment: %v", err)
	}
	return a
}

func resolve(t *testing.T, cfg []byte, env string) service {
	t.Helper()
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, ok := doc.Lookup("services", "backup")
	if !ok {
		t.Fatalf("no backup service in\n%s", cfg)
	}
	bm := base.Value.(yamlpatch.Map)
	var om yamlpatch.Map
	if e, ok := doc.Lookup("environments", env, "services", "backup"); ok {
		om = e.Value.(yamlpatch.Map)
	}
	get := func(key string) yamlpatch.Value {
		if v := om.Get(key); v != nil {
			return v
		}
		return bm.Get(key)
	}
	s := service{env: map[string]string{}}
	for _, m := range []yamlpatch.Map{bm, om} {
		if e, ok := m.Get("env").(yamlpatch.Map); ok {
			for _, f := range e {
				s.env[f.Key] = string(f.Value.(yamlpatch.Scalar))
			}
		}
	}
	l, _ := get("secret_refs").(yamlpatch.List)
	for _, r := range l {
		s.refs = append(s.refs, string(r.(yamlpatch.Map).Get("name").(yamlpatch.Scalar)))
	}
	l, _ = get("volumes").(yamlpatch.List)
	for _, v := range l {
		s.volumes = append(s.volumes, string(v.(yamlpatch.Map).Get("source").(yamlpatch.Scalar)))
	}
	c, _ := get("command").(yamlpatch.List)
	for _, x := range c {
		s.command += string(x.(yamlpatch.Scalar)) + " "
	}
	return s
}

// noEnvironments is appYAML without its environments section.
const noEnvironments = `schema_version: 1
organization: solo
project: app
services:
  web:
    ports:
      - name: http
        port: 3000
    healthcheck:
      path: /up
    volumes:
      - source: app_storage
        target: /app/storage
`

func nodesIn(envs ...string) func(*reconcile.Observed) {
	return func(o *reconcile.Observed) {
		o.Nodes = map[string][]reconcile.Node{}
		for _, e := range envs {
			o.Nodes[e] = []reconcile.Node{{Name: "vm-1", Labels: []string{"web", "worker"}}}
		}
	}
}

func findings(p *reconcile.Plan, code string) []reconcile.Finding {
	var out []reconcile.Finding
	for _, f := range p.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

func TestACoveredEnvironmentTheFileDoesNotMentionGetsItsOwnOverlay(t *testing.T) {
	b := specDoc(t, `  image: restic/restic:0.18.1
  environments: [production, staging]
  volumes: [{name: app_storage}]
  repository: {url: "s3:s3.amazonaws.com/app"}
  overrides:
    staging:
      repository: {url: "b2:app-staging:restic"}
`)
	p := plan(t, b, noEnvironments, nodesIn("production", "staging"))
	if len(findings(p, reconcile.CodeUnknownEnv)) != 0 {
		t.Errorf("staging has a node, so devopsellence knows it: %+v", p.Findings)
	}
	staging := resolve(t, p.After, "staging")
	if a := staging.agent(t); a.Host != "app-staging" || strings.Join(a.Tags, ",") != "app:app,env:staging" || a.RepositoryURL != "b2:app-staging:restic" {
		t.Errorf("the agent in staging runs as host %q, tags %q, repository %q\n%s", a.Host, a.Tags, a.RepositoryURL, p.After)
	}
	if got := strings.Join(staging.refs, ","); got != "RESTIC_PASSWORD,B2_ACCOUNT_ID,B2_ACCOUNT_KEY" {
		t.Errorf("staging refs = %s", got)
	}
	if production := resolve(t, p.After, "production"); production.env["RESTIC_REPOSITORY"] != "s3:s3.amazonaws.com/app" || production.agent(t).Host != "app-production" {
		t.Errorf("production = %+v", production)
	}
	// Once written, the file names it: a second plan changes nothing.
	if again := plan(t, b, string(p.After), nodesIn("production", "staging")); len(again.Changes) != 0 {
		t.Errorf("second plan: %+v", again.Changes)
	}

	// With the spec's defaults the overlay differs only by host and tags;
	// with a host and tags of its own it would not differ at all, and is
	// still written so that the file names the environment.
	same := specDoc(t, "  image: restic/restic:0.18.1\n  environments: [production, staging]\n  volumes: [{name: app_storage}]\n  repository: {url: \"s3:s3.amazonaws.com/app\"}\n  host: shared\n  tags: [app]\n")
	p = plan(t, same, noEnvironments, nodesIn("production", "staging"))
	if !strings.Contains(string(p.After), "  staging:\n    services:\n      # managed by devopsellence-backup") {
		t.Errorf("no staging overlay:\n%s", p.After)
	}
}

func TestAnEnvironmentDevopsellenceDoesNotKnowIsAnErrorWithTheLikelyName(t *testing.T) {
	b := specDoc(t, "  image: restic/restic:0.18.1\n  environments: [prodution]\n  volumes: [{name: app_storage}]\n  repository: {url: \"s3:s3.amazonaws.com/app\"}\n")
	p := plan(t, b, appYAML, nodesIn("production", "staging"))
	unknown := findings(p, reconcile.CodeUnknownEnv)
	if len(unknown) != 1 || unknown[0].Severity != reconcile.SeverityError || !strings.Contains(unknown[0].Message, `did you mean "production"?`) {
		t.Fatalf("unknown_environment = %+v", unknown)
	}
	if f := p.Blocker(nil, false); f == nil || f.Code != reconcile.CodeUnknownEnv {
		t.Errorf("an unknown environment does not stop apply, even without a deploy: %+v", f)
	}
	if n := len(findings(p, reconcile.CodeNoNode)); n != 0 {
		t.Errorf("%d no_node_attached findings repeat the unknown environment", n)
	}
	// Far from every known name: no guess, but the way to make it known.
	b = specDoc(t, "  image: restic/restic:0.18.1\n  environments: [qa]\n  volumes: [{name: app_storage}]\n  repository: {url: \"s3:s3.amazonaws.com/app\"}\n")
	f := findings(plan(t, b, appYAML, nodesIn("production", "staging")), reconcile.CodeUnknownEnv)
	if len(f) != 1 || strings.Contains(f[0].Message, "did you mean") || f[0].NextActions[0].Command != "devopsellence node attach <node> --env qa" {
		t.Errorf("qa = %+v", f)
	}
	// A node attached to it makes it known.
	if f := findings(plan(t, b, appYAML, nodesIn("qa")), reconcile.CodeUnknownEnv); len(f) != 0 {
		t.Errorf("qa with a node: %+v", f)
	}
}

func TestAnApplyLimitedToOneEnvironmentLeavesTheOthersReferencingOnlyStoredSecrets(t *testing.T) {
	b := specDoc(t, `  image: restic/restic:0.18.1
  environments: [production, staging]
  volumes: [{name: app_storage}]
  repository: {url: "s3:s3.amazonaws.com/app"}
  overrides:
    staging:
      repository: {url: "b2:app-staging:restic"}
`)
	app, d := desire(t, b, []byte(appYAML))
	o := observe(t, []byte(appYAML), app, d)
	p, err := reconcile.Diff(d, o, []string{"staging"})
	if err != nil {
		t.Fatal(err)
	}
	production := resolve(t, p.After, "production")
	if len(production.refs)+len(production.volumes) != 0 || production.command != "sh -lc sleep infinity " {
		t.Errorf("production, whose secrets are not stored, is not inert: %+v\n%s", production, p.After)
	}
	if host := production.agent(t).Host; host != "app-production" {
		t.Errorf("production's inert service shows %q as its host", host)
	}
	if staging := resolve(t, p.After, "staging"); strings.Join(staging.refs, ",") != "RESTIC_PASSWORD,B2_ACCOUNT_ID,B2_ACCOUNT_KEY" || len(staging.volumes) != 1 {
		t.Errorf("staging = %+v", staging)
	}
	e := p.Env("production")
	if !e.Inert || e.Deploy || !strings.Contains(e.DeployReason, "devopsellence-backup apply --env production") {
		t.Errorf("production plan = %+v", e)
	}
	nr := findings(p, reconcile.CodeNotReady)
	if len(nr) != 1 || nr[0].NextActions[0].Command != "devopsellence-backup apply --env production" || !strings.Contains(nr[0].Message, "RESTIC_PASSWORD, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY") {
		t.Errorf("not-ready findings = %+v", nr)
	}
	if n := len(p.Missing()); n != 3 {
		t.Errorf("missing = %d, want staging's 3 only", n)
	}
	if len(findings(p, reconcile.CodeBackupsStop)) != 0 {
		t.Error("production was never backed up, yet the plan says its backups stop")
	}

	// Once production's secrets are stored, the next apply of staging alone
	// gives production its service back.
	all := func(o *reconcile.Observed) {
		for _, name := range []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			o.Secrets["production"] = append(o.Secrets["production"], stored("production", name, "plaintext", ""))
		}
	}
	app2, d2 := desire(t, b, p.After)
	o2 := observe(t, p.After, app2, d2)
	all(o2)
	p2, err := reconcile.Diff(d2, o2, []string{"staging"})
	if err != nil {
		t.Fatal(err)
	}
	if production := resolve(t, p2.After, "production"); strings.Join(production.refs, ",") != "RESTIC_PASSWORD,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY" {
		t.Errorf("production after its secrets were stored = %+v", production)
	}
}

func TestAPlanThatStopsTheBackupsOfAnEnvironmentSaysSo(t *testing.T) {
	both := specDoc(t, "  image: restic/restic:0.18.1\n  environments: [production, staging]\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	backedUp := plan(t, both, appYAML, nil).After
	storedAll := func(o *reconcile.Observed) {
		for _, env := range []string{"production", "staging"} {
			o.Secrets[env] = []reconcile.Secret{stored(env, "RESTIC_PASSWORD", "plaintext", "")}
		}
	}

	// staging leaves the spec.
	one := specDoc(t, "  image: restic/restic:0.18.1\n  environments: [production]\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	p := plan(t, one, string(backedUp), storedAll)
	stop := findings(p, reconcile.CodeBackupsStop)
	if len(stop) != 1 || stop[0].Environment != "staging" || stop[0].NextActions[1].Command != "devopsellence-backup apply --disable-backups staging" {
		t.Fatalf("backups_stop = %+v", stop)
	}
	if s := resolve(t, p.After, "staging"); len(s.refs)+len(s.volumes) != 0 {
		t.Errorf("staging is not inert: %+v", s)
	}

	// production needs a new secret that an apply limited to staging does not store.
	s3 := specDoc(t, "  image: restic/restic:0.18.1\n  environments: [production, staging]\n  volumes: [{name: app_storage}]\n  repository: {url: \"s3:s3.amazonaws.com/app\"}\n  overrides:\n    staging:\n      repository: {url: /srv/repo, volume: restic_repo}\n")
	app, d := desire(t, s3, backedUp)
	o := observe(t, backedUp, app, d)
	storedAll(o)
	p, err := reconcile.Diff(d, o, []string{"staging"})
	if err != nil {
		t.Fatal(err)
	}
	stop = findings(p, reconcile.CodeBackupsStop)
	if len(stop) != 1 || stop[0].Environment != "production" || !strings.Contains(stop[0].Message, "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY are not stored") ||
		stop[0].NextActions[0].Command != "devopsellence-backup apply --env production" {
		t.Fatalf("backups_stop = %+v", stop)
	}

	// A service that references secrets never stored was not backing
	// anything up (Observe lists the secrets of an uncovered environment
	// whose service is active).
	p = plan(t, one, string(backedUp), func(o *reconcile.Observed) { o.Secrets["staging"] = []reconcile.Secret{} })
	if len(findings(p, reconcile.CodeBackupsStop)) != 0 {
		t.Errorf("an environment whose secrets were never stored counts as backed up: %+v", p.Findings)
	}
}
