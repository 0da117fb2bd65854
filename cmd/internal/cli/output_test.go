package cli_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

type envelope struct {
	SchemaVersion int    `json:"schema_version"`
	Operation     string `json:"operation"`
	OK            bool   `json:"ok"`
	Error         *struct {
		Code     string `json:"code"`
		ExitCode int    `json:"exit_code"`
		Message  string `json:"message"`
	} `json:"error"`
}

// jsonLines fails t unless every line of stderr is one JSON object, and
// returns them.
func jsonLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stderr line %d is not JSON: %q\nstderr:\n%s", i+1, line, stderr)
		}
		out = append(out, m)
	}
	return out
}

func TestEveryFailureWithOutputJSONPrintsTheErrorEnvelope(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		operation string
		message   string
	}{
		{"an unknown flag after --output json", []string{"plan", "--output", "json", "--no-such-flag"}, "devopsellence-backup plan", "unknown flag: --no-such-flag"},
		{"an unknown flag before -o json", []string{"plan", "--no-such-flag", "-o", "json"}, "devopsellence-backup plan", "unknown flag: --no-such-flag"},
		{"a bad flag value with --output=json", []string{"apply", "--output=json", "--lock-timeout", "soon"}, "devopsellence-backup apply", "invalid argument \"soon\""},
		{"a flag without its value with -ojson", []string{"apply", "-ojson", "--env"}, "devopsellence-backup apply", "flag needs an argument"},
		{"an argument plan does not take", []string{"plan", "-o=json", "extra"}, "devopsellence-backup plan", "unknown command \"extra\""},
		{"an unknown command, whatever flags follow it", []string{"bogus", "--output", "json"}, "devopsellence-backup", `unknown command "bogus" for "devopsellence-backup"`},
		{"a bad -v, refused before the command runs", []string{"plan", "--output", "json", "-v", "7"}, "devopsellence-backup plan", "-v 7"},
		{"a bad --log-format", []string{"status", "--output", "json", "--log-format", "xml"}, "devopsellence-backup status", "--log-format \"xml\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			streams, out, errb := iostreams.Test("")
			code := cli.Main(context.Background(), tc.args, streams, nil)
			if code != operate.ExitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			var env envelope
			if err := json.Unmarshal(out.Bytes(), &env); err != nil {
				t.Fatalf("stdout is not the envelope: %v\n%q", err, out)
			}
			if env.OK || env.SchemaVersion != 1 || env.Operation != tc.operation || env.Error == nil ||
				env.Error.Code != "invalid_input" || env.Error.ExitCode != 2 || !strings.Contains(env.Error.Message, tc.message) {
				t.Errorf("envelope = %s", out)
			}
			if strings.Count(errb.String(), "Error: ") != 1 {
				t.Errorf("stderr = %q, want the error once", errb)
			}
		})
	}
}

func TestWithoutOutputJSONAFlagErrorLeavesStdoutEmpty(t *testing.T) {
	for _, args := range [][]string{{"plan", "--no-such-flag"}, {"plan", "--spec", "x", "--", "--output", "json"}} {
		streams, out, errb := iostreams.Test("")
		if code := cli.Main(context.Background(), args, streams, nil); code != operate.ExitUsage || out.Len() != 0 || !strings.Contains(errb.String(), "Error: ") {
			t.Errorf("%v: exit %d stdout %q stderr %q", args, code, out, errb)
		}
	}
}

func TestWithLogFormatJSONAnEarlyFailureIsAJSONLogLine(t *testing.T) {
	streams, out, errb := iostreams.Test("")
	code := cli.Main(context.Background(), []string{"plan", "--no-such-flag", "--log-format", "json", "--output", "json"}, streams, nil)
	if code != operate.ExitUsage || out.Len() == 0 {
		t.Fatalf("exit %d stdout %q", code, out)
	}
	lines := jsonLines(t, errb.String())
	if len(lines) != 1 || lines[0]["msg"] != "commandFailed" || !strings.Contains(lines[0]["error"].(string), "--no-such-flag") {
		t.Errorf("stderr = %v", lines)
	}
}

func TestWithLogFormatJSONEveryStderrLineIsJSONNoticesAndProgressIncluded(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive", "--log-format", "json",
		"--repository", "s3:s3.amazonaws.com/example-app-backups", "--image", "registry.example.com/example-app-backup:1.2.0")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var wrote, progress bool
	for _, m := range jsonLines(t, r.stderr) {
		wrote = wrote || m["msg"] == "output" && m["line"] == "wrote "+spec.DefaultFile
		progress = progress || m["msg"] == "deployProgress"
	}
	if !wrote || !progress {
		t.Errorf("the notice (%v) or the deploy progress (%v) is missing from stderr:\n%s", wrote, progress, r.stderr)
	}
	// And a failure in the middle of a command.
	sim.Faults = "deploy#1=exit:1:boom"
	sim.WriteFile(t, filepath.Join(spec.DefaultFile), strings.Replace(string(readFile(t, filepath.Join(sim.Workspace, spec.DefaultFile))), "example-app-backups", "example-app-backups-2", 1))
	r = runCLI(t, sim, nil, "apply", "--non-interactive", "--log-format", "json")
	if r.code == 0 {
		t.Fatal("the deploy fault did not fail apply")
	}
	jsonLines(t, r.stderr)
}

func TestAFormatTheCommandDoesNotHaveIsNotUsedToReportTheError(t *testing.T) {
	streams, out, errb := iostreams.Test("")
	code := cli.Main(context.Background(), []string{"status", "--output", "markdown"}, streams, nil)
	if code != operate.ExitUsage || out.Len() != 0 || !strings.Contains(errb.String(), `--output "markdown"`) {
		t.Errorf("exit %d stdout %q stderr %q", code, out, errb)
	}
}

func TestAFailureInsideACommandIsReportedInTheFormatItPromisedButABadFlagIsNot(t *testing.T) {
	dir := t.TempDir()
	environ := []string{"HOME=" + t.TempDir()}

	// plan ran, with --output markdown, and found no spec: a PR comment
	// says it failed.
	streams, out, _ := iostreams.Test("")
	code := cli.Main(context.Background(), []string{"plan", "--output", "markdown", "--dir", dir}, streams, environ)
	if code != operate.ExitUsage || !strings.Contains(out.String(), "plan failed") || !strings.Contains(out.String(), "no backup spec") {
		t.Errorf("a failed plan: exit %d stdout %q", code, out)
	}

	// cobra refused a flag before plan ran, after it had parsed --output
	// markdown: nothing was promised yet, so stdout stays empty.
	streams, out, errb := iostreams.Test("")
	code = cli.Main(context.Background(), []string{"plan", "--output", "markdown", "--no-such-flag", "--dir", dir}, streams, environ)
	if code != operate.ExitUsage || out.Len() != 0 || !strings.Contains(errb.String(), "unknown flag: --no-such-flag") {
		t.Errorf("a bad flag: exit %d stdout %q stderr %q", code, out, errb)
	}
}
