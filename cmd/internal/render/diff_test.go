package render

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$`)

// checkUnified fails unless diff, read as a patch, turns before into after,
// with every hunk's old and new line numbers and counts right.
func checkUnified(t *testing.T, diff string, before, after []byte) {
	t.Helper()
	old, new := splitKeep(string(before)), splitKeep(string(after))
	lines := strings.SplitAfter(diff, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "--- ") || !strings.HasPrefix(lines[1], "+++ ") {
		t.Fatalf("no diff header:\n%s", diff)
	}
	var rebuilt []string
	oldPos := 0
	for i := 2; i < len(lines) && lines[i] != ""; {
		m := hunkHeader.FindStringSubmatch(strings.TrimSuffix(lines[i], "\n"))
		if m == nil {
			t.Fatalf("line %d is no hunk header: %q\n%s", i+1, lines[i], diff)
		}
		num := func(s string, def int) int {
			if s == "" {
				return def
			}
			n, _ := strconv.Atoi(s)
			return n
		}
		from, fromCount, to, toCount := num(m[1], 0), num(m[2], 1), num(m[3], 0), num(m[4], 1)
		rebuilt = append(rebuilt, old[oldPos:from-1]...)
		if len(rebuilt) != to-1 {
			t.Fatalf("hunk %q starts at new line %d, want %d\n%s", lines[i], to, len(rebuilt)+1, diff)
		}
		oldPos = from - 1
		gotFrom, gotTo := 0, 0
		for i++; i < len(lines) && lines[i] != "" && !strings.HasPrefix(lines[i], "@@"); i++ {
			kind, text := lines[i][0], lines[i][1:]
			switch kind {
			case ' ', '-':
				if oldPos >= len(old) || old[oldPos] != text {
					t.Fatalf("%q is not old line %d\n%s", lines[i], oldPos+1, diff)
				}
				oldPos++
				gotFrom++
				if kind == ' ' {
					rebuilt = append(rebuilt, text)
					gotTo++
				}
			case '+':
				rebuilt = append(rebuilt, text)
				gotTo++
			default:
				t.Fatalf("unexpected diff line %q", lines[i])
			}
		}
		if gotFrom != fromCount || gotTo != toCount {
			t.Fatalf("hunk -%d,%d +%d,%d has %d old and %d new lines\n%s", from, fromCount, to, toCount, gotFrom, gotTo, diff)
		}
	}
	rebuilt = append(rebuilt, old[oldPos:]...)
	if strings.Join(rebuilt, "") != strings.Join(new, "") {
		t.Fatalf("the diff does not turn before into after:\n%s", diff)
	}
}

// bodies drops the @@ lines, which go-udiff numbers wrongly after a hunk that
// joins two edits; everything else must be the same.
func bodies(diff string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(diff, "\n") {
		if strings.HasPrefix(l, "@@") {
			l = strings.SplitN(l, " +", 2)[0] + "\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

func TestTheSpanDiffOfEveryFixtureAppIsTheWholeFileDiff(t *testing.T) {
	dirs, err := filepath.Glob("../../../fixtures/apps/*/devopsellence.backup.yml")
	if err != nil || len(dirs) < 10 {
		t.Fatalf("fixture apps: %v %v", dirs, err)
	}
	spanned := 0
	for _, specPath := range dirs {
		dir := filepath.Dir(specPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p := planOf(t, dir)
			if p == nil || bytes.Equal(p.Before, p.After) {
				return
			}
			whole := udiff.Unified(p.ConfigFile, p.ConfigFile+" (planned)", string(p.Before), string(p.After))
			got, ok := spanDiff(p.ConfigFile, p.ConfigFile+" (planned)", p.Before, p.After, p.Spans)
			if !ok {
				if endsWithBreak(p.Before) && endsWithBreak(p.After) {
					t.Fatalf("the spans %+v were refused", p.Spans)
				}
				return
			}
			spanned++
			// go-udiff misnumbers the new-file start of a hunk after one
			// that joins two edits; the span diff numbers it right. So the
			// hunks must be the same, and the span diff's numbers add up.
			if withoutNewStarts(got) != withoutNewStarts(whole) {
				t.Errorf("span diff:\n%s\nwhole-file diff:\n%s", got, whole)
			}
			checkUnified(t, got, p.Before, p.After)
			if Diff(p) != got {
				t.Error("Diff does not print the span diff")
			}
		})
	}
	if spanned < 8 {
		t.Errorf("only %d fixtures were diffed by span", spanned)
	}
}

// planOf plans a fixture app as `plan` does, or returns nil for one whose
// plan is refused.
func planOf(t *testing.T, dir string) *reconcile.Plan {
	t.Helper()
	b, err := spec.Load(filepath.Join(dir, spec.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "devopsellence.yml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app, err := reconcile.ReadApp(doc.Root(), b.ServiceName())
	if err != nil {
		t.Fatal(err)
	}
	d, err := reconcile.Desire(b, app, spec.DefaultFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := reconcile.Diff(d, &reconcile.Observed{ConfigFile: "devopsellence.yml", Config: cfg, Doc: doc, App: app}, nil)
	var conflict *reconcile.ConflictError
	if errors.As(err, &conflict) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randomConfig is a devopsellence.yml with n services and overlays.
func randomConfig(r *rand.Rand, n int) []byte {
	var b strings.Builder
	b.WriteString("schema_version: 1\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  # service %d\n  svc%d:\n    image: app:%d\n", i, i, r.IntN(3))
		if r.IntN(2) == 0 {
			b.WriteString("    env:\n      MODE: worker\n")
		}
		if r.IntN(3) == 0 {
			b.WriteString("\n")
		}
	}
	b.WriteString("environments:\n  staging:\n    services:\n")
	for i := range n {
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "      svc%d:\n        image: app:%d\n", i, r.IntN(3))
		}
	}
	return []byte(b.String())
}

func TestTheSpanDiffIsACorrectDiffWithTheWholeFileDiffsHunks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rounds, same := 0, 0
	for round := range 300 {
		n := 3 + r.IntN(40)
		before := randomConfig(r, n)
		doc, err := yamlpatch.Parse(before)
		if err != nil {
			t.Fatal(err)
		}
		var edits []yamlpatch.Edit
		used := map[string]bool{}
		for range 1 + r.IntN(4) {
			path := []string{"services", "svc" + strconv.Itoa(r.IntN(n+3))}
			if r.IntN(3) == 0 {
				path = []string{"environments", "staging", "services", path[1]}
			}
			if used[strings.Join(path, ".")] {
				continue
			}
			used[strings.Join(path, ".")] = true
			e := yamlpatch.Edit{Path: path}
			switch r.IntN(3) {
			case 0: // delete
			case 1:
				e.Value = yamlpatch.Map{{Key: "image", Value: yamlpatch.Scalar("app:" + strconv.Itoa(r.IntN(3)))}}
			default:
				e.Value = yamlpatch.Map{{Key: "image", Value: yamlpatch.Scalar("app:1")}, {Key: "env", Value: yamlpatch.Map{{Key: "MODE", Value: yamlpatch.Scalar("worker")}}}}
				e.Comment = "managed"
			}
			edits = append(edits, e)
		}
		after, spans, err := doc.ApplySpans(edits...)
		if err != nil {
			continue // an edit this layout cannot take; not what this test is about
		}
		if bytes.Equal(before, after) {
			continue
		}
		got, ok := spanDiff("a", "b", before, after, spans)
		if !ok {
			t.Fatalf("round %d: the spans %+v were refused", round, spans)
		}
		checkUnified(t, got, before, after)
		// Where a change can slide (an inserted entry that ends like the
		// one before it), the line diff of a region may place it
		// differently from a diff of the whole files; it is never longer.
		whole := udiff.Unified("a", "b", string(before), string(after))
		if bodies(got) == bodies(whole) {
			same++
		}
		if changed(got) > changed(whole) {
			t.Errorf("round %d: the span diff changes more lines than the whole-file diff\nspan diff:\n%s\nwhole-file diff:\n%s", round, got, whole)
		}
		rounds++
	}
	if rounds < 200 || same < rounds*9/10 {
		t.Errorf("%d of %d span diffs have the whole-file diff's hunks", same, rounds)
	}
}

// changed counts a diff's removed and added lines.
func changed(diff string) int {
	n := 0
	for _, l := range strings.SplitAfter(diff, "\n") {
		if (strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+")) && !strings.HasPrefix(l, "---") && !strings.HasPrefix(l, "+++") {
			n++
		}
	}
	return n
}

func TestSpansThatDoNotExplainTheChangeAreRefused(t *testing.T) {
	before := []byte("a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 10\n")
	after := []byte("a: 1\nb: 2\nc: 3\nd: 4\ne: 5\nf: 6\ng: 7\nh: 8\ni: 9\nj: 11\n")
	// The real change is the last line; a span over the first says otherwise.
	if _, ok := spanDiff("a", "b", before, after, []yamlpatch.Span{{Start: 0, End: 5, NewStart: 0, NewEnd: 5}}); ok {
		t.Error("a span that misses a change was trusted")
	}
	if _, ok := spanDiff("a", "b", before, after, []yamlpatch.Span{{Start: 50, End: 70, NewStart: 0, NewEnd: 5}}); ok {
		t.Error("a span out of bounds was trusted")
	}
	if _, ok := spanDiff("a", "b", before, after, nil); ok {
		t.Error("no spans were trusted")
	}
	p := &reconcile.Plan{ConfigFile: "devopsellence.yml", Before: before, After: after,
		Spans: []yamlpatch.Span{{Start: 0, End: 5, NewStart: 0, NewEnd: 5}}}
	if got, want := Diff(p), udiff.Unified("devopsellence.yml", "devopsellence.yml (planned)", string(before), string(after)); got != want {
		t.Errorf("Diff did not fall back to the whole-file diff:\n%s", got)
	}
}

func TestHunksAfterAJoinedHunkKeepTheirNewLineNumbers(t *testing.T) {
	var before, after strings.Builder
	for i := range 120 {
		fmt.Fprintf(&before, "l%d\n", i)
		if i == 10 {
			after.WriteString("inserted\n")
		}
		if i != 14 {
			fmt.Fprintf(&after, "l%d\n", i)
		}
		if i == 100 {
			after.WriteString("inserted too\n")
		}
	}
	b, a := []byte(before.String()), []byte(after.String())
	at := func(s []byte, text string) int { return bytes.Index(s, []byte(text)) }
	spans := []yamlpatch.Span{
		{Start: at(b, "l10\n"), End: at(b, "l10\n"), NewStart: at(a, "inserted\n"), NewEnd: at(a, "l10\n")},
		{Start: at(b, "l14\n"), End: at(b, "l15\n"), NewStart: at(a, "l15\n"), NewEnd: at(a, "l15\n")},
		{Start: at(b, "l101\n"), End: at(b, "l101\n"), NewStart: at(a, "inserted too\n"), NewEnd: at(a, "l101\n")},
	}
	got, ok := spanDiff("a", "b", b, a, spans)
	if !ok {
		t.Fatal("refused")
	}
	checkUnified(t, got, b, a)
	if !strings.Contains(got, "\n@@ -99,6 +99,7 @@\n") {
		t.Errorf("the second hunk's new line is wrong:\n%s", got)
	}
}

var headerNewStart = regexp.MustCompile(`(?m)^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$`)

func withoutNewStarts(diff string) string {
	return headerNewStart.ReplaceAllString(diff, "@@ -$1,$2 +N,$4 @@")
}
