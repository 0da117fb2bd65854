package reconcile

import (
	"fmt"
	"strings"
	"time"
)

// Condition types, Kubernetes style.
const (
	ConfigInSync  = "ConfigInSync"
	SecretsStored = "SecretsStored"
	Deployed      = "Deployed"
)

// Condition statuses.
const (
	True    = "True"
	False   = "False"
	Unknown = "Unknown"
)

// Condition is one aspect of one environment's state after a pass.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message"`
	ObservedInputs     string    `json:"observedFingerprint"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Conditions derives each covered environment's conditions from the plan of
// a pass and what applying it did (res may be partial when err is set).
// deploy is false when the pass does not deploy.
func Conditions(p *Plan, res *ApplyResult, err error, deploy bool, observed string) map[string][]Condition {
	out := map[string][]Condition{}
	written := res != nil && res.ConfigWritten
	for _, e := range p.Environments {
		if !e.Covered {
			continue
		}
		c := func(typ, status, reason, msg string) Condition {
			return Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedInputs: observed}
		}
		var conds []Condition
		switch {
		case len(p.Changes) == 0:
			conds = append(conds, c(ConfigInSync, True, "InSync", "the managed blocks of "+p.ConfigFile+" match the spec"))
		case written:
			conds = append(conds, c(ConfigInSync, True, "Patched", fmt.Sprintf("%d block(s) of %s patched", len(p.Changes), p.ConfigFile)))
		case err != nil:
			conds = append(conds, c(ConfigInSync, False, "PatchFailed", err.Error()))
		default:
			conds = append(conds, c(ConfigInSync, False, "PatchPending", fmt.Sprintf("%d block(s) of %s to patch", len(p.Changes), p.ConfigFile)))
		}

		var missing []string
		for _, s := range e.Secrets {
			if s.Status == StatusMissing && !stored(res, e.Name, s.Name) {
				missing = append(missing, s.Name)
			}
		}
		switch {
		case !p.SecretsChecked:
			conds = append(conds, c(SecretsStored, Unknown, "NotChecked", "devopsellence was not asked"))
		case len(missing) == 0:
			conds = append(conds, c(SecretsStored, True, "AllStored", fmt.Sprintf("%d secret(s) stored", len(e.Secrets))))
		case err != nil:
			conds = append(conds, c(SecretsStored, False, "StoreFailed", "missing: "+strings.Join(missing, ", ")+": "+err.Error()))
		default:
			conds = append(conds, c(SecretsStored, False, "Missing", "missing: "+strings.Join(missing, ", ")))
		}

		switch {
		case e.Inert:
			conds = append(conds, c(Deployed, False, "NotReady", e.DeployReason))
		case !e.Deploy || deployed(res, e.Name):
			conds = append(conds, c(Deployed, True, "Deployed", "the planned service is deployed"))
		case !deploy:
			conds = append(conds, c(Deployed, False, "NotDeployed", "deploys are off for this run: "+e.DeployReason))
		case err != nil:
			conds = append(conds, c(Deployed, False, "DeployFailed", e.DeployReason+": "+err.Error()))
		default:
			conds = append(conds, c(Deployed, False, "DeployPending", e.DeployReason))
		}
		out[e.Name] = conds
	}
	return out
}

// Failed gives every condition of envs status Unknown, for a pass that could
// not even plan (an invalid spec, say).
func Failed(envs []string, reason string, err error, observed string) map[string][]Condition {
	out := map[string][]Condition{}
	for _, env := range envs {
		for _, typ := range []string{ConfigInSync, SecretsStored, Deployed} {
			out[env] = append(out[env], Condition{Type: typ, Status: Unknown, Reason: reason, Message: err.Error(), ObservedInputs: observed})
		}
	}
	return out
}

// Carry sets each condition's LastTransitionTime: kept from prev when the
// status did not change, now otherwise.
func Carry(now time.Time, prev, next map[string][]Condition) {
	for env, conds := range next {
		for i := range conds {
			conds[i].LastTransitionTime = now
			for _, p := range prev[env] {
				if p.Type == conds[i].Type && p.Status == conds[i].Status {
					conds[i].LastTransitionTime = p.LastTransitionTime
				}
			}
		}
	}
}

func stored(res *ApplyResult, env, name string) bool {
	if res == nil {
		return false
	}
	for _, s := range res.Stored {
		if s.Environment == env && s.Name == name {
			return true
		}
	}
	return false
}

func deployed(res *ApplyResult, env string) bool {
	if res == nil {
		return false
	}
	for _, d := range res.Deployed {
		if d.Environment == env {
			return true
		}
	}
	return false
}
