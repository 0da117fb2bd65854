package cli_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// pgServer is a throwaway PostgreSQL cluster on loopback, owned by the
// postgres user (the server refuses to run as root), with password auth on
// TCP and trust on its private socket for the test's own setup.
type pgServer struct {
	dir, sock string
	port      int
	password  string // of role app, which owns appdb and may create databases
}

// startPostgres starts a cluster for one test and stops it when the test ends.
func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Fatalf("PostgreSQL 15 server binaries not found in %s: run `bash .ci/run`, which installs postgresql", pgBin)
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres user: run `bash .ci/run`, which installs postgresql: %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	// t.TempDir is private to root; the cluster needs a folder postgres can reach.
	dir, err := os.MkdirTemp("", "devopsellence-backup-pg-")
	must(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	must(t, os.Chown(dir, uid, gid))
	s := &pgServer{dir: dir, sock: dir, port: freePort(t), password: "p@ss:w/rd%-" + strconv.Itoa(os.Getpid())}
	data := filepath.Join(dir, "data")
	s.asPostgres(t, filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	hba := "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
	must(t, os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600))
	must(t, os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid))
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, dir)
	s.asPostgres(t, filepath.Join(pgBin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "start")
	t.Cleanup(func() {
		cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("stop postgres: %v\n%s", err, out)
		}
	})
	s.psql(t, "postgres", fmt.Sprintf("CREATE ROLE app LOGIN CREATEDB PASSWORD '%s'", s.password))
	s.psql(t, "postgres", "CREATE DATABASE appdb OWNER app")
	return s
}

func (s *pgServer) asPostgres(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// psql runs SQL as the superuser over the private socket and returns the
// unaligned result.
func (s *pgServer) psql(t *testing.T, db, sql string) string {
	t.Helper()
	cmd := exec.Command("psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", s.sock, "-p", strconv.Itoa(s.port), "-U", "postgres", "-d", db, "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// url is the connection URL of role app to database db, password
// percent-encoded as a real DATABASE_URL would carry it.
func (s *pgServer) url(db string) string {
	return fmt.Sprintf("postgresql://app:%s@127.0.0.1:%d/%s", url.QueryEscape(s.password), s.port, db)
}

// databases lists the databases whose name starts with prefix.
func (s *pgServer) databases(t *testing.T, prefix string) []string {
	t.Helper()
	out := s.psql(t, "postgres", fmt.Sprintf("SELECT datname FROM pg_database WHERE datname LIKE '%s%%' ORDER BY 1", prefix))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}
