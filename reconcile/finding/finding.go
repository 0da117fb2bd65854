// Package finding is what a person (or an AI operator) must know after a
// plan or an operation, with the commands that act on it. The reconcile core
// and the operations share it.
package finding

// Finding is something a person should know, with the commands that act on it.
type Finding struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Message     string   `json:"message"`
	Evidence    []string `json:"evidence,omitempty"`
	NextActions []Action `json:"next_actions,omitempty"`
	// Environment is set when the finding concerns one environment.
	Environment string `json:"environment,omitempty"`
}

// Action is a next step: a label and the command to run.
type Action struct {
	Label   string `json:"label"`
	Command string `json:"command"`
}

// Severities.
const (
	Error   = "error"
	Warning = "warning"
	Info    = "info"
)
