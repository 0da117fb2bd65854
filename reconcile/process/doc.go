// Package process runs every external program of devopsellence-backup
// (restic, the database clients, devopsellence, the spec's own commands) the
// one way: in a process group of its own, stopped by a polite signal, then
// SIGKILL to the whole group after a grace period, with a bounded tail of
// its stderr.
package process
