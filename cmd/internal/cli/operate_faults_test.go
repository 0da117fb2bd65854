package cli_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// dyingDumper stands in for pg_dump: it writes part of a dump, complains on
// stderr (leaking its password, as a careless tool might) and dies.
const dyingDumper = `#!/bin/sh
head -c 300000 /dev/zero | tr '\0' 'x'
echo "pg_dump: error: connection to server lost (password was $PGPASSWORD)" >&2
exit 1
`

func TestADumperThatDiesMidStreamLeavesNoSnapshotAndFailsTheBackup(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{
			databases: "    - name: main\n      engine: postgres\n      urlSecret: DATABASE_URL",
			secrets:   map[string]string{"DATABASE_URL": "postgresql://app:dumper-pw-4711@127.0.0.1:9/appdb"},
			bin:       map[string]string{"pg_dump": dyingDumper},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		r := app.cli(t, "backup", "--init", "--output", "json")
		if r.code != 1 {
			t.Fatalf("backup: exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		d := decodeOp(t, r)
		if s := d.step(t, "db:main"); s["result"] != "failed" || s["error"] != "dumper_failed" {
			t.Errorf("db:main = %v", s)
		}
		if s := d.step(t, "files"); s["result"] != "ok" {
			t.Errorf("the files were not backed up after the failed dump: %v", s)
		}
		if f := d.finding("dumper_failed"); f == nil || !strings.Contains(f.Message, "no snapshot was made") {
			t.Errorf("findings = %+v", d.Findings)
		}
		if got := app.snapshots(t, "--tag", "db:main"); len(got) != 0 {
			t.Errorf("a snapshot of the failed dump exists: %+v", got)
		}
		if doc := app.evidence(t, "backup"); doc["result"] != "failed" {
			t.Errorf("backup evidence result = %v, want failed", doc["result"])
		}
		if strings.Contains(r.stdout+r.stderr, "dumper-pw-4711") {
			t.Error("the dumper's password reached the output")
		}
		if !strings.Contains(r.stderr, "password was ***") {
			t.Errorf("the dumper's message was not shown, scrubbed:\n%s", r.stderr)
		}
	})
}

func TestAWrongPasswordIsExplainedWithTheSecretToFix(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		if r := app.sim.RunStdin(t, "not-the-password\n", "secret", "set", "RESTIC_PASSWORD", "--service", "backup", "--env", "production", "--stdin"); r.Code != 0 {
			t.Fatalf("secret set: %s", r.Stdout)
		}
		// exec runs the container as last deployed: a stored secret changes
		// nothing until the next deploy, so the advice must name a deploy.
		app.mustOp(t, 0, "check")
		if r := app.sim.Run(t, "deploy", "--env", "production"); r.Code != 0 {
			t.Fatalf("deploy: %s", r.Stdout)
		}
		for _, cmd := range []string{"check", "status"} {
			d := app.mustOp(t, 1, cmd)
			f := d.finding("wrong_password")
			if f == nil {
				t.Fatalf("%s: no wrong_password finding: %+v", cmd, d.Findings)
			}
			var got []string
			for _, a := range f.NextActions {
				got = append(got, a.Command)
			}
			if len(got) < 2 || got[0] != "devopsellence secret set RESTIC_PASSWORD --service backup --env production --stdin" || got[1] != "devopsellence deploy --env production" {
				t.Errorf("%s: next actions %q", cmd, got)
			}
		}
	})
}

func TestAMissingRepositoryIsNotCreatedUnasked(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		d := app.mustOp(t, 1, "backup")
		f := d.finding("repository_missing")
		if f == nil || len(f.NextActions) == 0 || f.NextActions[0].Command != "devopsellence-backup backup --env production --init" {
			t.Fatalf("findings = %+v", d.Findings)
		}
		// The folder exists (the volume mounted there, as Docker creates a
		// bind mount's host folder); no repository was initialised in it.
		if _, err := os.Stat(filepath.Join(app.repo, "config")); !os.IsNotExist(err) {
			t.Errorf("the repository was created: %v", err)
		}
		if d := app.mustOp(t, 1, "status"); d.finding("repository_missing") == nil {
			t.Errorf("status findings = %+v", d.Findings)
		}
		d = app.mustOp(t, 0, "backup", "--init")
		if s := d.step(t, "repository"); !strings.Contains(fmt.Sprint(s["message"]), "initialised") {
			t.Errorf("repository step = %v", s)
		}
	})
}

