package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"

	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// ConfigFile is devopsellence.yml on disk.
type ConfigFile interface {
	Read() ([]byte, error)
	// Write replaces the file atomically.
	Write([]byte) error
}

// SecretStore stores and lists secrets through devopsellence.
type SecretStore interface {
	ListSecrets(ctx context.Context, env, service string) ([]Secret, error)
	SetSecret(ctx context.Context, env, service, name string, v secret.Value) (SetResult, error)
	SetSecretOnePassword(ctx context.Context, env, service, name, ref string) (SetResult, error)
}

// Validator checks that devopsellence loads the config for an environment.
type Validator interface {
	ResolveConfig(ctx context.Context, env string) error
}

// Deployer deploys one environment, streaming its events.
type Deployer interface {
	Deploy(ctx context.Context, env string, dryRun bool, onEvent func(DeployEvent)) (DeployEvent, error)
}

// Recorder remembers successful deploys.
type Recorder interface {
	RecordDeploy(env, fingerprint, releaseID string, at time.Time) error
}

// ApplyDeps are the side effects Apply may have.
type ApplyDeps struct {
	Config    ConfigFile
	Secrets   SecretStore
	Validator Validator
	Deployer  Deployer
	Recorder  Recorder
	// Progress sees each deploy event as it arrives.
	Progress func(env string, ev DeployEvent)
	Now      func() time.Time
}

// SecretKey identifies a secret value to store.
type SecretKey struct{ Environment, Name string }

// ApplyInput is a plan and what it takes to carry it out.
type ApplyInput struct {
	Plan *Plan
	// Environments limits secrets and deploys to these (all covered when empty).
	Environments []string
	// Values holds the plaintext values of the missing secrets.
	Values map[SecretKey]secret.Value
	// Deploy is false with --no-deploy.
	Deploy bool
	// Stop, when done, ends Apply at the next step boundary (never inside a
	// write or a devopsellence call) with ErrStopped.
	Stop context.Context
}

// NewApplyResult is the result of doing nothing yet, with empty (not nil)
// lists so that JSON shows [] rather than null.
func NewApplyResult() *ApplyResult {
	return &ApplyResult{Validated: []string{}, Stored: []Stored{}, Deployed: []Deployment{}}
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	ConfigWritten bool         `json:"config_written"`
	Validated     []string     `json:"validated"`
	Stored        []Stored     `json:"secrets_stored"`
	Deployed      []Deployment `json:"deployed"`
}

// Stored is one secret stored through devopsellence, in the store
// devopsellence names (plaintext or 1password).
type Stored struct {
	Environment string `json:"environment"`
	Name        string `json:"name"`
	Store       string `json:"store"`
}

// Deployment is one successful deploy.
type Deployment struct {
	Environment string `json:"environment"`
	ReleaseID   string `json:"release_id,omitempty"`
	Phase       string `json:"phase"`
}

// ErrStopped means Apply stopped between steps because Stop was done.
var ErrStopped = errors.New("stopped between steps")

// ErrConfigChanged means devopsellence.yml changed between plan and apply.
var ErrConfigChanged = errors.New("devopsellence.yml changed since it was planned")

// Apply carries out a plan in the order that keeps devopsellence.yml intact:
// write the patch, validate every environment (restoring the original bytes
// if devopsellence rejects it), store secrets against refs that are already
// canonical (so devopsellence leaves the file alone), confirm, then deploy
// and record each deploy. It stops at the first failure; a rerun converges.
func Apply(ctx context.Context, in ApplyInput, deps ApplyDeps) (*ApplyResult, error) {
	a := &applier{plan: in.Plan, in: in, deps: deps, res: NewApplyResult(), log: logr.FromContextOrDiscard(ctx)}
	if a.deps.Now == nil {
		a.deps.Now = time.Now
	}
	steps := []func(context.Context) error{a.checkUnchanged, a.writePatch, a.validate, a.storeSecrets, a.confirm, a.deploy}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return a.res, err
		}
	}
	return a.res, nil
}

