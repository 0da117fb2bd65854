package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/agentcmd"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/logging"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// errPending makes a --detailed-exitcode run exit 3: changes are pending.
var errPending = errors.New("changes pending")

// Operating commands (backup, check, prune, drill, status) print their
// result, findings included, before they return one of these.
var (
	// errReported: something failed, is stale or missing: exit 1.
	errReported = errors.New("failed; the findings say why")
	// errPartial: a snapshot was saved without some source data. That is not
	// a success, so exit 1; the result says "partial", not "failed".
	errPartial = errors.New("partial backup")
	// errStopped: the run was interrupted here, and the result printed
	// says what the run in the service did: exit 130.
	errStopped = errors.New("interrupted; the result says what the run in the service did")
)

// errMissingValues: secret values no explicit source provides. Exit 2 like
// other bad input, but the run loop retries it: the operator may store the
// secret by hand or fill a --secret-file without touching the spec.
var errMissingValues = errors.New("missing secret values")

// usageError marks bad flags or bad input: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// commandError is an error that a command's own code returned, as opposed to
// cobra's (an unknown command, a bad flag or argument count). It carries the
// result format the command promised on stdout before it ran, where Main
// prints the error envelope.
type commandError struct {
	err    error
	output string
}

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// runCommand runs a command's logic, or runF in its place when a test gives
// one. What either returns is the command's own error, reported in output,
// the format the command promised.
func runCommand[O any](ctx context.Context, o *O, output string, runF func(*O) error, run func(context.Context, *O) error) error {
	if runF != nil {
		return own(runF(o), output)
	}
	return own(run(ctx, o), output)
}

// own marks err, if any, as a command's own, reported in output.
func own(err error, output string) error {
	if err == nil {
		return nil
	}
	return &commandError{err: err, output: output}
}

// promised is the result format a command promises: the --output it was
// given when it is one of the formats the command has, else none.
func promised(output string, formats []string) string {
	for _, f := range formats {
		if output == f {
			return output
		}
	}
	return ""
}

// The result formats of the commands that have --output.
var (
	textOrJSON  = []string{render.Text, render.JSON}
	planFormats = []string{render.Text, render.JSON, render.Markdown}
)

func checkOutput(got string, allowed []string) error {
	if promised(got, allowed) != "" {
		return nil
	}
	return usagef("--output %q: want one of %v", got, allowed)
}

// Main runs one command line and returns the process exit code. environ is
// the environment the run sees; nothing reads os.Getenv.
func Main(ctx context.Context, args []string, streams *iostreams.Streams, environ []string) int {
	return run(ctx, args, newFactory(streams, environ, reconcile.RealClock{}, halfJitter))
}

// halfJitter spreads a retry delay over [d/2, d] so that many runners do not
// retry in step.
func halfJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// run executes the command line with f's dependencies and decides the exit
// status, reporting a failure once.
func run(ctx context.Context, args []string, f *Factory) int {
	root := newRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.streams.In)
	root.SetOut(f.streams.Out)
	root.SetErr(f.streams.Err)
	cmd, err := root.ExecuteContextC(ctx)
	f.flush()
	if err != nil && cmd == root {
		// A mistyped command fails as an unknown flag first when it has a
		// flag only commands have (--output): say what is wrong, with
		// cobra's suggestions.
		if u := unknownCommand(root, args); u != nil {
			err = u
		}
	}
	var ce *commandError
	if err != nil && !errors.As(err, &ce) {
		// cobra failed before any command ran: an unknown command, a bad
		// argument count or flag; or the root refused the global flags.
		err = usageError{err}
	}
	var agentExit *agentcmd.Exit
	if errors.As(err, &agentExit) {
		// The agent's own status; what it has to say besides its result
		// line is reported like any failure.
		if agentExit.Err != nil {
			report(f.failure(cmd, args, ce), agentExit.Err, agentExit.Code)
		}
		return agentExit.Code
	}
	code := exitCode(ctx, err)
	if err != nil && !errors.Is(err, errPending) && !errors.Is(err, errReported) && !errors.Is(err, errPartial) && !errors.Is(err, errStopped) {
		report(f.failure(cmd, args, ce), err, code)
	}
	return code
}

