package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDevopsellenceThatCannotBeRunSaysWhy(t *testing.T) {
	sim := newApp(t, "basic")
	dir := t.TempDir()
	plain := filepath.Join(dir, "devopsellence")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for bin, want := range map[string]string{
		plain:                      "exists but is not executable (mode 0644)",
		dir:                        "is a directory",
		filepath.Join(dir, "none"): "does not exist",
	} {
		r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive", "--devopsellence", bin)
		if r.code == 0 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "not found") {
			t.Errorf("--devopsellence %s: exit %d: %s", bin, r.code, r.stderr)
		}
	}
}