// applier is one Apply in progress: a step each method.
type applier struct {
	plan *Plan
	in   ApplyInput
	deps ApplyDeps
	res  *ApplyResult
	log  logr.Logger
	// written is set once this Apply wrote the patch.
	written bool
	// storedIn lists the environments in which a secret was stored.
	storedIn []string
}

// halt is checked at every step boundary.
func (a *applier) halt(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if a.in.Stop != nil && a.in.Stop.Err() != nil {
		return ErrStopped
	}
	return nil
}

func (a *applier) selected(env string) bool { return Selected(a.in.Environments, env) }

// checkUnchanged refuses to apply a plan made from other bytes than the
// file now holds.
func (a *applier) checkUnchanged(context.Context) error {
	cur, err := a.deps.Config.Read()
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, a.plan.Before) {
		return fmt.Errorf("%w; run the command again to plan from what is there now", ErrConfigChanged)
	}
	return nil
}

func (a *applier) writePatch(ctx context.Context) error {
	p := a.plan
	if bytes.Equal(p.Before, p.After) {
		return nil
	}
	if err := a.halt(ctx); err != nil {
		return err
	}
	if err := a.deps.Config.Write(p.After); err != nil {
		return err
	}
	a.written, a.res.ConfigWritten = true, true
	a.log.Info("patchedConfig", "file", p.ConfigFile, "changes", len(p.Changes))
	return nil
}

// validate has devopsellence load the file for every environment, putting
// the original back when it does not.
func (a *applier) validate(ctx context.Context) error {
	p := a.plan
	for _, e := range p.Environments {
		err := a.deps.Validator.ResolveConfig(ctx, e.Name)
		if err == nil {
			a.log.V(1).Info("validatedConfig", "environment", e.Name)
			a.res.Validated = append(a.res.Validated, e.Name)
			continue
		}
		if !a.written {
			return fmt.Errorf("validate %s for %s: %w", p.ConfigFile, e.Name, err)
		}
		if rerr := a.deps.Config.Write(p.Before); rerr != nil {
			return fmt.Errorf("validate %s for %s: %w; restoring the original also failed: %v", p.ConfigFile, e.Name, err, rerr)
		}
		a.res.ConfigWritten = false
		what := "could not validate"
		if errors.Is(err, ErrRejected) {
			what = "devopsellence rejected"
		}
		return fmt.Errorf("%s the patched %s for %s, so the original was put back and no secret was stored: %w", what, p.ConfigFile, e.Name, err)
	}
	return nil
}

// storeSecrets stores every missing secret of the selected environments.
// When it cannot finish, it puts the original file back: the patch
// references secrets that are now only partly stored, and devopsellence.yml
// must never leave an environment referencing a secret that is not (anyone's
// next deploy of it would fail). What was stored stays stored for the rerun.
func (a *applier) storeSecrets(ctx context.Context) error {
	err := a.storeAll(ctx)
	if err == nil || !a.written {
		return err
	}
	p := a.plan
	if rerr := a.deps.Config.Write(p.Before); rerr != nil {
		return fmt.Errorf("%w; putting the original %s back also failed, so it may reference secrets that are not stored: %v", err, p.ConfigFile, rerr)
	}
	a.res.ConfigWritten = false
	a.log.Info("restoredConfig", "file", p.ConfigFile, "reason", "secrets not all stored")
	return fmt.Errorf("%w; the original %s was put back, so no environment references a secret that is not stored (the %d stored so far stay stored): run the same command again", err, p.ConfigFile, len(a.res.Stored))
}

func (a *applier) storeAll(ctx context.Context) error {
	for _, e := range a.plan.Environments {
		if !a.selected(e.Name) {
			continue
		}
		n := len(a.res.Stored)
		for _, s := range e.Secrets {
			if s.Status != StatusMissing {
				continue
			}
			if err := a.storeOne(ctx, e.Name, s); err != nil {
				return err
			}
		}
		if len(a.res.Stored) > n {
			a.storedIn = append(a.storedIn, e.Name)
		}
	}
	return nil
}