func TestAStaleLockIsExplainedAndRemovedOnlyWithUnlockStale(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		leaveStaleLock(t, app, rb, false)

		d := app.mustOp(t, 1, "check")
		f := d.finding("locked")
		if f == nil || f.NextActions[0].Command != "devopsellence-backup check --env production --unlock-stale" || !strings.Contains(f.Message, "stale") {
			t.Fatalf("findings = %+v", d.Findings)
		}
		if locks, _ := os.ReadDir(filepath.Join(app.repo, "locks")); len(locks) != 1 {
			t.Errorf("the lock was touched without --unlock-stale: %d locks", len(locks))
		}
		d = app.mustOp(t, 0, "check", "--unlock-stale")
		if s := d.step(t, "unlock"); s["result"] != "ok" {
			t.Errorf("unlock step = %v", s)
		}
		if s := d.step(t, "check"); s["result"] != "ok" {
			t.Errorf("check after unlock = %v", s)
		}
	})
}

// leaveStaleLock kills restic while it holds a lock, which leaves the lock
// behind (a dead PID on this host: stale to restic): a backup's, or with
// exclusive a check's (reading data at 1 KiB/s, so it holds it until
// killed), as a prune's or check's would be.
func leaveStaleLock(t *testing.T, app *opsApp, rb resticBin, exclusive bool) {
	t.Helper()
	leaveStaleLockIn(t, rb, app.repo, app.password, app.sim.Home, exclusive)
}

// leaveStaleLockIn is leaveStaleLock in any repository (a copy's).
func leaveStaleLockIn(t *testing.T, rb resticBin, repo, password, home string, exclusive bool) {
	t.Helper()
	env := []string{"RESTIC_REPOSITORY=" + repo, "RESTIC_PASSWORD=" + password, "HOME=" + home,
		"RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache")}
	args := []string{"backup", "--stdin", "--stdin-filename", "killed.txt", "--host", "elsewhere"}
	if exclusive {
		data := filepath.Join(t.TempDir(), "data")
		writeRandom(t, data, 2<<20)
		seed := exec.Command(rb.path, "backup", "--host", "elsewhere", data)
		seed.Env = env
		if out, err := seed.CombinedOutput(); err != nil {
			t.Fatalf("restic backup: %v\n%s", err, out)
		}
		args = []string{"check", "--read-data", "--limit-download", "1"}
	}
	cmd := exec.Command(rb.path, args...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	must(t, err)
	must(t, cmd.Start())
	// The lock must be in place: restic writes it to "<id>-tmp-…" and
	// renames it, and ignores a temporary file or a lock it cannot read.
	waitUntil(t, "restic takes its lock", 2*time.Minute, func() bool {
		locks, _ := os.ReadDir(filepath.Join(repo, "locks"))
		for _, l := range locks {
			if strings.Contains(l.Name(), "-tmp-") {
				continue
			}
			if fi, err := l.Info(); err == nil && fi.Size() > 0 {
				return true
			}
		}
		return false
	})
	must(t, cmd.Process.Kill())
	_ = cmd.Wait()
	_ = stdin.Close()
}

// hangingServer accepts connections and never answers, like a backend that
// hangs; it reports when every connection it got has been closed.
type hangingServer struct {
	l     net.Listener
	mu    sync.Mutex
	open  int
	total int
}

func startHangingServer(t *testing.T) *hangingServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &hangingServer{l: l}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open++
			s.total++
			s.mu.Unlock()
			go func() {
				_, _ = io.Copy(io.Discard, c)
				_ = c.Close()
				s.mu.Lock()
				s.open--
				s.mu.Unlock()
			}()
		}
	}()
	return s
}

func (s *hangingServer) counts() (open, total int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open, s.total
}

