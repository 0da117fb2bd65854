package operate

import (
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestALockedStepRecommendsUnlockingOnlyWhenResticCanRemoveTheLock(t *testing.T) {
	es := spec.EnvSpec{Environment: "production"}
	step := func(facts map[string]any) *Evidence {
		return &Evidence{Kind: "prune", Result: ResultFailed, Steps: []Step{{Name: "forget", Kind: "forget", Result: ResultFailed, Error: "locked",
			Message: "repository is already locked", Facts: facts}}}
	}
	tests := []struct {
		name        string
		facts       map[string]any
		firstAction string
		says        string
	}{
		{"an agent that says nothing of the lock", nil, "remove a stale lock and retry", "--unlock-stale runs `restic unlock`"},
		{"this container's lock, its process gone", map[string]any{"lock_host": "c0ffee", "lock_pid": 41.0, "lock_here": true, "lock_stale": true, "lock_exclusive": true,
			"lock_created": "2026-12-06T10:00:00Z", "lock_stale_at": "2026-12-06T10:30:00Z"}, "remove the stale lock and retry", "an exclusive lock that restic calls stale"},
		{"this container's lock, its process running", map[string]any{"lock_host": "c0ffee", "lock_pid": 41.0, "lock_here": true, "lock_stale": false, "lock_exclusive": true,
			"lock_created": "2026-12-06T10:00:00Z", "lock_stale_at": "2026-12-06T10:30:00Z"}, "once that restic is gone", "restic (pid 41) in this service holds an exclusive lock"},
		{"another host's lock", map[string]any{"lock_host": "deadbeef", "lock_pid": 7.0, "lock_here": false, "lock_exclusive": false,
			"lock_created": "2026-12-06T10:00:00Z", "lock_stale_at": "2026-12-06T10:30:00Z"}, "after 2026-12-06T10:30:00Z", "restic on host deadbeef (pid 7) holds a shared lock"},
	}
	for _, tc := range tests {
		fs := Explain(OpPrune, es, "backup", step(tc.facts))
		if len(fs) != 1 || len(fs[0].NextActions) == 0 {
			t.Fatalf("%s: %+v", tc.name, fs)
		}
		if !strings.HasPrefix(fs[0].NextActions[0].Label, tc.firstAction) || !strings.Contains(fs[0].NextActions[0].Command, "--unlock-stale") {
			t.Errorf("%s: next %+v, want %q", tc.name, fs[0].NextActions[0], tc.firstAction)
		}
		if !strings.Contains(fs[0].Message, tc.says) {
			t.Errorf("%s: %s\nwant it to say %q", tc.name, fs[0].Message, tc.says)
		}
	}
}