// unknownCommand is the error for a command line whose first word is no
// command, with the commands it may have meant; nil when it names one.
func unknownCommand(root *cobra.Command, args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return nil
		}
		if strings.HasPrefix(a, "-") {
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			fl := root.PersistentFlags().Lookup(name)
			if fl == nil && len(name) == 1 {
				fl = root.PersistentFlags().ShorthandLookup(name)
			}
			if fl != nil && fl.NoOptDefVal == "" && !hasValue {
				i++ // its value
			}
			continue
		}
		if c, _, err := root.Find([]string{a}); err == nil && c != root {
			return nil
		}
		return rootArgs(root, []string{a})
	}
	return nil
}

// rootArgs refuses arguments to the root: an unknown command, with the
// commands it may have meant.
func rootArgs(root *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], root.CommandPath())
	if s := root.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return errors.New(msg + " (devopsellence-backup --help lists the commands)")
}

// failure is how a failed run is reported.
type failure struct {
	streams *iostreams.Streams
	log     logr.Logger
	logJSON bool
	// operation names the command; output is the result format promised.
	operation string
	output    string
}

// failure says how to report a failed run of cmd. A command that ran
// promised its format; when cobra failed first (it parses every flag before
// any command code runs), --output and --log-format are read from the raw
// command line instead. The operation is the command the line names.
func (f *Factory) failure(cmd *cobra.Command, args []string, ce *commandError) failure {
	r := failure{streams: f.streams, operation: cmd.CommandPath()}
	switch {
	case ce != nil && ce.output != "":
		r.output = ce.output
	case rawFlag(args, "--output", "-o") == render.JSON:
		// Only JSON: every command that has --output has it, while a
		// format a command does not have (status --output markdown) is the
		// usage error.
		r.output = render.JSON
	}
	if f.ready {
		r.log, r.logJSON = f.log, f.LogJSON()
		return r
	}
	format := f.globals.LogFormat
	if raw := rawFlag(args, "--log-format", ""); raw != "" {
		format = raw
	}
	log, err := logging.New(f.streams.Err, logging.Options{Format: format})
	r.log, r.logJSON = log, err == nil && format == logging.FormatJSON
	return r
}

// rawFlag returns the last value given to a string flag in args, in any of
// the forms pflag accepts ("--output json", "--output=json", "-o json",
// "-o=json", "-ojson"), or "" when it is not there.
func rawFlag(args []string, long, short string) string {
	var v string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return v
		case a == long || (short != "" && a == short):
			if i+1 < len(args) {
				v = args[i+1]
				i++
			}
		case strings.HasPrefix(a, long+"="):
			v = strings.TrimPrefix(a, long+"=")
		case short != "" && strings.HasPrefix(a, short) && !strings.HasPrefix(a, "--"):
			v = strings.TrimPrefix(strings.TrimPrefix(a, short), "=")
		}
	}
	return v
}

func exitCode(ctx context.Context, err error) int {
	var conflict *reconcile.ConflictError
	var usage usageError
	switch {
	case err == nil:
		return operate.ExitOK
	case errors.Is(err, errPending):
		return operate.ExitPending
	case errors.Is(err, errStopped), errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return operate.ExitInterrupted
	case errors.As(err, &usage), errors.Is(err, spec.ErrInvalid), errors.As(err, &conflict), errors.Is(err, store.ErrRefused):
		return operate.ExitUsage
	default:
		return operate.ExitFailed
	}
}

// report prints the error once: on stderr for people, and as the JSON
// envelope on stdout when the command promised JSON.
func report(r failure, err error, code int) {
	msg := err.Error()
	if code == operate.ExitInterrupted {
		msg = "interrupted; nothing half-done is left behind: run the same command again to converge"
	}
	if r.logJSON {
		r.log.Error(errors.New(msg), "commandFailed", "exitCode", code, "operation", r.operation)
	} else {
		fmt.Fprintf(r.streams.Err, "Error: %s\n", msg)
	}
	switch r.output {
	case render.JSON:
		_ = render.Failure(r.streams.Out, r.operation, errorCode(code), code, msg)
	case render.Markdown:
		_ = render.ErrorMarkdown(r.streams.Out, msg)
	}
}

func errorCode(code int) string {
	switch code {
	case operate.ExitUsage:
		return "invalid_input"
	case operate.ExitInterrupted:
		return "interrupted"
	}
	return "command_failed"
}
