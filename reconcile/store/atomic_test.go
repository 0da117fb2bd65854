package store

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// specials makes one of each kind of file WriteFile must not replace, in dir.
// The character device is a private node with /dev/null's numbers: the real
// /dev/null is never put at risk.
func specials(t *testing.T, dir string) map[string]string {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	null := filepath.Join(dir, "null")
	if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatalf("mknod (the tests run as root): %v", err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	sub := filepath.Join(dir, "folder")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	toNull := filepath.Join(dir, "to-null")
	if err := os.Symlink(null, toNull); err != nil {
		t.Fatal(err)
	}
	// /dev/stdout on a pipe is a link to /proc/self/fd/1, itself a link to
	// "pipe:[…]", which names no file.
	stdout := filepath.Join(dir, "stdout")
	if err := os.Symlink("pipe:[4026531]", stdout); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "read-only.yml")
	if err := os.WriteFile(readOnly, []byte("keep\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"a named pipe (FIFO)": fifo, "a character device": null, "a socket": sock, "a directory": sub,
		"a character device, through a symlink": toNull, "symlink to nothing": stdout,
		"read-only (mode 0444)": readOnly, "does not exist": filepath.Join(dir, "missing", "plan.json"),
	}
}

func TestWriteFileRefusesAnythingButARegularFileAndLeavesItAlone(t *testing.T) {
	dir := t.TempDir()
	for want, path := range specials(t, dir) {
		before, _ := os.Lstat(path)
		err := WriteFile(path, []byte("plan\n"), 0o644)
		if !errors.Is(err, ErrRefused) {
			t.Errorf("%s: WriteFile = %v, want a refusal", path, err)
			continue
		}
		reason, _, _ := strings.Cut(want, ",")
		if !strings.Contains(err.Error(), reason) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not say %q", path, err, reason)
		}
		if Writable(path) == nil {
			t.Errorf("%s: Writable says yes", path)
		}
		if after, err := os.Lstat(path); before == nil && err == nil {
			t.Errorf("%s was created", path)
		} else if before != nil && (err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after)) {
			t.Errorf("%s was replaced: %v -> %v (%v)", path, before.Mode(), after, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "read-only.yml")); string(got) != "keep\n" {
		t.Errorf("the read-only file holds %q", got)
	}
	if fi, err := os.Stat(filepath.Join(dir, "null")); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Errorf("the device node is no longer one: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

func TestRemoveTempsTakesOnlyOurStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "devopsellence.yml")
	if err := os.WriteFile(target, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ours := []string{".devopsellence.yml.tmp-123", ".devopsellence.yml.tmp-4294967295"}
	theirs := []string{".devopsellence.yml.tmp-", ".devopsellence.yml.tmp-12a", ".devopsellence.yml.tmp-1.bak",
		"devopsellence.yml.tmp-1", ".other.yml.tmp-1", ".devopsellence.yml.swp"}
	for _, n := range append(append([]string{}, ours...), theirs...) {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".devopsellence.yml.tmp-9"), 0o755); err != nil {
		t.Fatal(err)
	}
	theirs = append(theirs, ".devopsellence.yml.tmp-9")
	removed, err := RemoveTemps(target)
	if err != nil || len(removed) != len(ours) {
		t.Fatalf("RemoveTemps = %v, %v; want %v", removed, err, ours)
	}
	for _, n := range ours {
		if _, err := os.Lstat(filepath.Join(dir, n)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there", n)
		}
	}
	for _, n := range append(theirs, "devopsellence.yml") {
		if _, err := os.Lstat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}

func TestRemoveTempsFollowsTheSymlinkToWhereWriteFileWrites(t *testing.T) {
	dir, real := t.TempDir(), t.TempDir()
	target := filepath.Join(real, "app.yml")
	if err := os.WriteFile(target, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "devopsellence.yml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(real, ".app.yml.tmp-42")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RemoveTemps(link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file beside the link's target is still there: %v", err)
	}
}

func TestTakingTheLockRemovesTheRecordsStaleTempFile(t *testing.T) {
	s, err := Open(t.TempDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDeploy("production", Record{Fingerprint: "abc"}); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(s.dir, "."+s.key+".json.tmp-77")
	if err := os.WriteFile(stale, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Lstat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale temp file is still there: %v", err)
	}
	if !s.Manages(s.recordsPath()) || !s.Manages(filepath.Join(s.dir, s.key+".lock")) || s.Manages(filepath.Join(s.Workspace, "plan.json")) {
		t.Error("Manages does not tell the store's files from others")
	}
}
