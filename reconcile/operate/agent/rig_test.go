package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// rig is one app's agent on a real restic repository, with one volume:
// the agent package's tests of what restores and prunes do to real data.
type rig struct {
	t        *testing.T
	bin      restictest.Bin
	a        *Agent
	repo     string
	vol      string
	password string
	env      []string
	stdout   bytes.Buffer
	stderr   bytes.Buffer
}

// forEachBin runs test once per restic under test, in parallel.
func forEachBin(t *testing.T, test func(t *testing.T, bin restictest.Bin)) {
	t.Parallel()
	for _, b := range restictest.Bins(t) {
		t.Run("restic-"+b.Version, func(t *testing.T) {
			t.Parallel()
			test(t, b)
		})
	}
}

// newRig sets up the agent of app shop in production; edit changes its
// configuration before the agent reads it.
func newRig(t *testing.T, bin restictest.Bin, edit func(*spec.AgentConfig)) *rig {
	t.Helper()
	base := t.TempDir()
	r := &rig{t: t, bin: bin, repo: filepath.Join(base, "repo"), vol: filepath.Join(base, "data", "shop_storage"), password: "pw-" + filepath.Base(base)}
	must(t, os.MkdirAll(r.vol, 0o755))
	must(t, os.MkdirAll(filepath.Join(base, "tmp"), 0o700))
	cfg := spec.AgentConfig{Environment: "production", Service: "backup", Host: "shop-production", Tags: []string{"app:shop", "env:production"},
		AppID: "a1b2c3d4e5f6", Paths: []string{r.vol}, Schedule: nil, Secrets: []string{"RESTIC_PASSWORD"}, RepositoryURL: r.repo,
		Retention: []string{"--keep-last", "3"}}
	if edit != nil {
		edit(&cfg)
	}
	env := []string{"RESTIC_PASSWORD=" + r.password, "RESTIC_CACHE_DIR=" + filepath.Join(base, "cache"), "HOME=" + base,
		"PATH=" + filepath.Dir(bin.Path) + ":/usr/bin:/bin", "TMPDIR=" + filepath.Join(base, "tmp"), "TZ=UTC"}
	for k, v := range cfg.Env() {
		env = append(env, k+"="+v)
	}
	r.env = env
	a, err := New(env, "test", &Output{JSON: true, Stdout: &r.stdout, Stderr: &r.stderr, Now: time.Now}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	a.runner.Bin = bin.Path
	r.a = a
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs op and returns its result line.
func (r *rig) run(op operate.Op, o RunOptions) operate.Line {
	r.t.Helper()
	r.stdout.Reset()
	r.a.Run(context.Background(), op, o)
	return r.result()
}

// result is the last result line the agent printed.
func (r *rig) result() operate.Line {
	r.t.Helper()
	var last *operate.Line
	sc := bufio.NewScanner(bytes.NewReader(r.stdout.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l operate.Line
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Type == operate.LineResult {
			last = &l
		}
	}
	if last == nil {
		r.t.Fatalf("no result line:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
	}
	return *last
}

// backup backs up and returns the files snapshot's ID.
func (r *rig) backup(o RunOptions) string {
	r.t.Helper()
	l := r.run(operate.OpBackup, o)
	if l.Evidence.Result != operate.ResultOK {
		r.t.Fatalf("backup: %+v\nstderr:\n%s", l.Evidence.Steps, r.stderr.String())
	}
	for _, s := range l.Evidence.Steps {
		if s.Name == "files" {
			return s.Fact("snapshot_id")
		}
	}
	r.t.Fatalf("backup: no files step: %+v", l.Evidence.Steps)
	return ""
}

// plan shows the plan of req, which must be made.
func (r *rig) plan(req operate.RestoreRequest) *operate.RestorePlan {
	r.t.Helper()
	r.stdout.Reset()
	r.a.PlanRestore(context.Background(), RunOptions{}, req)
	l := r.result()
	if l.Plan == nil {
		r.t.Fatalf("no plan: %+v", l.Evidence.Steps)
	}
	return l.Plan
}

// restore plans req, then carries it out as approved.
func (r *rig) restore(req operate.RestoreRequest) operate.Line {
	r.t.Helper()
	p := r.plan(req)
	req.Plan, req.Approve = p.ID, p.ID
	if req.Latest != "" {
		req.Snapshot, req.Latest = p.Snapshot.ID, ""
	}
	return r.run(operate.OpRestore, RunOptions{Restore: &req})
}

// restic runs the restic under test on the repository.
func (r *rig) restic(args ...string) string {
	r.t.Helper()
	cmd := exec.Command(r.bin.Path, args...)
	cmd.Env = append([]string{"RESTIC_REPOSITORY=" + r.repo}, r.env...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// snapshots lists every snapshot in the repository.
func (r *rig) snapshots() []operate.Snapshot {
	r.t.Helper()
	var list []operate.Snapshot
	must(r.t, json.Unmarshal([]byte(r.restic("--no-lock", "snapshots", "--json")), &list))
	return list
}

func step(t *testing.T, ev *operate.Evidence, name string) operate.Step {
	t.Helper()
	for _, s := range ev.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, ev.Steps)
	return operate.Step{}
}
