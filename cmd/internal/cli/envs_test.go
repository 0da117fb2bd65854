package cli_test

import (
	"strings"
	"testing"
)

func TestARepeatedEnvironmentIsOperatedOnOnce(t *testing.T) {
	sim := newApp(t, "basic")
	if r := runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s", r.code, r.stderr)
	}
	for _, envs := range [][]string{{"--env", "production", "--env", "production"}, {"--env", "production,production"}} {
		sim.ResetCalls(t)
		r := runCLI(t, sim, nil, append([]string{"check"}, envs...)...)
		if n := count(sim.Calls(t), "exec"); n != 1 {
			t.Errorf("%v: %d exec calls, want 1", envs, n)
		}
		if strings.Contains(r.stdout, "production, production") {
			t.Errorf("%v: the result names production twice:\n%s", envs, r.stdout)
		}
	}
}
