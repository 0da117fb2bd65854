package restic

import (
	"strings"
	"testing"
)

// stderrOf feeds text to a stderrLog as restic's stderr.
func stderrOf(text string) *stderrLog {
	s := &stderrLog{}
	for _, l := range strings.Split(text, "\n") {
		s.line(l)
	}
	return s
}

func TestClassifyRecognisesOldVersionsByTheirWording(t *testing.T) {
	v14 := &Version{0, 14, 0}
	v18 := &Version{0, 18, 1}
	for _, c := range []struct {
		name    string
		o       outcome
		stderr  string
		want    Class
		comment string
	}{
		{"0.14 missing local repository", outcome{code: 1, version: v14},
			"Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r", ClassRepositoryMissing, ""},
		{"0.14 unreachable rest server is not a missing repository", outcome{code: 1, version: v14},
			"Fatal: unable to open config file: client.Head: Head \"http://u:***@127.0.0.1:1/config\": dial tcp 127.0.0.1:1: connect: connection refused\nIs there a repository at the following location?\nrest:http://u:***@127.0.0.1:1/", ClassFailed, ""},
		{"0.18 exit 1 with the same hint is a failure (exit 10 would be missing)", outcome{code: 1, version: v18},
			`{"message_type":"exit_error","code":1,"message":"Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r"}`, ClassFailed, ""},
		{"0.14 lock", outcome{code: 1, version: v14},
			"unable to create lock in backend: repository is already locked by PID 1 on vm by root (UID 0, GID 0)\nlock was created at 2026-11-30 10:27:18 (3.3s ago)", ClassLocked, ""},
		{"0.14 wrong password", outcome{code: 1, version: v14}, "Fatal: wrong password or no key found", ClassWrongPassword, ""},
		{"dumper failure", outcome{code: 1, version: v18, dumper: true},
			`subprocess sh: boom` + "\n" + `{"message_type":"exit_error","code":1,"message":"Fatal: command failed: exit status 1"}`, ClassDumperFailed, ""},
		{"the same words without --stdin-from-command", outcome{code: 1, version: v18},
			`{"message_type":"exit_error","code":1,"message":"Fatal: command failed: exit status 1"}`, ClassFailed, ""},
		{"interrupted wins over any code", outcome{code: 11, interrupted: true, version: v18}, "", ClassInterrupted, ""},
		{"killed by a signal", outcome{code: -1, version: v18}, "", ClassFailed, ""},
	} {
		c.o.stderr = stderrOf(c.stderr)
		if got := classify(c.o); got != c.want {
			t.Errorf("%s: class = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestMessageKeepsTheNewestLinesWithinTheLimit(t *testing.T) {
	s := stderrOf(strings.Join([]string{"first", "second", strings.Repeat("b", 400), strings.Repeat("é", 400), "Fatal: the end"}, "\n"))
	msg := s.message()
	if len(msg) > maxMessage || !strings.HasSuffix(msg, "Fatal: the end") || strings.Contains(msg, "second") {
		t.Errorf("message = %q", msg)
	}
	if !strings.HasSuffix(strings.TrimSuffix(msg, " Fatal: the end"), "é...") {
		t.Errorf("the long line was not cut on a rune boundary with a mark: %q", msg)
	}
	if one := stderrOf(strings.Repeat("a", 900)).message(); len(one) != maxMessage || !strings.HasSuffix(one, "...") {
		t.Errorf("a single long line = %d bytes %q...", len(one), one[:20])
	}
}

func TestOldBackupErrorLinesAreRenderedFromTheirPathError(t *testing.T) {
	var items []string
	s := &stderrLog{onItem: func(i string) { items = append(items, i) }}
	s.line(`{"message_type":"error","error":{"Op":"open","Path":"src/secret.txt","Err":13},"during":"archival","item":"/d/src/secret.txt"}`)
	s.line(`{"message_type":"error","error":{},"during":"scan","item":"/d/src/closed"}`)
	want := "error during archival: open src/secret.txt: permission denied error during scan: cannot read /d/src/closed"
	if got := s.message(); got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if strings.Join(items, ",") != "/d/src/secret.txt,/d/src/closed" {
		t.Errorf("items = %q", items)
	}
}

// TestAGoStackTraceNeverBecomesTheMessage: restic 0.14 prints a stack
// after a full disk; 0.18 puts one in the JSON of a bad find pattern.
// The message keeps the cause, and a full disk has a class of its own.
func TestAGoStackTraceNeverBecomesTheMessage(t *testing.T) {
	full := "write /r/locks/26be-tmp-3102128812: no space left on device\n" +
		"github.com/restic/restic/internal/backend/local.(*Local).Save\n\tgithub.com/restic/restic/internal/backend/local/local.go:170\n" +
		"github.com/restic/restic/internal/backend/limiter.rateLimitedBackend.Save\n\tgithub.com/restic/restic/internal/backend/limiter/limiter_backend.go:30\n" +
		"github.com/cenkalti/backoff.RetryNotifyWithTimer\n\t/home/build/go/pkg/mod/github.com/cenkalti/backoff@v2.2.1+incompatible/retry.go:55\n" +
		"runtime.goexit\n\t/usr/lib/go-1.19/src/runtime/asm_amd64.s:1594"
	pattern := `{"message_type":"exit_error","code":1,"message":"syntax error in pattern\nMatch\ngithub.com/restic/restic/internal/filter.match\n\t/root/go/pkg/mod/github.com/restic/restic@v0.18.1/internal/filter/filter.go:207\nmain.(*Finder).findInSnapshot.func1\n\t/root/go/pkg/mod/github.com/restic/restic@v0.18.1/cmd/restic/cmd_find.go:297\nruntime.main\n\t/usr/local/go/src/runtime/proc.go:290"}`
	for _, c := range []struct {
		stderr, want string
		class        Class
	}{
		{full, "no space left on device", ClassDiskFull},
		{pattern, "syntax error in pattern", ClassFailed},
	} {
		s := stderrOf(c.stderr)
		msg := s.message()
		if strings.Contains(msg, ".go:") || strings.Contains(msg, "goexit") || strings.Contains(msg, "(*Local)") || !strings.Contains(msg, c.want) {
			t.Errorf("message %q, want the cause %q without the stack", msg, c.want)
		}
		if got := classify(outcome{code: 1, version: &Version{0, 14, 0}, stderr: s}); got != c.class {
			t.Errorf("%q: class %s, want %s", c.want, got, c.class)
		}
	}
}
