package render

import (
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// TestANameCannotForgeALineOfAPlanOrOfALsOrFind: file names are the app's
// data; printed raw, a newline in one could add a plan line of its own,
// and an escape sequence rewrite the terminal.
func TestANameCannotForgeALineOfAPlanOrOfALsOrFind(t *testing.T) {
	forged := "/data/v/zz\n  deleted:     0 files"
	esc := "/data/v/\x1b[2Kcolour\u202eevil"
	p := &operate.RestorePlan{ID: "0123456789ab", Environment: "production", Snapshot: operate.Listed{ID: "1a2b3c4d5e6f", Kind: "files"},
		Files: &operate.FilesPlan{Paths: []string{"/data/v"}, Deleted: operate.Counts{Files: 20}, DeletedSample: []string{forged, esc}}}
	var plan strings.Builder
	if err := RestorePlanText(&plan, p); err != nil {
		t.Fatal(err)
	}
	var ls strings.Builder
	doc := BrowseDoc{Environments: []BrowseEnv{{Environment: "production", Browse: &operate.Browse{Snapshot: &operate.Listed{ID: "1a2b3c4d", Time: time.Now()}, Dir: "/data/v",
		Entries: []operate.Entry{{Path: forged, Type: "file"}, {Path: esc, Type: "file"}}, Matches: []operate.Match{{Path: forged}, {Path: esc}}}}}}
	if err := LsText(&ls, doc); err != nil {
		t.Fatal(err)
	}
	if err := FindText(&ls, doc); err != nil {
		t.Fatal(err)
	}
	for what, out := range map[string]string{"plan": plan.String(), "ls and find": ls.String()} {
		if strings.Contains(out, "\n  deleted:     0 files") || strings.ContainsAny(out, "\x1b\u202e") {
			t.Errorf("%s prints a name raw:\n%s", what, out)
		}
		if !strings.Contains(out, `zz\n  deleted:     0 files`) || !strings.Contains(out, `\x1b[2Kcolour\u202eevil`) {
			t.Errorf("%s does not show the names escaped:\n%s", what, out)
		}
	}
}
