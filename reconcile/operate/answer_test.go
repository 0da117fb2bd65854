package operate

import (
	"strings"
	"testing"
	"time"
)

func TestAnInterruptedRestoreSaysWhatItSavedNotThePlansSnapshot(t *testing.T) {
	ev := &Evidence{Kind: "restore", Interrupted: true, Steps: []Step{
		{Name: "plan", Kind: "restore", Result: ResultOK, Facts: map[string]any{"snapshot_id": "1a2b3c4d5e6f"}},
		{Name: "pre-restore", Kind: "files", Result: ResultOK, Facts: map[string]any{"snapshot_id": "9f8e7d6c5b4a"}},
		{Name: "restore", Kind: "files", Result: ResultFailed, Error: "interrupted"},
	}}
	out := &Outcome{Result: ev, Cancel: &CancelState{Found: true, Stopped: true}}
	f := Stopped(OpRestore, "production", time.Hour, out, true, nil)
	if strings.Contains(f.Message, "plan 1a2b3c4d") || !strings.Contains(f.Message, "saved before it stopped: pre-restore 9f8e7d6c") {
		t.Errorf("finding: %s", f.Message)
	}
	ev.Steps = ev.Steps[:1]
	if f := Stopped(OpRestore, "production", time.Hour, out, true, nil); !strings.Contains(f.Message, "no snapshot was saved") {
		t.Errorf("a restore stopped at its plan: %s", f.Message)
	}
}
