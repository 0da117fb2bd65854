// Package dbtool runs the database client programs (pg_dump, pg_restore, psql,
// mariadb-dump, mariadb, sqlite3, redis-cli) for the backup agent: dumps,
// scratch databases for drills, summaries and restores, with passwords kept
// out of argv and every fragment of a secret scrubbed from what they print.
package dbtool
