package restic_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// servicePath is the PATH restic gets in the tests.
const servicePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// resticBin is one restic the tests run against.
type resticBin struct {
	version string // e.g. 0.14.0
	path    string
}

func (b resticBin) atLeast(major, minor int) bool {
	v, err := restic.ParseVersion("restic " + b.version)
	return err == nil && v.AtLeast(major, minor)
}

// resticBins finds the restic binaries under test: DEVOPSELLENCE_BACKUP_TEST_RESTIC
// (colon-separated, set by .ci/run), else Debian's and the one .ci/run installs.
func resticBins(t *testing.T) []resticBin {
	t.Helper()
	var out []resticBin
	for _, b := range restictest.Bins(t) {
		out = append(out, resticBin{version: b.Version, path: b.Path})
	}
	return out
}

// forEachRestic runs a subtest per restic version, in parallel.
func forEachRestic(t *testing.T, test func(t *testing.T, rb resticBin)) {
	t.Parallel()
	for _, rb := range resticBins(t) {
		t.Run("restic-"+rb.version, func(t *testing.T) {
			t.Parallel()
			test(t, rb)
		})
	}
}

// lab is a temp folder with a repository and a Runner for it.
type lab struct {
	rb       resticBin
	dir      string // Runner.Dir; holds repo, cache and data
	repo     string
	password string
	marker   string // an environment entry that finds this lab's processes
	stderr   *lines // what the Runner passed to OnStderr
	r        *restic.Runner
}

// lines collects OnStderr lines from restic's goroutines.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, s)
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newLab makes a lab in dir (a new temp folder when empty), without
// creating the repository.
func newLab(t *testing.T, rb resticBin, dir string) *lab {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	l := &lab{rb: rb, dir: dir, repo: filepath.Join(dir, "repo"), password: "pw-" + randomHex(t, 8), stderr: &lines{}}
	l.marker = "RESTIC_WRAPPER_TEST_MARK=" + randomHex(t, 8)
	l.r = &restic.Runner{
		Bin:      rb.path,
		Env:      l.env(l.repo, l.password),
		Dir:      dir,
		Scrub:    scrubber(l.password),
		OnStderr: l.stderr.add,
		Grace:    10 * time.Second,
	}
	t.Cleanup(func() { l.killLeftovers(t) })
	return l
}

// initLab makes a lab with an initialised repository.
func initLab(t *testing.T, rb resticBin) *lab {
	t.Helper()
	l := newLab(t, rb, "")
	if err := l.r.Init(context.Background()); err != nil {
		t.Fatalf("init: %v", err)
	}
	return l
}

func (l *lab) env(repo, password string) []string {
	return []string{
		"RESTIC_REPOSITORY=" + repo,
		"RESTIC_PASSWORD=" + password,
		"RESTIC_CACHE_DIR=" + filepath.Join(l.dir, "cache"),
		"HOME=" + l.dir,
		"PATH=" + servicePath,
		"TZ=UTC",
		l.marker,
	}
}

// runner returns a new Runner like the lab's, with env changed by edit.
func (l *lab) runner(edit func(env []string) []string) *restic.Runner {
	return &restic.Runner{Bin: l.rb.path, Env: edit(l.env(l.repo, l.password)), Dir: l.dir, Scrub: l.r.Scrub, OnStderr: l.stderr.add, Grace: l.r.Grace}
}

// scrubber replaces each secret by ***.
func scrubber(secrets ...string) func(string) string {
	return func(s string) string {
		for _, v := range secrets {
			s = strings.ReplaceAll(s, v, "***")
		}
		return s
	}
}

// restic runs restic directly (not through the Runner) for the test's own checks.
func (l *lab) restic(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(l.rb.path, args...)
	cmd.Env = l.env(l.repo, l.password)
	cmd.Dir = l.dir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("restic %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// locks lists the repository's lock files.
func (l *lab) locks(t *testing.T) []string {
	t.Helper()
	return strings.Fields(string(l.restic(t, "list", "locks", "--no-lock")))
}

// snapshotCount counts the repository's snapshots.
func (l *lab) snapshotCount(t *testing.T) int {
	t.Helper()
	var list []json.RawMessage
	if err := json.Unmarshal(l.restic(t, "--no-lock", "snapshots", "--json"), &list); err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// processes returns the live processes that carry the lab's marker in
// their environment: restic and anything it started.
func (l *lab) processes() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, []byte(l.marker+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && zombie(stat) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

func (l *lab) killLeftovers(t *testing.T) {
	for _, pid := range l.processes() {
		t.Errorf("process %d of the test is still running; killing it", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockFiles lists the locks in the repository's locks folder, without
// restic. A lock is written to a "<id>-tmp-…" file first and renamed: only
// the renamed file counts.
func (l *lab) lockFiles() []string {
	ents, _ := os.ReadDir(filepath.Join(l.repo, "locks"))
	var out []string
	for _, e := range ents {
		if hexID.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

var hexID = regexp.MustCompile(`^[0-9a-f]{64}$`)

// writeFile writes a file under the lab's folder, creating folders.
func (l *lab) writeFile(t *testing.T, rel, content string) string {
	t.Helper()
	p := filepath.Join(l.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantClass fails unless err is an *Error of class want.
func wantClass(t *testing.T, err error, want restic.Class) *restic.Error {
	t.Helper()
	var e *restic.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *restic.Error of class %s, got %v", want, err)
	}
	if e.Class != want {
		t.Fatalf("class = %s (exit %d, %q), want %s", e.Class, e.ExitCode, e.Message, want)
	}
	if strings.Contains(e.Message, "\n") || len(e.Message) > 500 {
		t.Fatalf("message is not one line of at most 500 bytes: %q", e.Message)
	}
	return e
}
