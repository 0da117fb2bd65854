package agent

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestACompleteStepIsReportedOnceWhileResticUploadsWhatItRead(t *testing.T) {
	var out bytes.Buffer
	now := t0
	o := &Output{JSON: true, Stdout: &out, Now: func() time.Time { return now }}
	done := operate.Progress{Step: "files", Percent: 100, BytesDone: 391, BytesTotal: 391, FilesDone: 41, FilesTotal: 41}
	o.Progress(operate.Progress{Step: "files", Percent: 7.4, BytesDone: 29, BytesTotal: 391, FilesDone: 2, FilesTotal: 41})
	for i := 0; i < 10; i++ {
		now = now.Add(time.Second)
		o.Progress(done)
	}
	if n := strings.Count(out.String(), `"percent":100`); n != 1 {
		t.Errorf("the complete step was reported %d times, want once:\n%s", n, out.String())
	}
	// A new step, or the same step done again later, is reported.
	o.Progress(operate.Progress{Step: "copy", Percent: 100, BytesDone: 1, BytesTotal: 1})
	if n := strings.Count(out.String(), `"percent":100`); n != 2 {
		t.Errorf("another step's completion was not reported:\n%s", out.String())
	}
}

func TestStatusShowsTheRunningSchedulersPlanOverWhatTheEvidenceSays(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	retry := t0.Add(time.Hour)
	fromEvidence := []operate.Due{{Kind: "backup", At: at(0), Why: "no run yet"}, {Kind: "check", At: at(0), Why: "no run yet"}, {Kind: "drill", Why: "manual"}}
	none := func(string) *time.Time { return nil }
	// No scheduler: the evidence decides.
	if got := r.Planned(append([]operate.Due(nil), fromEvidence...), none); got[1].Why != "no run yet" {
		t.Errorf("without a scheduler: %+v", got)
	}
	if err := r.SavePlan(Plan{PID: pid(), Ticks: startTicks(pid()), Next: []operate.Due{{Kind: "check", At: &retry, Why: "retry after a failure"}}}); err != nil {
		t.Fatal(err)
	}
	got := r.Planned(append([]operate.Due(nil), fromEvidence...), none)
	if got[1].At == nil || !got[1].At.Equal(retry) || got[1].Why != "retry after a failure" || got[0].Why != "no run yet" || got[2].Why != "manual" {
		t.Errorf("with the scheduler's plan: %+v", got)
	}
	// The plan of a scheduler that is gone counts for nothing.
	if err := r.SavePlan(Plan{PID: pid(), Ticks: "1", Next: []operate.Due{{Kind: "check", At: &retry, Why: "retry after a failure"}}}); err != nil {
		t.Fatal(err)
	}
	if got := r.Planned(append([]operate.Due(nil), fromEvidence...), none); got[1].Why != "no run yet" {
		t.Errorf("a gone scheduler's plan is shown: %+v", got)
	}
}

// TestARetryAGoodRunSinceMadeMootIsNotShown: the scheduler's check failed
// (the repository did not exist yet) and it plans a retry; a check run by
// hand since then succeeded, so the scheduler will skip the retry, and
// status shows what the evidence says. A good run older than the failure
// leaves the retry standing.
func TestARetryAGoodRunSinceMadeMootIsNotShown(t *testing.T) {
	r := Registry{Dir: t.TempDir()}
	retry := t0.Add(time.Hour)
	weekly := t0.Add(7 * 24 * time.Hour)
	fromEvidence := []operate.Due{{Kind: "check", At: &weekly, Why: "schedule"}}
	if err := r.SavePlan(Plan{PID: pid(), Ticks: startTicks(pid()), Next: []operate.Due{{Kind: "check", At: &retry, Why: "retry after a failure"}},
		Failed: map[string]time.Time{"check": t0}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		good *time.Time
		want string
	}{{"a good check after the failure", at(time.Minute), "schedule"}, {"a good check before it", at(-time.Minute), "retry after a failure"}, {"none", nil, "retry after a failure"}} {
		got := r.Planned(append([]operate.Due(nil), fromEvidence...), func(kind string) *time.Time {
			if kind != "check" {
				t.Errorf("asked for the good run of %s", kind)
			}
			return tc.good
		})
		if got[0].Why != tc.want {
			t.Errorf("%s: next %+v, want %q", tc.name, got[0], tc.want)
		}
	}
}
