package dbtool

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Format is a PostgreSQL dump format.
type Format string

// PostgreSQL dump formats. Both stay uncompressed, so restic can dedup them.
const (
	FormatCustom Format = "custom" // pg_dump --format=custom --compress=0 (the default)
	FormatPlain  Format = "plain"  // SQL text with --clean --if-exists
)

// Database is one database: on a server (Conn) or a SQLite file (Path).
type Database struct {
	Engine Engine
	Conn   Conn
	Path   string // SQLite: an absolute path
}

// OnServer is the database a parsed URL names.
func OnServer(c Conn) Database { return Database{Engine: c.Engine, Conn: c} }

// SQLiteFile is a SQLite database file.
func SQLiteFile(path string) Database { return Database{Engine: SQLite, Path: path} }

// String names the database without its password.
func (d Database) String() string {
	if d.Engine == SQLite {
		return d.Path
	}
	return d.Conn.Redacted()
}

// name is how messages refer to the database.
func (d Database) name() string {
	switch {
	case d.Engine == SQLite:
		return filepath.Base(d.Path)
	case d.Conn.Database != "":
		return d.Conn.Database
	}
	return d.Conn.Host
}

// scrubber hides the database's own secrets.
func (d Database) scrubber() *Scrubber {
	s := NewScrubber()
	s.AddConn(d.Conn)
	return s
}

// validate refuses a Database no client can be started for: so a URL that
// did not parse never reaches a process.
func (d Database) validate(op string) error {
	if d.Engine != SQLite && d.Conn.zero() {
		return errorf(ClassBadURL, op, "no parsed connection URL: parse it with dbtool.Parse first")
	}
	switch d.Engine {
	case SQLite:
		if !filepath.IsAbs(d.Path) || strings.ContainsAny(d.Path, "'\"\n\r\x00") {
			return errorf(ClassFailed, op, "the SQLite path must be absolute and hold no quote or newline")
		}
		return nil
	case Postgres, MySQL, MariaDB, Redis:
		if d.Conn.Engine != d.Engine && !(d.Conn.Engine.mysqlish() && d.Engine.mysqlish()) {
			return errorf(ClassFailed, op, "a %s URL for a %s database", d.Conn.Engine, d.Engine)
		}
		if strings.HasPrefix(d.Conn.Database, "-") {
			return errorf(ClassBadURL, op, "the database name starts with -")
		}
		return nil
	}
	return errorf(ClassFailed, op, "unsupported engine %q (want postgres, mysql, mariadb, sqlite or redis)", d.Engine)
}

// Summary counts what a database holds, for drills (restored copy against
// the source) and restore plans (now against the snapshot).
type Summary struct {
	Engine Engine
	Tables int
	Rows   int64
	// PerTable holds the rows of each table: "schema.table" for PostgreSQL
	// (quoted as format('%I.%I') does), the table name for MySQL and SQLite,
	// "db<N>" and its keys for Redis.
	PerTable map[string]int64
}

// String is "N tables, M rows" ("N keys" for Redis).
func (s Summary) String() string {
	if s.Engine == Redis {
		return fmt.Sprintf("%d keys", s.Rows)
	}
	return fmt.Sprintf("%d tables, %d rows", s.Tables, s.Rows)
}

// Equal reports whether both hold the same tables with the same row counts.
func (s Summary) Equal(o Summary) bool {
	if s.Tables != o.Tables || s.Rows != o.Rows || len(s.PerTable) != len(o.PerTable) {
		return false
	}
	for k, v := range s.PerTable {
		if w, ok := o.PerTable[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Differences lists the tables whose counts differ, "name: 3 → 5", sorted.
func (s Summary) Differences(o Summary) []string {
	var out []string
	for k, v := range s.PerTable {
		if w, ok := o.PerTable[k]; !ok {
			out = append(out, fmt.Sprintf("%s: %d → missing", k, v))
		} else if w != v {
			out = append(out, fmt.Sprintf("%s: %d → %d", k, v, w))
		}
	}
	for k, w := range o.PerTable {
		if _, ok := s.PerTable[k]; !ok {
			out = append(out, fmt.Sprintf("%s: missing → %d", k, w))
		}
	}
	sort.Strings(out)
	return out
}

func newSummary(engine Engine, counts map[string]int64) Summary {
	s := Summary{Engine: engine, PerTable: counts, Tables: len(counts)}
	for _, n := range counts {
		s.Rows += n
	}
	return s
}

// Summarize counts the tables and the rows of each, read in one consistent
// snapshot (a read-only repeatable-read transaction; for SQLite one
// statement).
func Summarize(ctx context.Context, db Database) (Summary, error) {
	op := "summarize " + db.name()
	if err := db.validate(op); err != nil {
		return Summary{}, err
	}
	switch db.Engine {
	case Postgres:
		return pgSummary(ctx, db, op)
	case MySQL, MariaDB:
		return mySummary(ctx, db, op)
	case SQLite:
		return sqliteSummary(ctx, db, op)
	default:
		return redisSummary(ctx, db, op)
	}
}

// Query runs SQL in a read-only transaction and returns its output as the
// client prints it (PostgreSQL: psql -A -t; MySQL: tab-separated; SQLite:
// list mode), scrubbed of the database's secrets.
func Query(ctx context.Context, db Database, sql string) (string, error) {
	op := "query " + db.name()
	if err := db.validate(op); err != nil {
		return "", err
	}
	var out []byte
	var err error
	switch db.Engine {
	case Postgres:
		out, err = pgQuery(ctx, db, op, sql)
	case MySQL, MariaDB:
		out, err = myQuery(ctx, db, op, sql, true)
	case SQLite:
		out, err = sqliteQuery(ctx, db, op, sql)
	default:
		return "", errorf(ClassFailed, op, "redis takes no SQL")
	}
	return strings.TrimRight(string(out), "\n"), err
}

// QueryCheck is the outcome of a check query run on both copies.
type QueryCheck struct {
	Restored, Source string
	Match            bool
}

// CompareQuery runs the spec's check query on the restored copy and on the
// source; their outputs must be equal.
func CompareQuery(ctx context.Context, restored, source Database, sql string) (QueryCheck, error) {
	r, err := Query(ctx, restored, sql)
	if err != nil {
		return QueryCheck{}, fmt.Errorf("check query on the restored copy: %w", err)
	}
	s, err := Query(ctx, source, sql)
	if err != nil {
		return QueryCheck{Restored: r}, fmt.Errorf("check query on the source: %w", err)
	}
	return QueryCheck{Restored: r, Source: s, Match: r == s}, nil
}
