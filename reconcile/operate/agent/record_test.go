package agent

import (
	"io"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestARunExitsWithTheNamedCodeOfItsWorstStep(t *testing.T) {
	for _, tc := range []struct {
		name        string
		steps       []string
		interrupted bool
		result      string
		exit        int
	}{
		{"every step ok", []string{operate.ResultOK, operate.ResultOK}, false, operate.ResultOK, operate.ExitOK},
		{"a partial step", []string{operate.ResultOK, operate.ResultPartial}, false, operate.ResultPartial, operate.ExitPartial},
		{"a failed step outweighs a partial one", []string{operate.ResultPartial, operate.ResultFailed}, false, operate.ResultFailed, operate.ExitFailed},
		{"interrupted", []string{operate.ResultOK}, true, operate.ResultFailed, operate.ExitInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{ev: &operate.Evidence{Kind: "backup", StartedAt: time.Now()}, now: time.Now,
				out: &Output{Stdout: io.Discard, Stderr: io.Discard}, scrub: func(s string) string { return s }}
			for _, r := range tc.steps {
				rec.begin("step", "files").done(r, nil, "", "")
			}
			ev := rec.finish(tc.interrupted)
			if ev.Result != tc.result || ev.ExitCode != tc.exit || ev.Interrupted != tc.interrupted {
				t.Errorf("result %s, exit %d, interrupted %t; want %s, %d", ev.Result, ev.ExitCode, ev.Interrupted, tc.result, tc.exit)
			}
		})
	}
}
