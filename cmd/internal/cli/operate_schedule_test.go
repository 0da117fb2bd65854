package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAScheduledServiceBacksUpPrunesAndChecksByItself(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{
			extra:   "  schedule:\n    every: 1h\n  check:\n    readDataParts: 4",
			simEnv:  []string{"DEVOPSELLENCE_SIM_RUN_SERVICES=1"},
			noApply: true,
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.restic(t, "init")
		if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		cfg := app.sim.ReadFile(t, "devopsellence.yml")
		if !strings.Contains(cfg, "      - devopsellence-backup\n      - agent\n      - run\n") || !strings.Contains(cfg, `BACKUP_SCHEDULE: '{"every":"1h","checkEvery":"7d","pruneEvery":"1d"}'`) {
			t.Fatalf("devopsellence.yml does not run the agent's scheduler:\n%s", cfg)
		}
		if r := app.cli(t, "plan", "--detailed-exitcode"); r.code != 0 {
			t.Errorf("plan after apply: exit %d, the service block is not stable\n%s", r.code, r.stdout)
		}

		// With no evidence yet, the service runs each operation right away.
		deadline := time.Now().Add(10 * time.Minute)
		for _, kind := range []string{"backup", "prune", "check"} {
			for len(app.snapshots(t, "--tag", "evidence:"+kind)) == 0 {
				if time.Now().After(deadline) {
					logs := app.sim.Run(t, "logs", "backup", "--lines", "200")
					t.Fatalf("no %s evidence from the scheduled service\nlogs:\n%s", kind, logs.Stdout)
				}
				time.Sleep(500 * time.Millisecond)
			}
			doc := app.evidence(t, kind)
			if doc["trigger"] != "schedule" || doc["result"] != "ok" {
				t.Errorf("%s evidence: trigger %v, result %v", kind, doc["trigger"], doc["result"])
			}
			if kind == "check" {
				steps := doc["steps"].([]any)
				if s := steps[len(steps)-1].(map[string]any); s["subset"] != "1/4" {
					t.Errorf("scheduled check read %v, want 1/4", s["subset"])
				}
			}
		}
		logs := app.sim.Run(t, "logs", "backup", "--lines", "300")
		var doc struct {
			Nodes []struct{ Lines []string }
		}
		if err := json.Unmarshal(logs.Stdout, &doc); err != nil || len(doc.Nodes) == 0 {
			t.Fatalf("logs: %v\n%s", err, logs.Stdout)
		}
		text := strings.Join(doc.Nodes[0].Lines, "\n")
		for _, want := range []string{"schedule: backup every 1h; prune every 1d; check every 7d", "backup: files: ok", "check: check: ok"} {
			if !strings.Contains(text, want) {
				t.Errorf("the service's log lacks %q:\n%s", want, text)
			}
		}
		for _, v := range app.secrets {
			if bytes.Contains([]byte(cfg+text), []byte(v)) {
				t.Error("a secret value is in devopsellence.yml or the service's log")
			}
		}
		// Stopping the service stops the loop (the simulator sends SIGTERM).
		if r := app.sim.Run(t, "sim", "stop-services"); r.Code != 0 {
			t.Errorf("stop services: %s", r.Stdout)
		}
		if entries, _ := os.ReadDir(filepath.Join(app.repo, "locks")); len(entries) != 0 {
			t.Errorf("the stopped service left %d lock(s)", len(entries))
		}
	})
}
