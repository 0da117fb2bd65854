package dbtool

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// redisArgs are redis-cli's connection options; the password goes in
// REDISCLI_AUTH.
func redisArgs(c Conn) []string {
	var a []string
	if c.Host != "" {
		a = append(a, "-h", c.Host)
	}
	if c.Port != 0 {
		a = append(a, "-p", strconv.Itoa(c.Port))
	}
	if c.User != "" {
		a = append(a, "--user", c.User)
	}
	if c.Scheme == "rediss" {
		a = append(a, "--tls")
	}
	return append(a, "--no-auth-warning")
}

func redisEnv(c Conn) []string {
	if c.password == "" {
		return nil
	}
	return []string{"REDISCLI_AUTH=" + c.password}
}

// redisDumpArgv pulls a consistent RDB snapshot over the replication
// protocol and writes it to stdout.
func redisDumpArgv(c Conn) []string {
	return append(append([]string{"redis-cli"}, redisArgs(c)...), "--rdb", "-")
}

// redisKeyspace runs INFO keyspace. redis-cli exits 0 when the server
// answers with an error, so the answer itself is checked.
func redisKeyspace(ctx context.Context, argv, env []string, dir, op string, scrub *Scrubber) (Summary, error) {
	cmd := command{op: op, engine: Redis, fail: ClassQueryFailed, argv: append(argv, "INFO", "keyspace"), env: env, dir: dir, scrub: scrub}
	out, err := cmd.run(ctx)
	if err != nil {
		return Summary{}, err
	}
	text := strings.TrimSpace(string(out))
	if !strings.HasPrefix(text, "# Keyspace") {
		class := classify(Redis, text)
		if class == "" {
			class = ClassQueryFailed
		}
		return Summary{}, &Error{Class: class, Op: op, ExitCode: 0, Msg: "redis-cli: " + gist(text)}
	}
	counts := map[string]int64{}
	for _, line := range strings.Split(text, "\n") {
		db, rest, ok := strings.Cut(strings.TrimSpace(line), ":keys=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		if err != nil {
			return Summary{}, errorf(ClassQueryFailed, op, "redis-cli printed an unexpected keyspace line")
		}
		counts[db] = n
	}
	return newSummary(Redis, counts), nil
}

func redisSummary(ctx context.Context, db Database, op string) (Summary, error) {
	s, err := redisKeyspace(ctx, append([]string{"redis-cli"}, redisArgs(db.Conn)...), redisEnv(db.Conn), "", op, db.scrubber())
	if e, ok := err.(*Error); ok {
		e.Secret = db.Conn.Secret
	}
	return s, err
}

// SummarizeRDB loads an RDB file into a throwaway redis-server (on a private
// unix socket, no TCP port, no persistence) and counts its keys per
// database. The server is stopped before it returns, whatever happens.
func SummarizeRDB(ctx context.Context, rdbPath, tempDir string) (Summary, error) {
	op := "load " + filepath.Base(rdbPath) + " into a throwaway redis-server"
	if _, err := exec.LookPath("redis-server"); err != nil {
		return Summary{}, errorf(ClassToolMissing, op, "redis-server is not on the service's PATH: add it to the image, or check the file with redis-check-rdb")
	}
	dir, cleanup, err := privateDir(tempDir)
	if err != nil {
		return Summary{}, err
	}
	defer cleanup()
	if err := copyFile(rdbPath, filepath.Join(dir, "dump.rdb")); err != nil {
		return Summary{}, &Error{Class: ClassFailed, Op: op, ExitCode: -1, Err: err}
	}
	// A relative socket path: the absolute one may pass the 107-byte limit.
	const sock = "redis.sock"
	server := exec.Command("redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--dir", dir, "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no",
		"--databases", "256", "--logfile", filepath.Join(dir, "redis.log"))
	server.Dir = dir
	server.Env = baseEnv()
	server.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := server.Start(); err != nil {
		return Summary{}, &Error{Class: ClassFailed, Op: op, ExitCode: -1, Err: err}
	}
	exited := make(chan struct{})
	go func() { _ = server.Wait(); close(exited) }()
	defer func() {
		_ = syscall.Kill(-server.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(StopGrace):
			_ = syscall.Kill(-server.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	for {
		if _, err := os.Stat(filepath.Join(dir, sock)); err == nil {
			s, err := redisKeyspace(ctx, []string{"redis-cli", "-s", sock}, nil, dir, op, nil)
			if err == nil {
				return s, nil
			}
			// Still loading, or bound but not yet listening: ask again.
			if !strings.Contains(err.Error(), "LOADING") && ClassOf(err) != ClassConnectFailed {
				return Summary{}, err
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return Summary{}, errorf(ClassVerifyFailed, op, "redis-server did not load the file: %s", gist(string(log)))
		case <-ctx.Done():
			return Summary{}, interrupted(op, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// verifyRDB checks an RDB file: with redis-check-rdb when the image has it,
// else with checkRDB.
func verifyRDB(ctx context.Context, path, op string) error {
	if _, err := exec.LookPath("redis-check-rdb"); err != nil {
		return checkRDB(path, op)
	}
	cmd := command{op: op, engine: Redis, fail: ClassDumpIncomplete, argv: []string{"redis-check-rdb", path}}
	out, err := cmd.run(ctx)
	if e, ok := err.(*Error); ok {
		// redis-check-rdb says what is wrong on stdout.
		var why []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "RDB ERROR") || strings.Contains(l, "Unexpected EOF") || strings.Contains(l, "Wrong") {
				why = append(why, strings.TrimSpace(l))
			}
		}
		if len(why) > 0 {
			e.Msg += ": " + strings.Join(why, " ")
		}
	}
	return err
}

// eofMark is the length of the end-of-transfer marker that redis-cli --rdb -
// leaves after the RDB of a diskless transfer: it cannot take it back from
// stdout (to a file it truncates it away). Loaders ignore it.
const eofMark = 40

// checkRDB checks an RDB file by its header (REDIS and a 4-digit version)
// and, from version 5 on, the end-of-file opcode before the 8-byte checksum
// (possibly followed by redis-cli's end-of-transfer marker).
func checkRDB(path, op string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Error{Class: ClassDumpIncomplete, Op: op, ExitCode: -1, Err: err}
	}
	if len(b) < 9 || !bytes.HasPrefix(b, []byte("REDIS")) {
		return errorf(ClassDumpIncomplete, op, "the file does not start with an RDB header")
	}
	version, err := strconv.Atoi(string(b[5:9]))
	if err != nil {
		return errorf(ClassDumpIncomplete, op, "the file does not start with an RDB header")
	}
	if version < 5 {
		return nil
	}
	ends := func(n int) bool { return len(b) >= 9+n+9 && b[len(b)-n-9] == 0xFF }
	if ends(0) {
		return nil
	}
	if ends(eofMark) && isHex(b[len(b)-eofMark:]) {
		return nil
	}
	return errorf(ClassDumpIncomplete, op, "the RDB file lacks its end marker (cut short?)")
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
