package devopsellence

import (
	"errors"
	"fmt"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// listedSecret is one item of `devopsellence secret list`. It never holds a value.
type listedSecret struct {
	ServiceName        string `json:"service_name"`
	Name               string `json:"name"`
	SecretRef          string `json:"secret_ref"`
	Store              string `json:"store"`
	Reference          string `json:"reference,omitempty"`
	Configured         bool   `json:"configured"`
	Stored             bool   `json:"stored"`
	AvailableToService bool   `json:"available_to_service"`
}

func (s listedSecret) secret() reconcile.Secret {
	return reconcile.Secret{Service: s.ServiceName, Name: s.Name, Store: s.Store, Reference: s.Reference, Stored: s.Stored}
}

// setResult is what `secret set` reports.
type setResult struct {
	ConfigUpdated bool   `json:"config_updated"`
	SecretRef     string `json:"secret_ref"`
	Store         string `json:"store"`
}

// event is one NDJSON event of a streaming command (deploy, exec).
type event struct {
	Event   string `json:"event"`
	Step    string `json:"step,omitempty"`
	Message string `json:"message,omitempty"`
	Phase   string `json:"phase,omitempty"`
	Stream  string `json:"stream,omitempty"`
	// ReleaseID is set on a real deploy's result.
	ReleaseID string `json:"release_id,omitempty"`
}

func (e event) deployEvent() reconcile.DeployEvent {
	return reconcile.DeployEvent{Kind: e.Event, Step: e.Step, Message: e.Message, Phase: e.Phase, ReleaseID: e.ReleaseID}
}

// ErrNotInstalled means the devopsellence binary could not be found.
var ErrNotInstalled = reconcile.ErrNotInstalled

// ErrModeNotSet means the workspace has no saved mode; every solo command needs one.
var ErrModeNotSet = reconcile.ErrModeNotSet

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

// Is lets errors.Is match the core's errors: every failed command is
// reconcile.ErrRejected, and the CLI's "mode is not set" failure is also
// ErrModeNotSet.
func (e *Error) Is(target error) bool {
	switch target {
	case reconcile.ErrRejected:
		return true
	case ErrModeNotSet:
		return e.ExitCode == 2 && strings.Contains(e.Message, "workspace mode is not set")
	}
	return false
}
