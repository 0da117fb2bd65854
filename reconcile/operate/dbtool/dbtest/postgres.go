package dbtest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Postgres is a throwaway PostgreSQL cluster, run by the postgres user (the
// server refuses root), with scram password auth on TCP and trust on its
// private socket for the test's own setup.
type Postgres struct {
	Host     string // the listen address
	Port     int
	User     string // app: LOGIN CREATEDB, owner of Database
	Password string // of User, with reserved URL characters
	Database string // appdb
	Dir      string // data lives in Dir/data, the socket in Dir
	bin      string
}

// pgBin finds the newest PostgreSQL server binaries.
func pgBin(t testing.TB) string {
	t.Helper()
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(found) == 0 {
		t.Fatal("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: run `bash .ci/run`, which installs postgresql")
	}
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))
		return vi < vj
	})
	return filepath.Dir(found[len(found)-1])
}

// StartPostgres starts a cluster listening on listen (default 127.0.0.1)
// with role app and database appdb, and stops it when the test ends.
func StartPostgres(t testing.TB, listen ...string) *Postgres {
	t.Helper()
	bin := pgBin(t)
	dir := privateDir(t, "pg", "postgres")
	host := listenAddr(listen)
	p := &Postgres{
		Host: host, Port: FreePort(t, host), User: "app", Database: "appdb", Dir: dir, bin: bin,
		Password: "p@ss:w/rd%?#-" + suffix(),
	}
	data := filepath.Join(dir, "data")
	p.asPostgres(t, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	hba := "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
	pgUser, _ := user.Lookup("postgres")
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid); err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=%s -c fsync=off -c full_page_writes=off", p.Port, dir, host)
	p.asPostgres(t, filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "start")
	t.Cleanup(func() {
		cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("stop postgres: %v\n%s", err, out)
		}
	})
	p.SQL(t, "postgres", fmt.Sprintf("CREATE ROLE app LOGIN CREATEDB PASSWORD %s", Literal(p.Password)))
	p.SQL(t, "postgres", "CREATE DATABASE appdb OWNER app")
	return p
}

func (p *Postgres) asPostgres(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	cmd.Dir = p.Dir
	runOut(t, cmd)
}

// Literal quotes s as a standard SQL string literal (PostgreSQL with
// standard_conforming_strings).
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// SQL runs statements as the superuser over the private socket and returns
// the unaligned, tuples-only result.
func (p *Postgres) SQL(t testing.TB, db, sql string) string {
	t.Helper()
	cmd := exec.Command("psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", p.Dir, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", db, "-f", "-")
	cmd.Stdin = strings.NewReader(sql)
	cmd.Dir = p.Dir
	return strings.TrimSpace(runOut(t, cmd))
}

// URL is the connection URL of role app to database db, its password
// percent-encoded as a real DATABASE_URL carries it.
func (p *Postgres) URL(db string) string {
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(p.User, p.Password), Host: hostPort(p.Host, p.Port), Path: "/" + db}
	return u.String()
}

// Databases lists the databases whose name starts with prefix.
func (p *Postgres) Databases(t testing.TB, prefix string) []string {
	t.Helper()
	out := p.SQL(t, "postgres", "SELECT datname FROM pg_database ORDER BY 1")
	var names []string
	for _, n := range strings.Split(out, "\n") {
		if n != "" && strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	return names
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}
