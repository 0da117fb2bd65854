package dbtool

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCtx is a context that ends with the test, or after limit.
func testCtx(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

func mustParse(t *testing.T, engine Engine, raw string) Conn {
	t.Helper()
	c, err := ParseSecret(engine, "DATABASE_URL", raw)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

// runDump runs a Dump as restic's --stdin-from-command would: its argv,
// the test's environment plus Env, stdout into a file.
func runDump(t *testing.T, d *Dump, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(d.Argv[0], d.Argv[1:]...)
	cmd.Env = append(os.Environ(), d.Env...)
	cmd.Stdout = f
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", d.Argv[0], err, stderr.String())
	}
}

// assertNoSecretIn fails when any fragment of the connection's secrets, or
// any 4-character piece of the password, shows in text.
func assertNoSecretIn(t *testing.T, what, text string, c Conn, password string) {
	t.Helper()
	for _, f := range c.Fragments() {
		if strings.Contains(text, f) {
			t.Errorf("%s shows the secret fragment %q: %s", what, f, text)
		}
	}
	for _, p := range parts(password, 4) {
		if strings.Contains(text, p) {
			t.Errorf("%s shows %q of the password: %s", what, p, text)
		}
	}
}

// assertArgvClean checks that no argument carries a secret.
func assertArgvClean(t *testing.T, argv []string, c Conn, password string) {
	t.Helper()
	assertNoSecretIn(t, "argv", strings.Join(argv, " "), c, password)
}

// fakeTools puts scripts named after the client programs first on PATH;
// each records that it ran by creating a file in the returned folder.
func fakeTools(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		script := "#!/bin/sh\ntouch \"" + filepath.Join(dir, n+".ran") + "\"\nexit 1\n"
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func ranTools(t *testing.T, dir string) []string {
	t.Helper()
	found, _ := filepath.Glob(filepath.Join(dir, "*.ran"))
	return found
}