func (a *applier) storeOne(ctx context.Context, env string, s SecretPlan) error {
	p := a.plan
	if err := a.halt(ctx); err != nil {
		return err
	}
	var r SetResult
	var err error
	store := "plaintext"
	if s.Source == SourceOnePassword {
		store = "1password"
		r, err = a.deps.Secrets.SetSecretOnePassword(ctx, env, s.Service, s.Name, s.OnePassword)
	} else {
		v, ok := a.in.Values[SecretKey{env, s.Name}]
		if !ok {
			return fmt.Errorf("no value for secret %s in %s", s.Name, env)
		}
		r, err = a.deps.Secrets.SetSecret(ctx, env, s.Service, s.Name, v)
	}
	if err != nil {
		return fmt.Errorf("store secret %s for %s: %w", s.Name, env, err)
	}
	if r.ConfigUpdated {
		if !a.written {
			if werr := a.deps.Config.Write(p.Before); werr != nil {
				return fmt.Errorf("devopsellence rewrote %s while storing %s (its ref was not canonical) and putting it back failed: %v", p.ConfigFile, s.Name, werr)
			}
		}
		return fmt.Errorf("devopsellence rewrote %s while storing %s in %s, which means its ref was not canonical: please report this", p.ConfigFile, s.Name, env)
	}
	a.log.Info("storedSecret", "environment", env, "service", s.Service, "secret", s.Name, "store", store)
	a.res.Stored = append(a.res.Stored, Stored{Environment: env, Name: s.Name, Store: store})
	return nil
}

// confirm checks through devopsellence's own view that every secret of the
// environments in which something was stored is there, and that the file is
// still exactly what was written.
func (a *applier) confirm(ctx context.Context) error {
	p := a.plan
	for _, env := range a.storedIn {
		list, err := a.deps.Secrets.ListSecrets(ctx, env, p.Service)
		if err != nil {
			return fmt.Errorf("confirm secrets of %s: %w", env, err)
		}
		stored := storedFor(list, p.Service)
		for _, s := range p.Env(env).Secrets {
			if _, ok := stored[s.Name]; !ok {
				return fmt.Errorf("confirm secrets of %s: devopsellence does not list %s as stored after it was set", env, s.Name)
			}
		}
	}
	if len(a.storedIn) == 0 {
		return nil
	}
	now, err := a.deps.Config.Read()
	if err != nil {
		return err
	}
	if !bytes.Equal(now, p.After) {
		return fmt.Errorf("%s is not byte-identical to what was written after storing secrets", p.ConfigFile)
	}
	return nil
}

// deploy deploys each selected environment the plan says to, recording
// each success.
func (a *applier) deploy(ctx context.Context) error {
	if !a.in.Deploy {
		return nil
	}
	for _, e := range a.plan.Environments {
		if !e.Deploy || !a.selected(e.Name) {
			continue
		}
		if err := a.deployOne(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) deployOne(ctx context.Context, e EnvPlan) error {
	if err := a.halt(ctx); err != nil {
		return err
	}
	ev, err := a.deps.Deployer.Deploy(ctx, e.Name, false, func(ev DeployEvent) {
		if a.deps.Progress != nil {
			a.deps.Progress(e.Name, ev)
		}
	})
	if err != nil {
		return fmt.Errorf("deploy %s: %w; the next apply retries it", e.Name, err)
	}
	if err := a.deps.Recorder.RecordDeploy(e.Name, e.Fingerprint, ev.ReleaseID, a.deps.Now()); err != nil {
		return fmt.Errorf("record deploy of %s: %w", e.Name, err)
	}
	a.log.Info("deployed", "environment", e.Name, "releaseId", ev.ReleaseID, "phase", ev.Phase)
	a.res.Deployed = append(a.res.Deployed, Deployment{Environment: e.Name, ReleaseID: ev.ReleaseID, Phase: ev.Phase})
	return nil
}
