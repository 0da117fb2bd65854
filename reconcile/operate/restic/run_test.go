package restic_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// fakeScript stands in for restic where the real one cannot be made to
// misbehave: it records its environment, stdin and argv under $FAKE_OUT,
// and prints, waits or ignores SIGINT as $FAKE_MODE says.
const fakeScript = `#!/bin/sh
if [ "$1" = version ]; then
  [ -n "$FAKE_OUT" ] && echo x >> "$FAKE_OUT.versions"
  echo "restic ${FAKE_VERSION:-0.18.1} compiled with go1.26.8 on linux/amd64"
  exit 0
fi
if [ -n "$FAKE_OUT" ]; then
  env > "$FAKE_OUT.env"
  readlink /proc/$$/fd/0 > "$FAKE_OUT.stdin"
  printf '%s\n' "$@" > "$FAKE_OUT.args"
fi
case ${FAKE_MODE:-} in
int)
  trap 'echo int > "$FAKE_OUT.int"; exit 1' INT
  echo ready > "$FAKE_OUT.ready"
  while :; do sleep 0.05; done ;;
deaf)
  trap '' INT
  sleep 300 &
  echo $! > "$FAKE_OUT.child"
  echo ready > "$FAKE_OUT.ready"
  wait; wait ;;
esac
[ -n "$FAKE_STDOUT" ] && cat "$FAKE_STDOUT"
[ -n "$FAKE_STDERR" ] && cat "$FAKE_STDERR" >&2
exit ${FAKE_EXIT:-0}
`

// fake is a Runner on fakeScript; out is the prefix of what it records.
type fake struct {
	r   *restic.Runner
	dir string
	out string
}

