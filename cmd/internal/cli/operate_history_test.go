package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// historyRounds doubles the files snapshots this many times for the
// benchmarks: 2^12 = 4096, years of backups several times a day.
const historyRounds = 12

// testHistoryRounds is the tests' history: 2^9 = 512 files snapshots,
// enough that sending them all through exec would be several times the
// 100 KB a status may send, in an eighth of the time to build.
const testHistoryRounds = 9

// historyPassword is the repository password of the shared history.
const historyPassword = "history-pw"

// histories are repositories with long histories, built once per test
// process per number of rounds and copied for each test that needs one.
var histories = struct {
	sync.Mutex
	dirs map[int]string
}{dirs: map[int]string{}}

// TestMain removes the histories built during the run: they live outside
// any test's temporary folder, to be shared by the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range histories.dirs {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// historyRepo builds, once per rounds, the shop app's repository with a
// real backup, then restic rewrite rounds that each give every files
// snapshot a twin without one file (one process a round, however many
// snapshots: 2^rounds in the end), and returns a fresh copy of it.
func historyRepo(t testing.TB, rounds int) string {
	t.Helper()
	histories.Lock()
	defer histories.Unlock()
	dir, ok := histories.dirs[rounds]
	if !ok {
		var err error
		if dir, err = buildHistory(t, rounds); err != nil {
			t.Fatalf("build a repository with years of history: %v", err)
		}
		histories.dirs[rounds] = dir
	}
	out := filepath.Join(t.TempDir(), "repo")
	if b, err := exec.Command("cp", "-a", dir, out).CombinedOutput(); err != nil {
		t.Fatalf("copy the history: %v\n%s", err, b)
	}
	return out
}

func buildHistory(t testing.TB, rounds int) (string, error) {
	builder := newerRestic(t)
	app := newOpsApp(t, builder, opsConfig{secrets: map[string]string{"RESTIC_PASSWORD": historyPassword}})
	vol := app.sim.VolumeDir("shop_storage")
	for i := 1; i <= rounds; i++ {
		must(t, os.WriteFile(filepath.Join(vol, fmt.Sprintf("f%02d.txt", i)), []byte(strings.Repeat("x", i)), 0o644))
	}
	// notes.sqlite3 is not there: the backup fails, the files are saved.
	if r := app.cli(t, "backup", "--init"); r.code != 1 {
		return "", fmt.Errorf("backup: exit %d\n%s", r.code, r.stderr)
	}
	for i := 1; i <= rounds; i++ {
		cmd := app.resticCmd(builder.path, "rewrite", "--tag", "kind:files", "--exclude", fmt.Sprintf("/data/shop_storage/f%02d.txt", i))
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("restic rewrite round %d: %v\n%s", i, err, out)
		}
	}
	if n := len(app.snapshots(t, "--tag", "kind:files")); n != 1<<rounds {
		return "", fmt.Errorf("%d files snapshots, want %d", n, 1<<rounds)
	}
	dir, err := os.MkdirTemp("", "devopsellence-backup-history-")
	if err != nil {
		return "", err
	}
	return dir, exec.Command("cp", "-a", app.repo+"/.", dir).Run()
}

// newHistoryApp is the shop app on a copy of the tests' long history, with
// restic wrapped so that every call is logged in argvLog.
func newHistoryApp(t testing.TB, rb resticBin) (app *opsApp, argvLog string) {
	t.Helper()
	return newHistoryAppRounds(t, rb, testHistoryRounds)
}

func newHistoryAppRounds(t testing.TB, rb resticBin, rounds int) (app *opsApp, argvLog string) {
	t.Helper()
	repo := historyRepo(t, rounds)
	argvLog = filepath.Join(t.TempDir(), "restic.argv")
	app = newOpsApp(t, rb, opsConfig{repo: repo, secrets: map[string]string{"RESTIC_PASSWORD": historyPassword}, bin: map[string]string{
		"restic": strings.NewReplacer("ARGV", argvLog, "RESTIC", rb.path).Replace(argvRestic),
	}})
	return app, argvLog
}

// newerRestic is a restic that has rewrite (0.15+), to build histories.
func newerRestic(t testing.TB) resticBin {
	t.Helper()
	for _, rb := range resticBins(t) {
		if !strings.HasPrefix(rb.version, "0.14") {
			return rb
		}
	}
	t.Fatal("building a long history needs restic 0.15 or later (restic rewrite): run `bash .ci/run`, which installs 0.18.1")
	return resticBin{}
}

// opens counts the restic calls in a log that open the repository (all
// but `version`).
func opens(t testing.TB, argvLog string) int {
	t.Helper()
	data, err := os.ReadFile(argvLog)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line != "" && line != "version" {
			n++
		}
	}
	return n
}

func TestStatusOnYearsOfHistoryOpensTheRepositoryTwiceAtMostAndAnswersSmall(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app, argvLog := newHistoryApp(t, rb)
		// What status sends back through exec, whatever the history.
		cmd := app.sim.Command(context.Background(), "exec", "backup", "--env", "production", "--",
			"devopsellence-backup", "agent", "status", "--json")
		var out bytes.Buffer
		cmd.Stdout = &out
		_ = cmd.Run()
		if !bytes.Contains(out.Bytes(), []byte(`\"type\":\"result\"`)) {
			t.Fatalf("no status result:\n%.2000s", out.String())
		}
		if out.Len() > 100<<10 {
			t.Errorf("one status sent %d bytes through exec, want under 100 KB", out.Len())
		}
		if n := opens(t, argvLog); n > 2 {
			t.Errorf("status opened the repository %d times:\n%s", n, readFile(t, argvLog))
		}
		d := app.status(t, 1, time.Now())
		for _, g := range d.Environments[0].Backups {
			if g.Name == "files" && g.Snapshots != 1<<testHistoryRounds {
				t.Errorf("files: %d snapshots counted, want %d", g.Snapshots, 1<<testHistoryRounds)
			}
		}
	})
}
