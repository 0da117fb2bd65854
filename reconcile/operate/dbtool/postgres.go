package dbtool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// appName tells a DBA looking at pg_stat_activity who is connected.
const appName = "devopsellence-backup"

var pgKeywordRE = regexp.MustCompile(`^[a-z_]+$`)

// pgArgs are the connection arguments of every PostgreSQL client: --host,
// --port and --username separately, and --dbname as a keyword conninfo that
// carries the URL's other parameters (sslmode, ...) but never a password.
func pgArgs(c Conn, op string) ([]string, error) {
	var a []string
	if c.Host != "" {
		a = append(a, "--host="+c.Host)
	}
	if c.Port != 0 {
		a = append(a, "--port="+strconv.Itoa(c.Port))
	}
	if c.User != "" {
		a = append(a, "--username="+c.User)
	}
	info, err := conninfo(c, op)
	if err != nil {
		return nil, err
	}
	return append(a, "--dbname="+info, "--no-password"), nil
}

// conninfo renders the database and parameters as libpq keywords.
func conninfo(c Conn, op string) (string, error) {
	parts := []string{"fallback_application_name=" + pgQuote(appName)}
	if c.Database != "" {
		parts = append(parts, "dbname="+pgQuote(c.Database))
	}
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !pgKeywordRE.MatchString(k) {
			return "", errorf(ClassBadURL, op, "a query parameter name of the URL is not a libpq keyword")
		}
		parts = append(parts, k+"="+pgQuote(c.Params.Get(k)))
	}
	return strings.Join(parts, " "), nil
}

func pgQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// pgEnv passes the password through the environment, where ps does not show it.
func pgEnv(c Conn) []string {
	env := []string{}
	if c.password != "" {
		env = append(env, "PGPASSWORD="+c.password)
	}
	if c.Params.Get("connect_timeout") == "" {
		env = append(env, "PGCONNECT_TIMEOUT=30")
	}
	return env
}

// pgIdent quotes a PostgreSQL identifier.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func pgDumpArgv(c Conn, format Format, op string) ([]string, error) {
	args, err := pgArgs(c, op)
	if err != nil {
		return nil, err
	}
	argv := append([]string{"pg_dump"}, args...)
	if format == FormatPlain {
		// --clean --if-exists lets the same file replace a live database's
		// objects in one transaction; into an empty database they do nothing.
		return append(argv, "--format=plain", "--clean", "--if-exists"), nil
	}
	return append(argv, "--format=custom", "--compress=0"), nil
}

// psql runs SQL from stdin with ON_ERROR_STOP, unaligned and tuples only.
func psql(ctx context.Context, c Conn, op string, fail Class, sql string, extra ...string) ([]byte, error) {
	args, err := pgArgs(c, op)
	if err != nil {
		return nil, err
	}
	argv := append([]string{"psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"}, extra...)
	argv = append(append(argv, args...), "--file=-")
	cmd := command{op: op, engine: Postgres, secret: c.Secret, fail: fail, argv: argv,
		env: append(pgEnv(c), "PGCLIENTENCODING=UTF8"), stdin: strings.NewReader(sql), scrub: OnServer(c).scrubber()}
	return cmd.run(ctx)
}

func pgQuery(ctx context.Context, db Database, op, sql string) ([]byte, error) {
	return psql(ctx, db.Conn, op, ClassQueryFailed, "SET default_transaction_read_only = on;\n"+sql+"\n;\n")
}

