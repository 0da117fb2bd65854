package reconcile

import (
	"errors"
	"slices"
	"time"
)

// What the core knows of devopsellence, in its own words. The adapter that
// runs the devopsellence binary (package reconcile/devopsellence) converts
// its JSON into these types and matches its errors to the ones below, so the
// core never depends on the CLI's output format.

// Secret is one secret devopsellence lists for a service in one environment.
// It never holds a value.
type Secret struct {
	Service string
	Name    string
	// Store is where devopsellence keeps it: plaintext or 1password.
	Store string
	// Reference is the op:// location of a 1Password record.
	Reference string
	// Stored is true when devopsellence holds a value or a reference for it;
	// a ref in devopsellence.yml alone lists it as not stored.
	Stored bool
}

// Node is a node attached to one environment of this app.
type Node struct {
	Name   string
	Labels []string
}

// HasLabel reports whether the node carries label.
func (n Node) HasLabel(label string) bool { return slices.Contains(n.Labels, label) }

// Release is one release devopsellence records for an environment of this
// app (`release list`): every deploy makes one; a rollback makes an earlier
// one current again.
type Release struct {
	ID       string
	Revision string
	// CreatedAt is when its deploy started, by the deploying machine's clock.
	CreatedAt time.Time
	Current   bool
}

// SetResult is what storing a secret did.
type SetResult struct {
	// ConfigUpdated is true when devopsellence rewrote devopsellence.yml,
	// which it does only when the secret's ref was not already canonical.
	ConfigUpdated bool
}

// DeployEvent is one event of a deploy as it streams.
type DeployEvent struct {
	// Kind is started, progress, result or error.
	Kind    string
	Step    string
	Message string
	Phase   string
	// ReleaseID is set on a real deploy's result.
	ReleaseID string
}

// Errors the core branches on. The adapter's errors match them with errors.Is.
var (
	// ErrNotInstalled: the devopsellence binary could not be found.
	ErrNotInstalled = errors.New("devopsellence is not installed")
	// ErrModeNotSet: the workspace has no saved mode; every solo command needs one.
	ErrModeNotSet = errors.New("devopsellence workspace mode is not set")
	// ErrRejected: devopsellence ran and refused (a non-zero exit), as
	// opposed to not being reachable at all.
	ErrRejected = errors.New("devopsellence refused")
)
