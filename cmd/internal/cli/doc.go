// Package cli holds the cobra commands of devopsellence-backup and the one
// place where an error becomes an exit code. Main builds a Factory once (the
// streams, the environment, one clock, the logger from the global flags, and
// the app's workspace on demand); each command has its own options, a
// constructor newXCmd(f, runF) and a runX(ctx, opts).
package cli
