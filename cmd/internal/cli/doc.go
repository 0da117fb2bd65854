// Package cli holds the cobra commands of devopsellence-backup, one Options
// struct and run function per command, the wiring of their dependencies, and
// the one place where an error becomes an exit code.
package cli
