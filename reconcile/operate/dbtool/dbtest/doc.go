// Package dbtest starts throwaway PostgreSQL, MariaDB and Redis servers on
// loopback for tests, each stopped when its test ends, with passwords full of
// the reserved characters that break naive URL handling.
package dbtest
