package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// MainWithClock is Main with the run's one clock and the retry jitter injected.
func MainWithClock(ctx context.Context, args []string, streams *iostreams.Streams, environ []string, clock reconcile.Clock, jitter func(time.Duration) time.Duration) int {
	return run(ctx, args, newFactory(streams, environ, clock, jitter))
}

// Root is the command tree Main runs.
func Root() *cobra.Command {
	streams, _, _ := iostreams.Test("")
	return newRootCmd(newFactory(streams, nil, reconcile.RealClock{}, halfJitter))
}

// CheckArgs parses a command line as Main would, without running it.
func CheckArgs(args []string) error {
	cmd, rest, err := Root().Find(args)
	if err != nil {
		return err
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	return cmd.ValidateArgs(cmd.Flags().Args())
}

// URLEngine is init's rule for variables that hold a connection URL.
func URLEngine(name string) (string, bool) { return urlEngine(name) }
