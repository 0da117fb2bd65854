package cli_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// assertConverges reruns apply with faults off, giving values only for the
// secrets devopsellence has not stored yet (so a stored one is never asked
// for again), and checks the app ends exactly as planned.
func assertConverges(t *testing.T, sim *simtest.Env, secrets secretValues) {
	t.Helper()
	sim.Faults = ""
	cfgPath := filepath.Join(sim.Workspace, "devopsellence.yml")
	if r := sim.Run(t, "config", "resolve", "--env", "production"); r.Code != 0 {
		t.Fatalf("devopsellence.yml was left invalid: %s", r.Stdout)
	}
	stored := storedSecrets(t, sim, "production")
	var have []string
	for name := range stored {
		have = append(have, name)
	}
	r := runCLI(t, sim, secrets.env(have...), "apply", "--non-interactive")
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	want := readFile(t, filepath.Join(appsDir, "basic", "want.devopsellence.yml"))
	if got := readFile(t, cfgPath); !bytes.Equal(got, want) {
		t.Errorf("after the rerun devopsellence.yml is not the planned patch:\n%s", got)
	}
	for name := range secrets {
		if !storedSecrets(t, sim, "production")[name] {
			t.Errorf("%s not stored after the rerun", name)
		}
	}
	sim.ResetCalls(t)
	if r := runCLI(t, sim, nil, "apply", "--non-interactive"); r.code != 0 || count(sim.Calls(t), "deploy") != 0 {
		t.Errorf("a third apply is not a no-op: exit %d, deploys %d", r.code, count(sim.Calls(t), "deploy"))
	}
}

func basicSecrets() secretValues {
	return newSecrets("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL")
}

func TestApplyFaultsLeaveTheAppValidAndARerunConverges(t *testing.T) {
	for _, tc := range []struct {
		fault    string
		wantCode int
		wantErr  string
		// original: devopsellence.yml must be back to its original bytes.
		original bool
	}{
		{"secret set#2=exit:1:secret store unavailable", 1, "secret store unavailable", false},
		{"secret set#2=hang", 1, "no answer within", false},
		{"secret set#1=garbage", 1, "not JSON", false},
		{"secret set#3=crash-after", 1, "devopsellence secret set", false},
		{"config resolve#1=exit:1:invalid devopsellence.yml: boom", 1, "devopsellence rejected the patched devopsellence.yml for production, so the original was put back and no secret was stored", true},
		{"config resolve#1=hang", 1, "could not validate the patched devopsellence.yml for production, so the original was put back", true},
		{"config resolve#1=garbage", 1, "the original was put back", true},
		{"deploy#1=exit:1:docker build: exit status 1", 1, "docker build: exit status 1; the next apply retries it", false},
		{"deploy#1=hang", 1, "no answer within", false},
		{"deploy#1=garbage", 1, "devopsellence deploy", false},
		{"deploy#1=crash-after", 1, "devopsellence deploy", false},
		{"secret list#1=exit:1:state file unreadable", 1, "state file unreadable", true},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			sim := newApp(t, "basic")
			original := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
			sim.ResetCalls(t)
			sim.Faults = tc.fault
			secrets := basicSecrets()
			// A hanging call ends at its deadline; one that answers must
			// never meet it, however busy the machine.
			timeout := "10m"
			if strings.HasSuffix(tc.fault, "=hang") {
				timeout = "20s"
			}
			r := runCLI(t, sim, secrets.env(), "apply", "--non-interactive", "--call-timeout", timeout, "--deploy-timeout", timeout)
			if r.code != tc.wantCode || !strings.Contains(r.stderr, tc.wantErr) {
				t.Fatalf("exit %d, want %d with %q:\n%s", r.code, tc.wantCode, tc.wantErr, r.stderr)
			}
			for _, v := range secrets {
				if strings.Contains(r.stderr+r.stdout, v) {
					t.Error("a secret value reached the output")
				}
			}
			if tc.original && !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), original) {
				t.Error("devopsellence.yml was not restored")
			}
			if strings.HasPrefix(tc.fault, "config resolve") {
				if n := count(sim.Calls(t), "secret set"); n != 0 {
					t.Errorf("%d secrets stored after a failed validation", n)
				}
			}
			assertConverges(t, sim, secrets)
		})
	}
}
