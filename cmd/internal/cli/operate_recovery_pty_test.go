package cli_test

import (
	"bytes"
	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOnATerminalARestoreRunsOnlyWhenThePersonTypesTheEnvironmentAndSnapshot(t *testing.T) {
	t.Parallel()
	app := newOpsApp(t, resticBins(t)[0], opsConfig{})
	vol := app.sim.VolumeDir("shop_storage")
	seedShop(t, vol, nil)
	app.mustOp(t, 0, "backup", "--init")
	id := app.newest(t, "kind:files")
	doc := filepath.Join(vol, "uploads", "doc-1.txt")
	backedUp, err := os.ReadFile(doc)
	must(t, err)
	must(t, os.WriteFile(doc, []byte("changed\n"), 0o644))
	want := "production " + id[:8]

	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, app.sim, p, &stdout, "restore", id[:8], "/data/shop_storage/uploads")
	p.Expect(t, `type "`+want+`"`, 1)
	p.Send(t, "production\r")
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("a wrong answer: exit %d\n%s", code, p.Output())
	}
	// What the command wrote last reaches the terminal's reader after it
	// exited: wait for it there.
	p.Expect(t, "not approved", 1)
	if b, _ := os.ReadFile(doc); string(b) != "changed\n" {
		t.Fatal("a wrong answer overwrote the live file")
	}
	if !strings.Contains(stdout.String(), "Restore plan") {
		t.Errorf("the plan was not shown before the question:\n%s", stdout.String())
	}

	p = ptytest.Open(t)
	stdout.Reset()
	cmd = startOnTerminal(t, app.sim, p, &stdout, "restore", id[:8], "/data/shop_storage/uploads")
	p.Expect(t, `type "`+want+`"`, 1)
	p.Send(t, want+"\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("restore: %v\n%s\n%s", err, stdout.String(), p.Output())
	}
	if b, _ := os.ReadFile(doc); !bytes.Equal(b, backedUp) {
		t.Errorf("the live file was not restored: %q", b)
	}
	if !strings.Contains(stdout.String(), "Restored snapshot "+id[:8]) {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}
