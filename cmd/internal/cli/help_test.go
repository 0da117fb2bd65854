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

// mainOut runs a command line in process, outside any app.
func mainOut(args ...string) result {
	streams, out, errb := iostreams.Test("")
	code := cli.Main(context.Background(), args, streams, nil)
	return result{out.String(), errb.String(), code}
}

func TestHelpTextsSayWhatEachCommandDoes(t *testing.T) {
	help := func(args ...string) string {
		t.Helper()
		r := mainOut(append(args, "--help")...)
		if r.code != 0 {
			t.Fatalf("%v --help: exit %d %s", args, r.code, r.stderr)
		}
		return r.stdout
	}
	if h := help("plan"); !strings.Contains(h, "--out FILE") || strings.Contains(h, "--out devopsellence-backup") {
		t.Errorf("plan --help names --out's value wrongly:\n%s", h)
	}
	if h := help("init"); strings.Contains(h, "--image restic/restic") {
		t.Errorf("init --help's example uses restic's own image, which has no agent:\n%s", h)
	}
	for _, op := range []string{"check", "prune", "drill", "copy"} {
		if h := help(op); strings.Contains(h, "partial backup") || !strings.Contains(h, "EXIT STATUS") {
			t.Errorf("%s --help shows backup's exit status:\n%s", op, h)
		}
	}
	if h := help("backup"); !strings.Contains(h, "partial backup") {
		t.Errorf("backup --help lost its partial exit status:\n%s", h)
	}
	all := []spec.Database{{Engine: spec.EnginePostgres}, {Engine: spec.EngineMySQL}, {Engine: spec.EngineRedis}, {Engine: spec.EngineSQLite}}
	h := help("image")
	for _, tool := range operate.ToolsFor(all) {
		if tool.Package != "restic" && !strings.Contains(h, tool.Package) {
			t.Errorf("image --help omits %s", tool.Package)
		}
	}
}

func TestVersionTakesOutputJSON(t *testing.T) {
	r := mainOut("version", "--output", "json")
	var doc cli.VersionDoc
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &doc) != nil || doc.Version == "" {
		t.Errorf("version --output json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := mainOut("version", "--output", "markdown"); r.code != 2 {
		t.Errorf("version --output markdown: exit %d", r.code)
	}
}

func TestAnUnknownCommandSaysWhatItMayMeanWhateverTheFlags(t *testing.T) {
	for _, args := range [][]string{{"statu"}, {"statu", "--output", "json"}, {"--dir", "/tmp", "statu", "-o", "json"}} {
		r := mainOut(args...)
		if r.code != 2 || !strings.Contains(r.stderr, `unknown command "statu" for "devopsellence-backup"; did you mean status?`) {
			t.Errorf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		if strings.Contains(strings.Join(args, " "), "json") {
			var doc struct {
				OK    bool `json:"ok"`
				Error struct{ Message string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.OK || !strings.Contains(doc.Error.Message, "did you mean status?") {
				t.Errorf("%v: the JSON envelope: %s", args, r.stdout)
			}
		}
	}
	// A known command's own unknown flag is still that.
	if r := mainOut("status", "--no-such-flag"); r.code != 2 || !strings.Contains(r.stderr, "unknown flag: --no-such-flag") {
		t.Errorf("status --no-such-flag: exit %d %s", r.code, r.stderr)
	}
}

func TestBackupWithoutDevopsellenceSaysToInstallIt(t *testing.T) {
	sim := newApp(t, "basic")
	r := runCLI(t, sim, basicSecrets().env(), "backup", "--output", "json", "--devopsellence", filepath.Join(t.TempDir(), "devopsellence"))
	d := decodeOp(t, r)
	f := d.finding("devopsellence_not_found")
	if r.code != 1 || f == nil || !strings.Contains(f.NextActions[0].Command, "--devopsellence /path/to/devopsellence") || d.finding("exec_failed") != nil {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "deploy the backup service") {
		t.Errorf("advises a deploy, which needs devopsellence too:\n%s", r.stdout)
	}
}
