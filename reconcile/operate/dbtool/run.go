package dbtool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/devopsellence/devopsellence-backup/reconcile/process"
)

// StopGrace is how long a client program has to exit after SIGTERM (sent
// when the context ends) before it is killed.
const StopGrace = 10 * time.Second

// maxStdout bounds the output captured from a query; maxStderr keeps the
// tail of what a program says about a failure.
const (
	maxStdout = 16 << 20
	maxStderr = 64 << 10
)

// command is one run of a client program. Its argv never holds a secret;
// env may.
type command struct {
	op      string // for errors, e.g. "pg_dump appdb"
	engine  Engine // decides how stderr is classified
	secret  string // the secret whose password a refusal concerns
	fail    Class  // the class of a failure that stderr does not explain
	argv    []string
	env     []string // added to the base environment
	inherit bool     // start from the agent's whole environment (check commands)
	stdin   io.Reader
	stdout  io.Writer // nil: captured and returned
	dir     string
	scrub   *Scrubber
}

// baseEnv is what every client program gets: a C locale (so its messages can
// be classified), UTC, and the agent's PATH, HOME and TMPDIR. Nothing else of
// the agent's environment (which holds every secret of the service) leaks in.
func baseEnv() []string {
	env := []string{"LC_ALL=C", "LANG=C", "TZ=UTC"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "USER", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	return env
}

// clientVars are variables of the agent's environment that would change
// what a client connects to; a check command does not inherit them.
var clientVars = []string{"PG", "MYSQL_", "REDISCLI_"}

func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		drop := false
		for _, p := range clientVars {
			if strings.HasPrefix(kv, p) {
				drop = true
			}
		}
		if !drop {
			env = append(env, kv)
		}
	}
	return append(env, "TZ=UTC")
}

// run starts the program and waits for it. The program runs in a process
// group of its own, so a terminal's Ctrl-C reaches only the agent, which
// cancels ctx: then the group gets SIGTERM, and SIGKILL after StopGrace (a
// loader killed this way rolls back its transaction). Its stderr (and
// captured stdout) are scrubbed; a failure becomes an *Error.
func (c *command) run(ctx context.Context) ([]byte, error) {
	if _, err := exec.LookPath(c.argv[0]); err != nil {
		e := errorf(ClassToolMissing, c.op, "%s is not on the service's PATH: add it to the image (see devopsellence-backup image)", c.argv[0])
		return nil, e
	}
	if err := ctx.Err(); err != nil {
		return nil, interrupted(c.op, err)
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("running database client", "op", c.op, "argv", c.argv)
	pc := process.Cmd{Path: c.argv[0], Args: c.argv[1:], Dir: c.dir, Stdin: c.stdin, Grace: StopGrace, TailBytes: maxStderr}
	if c.inherit {
		pc.Env = append(inheritedEnv(), c.env...)
	} else {
		pc.Env = append(baseEnv(), c.env...)
	}
	if pc.Dir == "" {
		pc.Dir = os.TempDir()
	}
	var out limitedBuffer
	out.max = maxStdout
	pc.Stdout = &out
	if c.stdout != nil {
		pc.Stdout = c.stdout
	}
	res, err := process.Run(ctx, pc)
	if res == nil {
		if ctx.Err() != nil {
			return nil, interrupted(c.op, ctx.Err())
		}
		return nil, &Error{Class: c.fail, Op: c.op, Secret: c.secret, ExitCode: -1, Msg: fmt.Sprintf("%s failed: %s", c.argv[0], c.scrub.String(err.Error()))}
	}
	if res.StdinErr != nil && ctx.Err() == nil {
		// Stopped before it saw the end of a stream that broke off.
		return nil, &Error{Class: c.fail, Op: c.op, Secret: c.secret, ExitCode: -1, Msg: fmt.Sprintf("%s stopped: reading its input failed: %s", c.argv[0], c.scrub.String(res.StdinErr.Error()))}
	}
	stdout := c.scrub.Bytes(out.Bytes())
	if err == nil && out.over {
		return stdout, errorf(c.fail, c.op, "%s printed more than %d bytes", c.argv[0], maxStdout)
	}
	if err == nil {
		return stdout, nil
	}
	if ctx.Err() != nil {
		return stdout, interrupted(c.op, ctx.Err())
	}
	stderr := c.scrub.String(res.Stderr)
	code := res.ExitCode
	class := classify(c.engine, stderr)
	if class == "" {
		class = c.fail
	}
	msg := fmt.Sprintf("%s exited %d", c.argv[0], code)
	if code < 0 {
		msg = fmt.Sprintf("%s failed: %s", c.argv[0], c.scrub.String(err.Error()))
	}
	if g := gist(stderr); g != "" {
		msg += ": " + g
	}
	switch class {
	case ClassAuthFailed:
		what := "the URL's"
		if c.secret != "" {
			what = "secret " + c.secret + "'s"
		}
		msg += fmt.Sprintf(" (the server refused %s user or password: check the value stored for it)", what)
	case ClassConnectFailed:
		msg += " (the server could not be reached: check the host and port, and that it runs)"
	case ClassLocked:
		msg += " (the app holds a lock it needs: an open transaction or a writer)"
	}
	return stdout, &Error{Class: class, Op: c.op, Secret: c.secret, ExitCode: code, Msg: msg}
}

func interrupted(op string, err error) *Error {
	return &Error{Class: ClassInterrupted, Op: op, ExitCode: -1, Msg: "interrupted", Err: err}
}

// classify reads a client's stderr (C locale) for the usual reasons of
// failure; "" when it says none of them.
func classify(engine Engine, stderr string) Class {
	s := strings.ToLower(stderr)
	has := func(subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case engine == Postgres && has("due to lock timeout"),
		engine.mysqlish() && has("lock wait timeout exceeded", "error 1205"),
		engine == SQLite && has("database is locked", "database is busy"):
		return ClassLocked
	case engine == Postgres && has("password authentication failed", "no password supplied", "fe_sendauth", "fatal:  role \"", "pg_hba.conf rejects"):
		return ClassAuthFailed
	case engine == Postgres && has("connection refused", "connection to server on socket", "could not translate host name", "could not connect to server", "timeout expired", "no route to host", "network is unreachable"):
		return ClassConnectFailed
	case engine.mysqlish() && has("access denied for user", "error 1045", "error: 1045"):
		return ClassAuthFailed
	case engine.mysqlish() && has("can't connect to", "unknown mysql server host", "unknown server host", "lost connection to", "error 2002", "error 2003", "error 2005"):
		return ClassConnectFailed
	case engine == Redis && has("wrongpass", "noauth", "auth failed", "invalid password", "invalid username-password"):
		return ClassAuthFailed
	case engine == Redis && has("could not connect to redis", "connection refused"):
		return ClassConnectFailed
	}
	return ""
}

// gist is the last few non-empty lines of a program's stderr on one line.
func gist(stderr string) string {
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 4 {
		lines = lines[len(lines)-4:]
	}
	g := strings.Join(lines, " ")
	if len(g) > 600 {
		g = g[:600] + "..."
	}
	return g
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.over = true
		if room > 0 {
			b.Buffer.Write(p[:room])
		}
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
