package prompt

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lookupSoon runs Lookup, failing the test instead of hanging when it blocks.
func lookupSoon(t *testing.T, ctx context.Context, e *Explicit, r Request) (string, bool, error) {
	t.Helper()
	type res struct {
		v   string
		ok  bool
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, _, ok, err := e.Lookup(ctx, r)
		b, _ := io.ReadAll(v.Reader())
		ch <- res{string(b), ok, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.ok, r.err
	case <-time.After(time.Minute):
		t.Fatal("Lookup blocked")
		return "", false, nil
	}
}

func TestSecretFilesAreReadOnlyWhenRegularAndSmall(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", MaxFileSize+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(dir, "full")
	if err := os.WriteFile(full, []byte(strings.Repeat("y", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "not a regular file"},        // no writer: opening it would block forever
		{"/dev/zero", "not a regular file"}, // never ends; only stat'ed, never opened
		{dir, "not a regular file"},
		{big, "more than 64 KiB"},
	} {
		e, err := ParseSources(nil, []string{"RESTIC_PASSWORD=" + tc.path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, ok, err := lookupSoon(t, t.Context(), e, Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
		if !ok || err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--secret-file RESTIC_PASSWORD=…") {
			t.Errorf("%s: ok=%v err=%v, want %q", tc.path, ok, err, tc.want)
		}
	}
	e, _ := ParseSources(nil, []string{"RESTIC_PASSWORD=" + full}, nil)
	if v, ok, err := lookupSoon(t, t.Context(), e, Request{Name: "RESTIC_PASSWORD"}); !ok || err != nil || len(v) != MaxFileSize {
		t.Errorf("a file of exactly 64 KiB: ok=%v err=%v len=%d", ok, err, len(v))
	}
}

func TestSecretFileLookupStopsWhenTheCommandIsCancelled(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _ := ParseSources(nil, []string{"RESTIC_PASSWORD=" + file}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := lookupSoon(t, ctx, e, Request{Name: "RESTIC_PASSWORD"}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestAValueTypedWhereAPathOrVariableBelongsIsNeverEchoed(t *testing.T) {
	const value = "Hunter2TheValue"
	for _, tc := range []struct {
		env, file []string
		flag      string
	}{
		{file: []string{"RESTIC_PASSWORD=" + value}, flag: "--secret-file RESTIC_PASSWORD=…"},
		{file: []string{"production:RESTIC_PASSWORD=" + value}, flag: "--secret-file production:RESTIC_PASSWORD=…"},
		{env: []string{"RESTIC_PASSWORD=" + value}, flag: "--secret-env RESTIC_PASSWORD=…"},
	} {
		e, err := ParseSources(tc.env, tc.file, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, ok, err := lookupSoon(t, t.Context(), e, Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
		if !ok || err == nil || strings.Contains(err.Error(), value) || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("%s: ok=%v err=%v", tc.flag, ok, err)
		}
	}
}

func TestSecretValuesWithANULByteAreRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("pass\x00word-hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, _ := ParseSources(nil, []string{"RESTIC_PASSWORD=" + file}, nil)
	v, ok, err := lookupSoon(t, t.Context(), e, Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
	if !ok || err == nil || !strings.Contains(err.Error(), "NUL") || strings.Contains(err.Error(), "hunter2") || v != "" {
		t.Errorf("ok=%v err=%v value returned=%q", ok, err, v)
	}
}
