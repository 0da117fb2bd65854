package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Observer is how the core asks devopsellence what it holds.
type Observer interface {
	ListSecrets(ctx context.Context, env, service string) ([]Secret, error)
	// Nodes lists the nodes attached to env of this app only.
	Nodes(ctx context.Context, env string) ([]Node, error)
}

// Observe fills o.Secrets (one `secret list` per covered environment, and
// per uncovered one whose backup service is active in devopsellence.yml, to
// tell whether it is backed up now) and o.Nodes (one `node list` per
// environment of the app or the spec, each scoped to that environment of
// this app). When devopsellence is not
// installed or the workspace has no mode, it records why in o.Unchecked
// instead of failing, so that a plan still shows the config diff.
func Observe(ctx context.Context, d *Desired, obs Observer, o *Observed) error {
	secrets := map[string][]Secret{}
	for _, env := range d.Scope() {
		if !slices.Contains(d.Covered, env) {
			if _, active := activeIn(o.Doc, d.Service, env); !active {
				continue
			}
		}
		list, err := obs.ListSecrets(ctx, env, d.Service)
		if u := unchecked(err); u != nil {
			o.Unchecked = u
			return nil
		}
		if err != nil {
			return fmt.Errorf("observe secrets of %s: %w", env, err)
		}
		if list == nil {
			list = []Secret{}
		}
		secrets[env] = list
	}
	nodes := map[string][]Node{}
	for _, env := range d.Scope() {
		list, err := obs.Nodes(ctx, env)
		if err != nil {
			return fmt.Errorf("observe nodes of %s: %w", env, err)
		}
		if list == nil {
			list = []Node{}
		}
		nodes[env] = list
	}
	o.Secrets, o.Nodes = secrets, nodes
	return nil
}

func unchecked(err error) *Finding {
	switch {
	case errors.Is(err, ErrNotInstalled):
		return &Finding{
			Severity: SeverityInfo, Code: "devopsellence_not_found",
			Message:  "devopsellence cannot be run (" + err.Error() + "), so stored secrets and nodes were not checked; the config diff is complete",
			Evidence: []string{err.Error()},
			NextActions: []Action{
				{Label: "install devopsellence, or name the binary", Command: "devopsellence-backup plan --devopsellence /path/to/devopsellence"},
			},
		}
	case errors.Is(err, ErrModeNotSet):
		return &Finding{
			Severity: SeverityWarning, Code: "workspace_mode_not_set",
			Message:  "devopsellence has no mode for this workspace, so stored secrets and nodes were not checked",
			Evidence: []string{err.Error()},
			NextActions: []Action{
				{Label: "use solo mode for this workspace", Command: "devopsellence mode use solo"},
			},
		}
	}
	return nil
}

// CodeConfigOnly: the plan was made from the files alone.
const CodeConfigOnly = "config_only"

// DeployNotChecked is the deploy reason of an environment in a plan made
// from the files alone.
const DeployNotChecked = "not checked here: the deploy records are on the machine that deploys, whose apply decides"

// configOnlyFinding says what a plan from the files alone checked, and what
// it left to the machine that deploys.
func configOnlyFinding(why string) Finding {
	return Finding{
		Severity: SeverityInfo, Code: CodeConfigOnly,
		Message: "planned from the files alone (" + why + "): the diff of devopsellence.yml, the spec against the app and the findings that need no state were checked here; " +
			"stored secrets, nodes and deploys were not checked here, and the apply on the machine that deploys checks them",
		NextActions: []Action{{Label: "on the machine that deploys, see everything", Command: "devopsellence-backup plan"}},
	}
}
