package operate

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// fakeRestic stands in for restic in the script tests. It appends its argv
// (one line per call) to $FAKE_DIR/restic.argv, answers as restic VERSION
// would, lists $FAKE_DIR/snapshots.json, prints $FAKE_DIR/forget.json for
// forget, exits $FAKE_CHECK_RC for check, and runs the command after "--"
// of --stdin-from-command, as restic does.
const fakeRestic = `#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_DIR/restic.argv"
case $1 in
version) echo "restic $FAKE_VERSION compiled with go1.26 on linux/amd64" ;;
cat) echo '{"version":2,"id":"0123abcd","chunker_polynomial":"1"}' ;;
snapshots) if [ -f "$FAKE_DIR/snapshots.json" ]; then cat "$FAKE_DIR/snapshots.json"; else echo '[]'; fi ;;
forget) cat "$FAKE_DIR/forget.json" ;;
prune) echo "this removes: 0 blobs" ;;
check) exit "${FAKE_CHECK_RC:-0}" ;;
backup)
  for a; do
    shift
    [ "$a" = -- ] && break
  done
  if [ $# -gt 0 ]; then "$@" >/dev/null || exit 1; else cat >/dev/null; fi
  echo '{"message_type":"summary","snapshot_id":"5a5a5a5a5a5a","total_files_processed":1,"total_bytes_processed":2,"data_added":3}'
  ;;
esac
exit 0
`

// fakePgDump stands in for pg_dump: it appends its argv and PGPASSWORD to
// files, and writes a dump where --file asks for one.
const fakePgDump = `#!/bin/sh
printf '%s\n' "$*" >>"$FAKE_DIR/pg_dump.argv"
printf '%s\n' "${PGPASSWORD:-}" >>"$FAKE_DIR/pg_dump.password"
for a; do
  case $a in --file=*) echo "-- dump" >"${a#--file=}" ;; esac
done
echo "-- dump"
`

// fakeEnv is a service for the script tests: a folder of stand-ins first on
// PATH, and the variables the service's environment has.
type fakeEnv struct {
	dir string
	env []string
}

func newFakeEnv(t *testing.T, version string, bins map[string]string, env ...string) *fakeEnv {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	bins["restic"] = fakeRestic
	for name, text := range bins {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &fakeEnv{dir: dir, env: append([]string{
		"PATH=" + bin + ":/usr/bin:/bin", "LANG=C", "TMPDIR=" + dir, "FAKE_DIR=" + dir, "FAKE_VERSION=" + version,
		"BACKUP_HOST=shop-production", "BACKUP_TAGS=app:shop,env:production",
		"RESTIC_REPOSITORY=/nonexistent/repo", "RESTIC_PASSWORD=fake-restic-password",
	}, env...)}
}

func (f *fakeEnv) write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeEnv) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(f.dir, name))
	return string(b)
}

// calls are the restic calls whose first argument is cmd.
func (f *fakeEnv) calls(cmd string) []string {
	var out []string
	for _, l := range strings.Split(f.read("restic.argv"), "\n") {
		if l == cmd || strings.HasPrefix(l, cmd+" ") {
			out = append(out, l)
		}
	}
	return out
}

// run runs script with options as the service would, and returns what it
// reported and its stderr.
func (f *fakeEnv) run(t *testing.T, script string, args ...string) (*Outcome, string) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", script, "devopsellence-backup"}, args...)...)
	cmd.Env = f.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := &Outcome{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out.Take("stdout", sc.Text())
	}
	out.finish()
	if out.Result == nil {
		t.Fatalf("no result (%v)\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return out, stdout.String() + stderr.String()
}

// fakeSpec is a spec for the script tests: folders that do not exist in the
// test, and the given databases (YAML list items indented by 4).
func fakeSpec(t *testing.T, databases string) spec.EnvSpec {
	t.Helper()
	text := `apiVersion: backup.devopsellence.io/v1alpha1
kind: Backup
metadata: {name: shop}
spec:
  image: img:1
  paths: [/nonexistent/a, /nonexistent/b c]
  databases:
` + databases + `
  repository: {urlSecret: RESTIC_REPOSITORY, type: rest}
  retention: {keepLast: 1}
`
	b, err := spec.Parse("spec.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return b.ForEnvironment("production", "shop")
}
