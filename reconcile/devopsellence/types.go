package devopsellence

import (
	"errors"
	"fmt"
	"strings"
)

// Secret is one item of `devopsellence secret list`. It never holds a value.
type Secret struct {
	ServiceName        string `json:"service_name"`
	Name               string `json:"name"`
	SecretRef          string `json:"secret_ref"`
	Store              string `json:"store"`
	Reference          string `json:"reference,omitempty"`
	Configured         bool   `json:"configured"`
	Stored             bool   `json:"stored"`
	AvailableToService bool   `json:"available_to_service"`
}

// Node is one item of `devopsellence node list --all`.
type Node struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
	// Environments the node is attached to for this workspace.
	Environments []string `json:"environments"`
}

// HasLabel reports whether the node carries label.
func (n Node) HasLabel(label string) bool {
	for _, l := range n.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// AttachedTo reports whether the node is attached to env.
func (n Node) AttachedTo(env string) bool {
	for _, e := range n.Environments {
		if e == env {
			return true
		}
	}
	return false
}

// SetResult is what `secret set` reports.
type SetResult struct {
	ConfigUpdated bool   `json:"config_updated"`
	SecretRef     string `json:"secret_ref"`
	Store         string `json:"store"`
}

// Event is one NDJSON event of a streaming command (deploy, exec).
type Event struct {
	Event   string `json:"event"`
	Step    string `json:"step,omitempty"`
	Message string `json:"message,omitempty"`
	Phase   string `json:"phase,omitempty"`
	Stream  string `json:"stream,omitempty"`
	// ReleaseID is set on a real deploy's result.
	ReleaseID string `json:"release_id,omitempty"`
}

// ErrNotInstalled means the devopsellence binary could not be found.
var ErrNotInstalled = errors.New("devopsellence is not installed")

// ErrModeNotSet means the workspace has no saved mode; every solo command needs one.
var ErrModeNotSet = errors.New("devopsellence workspace mode is not set")

// ErrBadOutput means the CLI printed something that is not its JSON contract.
var ErrBadOutput = errors.New("devopsellence printed output that is not JSON")

// Error is a failed devopsellence command.
type Error struct {
	// Command is the subcommand path, e.g. "secret set" (never values).
	Command string
	// ExitCode is the process exit code.
	ExitCode int
	// Message is the CLI's own error message (error envelope, else stderr).
	Message string
	// Kind is error.kind when the CLI sets it.
	Kind string
	// NextSteps are next_steps from the envelope, when present.
	NextSteps []string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.ExitCode)
	}
	if len(e.NextSteps) > 0 {
		msg += "; devopsellence suggests: " + strings.Join(e.NextSteps, "; ")
	}
	return fmt.Sprintf("devopsellence %s: %s", e.Command, msg)
}

// Is lets errors.Is(err, ErrModeNotSet) match the CLI's "mode is not set" failure.
func (e *Error) Is(target error) bool {
	return target == ErrModeNotSet && e.ExitCode == 2 && strings.Contains(e.Message, "workspace mode is not set")
}
