// Package prompt gets secret values: from sources the user named explicitly
// (--secret-env, --secret-file, DEVOPSELLENCE_BACKUP_SECRET_*) and, on a
// terminal, by asking without echo. It never logs, prints or echoes a value.
package prompt
