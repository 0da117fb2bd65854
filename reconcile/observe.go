package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
)

// Observer is how the core asks devopsellence what it holds.
type Observer interface {
	ListSecrets(ctx context.Context, env, service string) ([]devopsellence.Secret, error)
	Nodes(ctx context.Context) ([]devopsellence.Node, error)
}

// Observe fills o.Secrets (one `secret list` per covered environment) and
// o.Nodes (one `node list --all`). When devopsellence is not installed or the
// workspace has no mode, it records why in o.Unchecked instead of failing, so
// that a plan still shows the config diff.
func Observe(ctx context.Context, d *Desired, obs Observer, o *Observed) error {
	secrets := map[string][]devopsellence.Secret{}
	for _, env := range d.Covered {
		list, err := obs.ListSecrets(ctx, env, d.Service)
		if u := unchecked(err); u != nil {
			o.Unchecked = u
			return nil
		}
		if err != nil {
			return fmt.Errorf("observe secrets of %s: %w", env, err)
		}
		if list == nil {
			list = []devopsellence.Secret{}
		}
		secrets[env] = list
	}
	nodes, err := obs.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("observe nodes: %w", err)
	}
	if nodes == nil {
		nodes = []devopsellence.Node{}
	}
	o.Secrets, o.Nodes = secrets, nodes
	return nil
}

func unchecked(err error) *Finding {
	switch {
	case errors.Is(err, devopsellence.ErrNotInstalled):
		return &Finding{
			Severity: SeverityInfo, Code: "devopsellence_not_found",
			Message:  "devopsellence cannot be run (" + err.Error() + "), so stored secrets and nodes were not checked; the config diff is complete",
			Evidence: []string{err.Error()},
			NextActions: []Action{
				{Label: "install devopsellence, or name the binary", Command: "devopsellence-backup plan --devopsellence /path/to/devopsellence"},
			},
		}
	case errors.Is(err, devopsellence.ErrModeNotSet):
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
