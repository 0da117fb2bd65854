package dbtest

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MariaDB is a throwaway MariaDB server run as the mysql user with
// --no-defaults, on a private socket (root over it, by unix_socket auth)
// and a TCP port (user app by password).
type MariaDB struct {
	Host     string // the listen address
	Port     int
	User     string // app: all privileges on every database, no GRANT OPTION
	Password string // of User: reserved URL characters, quotes, a backslash and a newline
	Database string // appdb
	Dir      string
	Socket   string
}

// StartMariaDB starts a server listening on listen (default 127.0.0.1) with
// user app and database appdb, and stops it when the test ends.
func StartMariaDB(t testing.TB, listen ...string) *MariaDB {
	t.Helper()
	installDB := lookTool(t, "mariadb-install-db")
	mariadbd := lookTool(t, "mariadbd")
	lookTool(t, "mariadb")
	dir := privateDir(t, "mariadb", "mysql")
	host := listenAddr(listen)
	m := &MariaDB{
		Host: host, Port: FreePort(t, host), User: "app", Database: "appdb", Dir: dir,
		Socket:   filepath.Join(dir, "mysqld.sock"),
		Password: "p@ss:w/rd%?#\"'\\ x\n" + suffix(),
	}
	data := filepath.Join(dir, "data")
	// A private tmpdir: the bootstrap's temporary tables are named after
	// its pid, which another server (in another pid namespace sharing
	// /tmp) may have too.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := chownLike(tmp, dir); err != nil {
		t.Fatal(err)
	}
	install := exec.Command(installDB, "--no-defaults", "--user=mysql", "--datadir="+data, "--tmpdir="+tmp,
		"--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve")
	install.Dir = dir
	runOut(t, install)
	cmd := exec.Command(mariadbd, "--no-defaults", "--user=mysql", "--datadir="+data, "--tmpdir="+tmp,
		"--port="+strconv.Itoa(m.Port), "--bind-address="+host, "--socket="+m.Socket,
		"--pid-file="+filepath.Join(dir, "mysqld.pid"), "--log-error="+filepath.Join(dir, "error.log"),
		"--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
		"--innodb-log-file-size=16M", "--innodb-flush-log-at-trx-commit=0", "--max-connections=50")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { stopProcess(t, cmd, done, 30*time.Second) })
	waitFor(t, "mariadbd", 60*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("mariadbd exited: %v\n%s", err, log)
		default:
		}
		out, err := m.client("", "SELECT 1")
		if err != nil {
			return errors.New(out)
		}
		return nil
	})
	m.SQL(t, "", "CREATE DATABASE appdb; CREATE USER 'app'@'%' IDENTIFIED BY "+MyLiteral(m.Password)+"; GRANT ALL PRIVILEGES ON *.* TO 'app'@'%'")
	return m
}

// MyLiteral quotes s as a MariaDB string literal.
func MyLiteral(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\x00", `\0`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

func (m *MariaDB) client(db, sql string) (string, error) {
	args := []string{"--no-defaults", "--socket=" + m.Socket, "--user=root", "-N", "-B", "-e", sql}
	if db != "" {
		args = append(args, db)
	}
	cmd := exec.Command("mariadb", args...)
	cmd.Dir = m.Dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// SQL runs statements as root over the private socket and returns the
// batch (tab-separated) result.
func (m *MariaDB) SQL(t testing.TB, db, sql string) string {
	t.Helper()
	out, err := m.client(db, sql)
	if err != nil {
		t.Fatalf("mariadb %s: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(out)
}

// URL is the connection URL of user app to database db, its password
// percent-encoded.
func (m *MariaDB) URL(db string) string {
	u := url.URL{Scheme: "mysql", User: url.UserPassword(m.User, m.Password), Host: hostPort(m.Host, m.Port), Path: "/" + db}
	return u.String()
}

// Databases lists the databases whose name starts with prefix.
func (m *MariaDB) Databases(t testing.TB, prefix string) []string {
	t.Helper()
	var names []string
	for _, n := range strings.Split(m.SQL(t, "", "SHOW DATABASES"), "\n") {
		if n != "" && strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	return names
}

func (m *MariaDB) String() string { return fmt.Sprintf("mariadb on %s", hostPort(m.Host, m.Port)) }
