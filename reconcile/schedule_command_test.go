package reconcile_test

import (
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestWithoutAScheduleTheServiceIdlesAsTheGuideShapesIt(t *testing.T) {
	es := specDoc(t, baseSpec).ForEnvironment("production", "app")
	if got := reconcile.ServiceCommand(es); strings.Join(got, " ") != "sh -lc sleep infinity" {
		t.Errorf("command = %q", got)
	}
}

func TestAScheduledServiceShowsItsScriptInDevopsellenceYmlAndStaysInSync(t *testing.T) {
	b := specDoc(t, baseSpec+"  retention: {keepDaily: 7}\n  schedule: {every: 6h}\n")
	es := b.ForEnvironment("production", "app")
	cmd := reconcile.ServiceCommand(es)
	if len(cmd) != 3 || cmd[0] != "sh" || cmd[1] != "-c" || cmd[2] != operate.ScheduleScript(es, "backup") {
		t.Fatalf("command = %.80q", cmd)
	}
	p := plan(t, b, appYAML, nil)
	after := string(p.After)
	if !strings.Contains(after, "      - |\n        # devopsellence-backup schedule for service backup in environment production") {
		t.Fatalf("the script is not a literal block in devopsellence.yml:\n%.2000s", after)
	}
	var doc struct {
		Services map[string]struct{ Command []string }
	}
	if err := yaml.Unmarshal(p.After, &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Services["backup"].Command; len(got) != 3 || got[2] != cmd[2] {
		t.Errorf("the command does not read back as written")
	}
	// Rendering is deterministic: planning the patched file again changes nothing.
	again := plan(t, b, after, nil)
	if len(again.Changes) != 0 {
		t.Errorf("a second plan changes %+v", again.Changes)
	}
}
