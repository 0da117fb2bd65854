package dbtool

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// myParams maps URL query parameters (as Rails, Go and PHP write them) to
// options of the MySQL/MariaDB command-line clients. Others (pool, timeout,
// parseTime, ...) are settings of an app's driver and are left out. The
// options are written with the loose- prefix, so a client that lacks one
// (MariaDB has no ssl-mode) ignores it.
var myParams = map[string]string{
	"ssl": "ssl", "ssl-ca": "ssl-ca", "sslca": "ssl-ca", "ssl-capath": "ssl-capath", "sslcapath": "ssl-capath",
	"ssl-cert": "ssl-cert", "sslcert": "ssl-cert", "ssl-key": "ssl-key", "sslkey": "ssl-key",
	"ssl-cipher": "ssl-cipher", "ssl-crl": "ssl-crl", "ssl-mode": "ssl-mode", "sslmode": "ssl-mode",
	"ssl-verify-server-cert": "ssl-verify-server-cert", "tls-version": "tls-version",
	"charset": "default-character-set", "encoding": "default-character-set", "default-character-set": "default-character-set",
	"connect-timeout": "connect-timeout", "protocol": "protocol", "socket": "socket",
}

// myValue quotes an option-file value: inside double quotes, a backslash,
// both quotes and control characters are escaped the way MySQL's and
// MariaDB's option-file readers undo (mysys/my_default.c).
func myValue(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "\b", `\b`)
	return `"` + r.Replace(v) + `"`
}

// optionFile renders a [client] group with the connection of c.
func optionFile(c Conn) (string, error) {
	var b strings.Builder
	b.WriteString("[client]\n")
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, myValue(v)) }
	if c.User != "" {
		line("user", c.User)
	}
	if c.password != "" {
		line("password", c.password)
	}
	if c.Host != "" {
		line("host", c.Host)
	}
	if c.Port != 0 {
		fmt.Fprintf(&b, "port=%d\n", c.Port)
	}
	charset := false
	keys := make([]string, 0, len(c.Params))
	for k := range c.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		opt, ok := myParams[strings.ReplaceAll(strings.ToLower(k), "_", "-")]
		if !ok {
			continue
		}
		charset = charset || opt == "default-character-set"
		line("loose-"+opt, c.Params.Get(k))
	}
	if !charset {
		b.WriteString("default-character-set=utf8mb4\n")
	}
	// The readers take lines of up to 4 KiB.
	for _, l := range strings.Split(b.String(), "\n") {
		if len(l) > 4000 {
			return "", errorf(ClassBadURL, "write the MySQL option file", "a value of the URL is too long for an option file")
		}
	}
	return b.String(), nil
}

// privateDirPrefix starts the name of every folder privateDir makes.
const privateDirPrefix = "devopsellence-dbtool-"

