package agentcmd

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// agentRequests holds a request of every agent command, every field that
// the command takes set (defaults the agent fills in are set too, so that
// what comes back is what was sent).
func agentRequests() []operate.Request {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	h := operate.Header{RunID: "0123456789abcdef", Timeout: 90 * time.Minute}
	return []operate.Request{
		&operate.BackupRequest{Header: h, Init: true, UnlockStale: true},
		&operate.CheckRequest{Header: h, Subset: "2/7", UnlockStale: true},
		&operate.PruneRequest{Header: h, UnlockStale: true},
		&operate.DrillRequest{Header: h, UnlockStale: true},
		&operate.CopyRequest{Header: h, Init: true, UnlockStale: true},
		&operate.StatusRequest{Header: h, Now: now},
		&operate.BrowseRequest{Header: h, Op: operate.OpSnapshots, FromCopy: "offsite", Limit: 30},
		&operate.BrowseRequest{Header: h, Op: operate.OpLs, FromCopy: "offsite", Limit: 5, Offset: 200, Recursive: true, Snapshot: "1a2b3c4d", Dir: "/data/app storage"},
		&operate.BrowseRequest{Header: h, Op: operate.OpLs, Snapshot: "1a2b3c4d"},
		&operate.BrowseRequest{Header: h, Op: operate.OpFind, Limit: 7, Pattern: "-invoice-*.pdf"},
		&operate.RestoreRequest{Header: h, FromCopy: "nas", Target: "/tmp/restored", Plan: "9f8e7d6c5b4a", Approve: "9f8e7d6c5b4a",
			LockWait: 30 * time.Second, UnlockStale: true, Snapshot: "1a2b3c4d5e6f", Paths: []string{"/data/a", "--not-a-flag"}},
		&operate.RestoreRequest{Header: h, Latest: "db:main"},
		&operate.RestoreRequest{Header: h, Latest: "files", Paths: []string{"/data/x"}},
		// restore --before-release: times closer than a second apart matter.
		&operate.RestoreRequest{Header: h, Latest: "db:main", Before: now.Add(-1500 * time.Millisecond), Now: now.Add(250 * time.Millisecond)},
		&operate.CheckpointRequest{Header: h, UnlockStale: true, Point: operate.RestorePoint{Files: true, Release: "3f9c0d2", ReleaseID: "rel-7",
			NextRelease: "9fdb0ab", Reason: "deploy 9fdb0ab, with a migration"}},
		&operate.DumpRequest{Header: h, FromCopy: "nas", Snapshot: "5e6f7a8b", Path: "/primary.pgdump"},
		&operate.RotateKeyRequest{Secret: "RESTIC_PASSWORD", Step: operate.KeyStepRemove, Keys: []string{"k1", "k2"}},
		&operate.CancelRequest{RunID: "0123456789abcdef", Wait: 90 * time.Second},
		&operate.VersionRequest{},
		&operate.SchedulerRequest{BackupTimeout: time.Hour, PruneTimeout: 2 * time.Hour, CheckTimeout: 3 * time.Hour, StopGrace: 30 * time.Second},
		&operate.LocksRequest{},
	}
}

func testDeps() Deps {
	streams, _, _ := iostreams.Test("")
	return Deps{IO: func() *iostreams.Streams { return streams }, Clock: reconcile.RealClock{}}
}

func TestEveryAgentRequestParsesBackFromItsArgvIntoAnEqualRequest(t *testing.T) {
	d := testDeps()
	covered := map[string]bool{}
	for _, req := range agentRequests() {
		argv := operate.Argv(req)
		t.Run(string(req.Operation()), func(t *testing.T) {
			if argv[0] != operate.AgentCommand || argv[1] != "agent" {
				t.Fatalf("argv = %q", argv)
			}
			var got operate.Request
			cmd := New(d, func(r operate.Request) error { got = r; return nil })
			cmd.SetArgs(argv[2:])
			if err := cmd.Execute(); err != nil {
				t.Fatalf("%q: %v", argv, err)
			}
			if !reflect.DeepEqual(got, req) {
				t.Errorf("%q parsed into\n%#v, want\n%#v", argv, got, req)
			}
		})
		covered[string(req.Operation())] = true
	}
	for _, c := range New(d, nil).Commands() {
		if !covered[c.Name()] {
			t.Errorf("agent %s: no request of it is tested", c.Name())
		}
	}
}

func TestTheAgentRefusesAPositionalArgumentMissingOrTooMany(t *testing.T) {
	d := testDeps()
	for _, args := range [][]string{
		{"ls"}, {"ls", "--", "a", "b", "c"}, {"find"}, {"dump", "--", "1a2b3c4d"}, {"restore"}, {"backup", "--", "x"},
	} {
		cmd := New(d, func(operate.Request) error { t.Errorf("%q ran", args); return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		for _, c := range cmd.Commands() {
			c.SilenceErrors, c.SilenceUsage = true, true
		}
		if err := cmd.Execute(); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestAgentCommandsNameTheirArgumentsFromTheRequest(t *testing.T) {
	var uses []string
	for _, c := range New(testDeps(), nil).Commands() {
		uses = append(uses, c.Use)
	}
	for _, want := range []string{"ls SNAPSHOT [DIR]", "find PATTERN", "dump SNAPSHOT PATH", "restore SNAPSHOT [PATH...]", "backup"} {
		if !slices.Contains(uses, want) {
			t.Errorf("uses = %q, want %q among them", uses, want)
		}
	}
}
