package agent

import (
	"context"
	"fmt"
	"slices"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// keyTarget is one repository that Secret's password opens.
type keyTarget struct {
	name, copy string
	runner     *restic.Runner
}

// targets lists the repositories the password in secret opens: the
// primary for RESTIC_PASSWORD, and every copy whose passwordSecret it is.
func (a *Agent) targets(name string) ([]keyTarget, error) {
	var out []keyTarget
	if name == spec.PasswordSecret {
		out = append(out, keyTarget{name: a.Config.Repository, runner: a.runner})
	}
	for _, c := range a.Config.Copies {
		if c.PasswordSecret != name {
			continue
		}
		r, err := a.copyRunner(c)
		if err != nil {
			return nil, err
		}
		out = append(out, keyTarget{name: c.Repository, copy: c.Name, runner: r})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s is not a repository password of this service (RESTIC_PASSWORD, or a copy's passwordSecret)", name)
	}
	return out, nil
}

// RotateKey runs one step of a rotation, in every repository the secret's
// password opens:
//   - add: with the current password, add a key for the next one (read
//     from spec.RotationSecret(Secret) in the service's environment, on
//     restic's stdin), then open the repository with it. Both open it now.
//   - verify: open each repository with the current password and say
//     which key it is.
//   - remove: remove Key, which must not be the key the current password
//     opens: so a stored password always opens the repository.
//
// It stores no evidence; its result line says what it did. It exits 0 when
// every repository did the step, 1 otherwise.
func (a *Agent) RotateKey(ctx context.Context, o RunOptions, req operate.RotateKeyRequest) int {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	kr := &operate.KeyRotation{Secret: req.Secret, Step: req.Step, Repositories: []operate.RotatedRepo{}}
	fail := func(repo, class, msg string) int {
		kr.Error = &operate.KeyRotateError{Repository: repo, Class: class, Message: msg}
		a.Out.Line(operate.Line{Type: operate.LineResult, Keys: kr, Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol}})
		a.Out.Say("rotate-key %s: %s: %s", req.Step, repo, msg)
		return operate.ExitFailed
	}
	targets, err := a.targets(req.Secret)
	if err != nil {
		return fail("", "not_a_password", err.Error())
	}
	var next secret.Value
	if req.Step == operate.KeyStepAdd {
		v := environ.Get(a.Environ, spec.RotationSecret(req.Secret))
		if v == "" {
			return fail("", "service_env", "secret "+spec.RotationSecret(req.Secret)+" (the next password) is not set in the service: rotate-secret stores it and deploys it first")
		}
		next = secret.New(v)
		if v == environ.Get(a.Environ, req.Secret) && req.Secret == spec.PasswordSecret {
			return fail("", "same_password", "the next password is the one in use already: nothing to add")
		}
	}
	for _, t := range targets {
		keys, err := t.runner.Keys(ctx)
		if err != nil {
			return fail(t.name, class(err), "the current password does not open it: "+message(err))
		}
		rr := operate.RotatedRepo{Repository: t.name, Copy: t.copy, CurrentKey: currentKey(keys), Keys: len(keys)}
		switch req.Step {
		case operate.KeyStepAdd:
			if err := t.runner.KeyAdd(ctx, next); err != nil {
				return fail(t.name, class(err), "restic key add failed: "+message(err))
			}
			after, err := t.runner.WithPassword(next).Keys(ctx)
			if err != nil {
				return fail(t.name, class(err), "the next password does not open it after key add: "+message(err))
			}
			rr.AddedKey, rr.Keys = currentKey(after), len(after)
		case operate.KeyStepRemove:
			if len(req.Keys) == 0 {
				return fail(t.name, "usage", "name the keys to remove")
			}
			for _, id := range req.Keys {
				if sameKey(id, rr.CurrentKey) {
					return fail(t.name, "current_key", "refusing to remove key "+id+": the service's current password opens the repository with it")
				}
			}
			for _, k := range keys {
				// A key not there was removed by an earlier run that
				// stopped before its answer, or is another repository's.
				if !slices.ContainsFunc(req.Keys, func(id string) bool { return sameKey(id, k.ID) }) {
					continue
				}
				if err := t.runner.KeyRemove(ctx, k.ID); err != nil {
					return fail(t.name, class(err), "restic key remove failed: "+message(err))
				}
				rr.Removed = append(rr.Removed, k.ID)
				rr.Keys--
			}
		case operate.KeyStepVerify:
		default:
			return fail(t.name, "usage", "unknown step "+req.Step+" (want add, verify or remove)")
		}
		kr.Repositories = append(kr.Repositories, rr)
		a.Out.Say("rotate-key %s: %s: ok (current key %s)", req.Step, t.name, rr.CurrentKey)
	}
	a.Out.Line(operate.Line{Type: operate.LineResult, Keys: kr, Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol}})
	return operate.ExitOK
}

func currentKey(keys []restic.Key) string {
	for _, k := range keys {
		if k.Current {
			return k.ID
		}
	}
	return ""
}

// sameKey compares key IDs, restic 0.14's short ones with full ones.
func sameKey(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	n := min(len(a), len(b))
	return a[:n] == b[:n]
}
