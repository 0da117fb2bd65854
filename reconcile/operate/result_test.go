package operate

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestOutcomeTakesMachineLinesAndLeavesTheRestForPeople(t *testing.T) {
	blob := base64.StdEncoding.EncodeToString([]byte(`[{"id":"abc"}]`))
	lines := []struct {
		stream, text string
		machine      bool
	}{
		{"stderr", "backup: files ...", false},
		{"stdout", "no errors were found", false},
		{"stderr", LinePrefix + `{"type":"result"}`, false}, // only stdout carries machine lines
		{"stdout", LinePrefix + `{"type":"blob","name":"snapshots","data":"` + blob[:10] + `"}`, true},
		{"stdout", LinePrefix + `{"type":"blob","name":"snapshots","data":"` + blob[10:] + `"}`, true},
		{"stdout", LinePrefix + `{"type":"missing_tool","name":"pg_dump"}`, true},
		{"stdout", LinePrefix + `{"type":"stored","kind":"backup","stored":true,"snapshot_id":"e1"}`, true},
		{"stdout", LinePrefix + `{"type":"future","x":1}`, true},
		{"stdout", LinePrefix + `{not json`, true},
		{"stdout", LinePrefix + `{"type":"result","evidence":{"schema_version":1,"kind":"backup","result":"partial","new_field":[1],"steps":[{"name":"files","kind":"files","result":"partial","exit_code":3,"snapshot_id":"s1","files":12,"matches_source":true}]}}`, true},
	}
	var o Outcome
	for _, l := range lines {
		if got := o.Take(l.stream, l.text); got != l.machine {
			t.Errorf("Take(%s, %.40q) = %v", l.stream, l.text, got)
		}
	}
	o.finish()
	if string(o.Blobs["snapshots"]) != `[{"id":"abc"}]` {
		t.Errorf("blob = %q", o.Blobs["snapshots"])
	}
	if !slices.Equal(o.MissingTools, []string{"pg_dump"}) || o.Stored == nil || o.Stored.SnapshotID != "e1" || o.BadLines != 1 {
		t.Errorf("outcome = %+v", o)
	}
	if o.Result == nil || o.Result.Result != ResultPartial {
		t.Fatalf("result = %+v", o.Result)
	}
	s := o.Result.Step("files")
	if s == nil || *s.ExitCode != 3 || s.Fact("snapshot_id") != "s1" || s.Fact("files") != "12" || s.Fact("matches_source") != "true" {
		t.Errorf("step = %+v", s)
	}
	// Facts survive a round trip next to the known fields.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back Step
	if err := json.Unmarshal(b, &back); err != nil || back.Fact("files") != "12" || back.Name != "files" {
		t.Errorf("round trip: %s → %+v (%v)", b, back, err)
	}
}

// localExec runs argv on this machine, as exec would in the service.
type localExec struct{ env []string }

func (l localExec) Exec(ctx context.Context, _, _ string, argv []string, _ io.Reader, onOutput func(stream, line string)) (int, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = l.env
	out, err := cmd.Output()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line != "" {
			onOutput("stdout", line)
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}

func TestMissingToolsNamesWhatTheImageLacks(t *testing.T) {
	es := sampleEnv(t)
	got, err := MissingTools(context.Background(), localExec{env: []string{"PATH=/nonexistent"}}, "production", "backup", es)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"restic", "pg_dump", "mariadb-dump|mysqldump", "sqlite3"} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %v lacks %s", got, want)
		}
	}
	got, err = MissingTools(context.Background(), localExec{env: []string{"PATH=/usr/bin:/bin"}}, "production", "backup", es)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, "awk") || slices.Contains(got, "psql") || slices.Contains(got, "sed") {
		t.Errorf("tools that are here were reported missing: %v", got)
	}
}

func TestDockerfileHoldsExactlyTheClientsTheSpecNeeds(t *testing.T) {
	es := sampleEnv(t)
	all := Dockerfile("shop", []spec.EnvSpec{es})
	for _, want := range []string{"FROM restic/restic:0.18.1 AS restic", "FROM debian:bookworm-slim", "ca-certificates mariadb-client postgresql-client sqlite3", "COPY --from=restic /usr/bin/restic /usr/local/bin/restic"} {
		if !strings.Contains(all, want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, all)
		}
	}
	es.Databases = es.Databases[2:] // sqlite only
	if d := Dockerfile("shop", []spec.EnvSpec{es}); !strings.Contains(d, "--no-install-recommends ca-certificates sqlite3 \\") || strings.Contains(d, "postgresql-client") {
		t.Errorf("sqlite only:\n%s", d)
	}
	es.Databases = nil
	if d := Dockerfile("shop", []spec.EnvSpec{es}); !strings.Contains(d, "--no-install-recommends ca-certificates \\") || strings.Contains(d, "Database clients") {
		t.Errorf("no database:\n%s", d)
	}
}

// Step returns the step named name, or nil.
func (e *Evidence) Step(name string) *Step {
	for i := range e.Steps {
		if e.Steps[i].Name == name {
			return &e.Steps[i]
		}
	}
	return nil
}
