package cli_test

import (
	"strings"
	"testing"
)

func TestOperatingTwoEnvironmentsPrefixesEachLineAndGivesEachItsOptions(t *testing.T) {
	t.Parallel()
	bins := resticBins(t)
	app := newOpsApp(t, bins[len(bins)-1], opsConfig{
		extra:        "  environments: [production, staging]\n  check:\n    readDataParts: 3",
		environments: []string{"production", "staging"},
		noApply:      true,
	})
	// staging has an overlay, so the backup service there gets its own
	// host and tags (and so its own rotation of check parts).
	app.sim.WriteFile(t, "devopsellence.yml", app.sim.ReadFile(t, "devopsellence.yml")+
		"environments:\n  staging:\n    services:\n      web:\n        env:\n          RAILS_ENV: staging\n")
	app.sim.GitCommit(t)
	if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	app.restic(t, "init")
	r := app.cli(t, "check", "--output", "json")
	if r.code != 0 {
		t.Fatalf("check: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, env := range []string{"production", "staging"} {
		if !strings.Contains(r.stderr, "["+env+"] check: check: ok: no errors were found (read data subset 1/3)") {
			t.Errorf("stderr lacks %s's prefixed check line:\n%s", env, r.stderr)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if strings.HasPrefix(line, "check: ") {
			t.Errorf("a line without its environment: %q", line)
		}
	}
	d := decodeOp(t, r)
	if len(d.Environments) != 2 {
		t.Fatalf("environments = %+v", d.Environments)
	}
	for _, e := range d.Environments {
		steps := e.Evidence.Steps
		if s := steps[len(steps)-1]; s["subset"] != "1/3" || e.Evidence.Host != "shop-"+e.Environment {
			t.Errorf("%s (host %s) read %v, want 1/3 (spec.check.readDataParts)", e.Environment, e.Evidence.Host, s["subset"])
		}
	}
}
