package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Inputs identifies everything a plan was computed from: the spec's bytes,
// devopsellence.yml's bytes and the secret names devopsellence had stored,
// per environment. Two plans from equal Inputs are equal.
type Inputs struct {
	SpecFile     string `json:"spec_file"`
	SpecSHA256   string `json:"spec_sha256"`
	ConfigFile   string `json:"config_file"`
	ConfigSHA256 string `json:"config_sha256"`
	// Secrets maps an environment to the sorted names stored for the
	// service; nil when devopsellence was not asked.
	Secrets map[string][]string `json:"secrets"`
}

// InputsOf records what a plan is computed from.
func InputsOf(specFile string, spec []byte, o *Observed, service string) Inputs {
	in := Inputs{SpecFile: specFile, SpecSHA256: sum(spec), ConfigFile: o.ConfigFile, ConfigSHA256: sum(o.Config)}
	if o.Secrets != nil {
		in.Secrets = map[string][]string{}
		for env, list := range o.Secrets {
			names := []string{}
			for name := range storedFor(list, service) {
				names = append(names, name)
			}
			sort.Strings(names)
			in.Secrets[env] = names
		}
	}
	return in
}

// Fingerprint is one hash of all inputs.
func (in Inputs) Fingerprint() string {
	b, _ := json.Marshal(in)
	return sum(b)[:16]
}

// Diff says, input by input, what changed from in to now; empty when equal.
func (in Inputs) Diff(now Inputs) []string {
	var out []string
	if in.SpecSHA256 != now.SpecSHA256 {
		out = append(out, fmt.Sprintf("%s changed", now.SpecFile))
	}
	if in.ConfigSHA256 != now.ConfigSHA256 {
		out = append(out, fmt.Sprintf("%s changed", now.ConfigFile))
	}
	envs := map[string]bool{}
	for e := range in.Secrets {
		envs[e] = true
	}
	for e := range now.Secrets {
		envs[e] = true
	}
	var sorted []string
	for e := range envs {
		sorted = append(sorted, e)
	}
	sort.Strings(sorted)
	for _, e := range sorted {
		was, is := strings.Join(in.Secrets[e], ","), strings.Join(now.Secrets[e], ",")
		if was != is {
			out = append(out, fmt.Sprintf("the secrets stored in %s changed (were [%s], now [%s])", e, was, is))
		}
	}
	return out
}

// storedFor indexes by name the secrets devopsellence has stored for service;
// a list also holds other services' secrets and configured-only refs.
func storedFor(list []Secret, service string) map[string]Secret {
	out := map[string]Secret{}
	for _, s := range list {
		if s.Stored && s.Service == service {
			out[s.Name] = s
		}
	}
	return out
}

// AfterSHA256 is the SHA-256 of devopsellence.yml as the plan patches it.
func (p *Plan) AfterSHA256() string { return sum(p.After) }

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
