package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/logging"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// Exit codes.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitPending     = 3 // only with --detailed-exitcode: changes pending
	ExitInterrupted = 130
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

// Main runs one command line and returns the process exit code. environ is
// the environment the run sees; nothing reads os.Getenv.
func Main(ctx context.Context, args []string, streams *iostreams.Streams, environ []string) int {
	return mainWith(ctx, args, &globalOptions{
		streams: streams, environ: environ, now: time.Now, log: logr.Discard(),
		clock: reconcile.RealClock{}, jitter: halfJitter,
	})
}

// halfJitter spreads a retry delay over [d/2, d] so that many runners do not
// retry in step.
func halfJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func mainWith(ctx context.Context, args []string, g *globalOptions) int {
	streams := g.streams
	root := newRootCmd(g)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.Err)
	err := root.ExecuteContext(ctx)
	if g.stderrLines != nil {
		g.stderrLines.Flush()
	}
	if err != nil && !g.started {
		// cobra failed before any command ran: an unknown command, a bad
		// argument count or flag.
		err = usageError{err}
	}
	if code, ok := isAgentExit(err); ok {
		return code
	}
	code := exitCode(ctx, err)
	if err != nil && !errors.Is(err, errPending) && !errors.Is(err, errReported) && !errors.Is(err, errPartial) && !errors.Is(err, errStopped) {
		g.reportingFrom(root, args)
		report(g, err, code)
	}
	return code
}

// reportingFrom completes what report needs when the failure came before the
// command set it up: cobra parses every flag before any command code runs,
// so after a bad flag --output and --log-format are read from the raw
// command line, and the operation is the command the line names.
func (g *globalOptions) reportingFrom(root *cobra.Command, args []string) {
	// Only JSON: every command that has --output has it, while a format a
	// command does not have (status --output markdown) is the usage error.
	if g.output == "" && rawFlag(args, "--output", "-o") == render.JSON {
		g.output = render.JSON
	}
	if !g.logReady {
		if f := rawFlag(args, "--log-format", ""); f != "" {
			g.LogFormat = f
		}
		log, err := logging.New(g.streams.Err, logging.Options{Format: g.LogFormat})
		if err != nil {
			g.LogFormat = logging.FormatConsole
		}
		g.log = log
	}
	if g.operation == "" {
		g.operation = root.Name()
		if cmd, _, err := root.Find(args); err == nil {
			g.operation = cmd.CommandPath()
		}
	}
}

// dedupeLists drops repeated values of the named list flags, keeping the
// first of each in order: `--env production --env production` names one
// environment, to operate on once.
func dedupeLists(cmd *cobra.Command, names ...string) {
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		list, ok := f.Value.(pflag.SliceValue)
		if !ok {
			continue
		}
		var uniq []string
		for _, v := range list.GetSlice() {
			if !slices.Contains(uniq, v) {
				uniq = append(uniq, v)
			}
		}
		_ = list.Replace(uniq) // a string list accepts any strings
	}
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
		return ExitOK
	case errors.Is(err, errPending):
		return ExitPending
	case errors.Is(err, errStopped), errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return ExitInterrupted
	case errors.As(err, &usage), errors.Is(err, spec.ErrInvalid), errors.As(err, &conflict), errors.Is(err, store.ErrRefused):
		return ExitUsage
	default:
		return ExitError
	}
}

// report prints the error once: on stderr for people, and as the JSON
// envelope on stdout when the command promised JSON.
func report(g *globalOptions, err error, code int) {
	msg := err.Error()
	if code == ExitInterrupted {
		msg = "interrupted; nothing half-done is left behind: run the same command again to converge"
	}
	if g.LogFormat == logging.FormatJSON {
		g.log.Error(errors.New(msg), "commandFailed", "exitCode", code, "operation", g.operation)
	} else {
		fmt.Fprintf(g.streams.Err, "Error: %s\n", msg)
	}
	switch g.output {
	case render.JSON:
		_ = render.Failure(g.streams.Out, g.operation, errorCode(code), code, msg)
	case render.Markdown:
		_ = render.ErrorMarkdown(g.streams.Out, msg)
	}
}

