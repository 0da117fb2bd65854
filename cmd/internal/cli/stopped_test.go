package cli_test

import (
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestAnInterruptedRestoreSaysWhatItSavedNotThePlansSnapshot(t *testing.T) {
	ev := &operate.Evidence{Kind: "restore", Interrupted: true, Steps: []operate.Step{
		{Name: "plan", Kind: "restore", Result: operate.ResultOK, Facts: map[string]any{"snapshot_id": "1a2b3c4d5e6f"}},
		{Name: "pre-restore", Kind: "files", Result: operate.ResultOK, Facts: map[string]any{"snapshot_id": "9f8e7d6c5b4a"}},
		{Name: "restore", Kind: "files", Result: operate.ResultFailed, Error: "interrupted"},
	}}
	out := &operate.Outcome{Result: ev, Cancel: &operate.CancelState{Found: true, Stopped: true}}
	f := cli.StoppedFinding(operate.OpRestore, "production", out)
	if strings.Contains(f.Message, "plan 1a2b3c4d") || !strings.Contains(f.Message, "saved before it stopped: pre-restore 9f8e7d6c") {
		t.Errorf("finding: %s", f.Message)
	}
	ev.Steps = ev.Steps[:1]
	if f := cli.StoppedFinding(operate.OpRestore, "production", out); !strings.Contains(f.Message, "no snapshot was saved") {
		t.Errorf("a restore stopped at its plan: %s", f.Message)
	}
}
