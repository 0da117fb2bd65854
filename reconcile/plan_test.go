package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
	"github.com/devopsellence/devopsellence-backup/spec"
)

const appYAML = `schema_version: 1
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
environments:
  staging:
    services:
      web:
        env:
          X: "1"
`

func specDoc(t *testing.T, body string) *spec.Backup {
	t.Helper()
	b, err := spec.Parse("devopsellence.backup.yml", []byte("apiVersion: backup.devopsellence.io/v1alpha1\nkind: Backup\nmetadata:\n  name: app\nspec:\n"+body))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const baseSpec = `  image: restic/restic:0.18.1
  environments: [production, staging]
  volumes: [{name: app_storage}]
  repository: {url: "s3:s3.amazonaws.com/app"}
  secrets:
    AWS_ACCESS_KEY_ID: {onePassword: "op://Infra/aws/key id"}
`

func plan(t *testing.T, b *spec.Backup, cfg string, mut func(*reconcile.Observed)) *reconcile.Plan {
	t.Helper()
	app, d := desire(t, b, []byte(cfg))
	o := observe(t, []byte(cfg), app, d)
	if mut != nil {
		mut(o)
	}
	p, err := reconcile.Diff(d, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func stored(env, name, store, ref string) reconcile.Secret {
	return reconcile.Secret{Service: "backup", Name: name, Store: store, Reference: ref, Stored: true}
}

func status(p *reconcile.Plan, env, name string) string {
	for _, s := range p.Env(env).Secrets {
		if s.Name == name {
			return s.Status
		}
	}
	return "absent"
}

func TestPlanReportsMissingSecretPerEnvironment(t *testing.T) {
	b := specDoc(t, baseSpec)
	p := plan(t, b, appYAML, func(o *reconcile.Observed) {
		o.Secrets["production"] = []reconcile.Secret{
			stored("production", "RESTIC_PASSWORD", "plaintext", ""),
			stored("production", "AWS_ACCESS_KEY_ID", "1password", "op://Infra/aws/key id"),
			stored("production", "AWS_SECRET_ACCESS_KEY", "1password", "op://elsewhere/x/y"), // wrong store for a prompt secret
		}
		o.Secrets["staging"] = []reconcile.Secret{
			stored("staging", "AWS_ACCESS_KEY_ID", "plaintext", ""),                     // plaintext where the spec says 1Password
			{Service: "web", Name: "RESTIC_PASSWORD", Store: "plaintext", Stored: true}, // another service's secret does not count
		}
	})
	for _, tc := range []struct{ env, name, want string }{
		{"production", "RESTIC_PASSWORD", reconcile.StatusPresent},
		{"production", "AWS_ACCESS_KEY_ID", reconcile.StatusPresent},
		{"production", "AWS_SECRET_ACCESS_KEY", reconcile.StatusMissing},
		{"staging", "RESTIC_PASSWORD", reconcile.StatusMissing},
		{"staging", "AWS_ACCESS_KEY_ID", reconcile.StatusMissing},
	} {
		if got := status(p, tc.env, tc.name); got != tc.want {
			t.Errorf("%s/%s = %s, want %s", tc.env, tc.name, got, tc.want)
		}
	}
	if got := len(p.Missing()); got != 4 {
		t.Errorf("missing = %d, want 4", got)
	}
	for _, s := range p.Env("production").Secrets {
		if s.Name == "AWS_ACCESS_KEY_ID" && (s.Source != reconcile.SourceOnePassword || s.Ref != "op://Infra/aws/key id") {
			t.Errorf("1Password secret planned as %+v", s)
		}
		// A stored value is not asked for: its source says so.
		if want := map[string]string{"RESTIC_PASSWORD": reconcile.SourceStored, "AWS_SECRET_ACCESS_KEY": reconcile.SourcePrompt}[s.Name]; want != "" && s.Source != want {
			t.Errorf("%s source = %q, want %q", s.Name, s.Source, want)
		}
	}
}

func TestPlanDecidesDeploysFromChangesSecretsAndRecords(t *testing.T) {
	b := specDoc(t, "  image: restic/restic:0.18.1\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	first := plan(t, b, appYAML, nil)
	if e := first.Env("production"); !e.Deploy || e.DeployReason != "devopsellence.yml changes" {
		t.Fatalf("first plan: %+v", e)
	}
	after := string(first.After)
	all := func(o *reconcile.Observed) {
		o.Secrets["production"] = []reconcile.Secret{stored("production", "RESTIC_PASSWORD", "plaintext", "")}
	}
	for _, tc := range []struct {
		name     string
		mut      func(*reconcile.Observed)
		deploy   bool
		reason   string
		inSync   bool
		nMissing int
	}{
		{"a missing secret deploys", nil, true, "1 secret(s) to store", false, 1},
		{"no record deploys once", all, true, "no successful deploy of this configuration is recorded on this machine", false, 0},
		{"a record of another configuration deploys", func(o *reconcile.Observed) { all(o); o.Deployed["production"] = "old" }, true, "the last deploy did not succeed or ran another configuration", false, 0},
		{"the recorded configuration is in sync", func(o *reconcile.Observed) {
			all(o)
			_, d := desire(t, b, []byte(after))
			o.Deployed["production"] = d.Fingerprint("production")
		}, false, "", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plan(t, b, after, tc.mut)
			e := p.Env("production")
			if e.Deploy != tc.deploy || e.DeployReason != tc.reason || p.InSync() != tc.inSync || len(p.Missing()) != tc.nMissing || len(p.Changes) != 0 {
				t.Errorf("got deploy=%v %q inSync=%v missing=%d changes=%v", e.Deploy, e.DeployReason, p.InSync(), len(p.Missing()), p.Changes)
			}
		})
	}
}

func TestRepatchingAFreshCheckoutDeploysNothingWhenTheServiceWasDeployed(t *testing.T) {
	b := specDoc(t, "  image: restic/restic:0.18.1\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	_, d := desire(t, b, []byte(appYAML))
	p := plan(t, b, appYAML, func(o *reconcile.Observed) {
		o.Secrets["production"] = []reconcile.Secret{stored("production", "RESTIC_PASSWORD", "plaintext", "")}
		o.Deployed["production"] = d.Fingerprint("production")
	})
	if len(p.Changes) == 0 || p.Env("production").Deploy {
		t.Errorf("changes %v, deploy %v: the same service is deployed already", p.Changes, p.Env("production").Deploy)
	}
}

func TestPlanFindsEnvironmentsWithoutAWorkerNode(t *testing.T) {
	b := specDoc(t, baseSpec)
	p := plan(t, b, appYAML, func(o *reconcile.Observed) {
		o.Nodes = map[string][]reconcile.Node{
			"production": {{Name: "prod-1", Labels: []string{"web", "edge"}}},
			"staging":    {{Name: "stage-1", Labels: []string{"worker"}}},
		}
	})
	var worker []reconcile.Finding
	for _, f := range p.Findings {
		if f.Code == "no_worker_node" {
			worker = append(worker, f)
		}
	}
	if len(worker) != 1 || worker[0].Environment != "production" || worker[0].Severity != reconcile.SeverityError {
		t.Fatalf("worker findings = %+v", worker)
	}
	if got := worker[0].NextActions[0].Command; got != "devopsellence node label set prod-1 --labels edge,web,worker" {
		t.Errorf("fix = %q, want the node's labels kept", got)
	}
	if p.Blocked(nil) == nil || p.Blocked([]string{"staging"}) != nil {
		t.Error("a plan that devopsellence would refuse to deploy is not blocked")
	}
	p = plan(t, b, appYAML, func(o *reconcile.Observed) { o.Nodes = map[string][]reconcile.Node{} })
	n := 0
	for _, f := range p.Findings {
		if f.Code == "no_node_attached" {
			n++
			if f.NextActions[0].Command != "devopsellence node attach <node> --env "+f.Environment {
				t.Errorf("attach fix = %q", f.NextActions[0].Command)
			}
			if len(f.NextActions) < 2 || !strings.HasPrefix(f.NextActions[1].Command, "devopsellence node create <node> ") || !strings.HasSuffix(f.NextActions[1].Command, " --labels web,worker --attach --env "+f.Environment) {
				t.Errorf("no node create fix: %v", f.NextActions)
			}
		}
	}
	if n != 2 {
		t.Errorf("no_node_attached findings = %d, want one per covered environment", n)
	}
}

func TestOverlayBlanksBaseEnvKeysAnEnvironmentMustNotInherit(t *testing.T) {
	b := specDoc(t, `  image: restic/restic:0.18.1
  environments: [production, staging]
  volumes: [{name: app_storage}]
  repository: {url: "s3:s3.amazonaws.com/app"}
  retention: {keepDaily: 7}
  overrides:
    staging:
      repository: {urlSecret: RESTIC_REPOSITORY, type: rest}
`)
	_, d := desire(t, b, []byte(appYAML))
	o := d.Overlays["staging"]
	got := fmt.Sprint(plain(o))
	for _, want := range []string{"RESTIC_REPOSITORY:]", `BACKUP_IDENTITY:{"environment":"staging","service":"backup","host":"app-staging","tags":["app:app","env:staging"]`, "name:RESTIC_REPOSITORY secret:devopsellence://plaintext/RESTIC_REPOSITORY"} {
		if !strings.Contains(got, want) {
			t.Errorf("staging overlay %s lacks %q", got, want)
		}
	}
	if strings.Contains(got, "AWS_") {
		t.Errorf("staging overlay %s still needs the base repository's credentials", got)
	}
}

func TestHandEditedManagedBlockIsUpdatedFieldByField(t *testing.T) {
	b := specDoc(t, "  image: restic/restic:0.18.1\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	first := plan(t, b, appYAML, nil)
	edited := strings.Replace(string(first.After), "image: restic/restic:0.18.1", "image: restic/restic:latest", 1)
	edited = strings.Replace(edited, `"host":"app-production"`, `"host":"laptop"`, 1)
	p := plan(t, b, edited, nil)
	if len(p.Changes) != 1 || p.Changes[0].Action != reconcile.ActionUpdate {
		t.Fatalf("changes = %+v", p.Changes)
	}
	if got := strings.Join(p.Changes[0].Fields, ","); got != "image,env.BACKUP_IDENTITY" {
		t.Errorf("fields = %s", got)
	}
	if string(p.After) != string(first.After) {
		t.Error("the update does not restore the managed block")
	}
}

func TestHandWrittenOverlayOfAManagedServiceIsReplacedWithAFinding(t *testing.T) {
	b := specDoc(t, "  image: restic/restic:0.18.1\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	first := plan(t, b, appYAML, nil)
	cfg := strings.Replace(string(first.After), "      # managed by devopsellence-backup from devopsellence.backup.yml; edit that file, not this block\n      backup:", "      backup:", 1)
	p := plan(t, b, cfg, nil)
	found := false
	for _, f := range p.Findings {
		found = found || f.Code == "overlay_replaced" && f.Environment == "staging"
	}
	if !found || len(p.Changes) != 1 || p.Changes[0].Action != reconcile.ActionAdopt {
		t.Errorf("changes %+v findings %+v", p.Changes, p.Findings)
	}
}

func TestDesireChecksTheSpecAgainstTheApp(t *testing.T) {
	b := specDoc(t, "  image: restic/restic:0.18.1\n  volumes: [{name: app_storage}, {name: uploads}]\n  repository: {url: /srv/repo, volume: restic_repo}\n  overrides:\n    staging: {image: x/y:1}\n")
	_, err := reconcileDesire(t, b, appYAML)
	if !errors.Is(err, spec.ErrInvalid) {
		t.Fatalf("err = %v, want spec.ErrInvalid", err)
	}
	for _, want := range []string{
		`devopsellence.backup.yml:7: spec.volumes[1].name: "uploads" is not a volume of any app service in devopsellence.yml (volumes in use: app_storage)`,
		`spec.overrides.staging: environment "staging" is not covered (covered: production)`,
		"fix devopsellence.backup.yml and run",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func reconcileDesire(t *testing.T, b *spec.Backup, cfg string) (*reconcile.Desired, error) {
	app, _ := readApp(t, cfg)
	return reconcile.Desire(b, app, "devopsellence.backup.yml")
}

type fakeObserver struct {
	err   error
	calls []string
}

func (f *fakeObserver) ListSecrets(_ context.Context, env, service string) ([]reconcile.Secret, error) {
	f.calls = append(f.calls, "secret list "+env+" "+service)
	return nil, f.err
}

func (f *fakeObserver) Nodes(_ context.Context, env string) ([]reconcile.Node, error) {
	f.calls = append(f.calls, "node list "+env)
	return nil, f.err
}

func TestObserveAsksOncePerEnvironmentAndExplainsWhatItCouldNotCheck(t *testing.T) {
	b := specDoc(t, baseSpec)
	_, d := desire(t, b, []byte(appYAML))
	f := &fakeObserver{}
	o := &reconcile.Observed{}
	if err := reconcile.Observe(context.Background(), d, f, o); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls, "; "); got != "secret list production backup; secret list staging backup; node list production; node list staging" {
		t.Errorf("calls = %s", got)
	}
	// An uncovered environment's secrets are listed only while its service
	// is active in the file: that is when they tell whether it is backed up.
	one := specDoc(t, "  image: restic/restic:0.18.1\n  volumes: [{name: app_storage}]\n  repository: {url: /srv/repo, volume: restic_repo}\n")
	for _, tc := range []struct {
		cfg  string
		want string
	}{
		{appYAML, "secret list production backup; node list production; node list staging"},
		{string(plan(t, specDoc(t, baseSpec), appYAML, nil).After), "secret list production backup; secret list staging backup; node list production; node list staging"},
	} {
		app, d := desire(t, one, []byte(tc.cfg))
		f := &fakeObserver{}
		if err := reconcile.Observe(context.Background(), d, f, observe(t, []byte(tc.cfg), app, d)); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(f.calls, "; "); got != tc.want {
			t.Errorf("calls = %s, want %s", got, tc.want)
		}
	}
	if o.Secrets == nil || o.Nodes == nil || o.Unchecked != nil {
		t.Errorf("observed %+v", o)
	}
	for err, code := range map[error]string{
		fmt.Errorf("x: %w", devopsellence.ErrNotInstalled):                                                   "devopsellence_not_found",
		&devopsellence.Error{Command: "secret list", ExitCode: 2, Message: "workspace mode is not set. Run"}: "workspace_mode_not_set",
	} {
		o := &reconcile.Observed{}
		if err := reconcile.Observe(context.Background(), d, &fakeObserver{err: err}, o); err != nil || o.Unchecked == nil || o.Unchecked.Code != code || o.Secrets != nil {
			t.Errorf("%v: err %v unchecked %+v", err, err, o.Unchecked)
		}
	}
	boom := &devopsellence.Error{Command: "secret list", ExitCode: 1, Message: "boom"}
	if err := reconcile.Observe(context.Background(), d, &fakeObserver{err: boom}, &reconcile.Observed{}); !errors.Is(err, boom) {
		t.Errorf("a failing secret list is %v", err)
	}
}

func TestPlanWarnsAboutAnExcludeThatLeavesOutEveryFile(t *testing.T) {
	for pat, want := range map[string]bool{`"?*"`: true, `"**/*"`: true, `"*.log"`: false} {
		p := plan(t, specDoc(t, baseSpec+"  exclude: ["+pat+"]\n"), appYAML, nil)
		got := 0
		for _, f := range p.Findings {
			if f.Code == "exclude_everything" && f.Severity == reconcile.SeverityWarning && strings.Contains(f.Message, "/data/app_storage") {
				got++
			}
		}
		if (got == 2) != want {
			t.Errorf("exclude %s: %d exclude_everything findings (one per environment wanted: %v)", pat, got, want)
		}
	}
}