func TestABackendThatHangsIsCutOffByTheDeadline(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		srv := startHangingServer(t)
		app := newOpsApp(t, rb, opsConfig{repo: "rest:http://" + srv.l.Addr().String() + "/"})
		// The deadline leaves a busy machine time to reach the backend,
		// which then never answers.
		d := app.mustOp(t, 1, "backup", "--init", "--timeout", "30s")
		f := d.finding("timeout")
		if f == nil || !strings.Contains(f.Message, "within 30s") {
			t.Fatalf("findings = %+v", d.Findings)
		}
		if _, total := srv.counts(); total == 0 {
			t.Fatal("restic never reached the backend")
		}
		// restic was interrupted, not left behind: its connections close.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			if open, _ := srv.counts(); open == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("restic still holds its connections to the backend after the deadline")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

func TestAnUnreadableFileMakesAPartialBackupAWarningNotASuccess(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		// restic runs without root's power to read any file, as in an image
		// whose restic runs as a user; the tests run as root.
		wrapper := fmt.Sprintf("#!/bin/sh\nexec setpriv --bounding-set -dac_override,-dac_read_search %s \"$@\"\n", rb.path)
		app := newOpsApp(t, rb, opsConfig{bin: map[string]string{"restic": wrapper}})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		secret := filepath.Join(vol, "uploads", "private.key")
		must(t, os.WriteFile(secret, []byte("key"), 0o000))
		must(t, os.Chmod(secret, 0o000))
		r := app.cli(t, "backup", "--init", "--output", "json")
		if r.code != 1 {
			t.Fatalf("backup: exit %d, want 1 (partial is not a success)\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		d := decodeOp(t, r)
		if d.OK || d.Environments[0].Result != "partial" {
			t.Errorf("result = %+v", d.Environments[0])
		}
		s := d.step(t, "files")
		if s["result"] != "partial" || !strings.Contains(fmt.Sprint(s["message"]), "/data/shop_storage/uploads/private.key") {
			t.Errorf("files step = %v", s)
		}
		f := d.finding("partial")
		if f == nil || f.Severity != "warning" {
			t.Errorf("findings = %+v", d.Findings)
		}
		if got := app.snapshots(t, "--tag", "kind:files"); len(got) != 1 {
			t.Errorf("%d files snapshots, want the partial one", len(got))
		}
		if doc := app.evidence(t, "backup"); doc["result"] != "partial" {
			t.Errorf("evidence result = %v", doc["result"])
		}
	})
}

func TestOperatingAnUndeployedServiceSaysToApplyAndBadFlagsAreUsageErrors(t *testing.T) {
	t.Parallel()
	app := newOpsApp(t, resticBins(t)[0], opsConfig{noApply: true})
	d := app.mustOp(t, 1, "backup")
	f := d.finding("exec_failed")
	if f == nil || f.NextActions[0].Command != "devopsellence-backup apply --env production" {
		t.Fatalf("findings = %+v", d.Findings)
	}
	if d := app.mustOp(t, 1, "status"); len(d.Findings) != 1 || d.Findings[0].Code != "exec_failed" {
		t.Errorf("status findings = %+v", d.Findings)
	}
	for _, args := range [][]string{
		{"check", "--read-data-subset", "3/2"},
		{"check", "--read-data-subset", "0%"},
		{"drill", "--env", "staging"},
		{"prune", "--timeout", "0s"},
		{"status", "--output", "markdown"},
		{"status", "--unlock-stale"},
	} {
		if r := app.cli(t, args...); r.code != 2 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want a usage error", args, r.code, r.stdout)
		}
	}
	if len(app.sim.Calls(t)) == 0 {
		t.Fatal("no call was logged")
	}
	for _, c := range app.sim.Calls(t) {
		if c.Subcommand == "exec" && c.ExitCode == 0 {
			t.Errorf("an exec ran for a bad command line: %v", c.Argv[:4])
		}
	}
}

func TestASuccessfulBackupInitShowsNoFatalLineFromRestic(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		r := app.cli(t, "backup", "--init")
		if r.code != 0 {
			t.Fatalf("backup --init: exit %d\n%s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "Fatal:") || strings.Contains(r.stderr, "unable to open config file") || strings.Contains(r.stderr, "Is there a repository") {
			t.Errorf("a backup that created its repository shows restic's alarm about it:\n%s", r.stderr)
		}
		if strings.Contains(r.stderr, "restic: "+app.repo) {
			t.Errorf("restic's line naming the missing repository is shown:\n%s", r.stderr)
		}
		if !strings.Contains(r.stdout, "initialised a new repository") {
			t.Errorf("the result does not say the repository was created:\n%s", r.stdout)
		}
	})
}
