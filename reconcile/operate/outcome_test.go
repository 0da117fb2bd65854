package operate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestOutcomeTakesAgentLinesAndLeavesTheRestForPeople(t *testing.T) {
	lines := []struct {
		stream, text string
		machine      bool
	}{
		{"stderr", "backup: files ...", false},
		{"stdout", "no errors were found", false},
		{"stderr", `{"type":"result"}`, false}, // only stdout carries machine lines
		{"stdout", `{"type":"progress","progress":{"step":"files","percent":12.5,"bytes_done":10}}`, true},
		{"stdout", `{"type":"waiting","message":"waiting for the backup run r1"}`, true},
		{"stdout", `{not json`, true},
		{"stdout", `{"no_type":1}`, true},
		{"stdout", `{"type":"result","agent":{"version":"v1.0.0","protocol":1},"stored":{"kind":"backup","stored":true,"snapshot_id":"e1"},` +
			`"evidence":{"schema_version":1,"kind":"backup","result":"partial","new_field":[1],"steps":[{"name":"files","kind":"files","result":"partial","exit_code":3,"snapshot_id":"s1","files":12,"matches_source":true}]}}`, true},
	}
	var o Outcome
	var progress []Progress
	for _, l := range lines {
		if got := o.Take(l.stream, l.text, func(p Progress) { progress = append(progress, p) }); got != l.machine {
			t.Errorf("Take(%s, %.40q) = %v", l.stream, l.text, got)
		}
	}
	if len(progress) != 1 || progress[0].Step != "files" || progress[0].Percent != 12.5 {
		t.Errorf("progress = %+v", progress)
	}
	if o.Stored == nil || o.Stored.SnapshotID != "e1" || o.BadLines != 2 || o.Agent == nil || o.Agent.Version != "v1.0.0" {
		t.Errorf("outcome = %+v", o)
	}
	if o.Result == nil || o.Result.Result != ResultPartial {
		t.Fatalf("result = %+v", o.Result)
	}
	s := o.Result.Steps[0]
	if *s.ExitCode != 3 || s.Fact("snapshot_id") != "s1" || s.Fact("files") != "12" || s.Fact("matches_source") != "true" {
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

func TestACancelLineCarriesTheStoppedRunsOwnResult(t *testing.T) {
	var o Outcome
	o.Take("stdout", `{"type":"cancel","cancel":{"run_id":"r1","found":true,"stopped":true,"result":{"type":"result","evidence":{"kind":"backup","result":"failed","interrupted":true},"stored":{"kind":"backup","stored":true}}}}`, nil)
	if o.Cancel == nil || !o.Cancel.Stopped || o.Result == nil || !o.Result.Interrupted || o.Stored == nil || !o.Stored.Stored {
		t.Errorf("outcome = %+v", o)
	}
}

func TestArgvStaysShortWhateverTheSpecHolds(t *testing.T) {
	argv := Argv(&CheckRequest{Header: Header{RunID: "0123456789abcdef", Timeout: 7200e9}, UnlockStale: true, Subset: "auto"})
	if n := len(strings.Join(argv, " ")); n > 1024 {
		t.Errorf("argv is %d bytes", n)
	}
	want := []string{"devopsellence-backup", "agent", "check", "--json", "--protocol", "1", "--run-id", "0123456789abcdef", "--timeout", "2h0m0s", "--read-data-subset", "auto", "--unlock-stale"}
	if !slices.Equal(argv, want) {
		t.Errorf("argv = %q", argv)
	}
}

func TestDockerfileHoldsExactlyTheClientsTheSpecNeeds(t *testing.T) {
	es := sampleEnv(t)
	all := Dockerfile("shop", ImageFor("v1.2.3"), []spec.EnvSpec{es})
	for _, want := range []string{"FROM " + OfficialImage + ":v1.2.3 AS agent", "FROM restic/restic:0.18.1 AS restic", "FROM debian:bookworm-slim",
		"ca-certificates tini mariadb-client postgresql-client sqlite3", "COPY --from=restic /usr/bin/restic /usr/local/bin/restic",
		"COPY --from=agent " + AgentPath + " " + AgentPath, `CMD ["devopsellence-backup", "agent", "run"]`} {
		if !strings.Contains(all, want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, all)
		}
	}
	es.Databases = es.Databases[2:] // sqlite only
	if d := Dockerfile("shop", "", []spec.EnvSpec{es}); !strings.Contains(d, "--no-install-recommends ca-certificates tini sqlite3 \\") || strings.Contains(d, "postgresql-client") || !strings.Contains(d, "go install github.com/devopsellence/devopsellence-backup/cmd/devopsellence-backup@latest") {
		t.Errorf("sqlite only, no release:\n%s", d)
	}
}

func TestAFailureReadingACopyNamesTheCopysPasswordSecretNotThePrimarys(t *testing.T) {
	es := spec.EnvSpec{Environment: "production", Copies: []spec.Copy{{Name: "offsite", Repository: spec.Repository{URL: "/srv/offsite"}, PasswordSecret: "OFFSITE_PW"}}}
	ev := &Evidence{Kind: "snapshots", Copy: "offsite", Steps: []Step{{Name: "snapshots", Result: ResultFailed, Error: "wrong_password", Message: "wrong password or no key found"}}}
	fs := Explain(OpSnapshots, es, "backup", ev)
	if len(fs) != 1 {
		t.Fatalf("findings %+v", fs)
	}
	text := fs[0].Message
	for _, a := range fs[0].NextActions {
		text += " " + a.Command
	}
	if strings.Contains(text, "RESTIC_PASSWORD") || !strings.Contains(text, "OFFSITE_PW") {
		t.Errorf("finding: %s", text)
	}
}

func TestALostPrimaryPointsAtItsCopiesBeforeANewEmptyOne(t *testing.T) {
	es := spec.EnvSpec{Environment: "production", Copies: []spec.Copy{{Name: "offsite", PasswordSecret: "OFFSITE_PW"}}}
	for _, op := range []Op{OpSnapshots, OpStatus, OpBackup} {
		ev := &Evidence{Kind: string(op), Steps: []Step{{Name: string(op), Result: ResultFailed, Error: "repository_missing"}}}
		fs := Explain(op, es, "backup", ev)
		if len(fs) != 1 || len(fs[0].NextActions) < 2 || !strings.Contains(fs[0].NextActions[0].Command, "--from-copy offsite") ||
			!strings.Contains(fs[0].NextActions[len(fs[0].NextActions)-1].Command, "--init") {
			t.Errorf("%s of a lost primary: %+v", op, fs)
		}
	}
}

func TestProgressTextLeavesOutWhatResticDoesNotKnowYet(t *testing.T) {
	for _, tc := range []struct {
		p    Progress
		want string
	}{
		{Progress{Step: "files", Percent: 42, BytesDone: 3 << 20, BytesTotal: 10 << 20, FilesDone: 3, FilesTotal: 9, ETASeconds: 180}, "files: 42.0%, 3.0 MiB of 10.0 MiB, 3 of 9 files, ETA 3m"},
		{Progress{Step: "files", Percent: 5, BytesDone: 1 << 20, BytesTotal: 20 << 20, FilesDone: 1, FilesTotal: 0}, "files: 5.0%, 1.0 MiB of 20.0 MiB, 1 files"},
		{Progress{Step: "db:primary", BytesDone: 18 << 20}, "db:primary: 18.0 MiB so far"},
		{Progress{Step: "files", Percent: 100, BytesDone: 10, BytesTotal: 10, FilesDone: 1, FilesTotal: 1, ETASeconds: 0}, "files: 100.0%, 10 B of 10 B, 1 of 1 files"},
	} {
		if got := tc.p.Text(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.p, got, tc.want)
		}
	}
}
