package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteFileKeepsModeAndWritesThroughSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.yml")
	if err := os.WriteFile(target, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "devopsellence.yml")
	if err := os.Symlink("real.yml", link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(link, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	got, _ := os.ReadFile(target)
	if string(got) != "new\n" {
		t.Errorf("target holds %q", got)
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestWriteFileCreatesWithDefaultMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	if err := WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestLockSerialisesRunsAndFailsAfterTheWait(t *testing.T) {
	home, ws := t.TempDir(), t.TempDir()
	a, _ := Open(home, ws)
	b, _ := Open(home, ws)
	unlock, err := a.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := b.Lock(context.Background(), 300*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Error("the second run did not wait")
	}
	unlock()
	unlock2, err := b.Lock(context.Background(), time.Second)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

func TestDeployRecordsRoundTripPerEnvironment(t *testing.T) {
	s, _ := Open(t.TempDir(), t.TempDir())
	if got, err := s.Deployed(); err != nil || len(got) != 0 {
		t.Fatalf("fresh store: %v %v", got, err)
	}
	if err := s.RecordDeploy("production", Record{Fingerprint: "abc", DeployedAt: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeploy("staging", Record{Fingerprint: "def"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Deployed()
	if err != nil || got["production"] != "abc" || got["staging"] != "def" || len(got) != 2 {
		t.Errorf("records = %v, %v", got, err)
	}
}

func TestHomeFollowsDevopsellence(t *testing.T) {
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"HOME=/h", "XDG_STATE_HOME=/x", "DEVOPSELLENCE_STATE_HOME=/d"}, "/d/devopsellence-backup"},
		{[]string{"HOME=/h", "XDG_STATE_HOME=/x"}, "/x/devopsellence-backup"},
		{[]string{"HOME=/h"}, "/h/.local/state/devopsellence-backup"},
	} {
		if got, err := Home(tc.env); err != nil || got != tc.want {
			t.Errorf("Home(%v) = %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
	if _, err := Home(nil); err == nil {
		t.Error("no HOME accepted")
	}
}
