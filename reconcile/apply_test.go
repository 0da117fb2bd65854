package reconcile_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// world is an in-memory devopsellence and disk that logs every side effect.
type world struct {
	file       []byte
	log        []string
	stored     map[string]bool // env/name
	values     map[string]string
	failVerify string // environment whose config resolve fails
	failSet    string // env/name whose secret set fails
	rewrite    bool   // secret set reports config_updated
	failDeploy bool
	records    map[string]string
}

func newWorld(file []byte) *world {
	return &world{file: file, stored: map[string]bool{}, values: map[string]string{}, records: map[string]string{}}
}

func (w *world) Read() ([]byte, error) { return w.file, nil }
func (w *world) Write(b []byte) error {
	w.log = append(w.log, "write")
	w.file = b
	return nil
}
func (w *world) ResolveConfig(_ context.Context, env string) error {
	w.log = append(w.log, "resolve "+env)
	if env == w.failVerify {
		return errors.New("invalid devopsellence.yml")
	}
	return nil
}
func (w *world) ListSecrets(_ context.Context, env, svc string) ([]reconcile.Secret, error) {
	w.log = append(w.log, "list "+env)
	var out []reconcile.Secret
	for k := range w.stored {
		if e, n, _ := strings.Cut(k, "/"); e == env {
			out = append(out, reconcile.Secret{Service: svc, Name: n, Stored: true})
		}
	}
	return out, nil
}
func (w *world) SetSecret(_ context.Context, env, svc, name string, v secret.Value) (reconcile.SetResult, error) {
	w.log = append(w.log, "set "+env+"/"+name)
	if env+"/"+name == w.failSet {
		return reconcile.SetResult{}, errors.New("devopsellence secret set: state file locked")
	}
	b, _ := io.ReadAll(v.Reader())
	w.values[env+"/"+name] = string(b)
	w.stored[env+"/"+name] = true
	return reconcile.SetResult{ConfigUpdated: w.rewrite}, nil
}
func (w *world) SetSecretOnePassword(_ context.Context, env, svc, name, ref string) (reconcile.SetResult, error) {
	w.log = append(w.log, "set-op "+env+"/"+name+" "+ref)
	w.stored[env+"/"+name] = true
	return reconcile.SetResult{}, nil
}
func (w *world) Deploy(_ context.Context, env string, _ bool, on func(reconcile.DeployEvent)) (reconcile.DeployEvent, error) {
	w.log = append(w.log, "deploy "+env)
	if w.failDeploy {
		return reconcile.DeployEvent{}, errors.New("docker build: exit status 1")
	}
	ev := reconcile.DeployEvent{Kind: "result", Phase: "settled", ReleaseID: "rel-1"}
	on(ev)
	return ev, nil
}
func (w *world) RecordDeploy(env, fp, rel string, _ time.Time) error {
	w.log = append(w.log, "record "+env+" "+rel)
	w.records[env] = fp
	return nil
}

func (w *world) deps() reconcile.ApplyDeps {
	return reconcile.ApplyDeps{Config: w, Secrets: w, Validator: w, Deployer: w, Recorder: w, Now: func() time.Time { return time.Unix(0, 0) }}
}

func applyPlan(t *testing.T) *reconcile.Plan {
	t.Helper()
	return plan(t, specDoc(t, baseSpec), appYAML, nil)
}

func values(p *reconcile.Plan) map[reconcile.SecretKey]secret.Value {
	v := map[reconcile.SecretKey]secret.Value{}
	for _, e := range p.Environments {
		for _, s := range e.Secrets {
			v[reconcile.SecretKey{Environment: e.Name, Name: s.Name}] = secret.New("value-of-" + e.Name + "-" + s.Name)
		}
	}
	return v
}

