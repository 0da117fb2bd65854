package operate

import (
	"context"
	"io"
)

// Executor runs a command inside a service of an environment and streams
// its output lines; *devopsellence.Client satisfies it. The exit code is the
// command's own; err is set only when the command could not be run to its
// end (including a cancelled or expired context).
type Executor interface {
	Exec(ctx context.Context, env, service string, argv []string, stdin io.Reader, onOutput func(stream, line string)) (int, error)
}

// Run executes argv in the service and collects the machine-readable lines;
// every other line goes to onLine (nil drops them). The Outcome holds what
// arrived even when err is set, e.g. a deadline that interrupted the run.
func Run(ctx context.Context, ex Executor, env, service string, argv []string, onLine func(stream, line string)) (*Outcome, error) {
	out := &Outcome{}
	code, err := ex.Exec(ctx, env, service, argv, nil, func(stream, line string) {
		if !out.Take(stream, line) && onLine != nil {
			onLine(stream, line)
		}
	})
	out.ExitCode = code
	out.finish()
	return out, err
}
