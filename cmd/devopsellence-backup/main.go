// Command devopsellence-backup reconciles and operates restic backups of a
// devopsellence app from a desired-state spec.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/agentcmd"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
)

func main() {
	// The backup service's process 1 only forwards signals and reaps.
	if code, ok := agentcmd.Init(os.Args[1:], os.Environ()); ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], iostreams.System(os.Environ()), os.Environ())
	stop()
	os.Exit(code)
}
