package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// twoApps puts app A (the guide's sample, set up with node sim-1 attached to
// its production) and app B (fixture basic, in sim.Workspace, with no node)
// in one state home, as on a laptop or a VM that serves several apps.
func twoApps(t *testing.T) (sim *simtest.Env, appA string) {
	t.Helper()
	sim = simtest.New(t)
	appA = filepath.Join(filepath.Dir(sim.Workspace), "shop")
	b := sim.Workspace
	sim.Workspace = appA
	sim.CopyApp(t, filepath.Join(appsDir, "basic"))
	sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	sim.Setup(t)
	sim.Workspace = b
	sim.CopyApp(t, filepath.Join(appsDir, "basic"))
	sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	if r := sim.Run(t, "init", "--mode", "solo"); r.Code != 0 {
		t.Fatalf("init app B: %s", r.Stdout)
	}
	sim.GitCommit(t)
	return sim, appA
}

func TestApplyInAnAppWithoutANodeStopsEvenWhenAnotherAppsNodeIsAttached(t *testing.T) {
	sim, _ := twoApps(t)
	before := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive")
	if r.code == 0 {
		t.Fatalf("apply in app B succeeded with no node of its own:\n%s%s", r.stdout, r.stderr)
	}
	for _, want := range []string{"no node is attached to production of this app", "DEVOPSELLENCE_ENVIRONMENT=production devopsellence node attach <node>"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the error lacks %q:\n%s", want, r.stderr)
		}
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), before) {
		t.Error("devopsellence.yml changed before the stop")
	}
	calls := sim.Calls(t)
	for _, sub := range []string{"secret set", "config resolve", "deploy"} {
		if n := count(calls, sub); n != 0 {
			t.Errorf("%s ran %d times before the stop", sub, n)
		}
	}
	for _, c := range calls {
		if c.Subcommand == "node list" && strings.Contains(strings.Join(c.Argv, " "), "--all") {
			t.Errorf("apply asked node list --all, which mixes every app's attachments: %v", c.Argv)
		}
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, "devopsellence.backup.yml")); err != nil {
		t.Fatal(err)
	}
}

func TestPlanInAnAppWithoutANodeSaysSoWithTheCommandThatAttachesOne(t *testing.T) {
	sim, _ := twoApps(t)
	r := runCLI(t, sim, nil, "plan")
	if r.code != 0 {
		t.Fatalf("plan: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "no_node_attached: no node is attached to production of this app") {
		t.Errorf("plan does not report the missing node:\n%s", r.stdout)
	}
}
