package restic_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

func TestAMissingRepositoryIsRepositoryMissingOnEveryVersion(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := newLab(t, rb, "")
		ctx := context.Background()
		_, err := l.r.Config(ctx)
		e := wantClass(t, err, restic.ClassRepositoryMissing)
		if rb.atLeast(0, 17) != (e.ExitCode == 10) {
			t.Errorf("exit code = %d", e.ExitCode)
		}
		if !strings.Contains(e.Message, l.repo) {
			t.Errorf("message does not name the repository: %q", e.Message)
		}
		_, err = l.r.Snapshots(ctx, restic.Filter{})
		wantClass(t, err, restic.ClassRepositoryMissing)
	})
}

func TestAWrongPasswordIsWrongPasswordOnEveryVersion(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		bad := l.runner(func(env []string) []string { return append(env, "RESTIC_PASSWORD=not-the-password") })
		_, err := bad.Snapshots(context.Background(), restic.Filter{})
		e := wantClass(t, err, restic.ClassWrongPassword)
		if rb.atLeast(0, 17) != (e.ExitCode == 12) {
			t.Errorf("exit code = %d", e.ExitCode)
		}
	})
}

func TestAStaleLockIsLockedUntilUnlockRemovesIt(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		// A backup killed with -9 leaves its lock behind.
		cmd := exec.Command(rb.path, "backup", "--stdin", "--stdin-filename", "killed.bin")
		cmd.Env = l.env(l.repo, l.password)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the backup's lock", 2*time.Minute, func() bool { return len(l.lockFiles()) > 0 })
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		stdin.Close()

		_, err = l.r.Check(ctx, "")
		e := wantClass(t, err, restic.ClassLocked)
		if rb.atLeast(0, 17) != (e.ExitCode == 11) {
			t.Errorf("exit code = %d", e.ExitCode)
		}
		if !strings.Contains(e.Message, "repository is already locked") {
			t.Errorf("message = %q", e.Message)
		}
		_, err = l.r.Prune(ctx)
		wantClass(t, err, restic.ClassLocked)

		removed, err := l.r.Unlock(ctx)
		if err != nil || !strings.Contains(removed, "successfully removed") {
			t.Errorf("unlock = %q, %v", removed, err)
		}
		if locks := l.locks(t); len(locks) > 0 {
			t.Errorf("locks left after unlock: %v", locks)
		}
		if res, err := l.r.Check(ctx, ""); err != nil || res.NumErrors != 0 {
			t.Errorf("check after unlock = %+v, %v", res, err)
		}
	})
}

func TestUnlockLeavesTheLockOfARunningRestic(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := l.r.Backup(ctx, restic.BackupOptions{Host: "h", StdinFilename: "slow.bin", Stdin: &slowReader{}}, nil)
			done <- err
		}()
		waitFor(t, "the backup's lock", 2*time.Minute, func() bool { return len(l.lockFiles()) > 0 })
		if _, err := l.r.Unlock(context.Background()); err != nil {
			t.Error(err)
		}
		if len(l.lockFiles()) == 0 {
			t.Error("unlock removed the lock of a running backup")
		}
		_, err := l.r.Check(context.Background(), "")
		wantClass(t, err, restic.ClassLocked)
		cancel()
		wantClass(t, <-done, restic.ClassInterrupted)
	})
}

func TestSecretsInResticsMessagesAreScrubbed(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		const secret = "sftp-Pa55-value"
		l := newLab(t, rb, "")
		// restic does not redact an sftp URL's password in its errors.
		sftp := l.runner(func(env []string) []string {
			return append(env, "RESTIC_REPOSITORY=sftp://user:"+secret+"@127.0.0.1:1//repo")
		})
		sftp.Scrub = scrubber(secret)
		_, err := sftp.Config(context.Background())
		e := wantClass(t, err, restic.ClassFailed)
		if strings.Contains(e.Error(), secret) || strings.Contains(l.stderr.text(), secret) {
			t.Errorf("secret in the error or OnStderr: %q", e.Error())
		}
		if !strings.Contains(e.Message, "sftp://user:***@127.0.0.1") {
			t.Errorf("message = %q, want the scrubbed URL", e.Message)
		}

		// A password command that prints its secret on stderr.
		const printed = "cmd-printed-Secret-42"
		cmdRunner := l.runner(func(env []string) []string {
			return append(env, "RESTIC_PASSWORD=", "RESTIC_PASSWORD_COMMAND=sh -c 'echo "+printed+" >&2; exit 1'")
		})
		cmdRunner.Scrub = scrubber(printed)
		_, err = cmdRunner.Snapshots(context.Background(), restic.Filter{})
		e = wantClass(t, err, restic.ClassFailed)
		if strings.Contains(e.Error(), printed) || strings.Contains(l.stderr.text(), printed) {
			t.Errorf("secret in the error or OnStderr: %q\n%s", e.Error(), l.stderr.text())
		}
		if !strings.Contains(l.stderr.text(), "***") {
			t.Errorf("the scrubbed line did not reach OnStderr:\n%s", l.stderr.text())
		}
	})
}

func TestAnUnreachableRestServerIsNotAMissingRepository(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		const secret = "rest-Pa55-value"
		l := newLab(t, rb, "")
		rest := l.runner(func(env []string) []string {
			return append(env, "RESTIC_REPOSITORY=rest:http://user:"+secret+"@127.0.0.1:1/")
		})
		rest.Scrub = nil // restic redacts a rest: URL's password itself
		// 0.14 fails at once (however long a busy machine takes to get
		// there); 0.17+ retries for up to 15 minutes, so a deadline ends it.
		limit := 2 * time.Minute
		if rb.atLeast(0, 17) {
			limit = 3 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		_, err := rest.Snapshots(ctx, restic.Filter{})
		want := restic.ClassFailed
		if rb.atLeast(0, 17) {
			want = restic.ClassInterrupted
		}
		e := wantClass(t, err, want)
		if strings.Contains(e.Error(), secret) || strings.Contains(l.stderr.text(), secret) {
			t.Errorf("restic showed the rest password: %q", e.Error())
		}
		if !strings.Contains(l.stderr.text(), "user:***@127.0.0.1") {
			t.Errorf("stderr does not show the redacted URL:\n%s", l.stderr.text())
		}
	})
}

func TestACancelledContextDoesNotStartRestic(t *testing.T) {
	f := newFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.r.Backup(ctx, restic.BackupOptions{Host: "h", StdinFilename: "x", Stdin: io.MultiReader()}, nil)
	wantClass(t, err, restic.ClassInterrupted)
	if _, err := os.Stat(f.out + ".versions"); err == nil {
		t.Error("restic ran with a cancelled context")
	}
}
