package cli_test

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// storedValue reads the value devopsellence stores for the backup
// service's secret name in env, from the simulator's state.
func storedValue(t *testing.T, a *opsApp, env, name string) (string, bool) {
	t.Helper()
	var st struct {
		Secrets map[string]struct {
			Environment, Name, Value string
			ServiceName              string `json:"service_name"`
		}
	}
	must(t, json.Unmarshal(readFile(t, a.sim.StatePath()), &st))
	for _, s := range st.Secrets {
		if s.Environment == env && s.ServiceName == "backup" && s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}

// opensWith reports whether password opens the app's repository.
func opensWith(a *opsApp, password string) bool {
	cmd := exec.Command(a.rb.path, "--no-lock", "cat", "config")
	cmd.Env = []string{"RESTIC_REPOSITORY=" + a.repo, "RESTIC_PASSWORD=" + password, "PATH=" + servicePath, "HOME=" + a.sim.Home, "RESTIC_CACHE_DIR=" + a.sim.Home + "/cache"}
	return cmd.Run() == nil
}

func (a *opsApp) keyCount(t *testing.T, password string) int {
	t.Helper()
	cmd := exec.Command(a.rb.path, "key", "list", "--json")
	cmd.Env = []string{"RESTIC_REPOSITORY=" + a.repo, "RESTIC_PASSWORD=" + password, "PATH=" + servicePath, "HOME=" + a.sim.Home, "RESTIC_CACHE_DIR=" + a.sim.Home + "/cache"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("restic key list: %v", err)
	}
	var keys []any
	must(t, json.Unmarshal(out, &keys))
	return len(keys)
}

func TestRotateSecretChangesTheRepositoryPasswordKeyByKey(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		a := newOpsApp(t, rb, opsConfig{filesOnly: true})
		a.mustOp(t, 0, "backup", "--init")
		old, next := a.password, "rotated-"+a.password
		config := a.sim.ReadFile(t, "devopsellence.yml")

		r := runCLI(t, a.sim, []string{"DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=" + next}, "rotate-secret", "RESTIC_PASSWORD", "--non-interactive", "--output", "json")
		if r.code != 0 {
			t.Fatalf("rotate-secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, next) || strings.Contains(r.stdout+r.stderr, old) {
			t.Error("a password was printed")
		}
		if got, _ := storedValue(t, a, "production", "RESTIC_PASSWORD"); got != next {
			t.Error("the stored password is not the new one")
		}
		if _, ok := storedValue(t, a, "production", "RESTIC_PASSWORD_NEXT"); ok {
			t.Error("RESTIC_PASSWORD_NEXT is still stored")
		}
		if !opensWith(a, next) || opensWith(a, old) {
			t.Errorf("after the rotation: new opens %v, old opens %v; want only the new", opensWith(a, next), opensWith(a, old))
		}
		if n := a.keyCount(t, next); n != 1 {
			t.Errorf("%d keys, want 1", n)
		}
		if got := a.sim.ReadFile(t, "devopsellence.yml"); got != config {
			t.Errorf("devopsellence.yml is not back to what it was:\n%s", got)
		}
		// The deployed service uses it: a backup works, and apply is in sync.
		a.password = next
		a.secrets["RESTIC_PASSWORD"] = next
		a.mustOp(t, 0, "backup")
		if r := runCLI(t, a.sim, nil, "plan", "--detailed-exitcode"); r.code != 0 {
			t.Errorf("plan after the rotation: exit %d\n%s", r.code, r.stdout)
		}
	})
}

func TestRotateSecretStoppedAtAnyStepLeavesAStoredPasswordThatOpensTheRepository(t *testing.T) {
	t.Parallel()
	rb := newerRestic(t)
	// Each call of a rotation that can fail on its own, in order, and
	// whether the rotation fails with it (an agent check after a deploy
	// only logs, and the next value's secret is forgotten at the very end).
	faults := []struct {
		call  string
		fails bool
	}{
		{"deploy#1", true}, {"exec#1", false}, // step 1: deploy with RESTIC_PASSWORD_NEXT, the agent check
		{"exec#2", true},                      // step 2: key add
		{"secret set#2", true},                // step 3: store the new RESTIC_PASSWORD
		{"deploy#2", true}, {"exec#3", false}, // step 3: deploy without RESTIC_PASSWORD_NEXT, the agent check
		{"exec#4", true},           // step 4: verify
		{"exec#5", true},           // step 5: key remove
		{"secret delete#1", false}, // step 5: forget RESTIC_PASSWORD_NEXT
	}
	removeKey := regexp.MustCompile("`devopsellence exec backup --env production -- restic key remove ([0-9a-f]+)`")
	for _, f := range faults {
		t.Run(strings.NewReplacer("#", "-", " ", "-").Replace(f.call), func(t *testing.T) {
			t.Parallel()
			a := newOpsApp(t, rb, opsConfig{filesOnly: true})
			a.mustOp(t, 0, "backup", "--init")
			next := "rotated-" + a.password
			a.sim.ResetCalls(t)
			a.sim.Faults = f.call + "=exit:1:injected failure"
			r := runCLI(t, a.sim, []string{"DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=" + next}, "rotate-secret", "RESTIC_PASSWORD", "--non-interactive")
			a.sim.Faults = ""
			stored, ok := storedValue(t, a, "production", "RESTIC_PASSWORD")
			if !ok || !opensWith(a, stored) {
				t.Fatalf("after %s (exit %d) the stored RESTIC_PASSWORD does not open the repository\n%s", f.call, r.code, r.stderr)
			}
			if (r.code != 0) != f.fails {
				t.Errorf("%s: exit %d\n%s", f.call, r.code, r.stderr)
			}
			// What the message says to do ends in the new password alone.
			if r := runCLI(t, a.sim, nil, "apply", "--non-interactive"); r.code != 0 {
				t.Fatalf("apply after %s: exit %d\n%s", f.call, r.code, r.stderr)
			}
			for _, m := range removeKey.FindAllStringSubmatch(r.stderr, -1) {
				if x := a.sim.Run(t, "exec", "backup", "--env", "production", "--", "restic", "key", "remove", m[1]); x.Code != 0 {
					t.Fatalf("the advised key remove %s: exit %d\n%s", m[1], x.Code, x.Stdout)
				}
			}
			if stored, _ = storedValue(t, a, "production", "RESTIC_PASSWORD"); stored != next {
				if r := runCLI(t, a.sim, []string{"DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=" + next}, "rotate-secret", "RESTIC_PASSWORD", "--non-interactive"); r.code != 0 {
					t.Fatalf("rotate again after %s: exit %d\n%s", f.call, r.code, r.stderr)
				}
			}
			if !opensWith(a, next) || a.keyCount(t, next) != 1 {
				t.Errorf("after %s and what it advised: the new password opens %v, with %d keys; want 1", f.call, opensWith(a, next), a.keyCount(t, next))
			}
		})
	}
}