// pgSummarySQL counts the rows of every table (partitioned tables once, with
// their partitions) in one repeatable-read snapshot. Each record is
// count, 0x1f, name.
const pgSummarySQL = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
SELECT (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint,
       format('%I.%I', n.nspname, c.relname)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY 2;
COMMIT;
`

func pgSummary(ctx context.Context, db Database, op string) (Summary, error) {
	out, err := psql(ctx, db.Conn, op, ClassQueryFailed, pgSummarySQL, "--field-separator=\x1f", "--record-separator-zero")
	if err != nil {
		return Summary{}, err
	}
	counts := map[string]int64{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		rec = bytes.TrimLeft(rec, "\n")
		if len(rec) == 0 {
			continue
		}
		n, name, ok := bytes.Cut(rec, []byte{0x1f})
		v, err := strconv.ParseInt(string(n), 10, 64)
		if !ok || err != nil {
			return Summary{}, errorf(ClassQueryFailed, op, "psql printed an unexpected summary line")
		}
		counts[string(name)] = v
	}
	return newSummary(Postgres, counts), nil
}

// pgMaintenance is the connection for CREATE and DROP DATABASE: the
// server URL's own database, else postgres.
func pgMaintenance(server Conn) Conn {
	if server.Database == "" {
		return server.With("postgres")
	}
	return server
}

func pgCreate(ctx context.Context, server Conn, name, op string) error {
	// template0: a dump restores into it without clashing with whatever
	// template1 was given.
	_, err := psql(ctx, pgMaintenance(server), op, ClassScratchFailed, "CREATE DATABASE "+pgIdent(name)+" TEMPLATE template0;")
	return err
}

// pgDrop drops a database, ending its sessions first: WITH (FORCE) on
// PostgreSQL 13 and later, pg_terminate_backend before that.
func pgDrop(ctx context.Context, server Conn, name, op string) error {
	admin := pgMaintenance(server)
	_, err := psql(ctx, admin, op, ClassScratchFailed, "DROP DATABASE IF EXISTS "+pgIdent(name)+" WITH (FORCE);")
	if err == nil || ctx.Err() != nil {
		return err
	}
	_, err = psql(ctx, admin, op, ClassScratchFailed,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "+pgLiteral(name)+" AND pid <> pg_backend_pid();\n"+
			"DROP DATABASE IF EXISTS "+pgIdent(name)+";")
	return err
}

func pgLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func pgList(ctx context.Context, server Conn, op string) ([]string, error) {
	out, err := psql(ctx, pgMaintenance(server), op, ClassScratchFailed, "SELECT datname FROM pg_database ORDER BY 1;")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// pgLoad loads a dump into an empty database, stopping at the first error.
// Owners and grants are left out: the scratch server may lack the roles.
func pgLoad(ctx context.Context, target Conn, format Format, dump io.Reader, op string) error {
	args, err := pgArgs(target, op)
	if err != nil {
		return err
	}
	var argv []string
	if format == FormatPlain {
		argv = append(append([]string{"psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"}, args...), "--file=-")
	} else {
		argv = append(append([]string{"pg_restore"}, args...), "--exit-on-error", "--no-owner", "--no-privileges")
	}
	cmd := command{op: op, engine: Postgres, secret: target.Secret, fail: ClassRestoreFailed, argv: argv,
		env: pgEnv(target), stdin: dump, stdout: io.Discard, scrub: OnServer(target).scrubber()}
	_, err = cmd.run(ctx)
	return err
}

// RestorePostgres replaces the objects of a live database with those of a
// dump in ONE transaction: pg_restore --single-transaction --clean
// --if-exists --exit-on-error --no-owner for a custom dump, psql -1 for a
// plain one (made with --clean --if-exists, as this package makes them). Any
// error, or an interruption, rolls everything back: the database is then as
// it was. Objects that the dump does not hold (a table created after it)
// stay as they are.
func RestorePostgres(ctx context.Context, live Conn, format Format, dump io.Reader, lockWait time.Duration) error {
	db := OnServer(live)
	op := "restore " + db.name()
	if err := db.validate(op); err != nil {
		return err
	}
	// A name for this restore's session, to find it if the run is cut.
	tag := appName + " restore " + randomHex(4)
	tagged := live
	tagged.Params = url.Values{}
	for k, v := range live.Params {
		tagged.Params[k] = v
	}
	tagged.Params.Set("application_name", tag)
	args, err := pgArgs(tagged, op)
	if err != nil {
		return err
	}
	var argv []string
	if format == FormatPlain {
		argv = append(append([]string{"psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1"}, args...), "--file=-")
	} else {
		argv = append(append([]string{"pg_restore"}, args...), "--single-transaction", "--clean", "--if-exists", "--exit-on-error", "--no-owner")
	}
	cmd := command{op: op, engine: Postgres, secret: live.Secret, fail: ClassRestoreFailed, argv: argv,
		env: pgEnv(live), stdin: dump, stdout: io.Discard, scrub: db.scrubber()}
	// DROP TABLE waits behind any open transaction of the app, and the
	// app's queries wait behind it. pg_restore (and a dump's own SETs)
	// turn lock_timeout off, so a watchdog cancels the restore once it has
	// waited lockWait for a lock, and names who holds it.
	wctx, stopWatch := context.WithCancel(ctx)
	blocker := make(chan string, 1)
	go func() { blocker <- pgWatchLocks(wctx, live, tag, lockWait, op) }()
	_, err = cmd.run(ctx)
	stopWatch()
	if held := <-blocker; held != "" && err != nil && ctx.Err() == nil {
		return &Error{Class: ClassLocked, Op: op, ExitCode: -1, Msg: fmt.Sprintf("the app kept a lock the restore needs for longer than it waits (%s): %s; the restore ran in one transaction, so nothing was changed", lockWait, held)}
	}
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok && e.Class == ClassInterrupted {
		// The server notices a client gone only when it next talks to it: a
		// long statement (CREATE INDEX, a sleep) would hold the transaction
		// and its locks on the live tables until it ends. Cancel it now.
		cctx, cancel := CleanupContext(ctx)
		defer cancel()
		_, _ = psql(cctx, pgMaintenance(live), op, ClassRestoreFailed,
			"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = "+pgLiteral(tag)+";")
	}
	if e, ok := err.(*Error); ok && (e.Class == ClassRestoreFailed || e.Class == ClassInterrupted) {
		e.Msg += "; the restore ran in one transaction, so the database is as it was"
		if format == FormatPlain && strings.Contains(e.Msg, "already exists") {
			e.Msg += " (a plain dump made without --clean cannot replace existing objects)"
		}
	}
	return err
}

// pgWatchLocks watches the session application_name tag until ctx ends:
// once it has waited lockWait for a lock, it cancels the session's
// statement and returns who held the lock ("" when it never did).
func pgWatchLocks(ctx context.Context, live Conn, tag string, lockWait time.Duration, op string) string {
	every := min(max(lockWait/5, 100*time.Millisecond), time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
		out, err := psql(ctx, pgMaintenance(live), op, ClassQueryFailed,
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = "+pgLiteral(tag)+" AND wait_event_type = 'Lock';")
		if err != nil || strings.TrimSpace(string(out)) == "0" {
			since = time.Time{}
			continue
		}
		if since.IsZero() {
			since = time.Now()
		}
		if time.Since(since) < lockWait {
			continue
		}
		held, _ := psql(ctx, pgMaintenance(live), op, ClassQueryFailed,
			"SELECT string_agg(DISTINCT 'process '||b.pid||' ('||coalesce(nullif(b.application_name, ''), 'no application_name')||', user '||coalesce(b.usename, '?')||', '||coalesce(b.state, '?')||' since '||to_char(b.state_change AT TIME ZONE 'UTC', 'HH24:MI:SS')||' UTC)', ', ') "+
				"FROM pg_stat_activity a CROSS JOIN LATERAL unnest(pg_blocking_pids(a.pid)) AS p(pid) JOIN pg_stat_activity b ON b.pid = p.pid WHERE a.application_name = "+pgLiteral(tag)+";")
		_, _ = psql(ctx, pgMaintenance(live), op, ClassQueryFailed,
			"SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = "+pgLiteral(tag)+";")
		if h := strings.TrimSpace(string(held)); h != "" {
			return "held by " + h
		}
		return "held by another session"
	}
}
