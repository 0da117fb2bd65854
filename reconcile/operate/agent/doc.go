// Package agent is devopsellence-backup's second role: the program that
// runs inside the backup service and does the work (backup, check, prune,
// drill, status, and the scheduler that is the service's command), with
// restic and the database clients, reading its configuration from the
// service's environment and printing one JSON result for the operator's
// side to read.
package agent
