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
	p := in.Plan
	log := logr.FromContextOrDiscard(ctx)
	res := NewApplyResult()
	selected := func(env string) bool { return Selected(in.Environments, env) }
	halt := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if in.Stop != nil && in.Stop.Err() != nil {
			return ErrStopped
		}
		return nil
	}

	cur, err := deps.Config.Read()
	if err != nil {
		return res, err
	}
	if !bytes.Equal(cur, p.Before) {
		return res, fmt.Errorf("%w; run the command again to plan from what is there now", ErrConfigChanged)
	}
	written := false
	if !bytes.Equal(p.Before, p.After) {
		if err := halt(); err != nil {
			return res, err
		}
		if err := deps.Config.Write(p.After); err != nil {
			return res, err
		}
		written, res.ConfigWritten = true, true
		log.Info("patchedConfig", "file", p.ConfigFile, "changes", len(p.Changes))
	}

	for _, e := range p.Environments {
		if err := deps.Validator.ResolveConfig(ctx, e.Name); err != nil {
			if written {
				if rerr := deps.Config.Write(p.Before); rerr != nil {
					return res, fmt.Errorf("validate %s for %s: %w; restoring the original also failed: %v", p.ConfigFile, e.Name, err, rerr)
				}
				res.ConfigWritten = false
				what := "could not validate"
				if errors.Is(err, ErrRejected) {
					what = "devopsellence rejected"
				}
				return res, fmt.Errorf("%s the patched %s for %s, so the original was put back and no secret was stored: %w", what, p.ConfigFile, e.Name, err)
			}
			return res, fmt.Errorf("validate %s for %s: %w", p.ConfigFile, e.Name, err)
		}
		log.V(1).Info("validatedConfig", "environment", e.Name)
		res.Validated = append(res.Validated, e.Name)
	}

	var setIn []string
	for _, e := range p.Environments {
		if !selected(e.Name) {
			continue
		}
		set := false
		for _, s := range e.Secrets {
			if s.Status != StatusMissing {
				continue
			}
			if err := halt(); err != nil {
				return res, err
			}
			var r SetResult
			if s.Source == SourceOnePassword {
				r, err = deps.Secrets.SetSecretOnePassword(ctx, e.Name, s.Service, s.Name, s.OnePassword)
			} else {
				v, ok := in.Values[SecretKey{e.Name, s.Name}]
				if !ok {
					return res, fmt.Errorf("no value for secret %s in %s", s.Name, e.Name)
				}
				r, err = deps.Secrets.SetSecret(ctx, e.Name, s.Service, s.Name, v)
			}
			if err != nil {
				return res, fmt.Errorf("store secret %s for %s: %w", s.Name, e.Name, err)
			}
			if r.ConfigUpdated {
				if werr := deps.Config.Write(p.After); werr != nil {
					return res, fmt.Errorf("devopsellence rewrote %s while storing %s (its ref was not canonical) and putting the planned file back failed: %v", p.ConfigFile, s.Name, werr)
				}
				return res, fmt.Errorf("devopsellence rewrote %s while storing %s in %s, which means its ref was not canonical; the planned file was put back: please report this", p.ConfigFile, s.Name, e.Name)
			}
			store := "plaintext"
			if s.Source == SourceOnePassword {
				store = "1password"
			}
			log.Info("storedSecret", "environment", e.Name, "service", s.Service, "secret", s.Name, "store", store)
			res.Stored = append(res.Stored, Stored{Environment: e.Name, Name: s.Name, Store: store})
			set = true
		}
		if set {
			setIn = append(setIn, e.Name)
		}
	}
	if err := confirm(ctx, p, setIn, deps); err != nil {
		return res, err
	}

	if !in.Deploy {
		return res, nil
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	for _, e := range p.Environments {
		if !e.Deploy || !selected(e.Name) {
			continue
		}
		if err := halt(); err != nil {
			return res, err
		}
		ev, err := deps.Deployer.Deploy(ctx, e.Name, false, func(ev DeployEvent) {
			if deps.Progress != nil {
				deps.Progress(e.Name, ev)
			}
		})
		if err != nil {
			return res, fmt.Errorf("deploy %s: %w; the next apply retries it", e.Name, err)
		}
		if err := deps.Recorder.RecordDeploy(e.Name, e.Fingerprint, ev.ReleaseID, now()); err != nil {
			return res, fmt.Errorf("record deploy of %s: %w", e.Name, err)
		}
		log.Info("deployed", "environment", e.Name, "releaseId", ev.ReleaseID, "phase", ev.Phase)
		res.Deployed = append(res.Deployed, Deployment{Environment: e.Name, ReleaseID: ev.ReleaseID, Phase: ev.Phase})
	}
	return res, nil
}

// confirm checks through devopsellence's own view that every secret of the
// environments in which something was stored is there, and that the file is
// still exactly what was written.
func confirm(ctx context.Context, p *Plan, envs []string, deps ApplyDeps) error {
	for _, env := range envs {
		list, err := deps.Secrets.ListSecrets(ctx, env, p.Service)
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
	if len(envs) == 0 {
		return nil
	}
	now, err := deps.Config.Read()
	if err != nil {
		return err
	}
	if !bytes.Equal(now, p.After) {
		return fmt.Errorf("%s is not byte-identical to what was written after storing secrets", p.ConfigFile)
	}
	return nil
}
