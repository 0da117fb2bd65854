package cli_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestABlockWrittenBeforeConfigurationVersionsIsMigratedByTheNextApply
// starts from multi-env as the previous release rendered and deployed it
// (BACKUP_* in five encodings, no version): this agent refuses that
// configuration and says to apply; plan shows both blocks changing, apply
// rewrites and deploys them, and a second apply changes and deploys nothing.
func TestABlockWrittenBeforeConfigurationVersionsIsMigratedByTheNextApply(t *testing.T) {
	sim := newApp(t, "unversioned-config", "production", "staging", "preview")
	secrets := allSecrets()
	for _, env := range []string{"production", "staging"} {
		for _, it := range sim.Run(t, "secret", "list", "--env", env).JSON(t)["secrets"].([]any) {
			m := it.(map[string]any)
			if m["service_name"] != "backup" {
				continue
			}
			name := m["name"].(string)
			if r := sim.RunStdin(t, secrets[name]+"\n", "secret", "set", name, "--service", "backup", "--env", env, "--stdin"); r.Code != 0 {
				t.Fatalf("secret set %s: %s", name, r.Stdout)
			}
		}
		if r := sim.Run(t, "deploy", "--env", env); r.Code != 0 {
			t.Fatalf("deploy of the old service in %s: %s", env, r.Stdout)
		}
	}

	// The agent of this release refuses the old configuration.
	r := runCLI(t, sim, nil, "status", "--env", "production", "--output", "json")
	if r.code == 0 || !strings.Contains(r.stdout, `"service_env"`) || !strings.Contains(r.stdout, "BACKUP_CONFIG_VERSION: not set") ||
		!strings.Contains(r.stdout, "devopsellence-backup apply") {
		t.Errorf("status of the old service: exit %d, want a service_env finding that says to apply:\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, sim, nil, "plan", "--detailed-exitcode")
	for _, want := range []string{"-      BACKUP_HOST: shop-production", "+      BACKUP_CONFIG_VERSION: \"1\"",
		"-          BACKUP_HOST: shop-staging", `+          BACKUP_IDENTITY: '{"environment":"staging"`} {
		if r.code != 3 || !strings.Contains(r.stdout, want) {
			t.Errorf("plan: exit %d, want 3 with %q in the diff:\n%s", r.code, want, r.stdout)
		}
	}
	sim.ResetCalls(t)
	if r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	got := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	want := readFile(t, filepath.Join(appsDir, "unversioned-config", "want.devopsellence.yml"))
	if !bytes.Equal(got, want) {
		t.Errorf("devopsellence.yml after the migration:\n%s", got)
	}
	if n := count(sim.Calls(t), "deploy"); n != 2 {
		t.Errorf("deploys = %d, want production and staging", n)
	}
	if count(sim.Calls(t), "secret set") != 0 {
		t.Error("the migration stored a secret again")
	}

	sim.ResetCalls(t)
	if r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive"); r.code != 0 || count(sim.Calls(t), "deploy") != 0 {
		t.Errorf("second apply: exit %d, %d deploys\n%s", r.code, count(sim.Calls(t), "deploy"), r.stdout)
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), want) {
		t.Error("the second apply changed devopsellence.yml")
	}
	if r := runCLI(t, sim, nil, "plan", "--detailed-exitcode"); r.code != 0 {
		t.Errorf("plan after the migration: exit %d\n%s", r.code, r.stdout)
	}
}
