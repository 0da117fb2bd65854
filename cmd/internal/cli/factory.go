package cli

import (
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/logging"
	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// globalFlags are the flags every command shares. The root parses them;
// after that they are only read.
type globalFlags struct {
	Dir           string
	SpecPath      string
	Devopsellence string
	Verbosity     int
	LogFormat     string
	CallTimeout   time.Duration
	DeployTimeout time.Duration
}

// Factory is built once in Main and gives each command the dependencies it
// asks for: the streams, the environment, the one clock, the retry jitter,
// the logger built from the global flags, and a workspace (the app's files
// and its devopsellence client) whenever a command opens one. Commands copy
// what they use into their own options; none writes into the Factory.
type Factory struct {
	Environ []string
	// Clock is the run's only clock: what time it is, and waiting.
	Clock  reconcile.Clock
	Jitter func(time.Duration) time.Duration

	streams *iostreams.Streams
	globals globalFlags

	// Set once by the root, from the global flags, before any command runs.
	ready bool
	io    *iostreams.Streams
	log   logr.Logger
	// lines, with --log-format json, turns what is written to stderr as
	// text into JSON log lines; flushed when the run ends.
	lines *logging.Lines
}

func newFactory(streams *iostreams.Streams, environ []string, clock reconcile.Clock, jitter func(time.Duration) time.Duration) *Factory {
	return &Factory{Environ: environ, Clock: clock, Jitter: jitter, streams: streams, io: streams, log: logr.Discard()}
}

// startLogging builds the logger the global flags ask for and puts it in
// cmd's context. With --log-format json every stderr line is JSON: the
// logger writes there directly, and text meant for people goes through
// Lines; nothing prompts on a stream for machines.
func (f *Factory) startLogging(cmd *cobra.Command) error {
	log, err := logging.New(f.streams.Err, logging.Options{
		Verbosity: f.globals.Verbosity, Format: f.globals.LogFormat,
		Color: f.streams.Color(),
	})
	if err != nil {
		return usageError{err}
	}
	f.log, f.ready = log, true
	if f.LogJSON() {
		f.lines = logging.NewLines(log)
		f.io = f.streams.WithErr(f.lines)
	}
	cmd.SetContext(logr.NewContext(cmd.Context(), log))
	return nil
}

// flush writes out what Lines holds when the run ends.
func (f *Factory) flush() {
	if f.lines != nil {
		f.lines.Flush()
	}
}

// IO is the run's streams: stderr carries JSON log lines only with
// --log-format json.
func (f *Factory) IO() *iostreams.Streams { return f.io }

// LogJSON reports --log-format json: stderr is for machines.
func (f *Factory) LogJSON() bool { return f.globals.LogFormat == logging.FormatJSON }

// Workspace opens the app the global flags name.
func (f *Factory) Workspace() (*workspace, error) { return openWorkspace(f.globals, f.Environ) }
