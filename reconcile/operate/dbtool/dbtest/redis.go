package dbtest

import (
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis is a throwaway redis-server with a password and no persistence of
// its own (--save "").
type Redis struct {
	Host     string // the listen address
	Port     int
	Password string // with reserved URL characters
	Dir      string
}

// StartRedis starts a server listening on listen (default 127.0.0.1) and
// stops it when the test ends. The password is in its config file, not argv.
func StartRedis(t testing.TB, listen ...string) *Redis {
	t.Helper()
	server := lookTool(t, "redis-server")
	lookTool(t, "redis-cli")
	dir := privateDir(t, "redis", "redis")
	host := listenAddr(listen)
	r := &Redis{Host: host, Port: FreePort(t, host), Dir: dir, Password: "p@ss:w/rd%?#-" + suffix()}
	conf := strings.Join([]string{
		"bind " + host,
		"port " + strconv.Itoa(r.Port),
		"dir " + dir,
		`save ""`,
		"appendonly no",
		// redis-cli --rdb waits this long (5s by default) for more replicas
		// before a diskless transfer starts; the tests need no wait.
		"repl-diskless-sync-delay 0",
		"daemonize no",
		"logfile " + filepath.Join(dir, "redis.log"),
		"requirepass " + strconv.Quote(r.Password),
	}, "\n") + "\n"
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(server, confPath)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { stopProcess(t, cmd, done, 10*time.Second) })
	waitFor(t, "redis-server", 30*time.Second, func() error {
		_, err := r.cli("PING")
		return err
	})
	return r
}

func (r *Redis) cli(args ...string) (string, error) {
	cmd := exec.Command("redis-cli", append([]string{"-h", r.Host, "-p", strconv.Itoa(r.Port), "--no-auth-warning"}, args...)...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+r.Password)
	cmd.Dir = r.Dir
	out, err := cmd.CombinedOutput()
	// redis-cli exits 0 when the server answers with an error.
	if err == nil && (strings.HasPrefix(string(out), "ERR") || strings.Contains(string(out), "NOAUTH") || strings.Contains(string(out), "LOADING")) {
		err = errors.New("redis answered an error")
	}
	return strings.TrimSpace(string(out)), err
}

// Cmd runs one redis-cli command with the password and returns its output.
func (r *Redis) Cmd(t testing.TB, args ...string) string {
	t.Helper()
	out, err := r.cli(args...)
	if err != nil {
		t.Fatalf("redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// URL is the connection URL, its password percent-encoded.
func (r *Redis) URL() string {
	u := url.URL{Scheme: "redis", User: url.UserPassword("", r.Password), Host: hostPort(r.Host, r.Port), Path: "/0"}
	return u.String()
}
