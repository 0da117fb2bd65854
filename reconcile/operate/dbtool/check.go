package dbtool

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
)

// CheckResult is what the spec's check command did.
type CheckResult struct {
	ExitCode int
	Output   string // its stdout, scrubbed of the database's secrets
}

// RunCheckCommand runs the spec's check command (sh -c) against a restored
// copy, which it finds in its environment: BACKUP_RESTORED_URL (without
// password) and PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD for
// PostgreSQL; BACKUP_RESTORED_DATABASE and BACKUP_RESTORED_DEFAULTS_FILE (a
// 0600 option file, removed afterwards) for MySQL; BACKUP_RESTORED_PATH for
// SQLite. It inherits the agent's environment except the clients' own
// variables (PG*, MYSQL_*, REDISCLI_*). A non-zero exit is a ClassVerifyFailed
// error; cancelling ctx stops the command and all its children.
func RunCheckCommand(ctx context.Context, restored Database, script string) (CheckResult, error) {
	op := "check command on " + restored.name()
	if err := restored.validate(op); err != nil {
		return CheckResult{ExitCode: -1}, err
	}
	var env []string
	c := restored.Conn
	switch restored.Engine {
	case Postgres:
		env = append(pgEnv(c), "BACKUP_RESTORED_URL="+c.Redacted(), "PGHOST="+c.Host, "PGPORT="+strconv.Itoa(c.Port), "PGUSER="+c.User, "PGDATABASE="+c.Database)
		if m := c.Params.Get("sslmode"); m != "" {
			env = append(env, "PGSSLMODE="+m)
		}
	case MySQL, MariaDB:
		cnf, cleanup, err := writeOptionFile(c, "")
		if err != nil {
			return CheckResult{ExitCode: -1}, err
		}
		defer cleanup()
		env = []string{"BACKUP_RESTORED_DATABASE=" + c.Database, "BACKUP_RESTORED_DEFAULTS_FILE=" + cnf}
	case SQLite:
		env = []string{"BACKUP_RESTORED_PATH=" + restored.Path}
	default:
		return CheckResult{ExitCode: -1}, errorf(ClassFailed, op, "no check command for %s", restored.Engine)
	}
	cmd := command{op: op, secret: c.Secret, fail: ClassVerifyFailed,
		argv: []string{"sh", "-c", script}, env: env, inherit: true, scrub: restored.scrubber()}
	if restored.Engine == SQLite {
		cmd.dir = filepath.Dir(restored.Path)
	}
	out, err := cmd.run(ctx)
	res := CheckResult{ExitCode: 0, Output: strings.TrimRight(string(out), "\n")}
	var e *Error
	if errors.As(err, &e) {
		res.ExitCode = e.ExitCode
	}
	return res, err
}
