// Package operate builds the shell scripts that run restic inside the backup
// service and reads back their results and evidence.
//
// Each operation (backup, check, prune, drill, status) is one POSIX sh script
// run with `devopsellence exec SERVICE -- sh -c SCRIPT`. Scripts name secrets
// only as variables of the service's environment, print machine-readable
// lines prefixed "devopsellence-backup: ", and store their result document
// in the repository as evidence, so that status works from any machine.
package operate
