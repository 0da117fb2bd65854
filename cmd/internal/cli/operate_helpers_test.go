package cli_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
	"github.com/devopsellence/devopsellence-backup/reconcile"
)

const opsDir = "../../../fixtures/ops"

// servicePath is the usual system PATH of the backup service, after the
// folder that holds the restic under test.
const servicePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// resticBin is one restic the tests run against.
type resticBin struct {
	version string // e.g. 0.14.0
	path    string
}

// resticBins finds the restic binaries under test: DEVOPSELLENCE_BACKUP_TEST_RESTIC
// (colon-separated, set by .ci/run), else Debian's and the one .ci/run installs.
func resticBins(t testing.TB) []resticBin {
	t.Helper()
	var out []resticBin
	for _, b := range restictest.Bins(t) {
		out = append(out, resticBin{version: b.Version, path: b.Path})
	}
	return out
}

// forEachRestic runs a subtest per restic version, in parallel with each
// other and with the other operate tests.
func forEachRestic(t *testing.T, test func(t *testing.T, rb resticBin)) {
	t.Parallel()
	for _, rb := range resticBins(t) {
		t.Run("restic-"+rb.version, func(t *testing.T) {
			t.Parallel()
			test(t, rb)
		})
	}
}

// opsApp is the shop fixture deployed in the simulator with a local repository.
type opsApp struct {
	sim      *simtest.Env
	rb       resticBin
	repo     string
	binDir   string
	password string
	secrets  map[string]string
}

// opsConfig says how to build one opsApp.
type opsConfig struct {
	// databases is YAML appended to spec.databases (items indented by 4).
	databases string
	// extra is YAML appended to spec (indented by 2).
	extra string
	// retention is the body of spec.retention (default keepLast: 3).
	retention string
	// repo overrides the repository URL (default: a fresh local folder).
	repo string
	// bin adds executables to the service's first PATH folder, next to restic.
	bin map[string]string
	// secrets are the backup's secret values (RESTIC_PASSWORD is added).
	secrets map[string]string
	// simEnv adds variables to the simulator's environment.
	simEnv []string
	// noApply leaves the app undeployed.
	noApply bool
	// filesOnly leaves the shop's SQLite database out of the spec: a
	// backup of its volume and nothing else.
	filesOnly bool
	// environments the app is set up for (default production); the spec
	// covers them when extra says so.
	environments []string
	// app is the fixture under fixtures/ops whose devopsellence.yml the
	// shop's spec backs up (default shop); appVars fill in its {{NAME}}
	// placeholders.
	app     string
	appVars map[string]string
}

