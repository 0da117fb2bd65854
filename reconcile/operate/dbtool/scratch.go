package dbtool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ScratchBase starts the name of every scratch database a drill creates;
// RestoreBase that of the databases a MySQL restore goes through.
const (
	ScratchBase = "devopsellence_drill_"
	RestoreBase = "devopsellence_restore_"
)

// CleanupTimeout bounds a cleanup that runs after its run was cancelled.
const CleanupTimeout = 2 * time.Minute

// CleanupContext returns a context for a deferred cleanup: it keeps ctx's
// values (the logger) but not its cancellation, and ends after
// CleanupTimeout. A cleanup deferred with it still runs when the run was
// interrupted:
//
//	defer func() {
//		ctx, cancel := dbtool.CleanupContext(ctx)
//		defer cancel()
//		_ = scratch.Drop(ctx)
//	}()
func CleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
}

// safeLen bounds the database's part of a scratch name, so that the whole
// name (base, part, _, 10 digits, _, 8 hex) fits PostgreSQL's 63 bytes.
const safeLen = 20

// ScratchPrefix is the start of the scratch database names of one database:
// ScratchBase, then its name in lower case with anything but a-z, 0-9 and _
// turned into _, cut to 20 characters, then _.
func ScratchPrefix(database string) string { return scratchPrefix(ScratchBase, database) }

func scratchPrefix(base, database string) string {
	safe := []byte(strings.ToLower(database))
	for i, c := range safe {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			safe[i] = '_'
		}
	}
	if len(safe) > safeLen {
		safe = safe[:safeLen]
	}
	return base + string(safe) + "_"
}

// scratchName is prefix, the time in Unix seconds, and 8 random hex digits.
func scratchName(prefix string, now time.Time) string {
	return prefix + strconv.FormatInt(now.Unix(), 10) + "_" + randomHex(4)
}

var scratchTailRE = regexp.MustCompile(`^([0-9]{1,12})_[0-9a-f]{8}$`)

// scratchTime returns the creation time in a scratch name with prefix.
func scratchTime(name, prefix string) (time.Time, bool) {
	if !strings.HasPrefix(name, prefix) {
		return time.Time{}, false
	}
	m := scratchTailRE.FindStringSubmatch(name[len(prefix):])
	if m == nil {
		return time.Time{}, false
	}
	sec, _ := strconv.ParseInt(m[1], 10, 64)
	return time.Unix(sec, 0), true
}

// Scratch is a database that a drill creates on a scratch server, fills
// from a dump, checks and drops.
type Scratch struct {
	Name   string
	DB     Database // the scratch database: the server's URL with Name as its database
	server Conn
}

// NewScratch names a scratch database for database (the spec's name of
// it) on server. It creates nothing: defer Drop (with CleanupContext)
// before calling Create, so that the database goes whatever ends the run.
func NewScratch(server Conn, database string, now time.Time) (*Scratch, error) {
	op := "scratch database for " + database
	if err := OnServer(server).validate(op); err != nil {
		return nil, err
	}
	if server.Engine != Postgres && !server.Engine.mysqlish() {
		return nil, errorf(ClassFailed, op, "no scratch databases for %s", server.Engine)
	}
	name := scratchName(ScratchPrefix(database), now)
	return &Scratch{Name: name, DB: OnServer(server.With(name)), server: server}, nil
}

// Create creates the scratch database.
func (s *Scratch) Create(ctx context.Context) error {
	op := "create scratch database " + s.Name
	if s.server.Engine == Postgres {
		return pgCreate(ctx, s.server, s.Name, op)
	}
	return myCreate(ctx, s.server, s.Name, op)
}

// Drop drops the scratch database if it exists (also when Create never ran
// or failed half way), ending its sessions first on PostgreSQL.
func (s *Scratch) Drop(ctx context.Context) error {
	return dropDatabase(ctx, s.server, s.Name)
}

func dropDatabase(ctx context.Context, server Conn, name string) error {
	op := "drop scratch database " + name
	if server.Engine == Postgres {
		return pgDrop(ctx, server, name, op)
	}
	return myDrop(ctx, server, name, op)
}

// Load fills the scratch database from a dump, stopping at the first error:
// pg_restore --exit-on-error --no-owner --no-privileges for a custom
// PostgreSQL dump, psql -v ON_ERROR_STOP=1 for a plain one, the mariadb (or
// mysql) client for MySQL. Cancelling ctx stops the loader (SIGTERM, then
// SIGKILL after StopGrace).
func (s *Scratch) Load(ctx context.Context, format Format, dump io.Reader) error {
	op := "load the dump into " + s.Name
	if s.server.Engine == Postgres {
		return pgLoad(ctx, s.DB.Conn, format, dump, op)
	}
	return myLoad(ctx, s.DB.Conn, dump, op)
}

// CleanupLeftovers drops the scratch databases on server that earlier,
// interrupted runs left: those whose name is prefix (from ScratchPrefix, or
// RestorePrefix) followed by a time before olderThan and the random part.
// It returns the names it dropped. Databases of other names, of other
// databases' prefixes and of runs still under way (newer) are left alone.
func CleanupLeftovers(ctx context.Context, server Conn, prefix string, olderThan time.Time) ([]string, error) {
	op := "clean up leftover scratch databases"
	if !strings.HasPrefix(prefix, ScratchBase) && !strings.HasPrefix(prefix, RestoreBase) {
		return nil, errorf(ClassFailed, op, "the prefix must start with %s or %s", ScratchBase, RestoreBase)
	}
	if err := OnServer(server).validate(op); err != nil {
		return nil, err
	}
	var names []string
	var err error
	switch {
	case server.Engine == Postgres:
		names, err = pgList(ctx, server, op)
	case server.Engine.mysqlish():
		names, err = myList(ctx, server, op)
	default:
		return nil, errorf(ClassFailed, op, "no scratch databases for %s", server.Engine)
	}
	if err != nil {
		return nil, err
	}
	var dropped []string
	var errs []error
	for _, n := range names {
		t, ok := scratchTime(n, prefix)
		if !ok || !t.Before(olderThan) {
			continue
		}
		if err := dropDatabase(ctx, server, n); err != nil {
			errs = append(errs, err)
			continue
		}
		dropped = append(dropped, n)
	}
	if len(errs) > 0 {
		return dropped, fmt.Errorf("drop leftover scratch databases: %w", errors.Join(errs...))
	}
	return dropped, nil
}

// CleanupPrivateDirs removes the private folders (option files, SQLite
// copies) that runs killed before their Cleanup left in tempDir (default
// os.TempDir()): those last changed before olderThan. It returns what it
// removed.
func CleanupPrivateDirs(tempDir string, olderThan time.Time) ([]string, error) {
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	found, err := filepath.Glob(filepath.Join(tempDir, privateDirPrefix+"*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, p := range found {
		st, err := os.Lstat(p)
		if err != nil || !st.IsDir() || !st.ModTime().Before(olderThan) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}