func TestApplyWritesValidatesStoresConfirmsThenDeploys(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	res, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true}, w.deps())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(w.log, "; ")
	want := "write; resolve production; resolve staging; " +
		"set production/RESTIC_PASSWORD; set-op production/AWS_ACCESS_KEY_ID op://Infra/aws/key id; set production/AWS_SECRET_ACCESS_KEY; " +
		"set staging/RESTIC_PASSWORD; set-op staging/AWS_ACCESS_KEY_ID op://Infra/aws/key id; set staging/AWS_SECRET_ACCESS_KEY; " +
		"list production; list staging; deploy production; record production rel-1; deploy staging; record staging rel-1"
	if got != want {
		t.Errorf("steps:\n got %s\nwant %s", got, want)
	}
	if string(w.file) != string(p.After) || !res.ConfigWritten || len(res.Stored) != 6 || len(res.Deployed) != 2 {
		t.Errorf("result %+v", res)
	}
	if w.values["staging/RESTIC_PASSWORD"] != "value-of-staging-RESTIC_PASSWORD" {
		t.Errorf("stored %q", w.values["staging/RESTIC_PASSWORD"])
	}
	if w.records["production"] != p.Env("production").Fingerprint {
		t.Error("the deploy record is not the planned fingerprint")
	}
}

func TestApplyRestoresTheOriginalWhenDevopsellenceRejectsThePatch(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	w.failVerify = "staging"
	_, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true}, w.deps())
	if err == nil || !strings.HasPrefix(err.Error(), "could not validate the patched devopsellence.yml for staging, so the original was put back and no secret was stored") {
		t.Fatalf("err = %v", err)
	}
	if string(w.file) != string(p.Before) || strings.Contains(strings.Join(w.log, ";"), "set ") {
		t.Errorf("file restored %v, log %v", string(w.file) == string(p.Before), w.log)
	}
}

func TestApplyRefusesAFileThatChangedSincePlanning(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(append([]byte("# edited meanwhile\n"), p.Before...))
	if _, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Deploy: true}, w.deps()); !errors.Is(err, reconcile.ErrConfigChanged) {
		t.Fatalf("err = %v", err)
	}
	if len(w.log) != 0 {
		t.Errorf("side effects: %v", w.log)
	}
}

func TestApplyPutsTheOriginalBackWhenDevopsellenceRewritesIt(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	w.rewrite = true
	_, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true}, w.deps())
	if err == nil || !strings.Contains(err.Error(), "rewrote devopsellence.yml") || !strings.Contains(err.Error(), "the original devopsellence.yml was put back") {
		t.Fatalf("err = %v", err)
	}
	if string(w.file) != string(p.Before) {
		t.Error("the original file was not put back")
	}
	if strings.Contains(strings.Join(w.log, ";"), "deploy") {
		t.Error("deployed after the rewrite")
	}
}

func TestApplyThatCannotStoreEverySecretPutsTheOriginalBack(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	w.failSet = "staging/RESTIC_PASSWORD"
	res, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true}, w.deps())
	if err == nil || !strings.Contains(err.Error(), "the original devopsellence.yml was put back, so no environment references a secret that is not stored (the 3 stored so far stay stored)") {
		t.Fatalf("err = %v", err)
	}
	if string(w.file) != string(p.Before) || res.ConfigWritten {
		t.Errorf("file restored %v, result %+v", string(w.file) == string(p.Before), res)
	}
	if log := strings.Join(w.log, "; "); strings.Contains(log, "deploy") || !strings.HasSuffix(log, "set staging/RESTIC_PASSWORD; write") {
		t.Errorf("log %s", log)
	}
}

func TestApplyDoesNotRecordAFailedDeploy(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	w.failDeploy = true
	_, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true}, w.deps())
	if err == nil || !strings.Contains(err.Error(), "the next apply retries it") || len(w.records) != 0 {
		t.Fatalf("err = %v records %v", err, w.records)
	}
}

func TestApplyStopsAtCancellationBeforeWriting(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := reconcile.Apply(ctx, reconcile.ApplyInput{Plan: p, Values: values(p), Deploy: true}, w.deps()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(w.log) != 0 {
		t.Errorf("side effects after cancel: %v", w.log)
	}
}

func TestApplyWithoutDeployStoresButDoesNotDeploy(t *testing.T) {
	p := applyPlan(t)
	w := newWorld(p.Before)
	res, err := reconcile.Apply(context.Background(), reconcile.ApplyInput{Plan: p, Values: values(p), Environments: []string{"staging"}}, w.deps())
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Join(w.log, ";")
	if strings.Contains(log, "deploy") || strings.Contains(log, "production/") || len(res.Stored) != 3 {
		t.Errorf("log %s", log)
	}
}