func newOpsApp(t testing.TB, rb resticBin, cfg opsConfig) *opsApp {
	t.Helper()
	sim := simtest.New(t)
	sim.Extra = append(sim.Extra, cfg.simEnv...)
	sim.CopyApp(t, filepath.Join(opsDir, cmp.Or(cfg.app, "shop")))
	if len(cfg.appVars) > 0 {
		text := sim.ReadFile(t, "devopsellence.yml")
		for k, v := range cfg.appVars {
			text = strings.ReplaceAll(text, "{{"+k+"}}", v)
		}
		sim.WriteFile(t, "devopsellence.yml", text)
	}
	tmp := t.TempDir()
	a := &opsApp{sim: sim, rb: rb, repo: filepath.Join(tmp, "repo"), binDir: filepath.Join(tmp, "bin"),
		password: "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36), secrets: map[string]string{}}
	if cfg.repo != "" {
		a.repo = cfg.repo
	}
	for k, v := range cfg.secrets {
		a.secrets[k] = v
	}
	if _, ok := a.secrets["RESTIC_PASSWORD"]; !ok {
		a.secrets["RESTIC_PASSWORD"] = a.password
	}
	a.password = a.secrets["RESTIC_PASSWORD"]
	if err := os.MkdirAll(a.binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Stand-ins are new files; restic is a symlink only when not replaced,
	// so nothing is ever written through it.
	for name, script := range cfg.bin {
		if err := os.WriteFile(filepath.Join(a.binDir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, replaced := cfg.bin["restic"]; !replaced {
		if err := os.Symlink(rb.path, filepath.Join(a.binDir, "restic")); err != nil {
			t.Fatal(err)
		}
	}
	// The agent, as the official image has it on the service's PATH.
	if _, replaced := cfg.bin["devopsellence-backup"]; !replaced {
		if err := os.Symlink(simtest.Tool(t), filepath.Join(a.binDir, "devopsellence-backup")); err != nil {
			t.Fatal(err)
		}
	}
	specText := string(readFile(t, filepath.Join(opsDir, "shop", "devopsellence.backup.yml")))
	if cfg.filesOnly {
		specText = regexp.MustCompile(`(?s)  databases:\n.*?\{\{DATABASES\}\}\n`).ReplaceAllString(specText, "")
	}
	specText = strings.NewReplacer(
		"{{REPO}}", a.repo,
		"{{REPO_VOLUME}}", repoVolume(a.repo),
		"{{CACHE}}", filepath.Join(tmp, "cache"),
		"{{PATH}}", a.binDir+":"+servicePath,
		"{{DATABASES}}", strings.TrimRight(cfg.databases, "\n"),
		"{{EXTRA}}", strings.TrimRight(cfg.extra, "\n"),
		"{{RETENTION}}", cmp.Or(cfg.retention, "keepLast: 3"),
	).Replace(specText)
	sim.WriteFile(t, "devopsellence.backup.yml", specText)
	if err := os.MkdirAll(sim.VolumeDir("shop_storage"), 0o755); err != nil {
		t.Fatal(err)
	}
	sim.Setup(t, cfg.environments...)
	if !cfg.noApply {
		if r := a.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
			t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	}
	return a
}

// repoVolume mounts a local repository's host folder at its own path, as
// the spec requires; a remote repository needs none.
func repoVolume(repo string) string {
	if !strings.HasPrefix(repo, "/") {
		return ""
	}
	return "    volume: " + repo
}

// secretEnv are the explicit secret sources apply reads.
func (a *opsApp) secretEnv() []string {
	var out []string
	for k, v := range a.secrets {
		out = append(out, "DEVOPSELLENCE_BACKUP_SECRET_"+k+"="+v)
	}
	return out
}

// cli runs devopsellence-backup in process.
func (a *opsApp) cli(t testing.TB, args ...string) result {
	t.Helper()
	return runCLI(t, a.sim, a.secretEnv(), args...)
}

// cliAt runs devopsellence-backup in process with its clock at now.
func (a *opsApp) cliAt(t testing.TB, now time.Time, args ...string) result {
	t.Helper()
	streams, out, errb := iostreams.Test("")
	args = append(args, "--dir", a.sim.Workspace, "--devopsellence", a.sim.Bin)
	code := cli.MainWithClock(context.Background(), args, streams, append(a.sim.Environ(), a.secretEnv()...), fixedClock{now}, func(d time.Duration) time.Duration { return d })
	return result{out.String(), errb.String(), code}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                         { return c.t }
func (c fixedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

var _ reconcile.Clock = fixedClock{}

// restic runs the restic under test on the app's repository from the test.
func (a *opsApp) restic(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := a.resticErr(args...)
	if err != nil {
		t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (a *opsApp) resticErr(args ...string) ([]byte, error) {
	cmd := a.resticCmd(a.rb.path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// resticCmd is restic (bin) run from the test on the app's repository.
func (a *opsApp) resticCmd(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"RESTIC_REPOSITORY=" + a.repo, "RESTIC_PASSWORD=" + a.password, "RESTIC_CACHE_DIR=" + filepath.Join(filepath.Dir(a.binDir), "test-cache"), "PATH=" + servicePath, "HOME=" + a.sim.Home, "TZ=UTC"}
	return cmd
}

// snapshot is what the tests read of restic's snapshot list.
type snapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Paths    []string  `json:"paths"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
}

func (a *opsApp) snapshots(t testing.TB, filters ...string) []snapshot {
	t.Helper()
	var list []snapshot
	if err := json.Unmarshal(a.restic(t, append([]string{"--no-lock", "snapshots", "--json"}, filters...)...), &list); err != nil {
		t.Fatal(err)
	}
	return list
}

// evidence reads the newest evidence document of kind from the repository.
func (a *opsApp) evidence(t testing.TB, kind string) map[string]any {
	t.Helper()
	list := a.snapshots(t, "--tag", "devopsellence-backup:evidence,evidence:"+kind)
	if len(list) == 0 {
		t.Fatalf("no %s evidence in the repository", kind)
	}
	newest := list[len(list)-1]
	var doc map[string]any
	raw := a.restic(t, "--no-lock", "dump", newest.ID, "/devopsellence-backup/evidence-"+kind+".json")
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("evidence %s: %v\n%s", kind, err, raw)
	}
	return doc
}

// opDoc decodes an operation's JSON document.
type opDoc struct {
	OK           bool   `json:"ok"`
	Summary      string `json:"summary"`
	Findings     []reconcile.Finding
	Environments []struct {
		Environment    string `json:"environment"`
		Result         string `json:"result"`
		EvidenceStored bool   `json:"evidence_stored"`
		Evidence       *struct {
			Result        string           `json:"result"`
			ResticVersion string           `json:"restic_version"`
			Host          string           `json:"host"`
			Steps         []map[string]any `json:"steps"`
		} `json:"evidence"`
	} `json:"environments"`
}

func decodeOp(t testing.TB, r result) opDoc {
	t.Helper()
	var d opDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return d
}

// step returns the named step of the first environment's evidence.
func (d opDoc) step(t testing.TB, name string) map[string]any {
	t.Helper()
	if len(d.Environments) == 0 || d.Environments[0].Evidence == nil {
		t.Fatalf("no evidence in %+v", d)
	}
	for _, s := range d.Environments[0].Evidence.Steps {
		if s["name"] == name {
			return s
		}
	}
	t.Fatalf("no step %q in %v", name, d.Environments[0].Evidence.Steps)
	return nil
}

func (d opDoc) finding(code string) *reconcile.Finding {
	for i := range d.Findings {
		if d.Findings[i].Code == code {
			return &d.Findings[i]
		}
	}
	return nil
}

// mustOp runs an operation with --output json and checks its exit code.
func (a *opsApp) mustOp(t testing.TB, want int, args ...string) opDoc {
	t.Helper()
	r := a.cli(t, append(args, "--output", "json")...)
	if r.code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return decodeOp(t, r)
}

// freePort returns a loopback port nobody listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// resticStdin runs restic with stdin from r.
func (a *opsApp) resticStdin(t testing.TB, r io.Reader, args ...string) {
	t.Helper()
	cmd := exec.Command(a.rb.path, args...)
	cmd.Env = []string{"RESTIC_REPOSITORY=" + a.repo, "RESTIC_PASSWORD=" + a.password, "PATH=" + servicePath, "HOME=" + a.sim.Home, "TZ=UTC"}
	cmd.Stdin = r
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
