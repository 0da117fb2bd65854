package render

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestTheOperateViewIsChosenOnceFromOutput(t *testing.T) {
	doc := BrowseDoc{Envelope: Envelope{SchemaVersion: SchemaVersion, Operation: "ls", Summary: "3 entries."}}
	plan := &operate.RestorePlan{ID: "9f8e7d6c5b4a", Environment: "production", Target: "/tmp/x"}

	var js bytes.Buffer
	v := NewOperateView(JSON, &js)
	if err := v.RestorePlan(plan); err != nil || js.Len() != 0 {
		t.Fatalf("the JSON view showed a plan on its own (%v): %q", err, js.String())
	}
	if err := v.Browse(operate.OpLs, doc); err != nil {
		t.Fatal(err)
	}
	var back BrowseDoc
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Summary != doc.Summary {
		t.Errorf("JSON view wrote %q (%v)", js.String(), err)
	}

	var text, ls bytes.Buffer
	v = NewOperateView(Text, &text)
	if err := v.RestorePlan(plan); err != nil || !strings.Contains(text.String(), plan.ID) {
		t.Errorf("the text view did not show the plan (%v): %q", err, text.String())
	}
	if err := NewOperateView(Text, &text).Browse(operate.OpLs, doc); err != nil {
		t.Fatal(err)
	}
	if err := LsText(&ls, doc); err != nil || !strings.HasSuffix(text.String(), ls.String()) {
		t.Errorf("the text view of ls is not LsText: %q", text.String())
	}
}
