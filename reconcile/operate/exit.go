package operate

// Exit codes: one table for both sides. The agent exits with them; the
// operator's side reads the agent's through devopsellence exec and decides
// its own from the same names.
const (
	ExitOK = 0
	// ExitFailed: the run failed (its result says why), or an error.
	ExitFailed = 1
	// ExitUsage: bad flags or input; for the agent also a service
	// environment that is not a valid agent configuration.
	ExitUsage = 2
	// ExitPartial: the agent saved a snapshot without some source data.
	// Only the agent exits with it: the operator's side reports such a run
	// as partial and exits ExitFailed.
	ExitPartial = 3
	// ExitPending: plan or apply with --detailed-exitcode found changes
	// pending. The same number as ExitPartial, on other commands: no
	// command exits with both.
	ExitPending = 3
	// ExitNotFound: the command was not found where it was run (exec's
	// 127): an image without the agent, a service without restic.
	ExitNotFound = 127
	// ExitInterrupted: interrupted by a signal, `agent cancel`, or the
	// run's own deadline.
	ExitInterrupted = 130
)
