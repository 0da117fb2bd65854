package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestInitWithNoNodeStopsBeforeItsQuestionsAndSaysHowToGetOne(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	if r := sim.Run(t, "node", "detach", "sim-1", "--env", "production"); r.Code != 0 {
		t.Fatalf("detach: %s", r.Stdout)
	}
	// No --repository: had init asked its questions first, it would stop at
	// "init needs: --repository".
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--image", "i:1")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"no node is attached to production of this app, so init cannot deploy the backup service there; nothing was written",
		"`devopsellence node attach <node> --env production`",
		"`devopsellence node create <node> --host <host> --user root --ssh-key <key> --labels web,worker --attach --env production`",
		"`devopsellence-backup init --no-apply`",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "init needs") {
		t.Errorf("init asked its questions before checking the node:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Error("a spec was written")
	}

	// --no-apply needs no node; neither does apply --no-deploy, which says
	// the deploy waits for a node rather than for a rerun.
	args := []string{"init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/x", "--image", "i:1"}
	if r := runCLI(t, sim, nil, append(args, "--no-apply")...); r.code != 0 {
		t.Fatalf("--no-apply: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive", "--no-deploy")
	if r.code != 0 {
		t.Fatalf("apply --no-deploy: exit %d\n%s", r.code, r.stderr)
	}
	if want := "production cannot be deployed until a node is attached to it: attach a node this machine knows (`devopsellence node attach <node> --env production`)"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	if strings.Contains(r.stdout, "run `devopsellence-backup apply` to deploy") {
		t.Errorf("apply --no-deploy says a rerun deploys, with no node:\n%s", r.stdout)
	}

	// apply without --no-deploy stops with the same advice.
	r = runCLI(t, sim, nil, "apply", "--non-interactive")
	if r.code != 1 || !strings.Contains(r.stderr, "devopsellence node create <node>") || !strings.Contains(r.stderr, "--no-deploy") {
		t.Errorf("apply: exit %d\n%s", r.code, r.stderr)
	}
}
