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
func redisKeyspace(ctx context.Context, argv, env []string, op string, scrub *Scrubber) (Summary, error) {
	cmd := command{op: op, engine: Redis, fail: ClassQueryFailed, argv: append(argv, "INFO", "keyspace"), env: env, scrub: scrub}
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
	s, err := redisKeyspace(ctx, append([]string{"redis-cli"}, redisArgs(db.Conn)...), redisEnv(db.Conn), op, db.scrubber())
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
	sock := filepath.Join(dir, "redis.sock")
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
		if _, err := os.Stat(sock); err == nil {
			s, err := redisKeyspace(ctx, []string{"redis-cli", "-s", sock}, nil, op, nil)
			if err == nil {
				return s, nil
			}
			if !strings.Contains(err.Error(), "LOADING") {
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
// else by its header (REDIS and a 4-digit version) and, from version 5 on,
// the end-of-file opcode before the 8-byte checksum.
func verifyRDB(ctx context.Context, path, op string) error {
	if _, err := exec.LookPath("redis-check-rdb"); err == nil {
		cmd := command{op: op, engine: Redis, fail: ClassDumpIncomplete, argv: []string{"redis-check-rdb", path}, stdout: io.Discard}
		_, err := cmd.run(ctx)
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return &Error{Class: ClassDumpIncomplete, Op: op, ExitCode: -1, Err: err}
	}
	defer f.Close()
	head := make([]byte, 9)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.HasPrefix(head, []byte("REDIS")) {
		return errorf(ClassDumpIncomplete, op, "the file does not start with an RDB header")
	}
	version, err := strconv.Atoi(string(head[5:]))
	if err != nil {
		return errorf(ClassDumpIncomplete, op, "the file does not start with an RDB header")
	}
	if version >= 5 {
		st, err := f.Stat()
		if err != nil || st.Size() < 18 {
			return errorf(ClassDumpIncomplete, op, "the RDB file is cut short")
		}
		eof := make([]byte, 1)
		if _, err := f.ReadAt(eof, st.Size()-9); err != nil || eof[0] != 0xFF {
			return errorf(ClassDumpIncomplete, op, "the RDB file lacks its end marker (cut short?)")
		}
	}
	return nil
}
