package cli_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

const appsDir = "../../../fixtures/apps"

// result is one devopsellence-backup run.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs devopsellence-backup in process against the simulator.
func runCLI(t testing.TB, sim *simtest.Env, extraEnv []string, args ...string) result {
	t.Helper()
	streams, out, errb := iostreams.Test("")
	environ := append(sim.Environ(), extraEnv...)
	args = append(args, "--dir", sim.Workspace)
	if !slices.Contains(args, "--devopsellence") {
		args = append(args, "--devopsellence", sim.Bin)
	}
	code := cli.Main(context.Background(), args, streams, environ)
	return result{out.String(), errb.String(), code}
}

// newApp copies a fixture app into a fresh simulator workspace and makes it
// deployable in envs.
func newApp(t testing.TB, fixture string, envs ...string) *simtest.Env {
	t.Helper()
	sim := simtest.New(t)
	sim.AgentImages(t)
	sim.CopyApp(t, filepath.Join(appsDir, fixture))
	if _, err := os.Stat(filepath.Join(sim.Workspace, "Dockerfile")); err != nil {
		sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	}
	sim.Setup(t, envs...)
	if len(envs) == 0 {
		envs = []string{"production"}
	}
	// The app itself is deployable: its own services' secrets are stored.
	for _, env := range envs {
		r := sim.Run(t, "secret", "list", "--env", env)
		for _, it := range r.JSON(t)["secrets"].([]any) {
			m := it.(map[string]any)
			if m["service_name"] == "backup" || m["stored"] == true {
				continue
			}
			name := m["name"].(string)
			if r := sim.RunStdin(t, "app-value\n", "secret", "set", name, "--service", m["service_name"].(string), "--env", env, "--stdin"); r.Code != 0 {
				t.Fatalf("store the app's %s: %s", name, r.Stdout)
			}
		}
	}
	return sim
}

// secretValues gives each secret name a distinctive value, as the explicit
// DEVOPSELLENCE_BACKUP_SECRET_<NAME> variables apply reads.
type secretValues map[string]string

func newSecrets(names ...string) secretValues {
	s := secretValues{}
	for _, n := range names {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		s[n] = "s3cr3t-" + strings.ToLower(n) + "-" + hex.EncodeToString(b)
	}
	return s
}

// allSecrets covers every secret name the fixture apps need.
func allSecrets() secretValues {
	return newSecrets("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL",
		"B2_ACCOUNT_ID", "B2_ACCOUNT_KEY", "RESTIC_REPOSITORY", "AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY",
		"GOOGLE_PROJECT_ID", "GOOGLE_ACCESS_TOKEN")
}

func (s secretValues) env(except ...string) []string {
	var out []string
	for k, v := range s {
		skip := false
		for _, e := range except {
			skip = skip || e == k
		}
		if !skip {
			out = append(out, "DEVOPSELLENCE_BACKUP_SECRET_"+k+"="+v)
		}
	}
	return out
}

func count(calls []simtest.Call, sub string) int {
	n := 0
	for _, c := range calls {
		if c.Subcommand == sub {
			n++
		}
	}
	return n
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storedSecrets lists the names devopsellence has stored for service backup in env.
func storedSecrets(t testing.TB, sim *simtest.Env, env string) map[string]bool {
	t.Helper()
	r := sim.Run(t, "secret", "list", "--env", env, "--service", "backup")
	if r.Code != 0 {
		t.Fatalf("secret list: %s", r.Stdout)
	}
	out := map[string]bool{}
	for _, it := range r.JSON(t)["secrets"].([]any) {
		m := it.(map[string]any)
		if m["stored"] == true {
			out[m["name"].(string)] = true
		}
	}
	return out
}

// cliBinary builds devopsellence-backup once per test process.
func cliBinary(t testing.TB) string {
	t.Helper()
	return simtest.Tool(t)
}
