package dbtool

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ClassClientTooOld: the dump client is older than the server and cannot
// dump it (pg_dump refuses a server of a newer major version).
const ClassClientTooOld Class = "client_too_old"

// Versions are what a server and the client that dumps it say they are.
type Versions struct {
	Server, Client string
	// Majors: PostgreSQL's major (9 for 9.x), MySQL's and MariaDB's first
	// number; 0 when unknown.
	ServerMajor, ClientMajor int
}

var versionNumber = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// CheckVersions reads the server's version and its dump client's, before a
// dump. A PostgreSQL server newer than pg_dump fails with
// ClassClientTooOld, naming both versions and the fix, before pg_dump runs
// (it would refuse, after connecting). SQLite and Redis have nothing to
// check; MySQL and MariaDB only report: mariadb-dump dumps newer servers.
func CheckVersions(ctx context.Context, db Database) (Versions, error) {
	var v Versions
	op := "version " + db.name()
	if err := db.validate(op); err != nil {
		return v, err
	}
	var clientArgv []string
	switch db.Engine {
	case Postgres:
		out, err := pgQuery(ctx, db, op, "SHOW server_version")
		if err != nil {
			return v, err
		}
		v.Server = strings.TrimSpace(string(out))
		clientArgv = []string{"pg_dump", "--version"}
	case MySQL, MariaDB:
		out, err := myQuery(ctx, db, op, "SELECT VERSION()", true)
		if err != nil {
			return v, err
		}
		v.Server = strings.TrimSpace(string(out))
		clientArgv = []string{firstTool("mariadb-dump", "mysqldump"), "--version"}
	default:
		return v, nil
	}
	out, err := (&command{op: op, engine: db.Engine, fail: ClassToolMissing, argv: clientArgv, scrub: db.scrubber()}).run(ctx)
	if err != nil {
		return v, err
	}
	v.Client = strings.TrimSpace(string(out))
	v.ServerMajor, v.ClientMajor = major(db.Engine, v.Server, false), major(db.Engine, v.Client, true)
	if db.Engine == Postgres && v.ServerMajor > 0 && v.ClientMajor > 0 && v.ServerMajor > v.ClientMajor {
		return v, errorf(ClassClientTooOld, op, "the server is PostgreSQL %s and pg_dump is %s: pg_dump refuses a server of a newer major version. "+
			"Use a backup image with postgresql-client-%d or newer (devopsellence-backup image prints one; the official image of a release has a current one), then deploy it with devopsellence-backup apply",
			firstField(v.Server), firstField(strings.TrimPrefix(v.Client, "pg_dump (PostgreSQL) ")), v.ServerMajor)
	}
	return v, nil
}

// major reads a version's major number. A MariaDB client reports its own
// version after "Distrib"; PostgreSQL before 10 counts 9.x as 9.
func major(engine Engine, text string, client bool) int {
	if client && (engine == MySQL || engine == MariaDB) {
		if _, after, ok := strings.Cut(text, "Distrib "); ok {
			text = after
		}
	}
	m := versionNumber.FindStringSubmatch(text)
	if m == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(firstField(text))); err == nil {
			return n // "18devel"-less plain majors, e.g. "18"
		}
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// NewerServer says, for a failed dump, that the server is newer than the
// client, when it is: the likeliest cause.
func (v Versions) NewerServer() string {
	if v.ServerMajor > 0 && v.ClientMajor > 0 && v.ServerMajor > v.ClientMajor {
		return fmt.Sprintf("the server (%s) is newer than the dump client (%s): an image with a newer client may dump it", v.Server, v.Client)
	}
	return ""
}
