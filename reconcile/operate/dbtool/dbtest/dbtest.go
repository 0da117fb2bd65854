package dbtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenAddr returns the optional listen address, 127.0.0.1 by default.
func listenAddr(listen []string) string {
	if len(listen) > 0 && listen[0] != "" {
		return listen[0]
	}
	return "127.0.0.1"
}

// FreePort returns a TCP port that was free on host a moment ago.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// privateDir makes a temp folder owned by the system user name, which the
// servers run as (t.TempDir is private to root).
func privateDir(t testing.TB, name, owner string) string {
	t.Helper()
	u, err := user.Lookup(owner)
	if err != nil {
		t.Fatalf("no %s user: run `bash .ci/run`, which installs the servers: %v", owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "devopsellence-backup-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chownLike gives path the owner of ref.
func chownLike(path, ref string) error {
	st, err := os.Stat(ref)
	if err != nil {
		return err
	}
	sys := st.Sys().(*syscall.Stat_t)
	return os.Chown(path, int(sys.Uid), int(sys.Gid))
}

// lookTool finds a server program on PATH or in the sbin folders.
func lookTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s not found: run `bash .ci/run`, which installs the database servers", name)
	return ""
}

// runOut runs a command and fails the test with its output when it fails.
func runOut(t testing.TB, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

// stopProcess sends SIGTERM and waits for the process, killing it after
// the grace period.
func stopProcess(t testing.TB, cmd *exec.Cmd, done <-chan error, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
		t.Logf("%s did not stop within %s; killed", cmd.Args[0], grace)
	}
}

// waitFor polls ready until it succeeds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// suffix makes passwords differ between runs.
func suffix() string {
	// Each digit is followed by a '!', which no temporary path holds: a
	// test that looks for any four characters of the password in argv or
	// a path would otherwise find the digits of a random folder name.
	var b strings.Builder
	for _, r := range fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%100000) {
		b.WriteRune(r)
		b.WriteByte('!')
	}
	return b.String()
}
