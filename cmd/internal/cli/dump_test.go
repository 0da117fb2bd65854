package cli_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
)

func TestDumpBringsAFileOrAFolderOfASnapshotToStdoutByteForByte(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{filesOnly: true})
		vol := app.sim.VolumeDir("shop_storage")
		// Every byte value, line breaks, NULs and invalid UTF-8, over
		// several data lines, and a size that is no multiple of a line's.
		blob := make([]byte, 200<<10+77)
		_, _ = rand.Read(blob)
		for i := range 256 {
			blob[i] = byte(i)
		}
		copy(blob[1000:], "\n\r\n\x00\xff\xfe{\"type\":\"result\"}\n")
		must(t, os.MkdirAll(filepath.Join(vol, "docs", "sub"), 0o755))
		must(t, os.WriteFile(filepath.Join(vol, "blob.bin"), blob, 0o644))
		must(t, os.WriteFile(filepath.Join(vol, "docs", "a.txt"), []byte("alpha\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(vol, "docs", "sub", "b.bin"), blob[:5000], 0o644))
		app.mustOp(t, 0, "backup", "--init")
		id := app.snapshots(t, "--tag", "kind:files")[0].ID[:8]

		r := app.cli(t, "dump", id, "/data/shop_storage/blob.bin")
		if r.code != 0 {
			t.Fatalf("dump a file: exit %d\n%s", r.code, r.stderr)
		}
		if !bytes.Equal([]byte(r.stdout), blob) {
			t.Errorf("the file dumped differs: %d bytes, want %d", len(r.stdout), len(blob))
		}
		if !strings.Contains(r.stderr, "wrote /data/shop_storage/blob.bin of snapshot "+id) {
			t.Errorf("stderr: %s", r.stderr)
		}

		r = app.cli(t, "dump", id, "/data/shop_storage/docs")
		if r.code != 0 {
			t.Fatalf("dump a folder: exit %d\n%s", r.code, r.stderr)
		}
		got := map[string][]byte{}
		tr := tar.NewReader(strings.NewReader(r.stdout))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			must(t, err)
			if h.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(tr)
				got[strings.TrimPrefix(h.Name, "/")] = b
			}
		}
		if string(got["data/shop_storage/docs/a.txt"]) != "alpha\n" || !bytes.Equal(got["data/shop_storage/docs/sub/b.bin"], blob[:5000]) {
			t.Errorf("the tar holds %v", keysOf(got))
		}

		// A path the snapshot does not hold: exit 1, and it says so.
		r = app.cli(t, "dump", id, "/data/shop_storage/nothing-here")
		if r.code != 1 || !strings.Contains(r.stderr, "error:") {
			t.Errorf("a missing path: exit %d\n%s", r.code, r.stderr)
		}
	})
}

func TestDumpRefusesToWriteToATerminal(t *testing.T) {
	sim := newApp(t, "basic")
	p := ptytest.Open(t)
	cmd := exec.Command(cliBinary(t), "dump", "1a2b3c4d", "/data/app_storage/x", "--dir", sim.Workspace, "--devopsellence", sim.Bin)
	cmd.Env = sim.Environ()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = p.Slave, &stderr
	err := cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), "redirect it to a file") {
		t.Errorf("exit %d (%v)\n%s", code, err, stderr.String())
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