func errorCode(code int) string {
	switch code {
	case ExitUsage:
		return "invalid_input"
	case ExitInterrupted:
		return "interrupted"
	}
	return "command_failed"
}

// globalOptions are the flags every command shares, and the run's wiring.
type globalOptions struct {
	Dir           string
	SpecPath      string
	Devopsellence string
	Verbosity     int
	LogFormat     string
	CallTimeout   time.Duration
	DeployTimeout time.Duration

	streams *iostreams.Streams
	environ []string
	now     func() time.Time
	log     logr.Logger
	// clock and jitter drive the run loop's waits.
	clock  reconcile.Clock
	jitter func(time.Duration) time.Duration

	// operation and output say how a failure is reported.
	operation string
	output    string
	// started is set once a command's own code runs; an error before that
	// is cobra's: a usage error.
	started bool
	// logReady is set once log is the logger the flags asked for.
	logReady bool
	// stderrLines, with --log-format json, turns whatever is written to
	// stderr as text into JSON log lines; flushed when the run ends.
	stderrLines *logging.Lines
}

func newRootCmd(g *globalOptions) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "devopsellence-backup",
		Short: "Reconcile and operate restic backups of a devopsellence app",
		Long: `devopsellence-backup reads a desired-state backup spec (devopsellence.backup.yml),
compares it with the app's devopsellence.yml and stored secrets, and converges
them: it patches only the managed backup service block, stores missing secrets
through devopsellence, validates and deploys. Then it operates the backups.

EXIT STATUS
  0    success (plan: in sync)
  1    error
  2    usage error or invalid input (spec, devopsellence.yml, flags)
  3    with --detailed-exitcode: changes are pending
  130  interrupted`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				return runVersion(cmd.Context(), &versionOptions{globalOptions: g})
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			g.started = true
			g.operation = cmd.CommandPath()
			dedupeLists(cmd, "env", "environments")
			log, err := logging.New(g.streams.Err, logging.Options{
				Verbosity: g.Verbosity, Format: g.LogFormat,
				Color: g.streams.Color(),
			})
			if err != nil {
				return usageError{err}
			}
			g.log, g.logReady = log, true
			if g.LogFormat == logging.FormatJSON {
				// Every stderr line is JSON: the logger writes there
				// directly, and text meant for people goes through Lines.
				// Nothing prompts on a stream for machines.
				g.stderrLines = logging.NewLines(log)
				g.streams = g.streams.WithErr(g.stderrLines)
			}
			cmd.SetContext(logr.NewContext(cmd.Context(), log))
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.Dir, "dir", ".", "the app root (where devopsellence.yml is)")
	pf.StringVar(&g.SpecPath, "spec", "", "the backup spec (default <dir>/"+spec.DefaultFile+")")
	pf.StringVar(&g.Devopsellence, "devopsellence", "devopsellence", "the devopsellence binary (a path, or a name on PATH)")
	pf.IntVarP(&g.Verbosity, "verbosity", "v", 0, "log detail on stderr: 0 operator, 1 decisions and every external command, 2 payload tracing")
	pf.StringVar(&g.LogFormat, "log-format", logging.FormatConsole, "log format on stderr: console, or json (then every stderr line is a JSON log entry)")
	pf.DurationVar(&g.CallTimeout, "call-timeout", devopsellence.DefaultTimeout, "deadline of each bounded devopsellence call (secret, config, node)")
	pf.DurationVar(&g.DeployTimeout, "deploy-timeout", devopsellence.DefaultDeployTimeout, "deadline of each devopsellence deploy")
	root.Flags().BoolVar(&showVersion, "version", false, "print the version as JSON, as the version command does")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newPlanCmd(g), newApplyCmd(g), newInitCmd(g), newRunCmd(g), newVersionCmd(g), newSkillCmd(g))
	root.AddCommand(operateCommands(g)...)
	root.AddCommand(recoveryCommands(g)...)
	root.AddCommand(newAgentCmd(g))
	return root
}