// privateDir makes a folder only we can read, for option files and copies.
func privateDir(tempDir string) (string, func(), error) {
	dir, err := os.MkdirTemp(tempDir, privateDirPrefix)
	if err != nil {
		return "", func() {}, fmt.Errorf("create a private folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		_ = os.RemoveAll(dir)
		return "", func() {}, fmt.Errorf("create a private folder: %w", err)
	}
	return dir, func() { _ = os.RemoveAll(dir) }, nil
}

// writeOptionFile writes c's option file (0600) into a new private folder;
// cleanup removes both.
func writeOptionFile(c Conn, tempDir string) (path string, cleanup func(), err error) {
	text, err := optionFile(c)
	if err != nil {
		return "", func() {}, err
	}
	dir, cleanup, err := privateDir(tempDir)
	if err != nil {
		return "", cleanup, err
	}
	path = filepath.Join(dir, "client.cnf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("write the MySQL option file: %w", err)
	}
	return path, cleanup, nil
}

// firstTool returns the first of names on PATH, else the first name (whose
// absence run reports as tool_missing).
func firstTool(names ...string) string {
	for _, n := range names {
		if _, err := exec.LookPath(n); err == nil {
			return n
		}
	}
	return names[0]
}

func myDumpArgv(cnf, database string) []string {
	// --defaults-extra-file must come first.
	return []string{firstTool("mariadb-dump", "mysqldump"), "--defaults-extra-file=" + cnf,
		"--single-transaction", "--quick", "--routines", "--triggers", "--hex-blob", "--no-tablespaces", database}
}

// myClient runs SQL from stdin with the mariadb (or mysql) client, which
// stops at the first error. database may be empty.
func myClient(ctx context.Context, c Conn, op string, fail Class, sql io.Reader, database string, readOnly bool, stdout io.Writer) ([]byte, error) {
	cnf, cleanup, err := writeOptionFile(c, "")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	argv := []string{firstTool("mariadb", "mysql"), "--defaults-extra-file=" + cnf, "--batch", "--skip-column-names"}
	if readOnly {
		argv = append(argv, "--init-command=SET SESSION TRANSACTION READ ONLY")
	}
	if database != "" {
		argv = append(argv, "--database="+database)
	}
	cmd := command{op: op, engine: c.Engine, secret: c.Secret, fail: fail, argv: argv, stdin: sql, stdout: stdout, scrub: OnServer(c).scrubber()}
	return cmd.run(ctx)
}

func myQuery(ctx context.Context, db Database, op, sql string, readOnly bool) ([]byte, error) {
	return myClient(ctx, db.Conn, op, ClassQueryFailed, strings.NewReader(sql), db.Conn.Database, readOnly, nil)
}

// myIdent quotes a MySQL identifier.
func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// myLines splits batch output into rows of fields, undoing the client's
// escapes of tab, newline, NUL and backslash.
func myLines(out []byte) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Split(line, "\t")
		for i, f := range fields {
			fields[i] = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\0`, "\x00").Replace(f)
		}
		rows = append(rows, fields)
	}
	return rows
}

// myTables lists the base tables of the connection's database.
func myTables(ctx context.Context, db Database, op string) ([]string, error) {
	out, err := myQuery(ctx, db, op, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name", true)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range myLines(out) {
		names = append(names, r[0])
	}
	return names, nil
}

func mySummary(ctx context.Context, db Database, op string) (Summary, error) {
	if db.Conn.Database == "" {
		return Summary{}, errorf(ClassFailed, op, "the URL names no database")
	}
	tables, err := myTables(ctx, db, op)
	if err != nil {
		return Summary{}, err
	}
	counts := map[string]int64{}
	if len(tables) == 0 {
		return newSummary(db.Engine, counts), nil
	}
	var q strings.Builder
	q.WriteString("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY;\n")
	for i, t := range tables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT %d, COUNT(*) FROM %s", i, myIdent(t))
	}
	q.WriteString(";\nCOMMIT;\n")
	out, err := myQuery(ctx, db, op, q.String(), false)
	if err != nil {
		return Summary{}, err
	}
	for _, r := range myLines(out) {
		i, err1 := strconv.Atoi(r[0])
		n, err2 := strconv.ParseInt(r[len(r)-1], 10, 64)
		if len(r) != 2 || err1 != nil || err2 != nil || i < 0 || i >= len(tables) {
			return Summary{}, errorf(ClassQueryFailed, op, "the client printed an unexpected summary line")
		}
		counts[tables[i]] = n
	}
	if len(counts) != len(tables) {
		return Summary{}, errorf(ClassQueryFailed, op, "the client printed %d counts for %d tables", len(counts), len(tables))
	}
	return newSummary(db.Engine, counts), nil
}

func myExec(ctx context.Context, server Conn, op string, fail Class, sql string) ([]byte, error) {
	return myClient(ctx, server, op, fail, strings.NewReader(sql), "", false, nil)
}

func myCreate(ctx context.Context, server Conn, name, op string) error {
	_, err := myExec(ctx, server, op, ClassScratchFailed, "CREATE DATABASE "+myIdent(name))
	return err
}

func myDrop(ctx context.Context, server Conn, name, op string) error {
	_, err := myExec(ctx, server, op, ClassScratchFailed, "DROP DATABASE IF EXISTS "+myIdent(name))
	return err
}

func myList(ctx context.Context, server Conn, op string) ([]string, error) {
	out, err := myExec(ctx, server, op, ClassScratchFailed, "SELECT schema_name FROM information_schema.schemata ORDER BY 1")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range myLines(out) {
		names = append(names, r[0])
	}
	return names, nil
}

// myLoad loads a dump (made without --databases) into a database; the
// client stops at the first error.
func myLoad(ctx context.Context, target Conn, dump io.Reader, op string) error {
	_, err := myClient(ctx, target, op, ClassRestoreFailed, dump, target.Database, false, io.Discard)
	return err
}
