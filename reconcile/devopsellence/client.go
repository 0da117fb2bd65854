package devopsellence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/process"
)

// Default deadlines. Bounded commands answer in seconds; a deploy builds and
// rolls out, so it gets much longer.
const (
	DefaultTimeout       = 2 * time.Minute
	DefaultDeployTimeout = 30 * time.Minute
	// stopGrace is how long a cancelled command gets after SIGINT before SIGKILL.
	stopGrace = 10 * time.Second
)

// Client runs one devopsellence binary for one workspace.
type Client struct {
	// Bin is the binary: a path, or a name looked up on Env's PATH.
	Bin string
	// Dir is the app workspace; every command runs there.
	Dir string
	// Env is the complete environment of every command.
	Env []string
	// Timeout bounds each bounded command; DeployTimeout bounds deploy and exec.
	Timeout       time.Duration
	DeployTimeout time.Duration
}

// Path resolves Bin against Env's PATH; errors.Is(err, ErrNotInstalled) when
// it cannot be run, and the error says why: missing, a folder, not executable.
func (c *Client) Path() (string, error) {
	bin := c.Bin
	if bin == "" {
		bin = "devopsellence"
	}
	if strings.ContainsRune(bin, os.PathSeparator) {
		if why := notRunnable(bin); why != "" {
			return "", &binError{fmt.Sprintf("--devopsellence %s %s", bin, why)}
		}
		return bin, nil
	}
	var found []string
	for _, dir := range filepath.SplitList(environ.Get(c.Env, "PATH")) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, bin)
		switch why := notRunnable(p); {
		case why == "":
			return p, nil
		case !strings.HasPrefix(why, "does not exist"):
			found = append(found, p+" "+why)
		}
	}
	if len(found) > 0 {
		return "", &binError{fmt.Sprintf("%s on PATH: %s", bin, strings.Join(found, "; "))}
	}
	return "", &binError{fmt.Sprintf("%s is not on PATH", bin)}
}

// binError says why the devopsellence binary cannot be run.
type binError struct{ msg string }

func (e *binError) Error() string        { return e.msg }
func (e *binError) Is(target error) bool { return target == ErrNotInstalled }

// notRunnable says why p cannot be run, or "" when it can.
func notRunnable(p string) string {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case err != nil:
		return "cannot be read: " + err.Error()
	case fi.IsDir():
		return "is a directory"
	case !fi.Mode().IsRegular():
		return "is not a regular file"
	case fi.Mode()&0o111 == 0:
		return fmt.Sprintf("exists but is not executable (mode %04o)", fi.Mode().Perm())
	}
	return ""
}

// call describes one invocation.
type call struct {
	name    string    // subcommand path for messages, e.g. "secret set"
	args    []string  // full argv after the binary
	stdin   io.Reader // nil: no stdin
	timeout time.Duration
	env     []string // extra environment entries
	// onValue sees each decoded stdout value as it arrives.
	onValue func(json.RawMessage)
	// stream keeps no values but error envelopes: a long exec's output
	// would otherwise all stay in memory.
	stream bool
}

// run executes c and returns the decoded stdout values. A non-zero exit is an
// *Error carrying the CLI's own message.
func (c *Client) run(ctx context.Context, cl call) ([]json.RawMessage, error) {
	log := logr.FromContextOrDiscard(ctx)
	bin, err := c.Path()
	if err != nil {
		return nil, err
	}
	timeout := cl.timeout
	if timeout == 0 {
		timeout = c.Timeout
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	log.V(1).Info("running devopsellence", "args", cl.args, "dir", c.Dir, "stdin", cl.stdin != nil)
	// SIGINT first, so the CLI can release its state lock; its group is
	// killed after a grace period.
	pr, pw := io.Pipe()
	p, err := process.Start(runCtx, process.Cmd{Path: bin, Args: cl.args, Dir: c.Dir, Env: append(slices.Clone(c.Env), cl.env...),
		Stdin: cl.stdin, Stdout: pw, Signal: syscall.SIGINT, SignalLeader: true, Grace: stopGrace})
	if err != nil {
		return nil, fmt.Errorf("devopsellence %s: %w", cl.name, err)
	}
	start := time.Now()
	var res *process.Result
	var waitErr error
	exited := make(chan struct{})
	go func() {
		res, waitErr = p.Wait()
		pw.Close()
		close(exited)
	}()
	values, badOutput := decodeValues(log, cl, pr)
	<-exited
	code := res.ExitCode
	log.V(1).Info("devopsellence finished", "command", cl.name, "exitCode", code, "duration", time.Since(start).Round(time.Millisecond))

	if ctx.Err() != nil {
		return values, fmt.Errorf("devopsellence %s: %w", cl.name, ctx.Err())
	}
	if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		return values, fmt.Errorf("devopsellence %s: no answer within %s: %w", cl.name, timeout, context.DeadlineExceeded)
	}
	if waitErr != nil || code != 0 {
		e := &Error{Command: cl.name, ExitCode: code}
		if env := envelope(values); env != nil {
			e.Message, e.Kind, e.NextSteps = env.Message, env.Kind, env.NextSteps
		} else {
			e.Message = strings.TrimSpace(res.Stderr)
		}
		if code < 0 {
			e.Message = strings.TrimSpace(e.Message + " " + waitErr.Error())
		}
		return values, e
	}
	if badOutput {
		return values, fmt.Errorf("devopsellence %s: %w", cl.name, ErrBadOutput)
	}
	return values, nil
}

type errorBody struct {
	Code      string   `json:"code"`
	ExitCode  int      `json:"exit_code"`
	Message   string   `json:"message"`
	Kind      string   `json:"kind"`
	NextSteps []string `json:"next_steps"`
}

// envelope returns the last error envelope among values.
func envelope(values []json.RawMessage) *errorBody {
	for i := len(values) - 1; i >= 0; i-- {
		var doc struct {
			Error *errorBody `json:"error"`
		}
		if json.Unmarshal(values[i], &doc) == nil && doc.Error != nil {
			return doc.Error
		}
	}
	return nil
}

// decodeValues reads the command's stdout as a stream of JSON values (the
// CLI prints its error envelope there too). It keeps every value, or with
// cl.stream only the error envelopes; after output that is not JSON it
// drains the rest.
func decodeValues(log logr.Logger, cl call, stdout io.Reader) (values []json.RawMessage, bad bool) {
	dec := json.NewDecoder(stdout)
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			if err != io.EOF {
				bad = true
				_, _ = io.Copy(io.Discard, stdout)
			}
			return values, bad
		}
		log.V(2).Info("devopsellence output", "command", cl.name, "value", string(v))
		if !cl.stream || bytes.Contains(v, []byte(`"error"`)) {
			values = append(values, v)
		}
		if cl.onValue != nil {
			cl.onValue(v)
		}
	}
}

// one decodes the single document of a bounded command into v.
func one(name string, values []json.RawMessage, v any) error {
	if len(values) == 0 {
		return fmt.Errorf("devopsellence %s: no output: %w", name, ErrBadOutput)
	}
	if err := json.Unmarshal(values[len(values)-1], v); err != nil {
		return fmt.Errorf("devopsellence %s: decode output: %w", name, ErrBadOutput)
	}
	return nil
}