func newFake(t *testing.T, env ...string) *fake {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "restic")
	if err := os.WriteFile(bin, []byte(fakeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fake{dir: dir, out: filepath.Join(dir, "out")}
	f.r = &restic.Runner{Bin: bin, Dir: dir, Env: append([]string{"PATH=" + servicePath, "FAKE_OUT=" + f.out}, env...)}
	return f
}

// file writes content to a file of the fake's folder and returns its path.
func (f *fake) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fake) read(t *testing.T, suffix string) string {
	t.Helper()
	b, err := os.ReadFile(f.out + suffix)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestResticGetsOnlyTheRunnersEnvironmentAndDevNullAsStdin(t *testing.T) {
	t.Setenv("RESTIC_WRAPPER_LEAK", "from-the-test-process")
	f := newFake(t, "RESTIC_PASSWORD=only-this")
	f.r.Env = append(f.r.Env, "FAKE_STDOUT="+f.file(t, "config.json", `{"version":2,"id":"abc"}`))
	cfg, err := f.r.Config(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID != "abc" || cfg.Version != 2 {
		t.Errorf("config = %+v", cfg)
	}
	env := f.read(t, ".env")
	if strings.Contains(env, "RESTIC_WRAPPER_LEAK") {
		t.Errorf("restic inherited this process's environment:\n%s", env)
	}
	if !strings.Contains(env, "RESTIC_PASSWORD=only-this") {
		t.Errorf("restic lacks the Runner's environment:\n%s", env)
	}
	if got := strings.TrimSpace(f.read(t, ".stdin")); got != "/dev/null" {
		t.Errorf("stdin = %q, want /dev/null", got)
	}
	if got := f.read(t, ".args"); got != "--no-lock\ncat\nconfig\n" {
		t.Errorf("args = %q", got)
	}
}

func TestAnEmptyEnvironmentStaysEmpty(t *testing.T) {
	t.Setenv("RESTIC_WRAPPER_LEAK", "from-the-test-process")
	f := newFake(t)
	bin := f.r.Bin
	// With no environment at all the fake cannot record; it proves the
	// point by its exit code instead: env prints only the PWD that sh
	// exports itself, so grep finds nothing.
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'restic 0.18.1'; exit 0; fi\nenv | grep -v '^PWD=' | grep -q . && exit 7\necho '{\"version\":2,\"id\":\"x\"}'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &restic.Runner{Bin: bin}
	if _, err := r.Config(context.Background()); err != nil {
		t.Fatalf("restic saw an environment with Env nil: %v", err)
	}
}

func TestFilterTagListsAreANDInsideAndORAcross(t *testing.T) {
	f := newFake(t)
	f.r.Env = append(f.r.Env, "FAKE_STDOUT="+f.file(t, "list.json", "[]"))
	list, err := f.r.Snapshots(context.Background(), restic.Filter{
		Host: "h", Tags: [][]string{{"app:x", "kind:db"}, {"kind:files"}}, Paths: []string{"/p"}, NoLock: true,
	})
	if err != nil || len(list) != 0 {
		t.Fatalf("snapshots = %v, %v", list, err)
	}
	want := "--no-lock\nsnapshots\n--json\n--host=h\n--tag=app:x,kind:db\n--tag=kind:files\n--path=/p\n"
	if got := f.read(t, ".args"); got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	for _, bad := range []restic.Filter{{Tags: [][]string{{}}}, {Tags: [][]string{{"a,b"}}}, {Paths: []string{""}}} {
		if _, err := f.r.Snapshots(context.Background(), bad); err == nil {
			t.Errorf("filter %+v was accepted", bad)
		}
	}
}

func TestVersionIsDetectedOnceAndCached(t *testing.T) {
	f := newFake(t, "FAKE_VERSION=0.14.0")
	f.r.Env = append(f.r.Env, "FAKE_STDOUT="+f.file(t, "list.json", "[]"))
	for range 3 {
		if _, err := f.r.Snapshots(context.Background(), restic.Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(f.read(t, ".versions"), "x"); n != 1 {
		t.Errorf("restic version ran %d times, want 1", n)
	}
	v, err := f.r.Version(context.Background())
	if err != nil || v != (restic.Version{Major: 0, Minor: 14, Patch: 0}) {
		t.Errorf("version = %v, %v", v, err)
	}
}

func TestStdinCommandIsRefusedBeforeRestic017WithoutRunningBackup(t *testing.T) {
	f := newFake(t, "FAKE_VERSION=0.16.5")
	_, err := f.r.Backup(context.Background(), restic.BackupOptions{
		Host: "h", StdinFilename: "db.sql", StdinCommand: []string{"pg_dump"},
	}, nil)
	if !errors.Is(err, restic.ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
	if _, err := os.Stat(f.out + ".args"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("restic backup ran anyway")
	}
}

func TestCommandEnvReachesResticButNeverItsArguments(t *testing.T) {
	f := newFake(t)
	f.r.Env = append(f.r.Env, "FAKE_STDOUT="+f.file(t, "sum.json", `{"message_type":"summary","snapshot_id":"`+strings.Repeat("a", 64)+`"}`+"\n"))
	sum, err := f.r.Backup(context.Background(), restic.BackupOptions{
		Host: "h", Tags: []string{"kind:db"}, StdinFilename: "db.sql",
		StdinCommand: []string{"pg_dump", "--dbname=postgres://app@db/app"},
		CommandEnv:   []string{"PGPASSWORD=hunter2-value"},
		Time:         time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600)),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.SnapshotID != strings.Repeat("a", 64) || sum.ShortIDOnly {
		t.Errorf("summary = %+v", sum)
	}
	args := f.read(t, ".args")
	want := "backup\n--json\n--quiet\n--host=h\n--tag=kind:db\n--time=2026-01-02 02:04:05\n--stdin-from-command\n--stdin-filename=db.sql\n--\nsh\n-c\nexec \"$@\" 2>&3 3>&-\nsh\npg_dump\n--dbname=postgres://app@db/app\n"
	if args != want {
		t.Errorf("args = %q, want %q", args, want)
	}
	env := f.read(t, ".env")
	if !strings.Contains(env, "PGPASSWORD=hunter2-value") || !strings.Contains(env, "TZ=UTC") {
		t.Errorf("restic's environment lacks CommandEnv or TZ:\n%s", env)
	}
}

func TestCancelSendsSIGINTAndReportsInterrupted(t *testing.T) {
	f := newFake(t, "FAKE_MODE=int")
	// Waited out, the grace would end the fake by SIGKILL (exit -1), not
	// its own exit 1 on SIGINT.
	f.r.Grace = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.r.Snapshots(ctx, restic.Filter{}); done <- err }()
	waitFor(t, "the fake to start", time.Minute, func() bool { _, err := os.Stat(f.out + ".ready"); return err == nil })
	cancel()
	err := <-done
	e := wantClass(t, err, restic.ClassInterrupted)
	if e.ExitCode != 1 {
		t.Errorf("exit code = %d, want the fake's 1", e.ExitCode)
	}
	if got := f.read(t, ".int"); got != "int\n" {
		t.Errorf("the fake did not get SIGINT: %q", got)
	}
}

func TestCancelKillsTheWholeProcessGroupAfterTheGrace(t *testing.T) {
	f := newFake(t, "FAKE_MODE=deaf")
	f.r.Grace = 300 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := f.r.Snapshots(ctx, restic.Filter{}); done <- err }()
	waitFor(t, "the fake to start", time.Minute, func() bool { _, err := os.Stat(f.out + ".ready"); return err == nil })
	child, err := strconv.Atoi(strings.TrimSpace(f.read(t, ".child")))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		e := wantClass(t, err, restic.ClassInterrupted)
		if e.ExitCode != -1 {
			t.Errorf("exit code = %d, want -1 (killed)", e.ExitCode)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("a restic that ignores SIGINT was not killed after the grace period")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("killed after %s, before the grace period", d)
	}
	waitFor(t, "the child to die", time.Minute, func() bool { return !alive(child) })
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !zombie(stat)
}

func TestErrorMessageIsTheScrubbedGistOfStderrOnOneLine(t *testing.T) {
	f := newFake(t, "FAKE_EXIT=1")
	f.r.Scrub = scrubber("TOPSECRET")
	var got lines
	f.r.OnStderr = got.add
	long := strings.Repeat("x", 700)
	stderr := strings.Join([]string{
		`{"message_type":"status","percent_done":0.5}`,
		"\x1b[2Kretrying with TOPSECRET in the url",
		long,
		`{"message_type":"error","error":{"message":"open /x/TOPSECRET.txt: permission denied"},"during":"archival","item":"/x/TOPSECRET.txt"}`,
		`{"message_type":"exit_error","code":1,"message":"Fatal: unable to open repository at sftp://u:TOPSECRET@h//r\nIs there a repository at the following location?"}`,
	}, "\n")
	f.r.Env = append(f.r.Env, "FAKE_STDERR="+f.file(t, "stderr", stderr))
	_, err := f.r.Snapshots(context.Background(), restic.Filter{})
	e := wantClass(t, err, restic.ClassFailed)
	if strings.Contains(e.Message, "TOPSECRET") || strings.Contains(e.Error(), "TOPSECRET") {
		t.Errorf("secret in message: %q", e.Message)
	}
	want := "Fatal: unable to open repository at sftp://u:***@h//r Is there a repository at the following location?"
	if !strings.HasSuffix(e.Message, want) {
		t.Errorf("message = %q, want it to end with %q", e.Message, want)
	}
	if !strings.Contains(e.Message, "error during archival: open /x/***.txt: permission denied") {
		t.Errorf("message lacks the rendered error line: %q", e.Message)
	}
	if strings.Contains(e.Message, "percent_done") || strings.Contains(e.Message, "\x1b") {
		t.Errorf("status line or escape kept: %q", e.Message)
	}
	all := got.text()
	if strings.Contains(all, "TOPSECRET") || strings.Contains(all, "percent_done") {
		t.Errorf("OnStderr got a secret or a status line:\n%s", all)
	}
	if !strings.Contains(all, "retrying with *** in the url") || !strings.Contains(all, long[:100]) {
		t.Errorf("OnStderr missed lines:\n%s", all)
	}
}

func TestUnknownExitCodesAreFailures(t *testing.T) {
	for _, code := range []string{"2", "42", "127"} {
		f := newFake(t, "FAKE_EXIT="+code)
		_, err := f.r.Snapshots(context.Background(), restic.Filter{})
		e := wantClass(t, err, restic.ClassFailed)
		if strconv.Itoa(e.ExitCode) != code {
			t.Errorf("exit code = %d, want %s", e.ExitCode, code)
		}
	}
}

func TestKnownExitCodesHaveTheirClasses(t *testing.T) {
	for code, class := range map[string]restic.Class{
		"3": restic.ClassPartial, "10": restic.ClassRepositoryMissing, "11": restic.ClassLocked,
		"12": restic.ClassWrongPassword, "130": restic.ClassInterrupted,
	} {
		f := newFake(t, "FAKE_EXIT="+code)
		_, err := f.r.Snapshots(context.Background(), restic.Filter{})
		wantClass(t, err, class)
		if restic.ClassOf(err) != class {
			t.Errorf("ClassOf = %s, want %s", restic.ClassOf(err), class)
		}
	}
}

func TestAMissingBinaryIsAFailureThatUnwrapsToTheCause(t *testing.T) {
	r := &restic.Runner{Bin: filepath.Join(t.TempDir(), "no-restic")}
	_, err := r.Version(context.Background())
	e := wantClass(t, err, restic.ClassFailed)
	if e.ExitCode != -1 || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v (exit %d), want exit -1 wrapping ErrNotExist", err, e.ExitCode)
	}
}

func TestParseVersionReadsEveryReleasesFirstLine(t *testing.T) {
	for in, want := range map[string]restic.Version{
		"restic 0.14.0 compiled with go1.19.8 on linux/amd64\n":                     {0, 14, 0},
		"restic 0.18.1 compiled with go1.26.8 on linux/amd64":                       {0, 18, 1},
		"restic 0.19.0-dev (compiled manually) compiled with go1.26 on linux/amd64": {0, 19, 0},
		"restic 1.2 compiled": {1, 2, 0},
	} {
		got, err := restic.ParseVersion(in)
		if err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := restic.ParseVersion("rustic 0.9.0"); err == nil {
		t.Error("a foreign version line was accepted")
	}
	v := restic.Version{Major: 0, Minor: 17, Patch: 1}
	if !v.AtLeast(0, 17) || !v.AtLeast(0, 16) || v.AtLeast(0, 18) || v.AtLeast(1, 0) {
		t.Errorf("AtLeast is wrong for %v", v)
	}
}
