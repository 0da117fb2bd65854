package yamlpatch

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const lookupSrc = `x-base: &base
  image: restic/restic:0.16
  env: {A: "1"}
services:
  web:
    port: 3000
    enabled: true
    empty:
    tilde: ~
  # hand-written note
  # managed by devopsellence-backup
  backup:
    <<: *base
    command: [sh, -lc, sleep infinity]
  alias: *base
environments:
  staging: {services: {backup: {image: x}}}
`

func TestLookupResolvesAliasesMergesAndScalars(t *testing.T) {
	d, err := Parse([]byte(lookupSrc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		want Entry
	}{
		{[]string{"services", "web", "port"}, Entry{Value: Scalar("3000"), Line: 6}},
		{[]string{"services", "web", "enabled"}, Entry{Value: Scalar("true"), Line: 7}},
		{[]string{"services", "web", "empty"}, Entry{Value: Scalar(""), Line: 8}},
		{[]string{"services", "web", "tilde"}, Entry{Value: Scalar(""), Line: 9}},
		{[]string{"services", "backup"}, Entry{
			Value: Map{
				{Key: "command", Value: List{Scalar("sh"), Scalar("-lc"), Scalar("sleep infinity")}},
				{Key: "image", Value: Scalar("restic/restic:0.16")},
				{Key: "env", Value: Map{{Key: "A", Value: Scalar("1")}}},
			},
			Comment: "hand-written note\nmanaged by devopsellence-backup",
			Line:    12,
		}},
		{[]string{"services", "alias", "image"}, Entry{Value: Scalar("restic/restic:0.16"), Line: 2}},
		{[]string{"services", "backup", "image"}, Entry{Value: Scalar("restic/restic:0.16"), Line: 2}},
		{[]string{"environments", "staging"}, Entry{
			Value: Map{{Key: "services", Value: Map{{Key: "backup", Value: Map{{Key: "image", Value: Scalar("x")}}}}}},
			Line:  17,
			Flow:  true,
		}},
		{[]string{"environments", "staging", "services", "backup", "image"}, Entry{Value: Scalar("x"), Line: 17}},
	}
	for _, tc := range tests {
		got, ok := d.Lookup(tc.path...)
		if !ok {
			t.Errorf("lookup %v: absent", tc.path)
			continue
		}
		if !Equal(got.Value, tc.want.Value) || got.Comment != tc.want.Comment || got.Line != tc.want.Line || got.Flow != tc.want.Flow {
			t.Errorf("lookup %v:\n got %#v\nwant %#v", tc.path, got, tc.want)
		}
	}
	for _, p := range [][]string{{"services", "db"}, {"services", "web", "port", "x"}, {"nope"}, {}} {
		if got, ok := d.Lookup(p...); ok {
			t.Errorf("lookup %v: got %#v, want absent", p, got)
		}
	}
}

func TestKeysListsKeysInFileOrder(t *testing.T) {
	d, err := Parse([]byte(lookupSrc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path []string
		want []string
	}{
		{nil, []string{"x-base", "services", "environments"}},
		{[]string{"services"}, []string{"web", "backup", "alias"}},
		{[]string{"services", "backup"}, []string{"command", "image", "env"}},
		{[]string{"environments", "staging", "services"}, []string{"backup"}},
		{[]string{"services", "web", "port"}, nil},
		{[]string{"nope"}, nil},
	}
	for _, tc := range tests {
		if got := d.Keys(tc.path...); !slices.Equal(got, tc.want) {
			t.Errorf("keys %v = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestEqualIgnoresMapKeyOrderButNotListOrder(t *testing.T) {
	a := Map{{Key: "a", Value: Scalar("1")}, {Key: "b", Value: List{Scalar("x"), Scalar("y")}}}
	b := Map{{Key: "b", Value: List{Scalar("x"), Scalar("y")}}, {Key: "a", Value: Scalar("1")}}
	c := Map{{Key: "a", Value: Scalar("1")}, {Key: "b", Value: List{Scalar("y"), Scalar("x")}}}
	if !Equal(a, b) {
		t.Error("maps with the same keys in another order are not equal")
	}
	if Equal(a, c) {
		t.Error("lists in another order are equal")
	}
	if Equal(Scalar(""), nil) || Equal(Map{}, List{}) || !Equal(nil, nil) {
		t.Error("values of different kinds compare wrong")
	}
}

func TestStyleDetectsIndentSequencesAndLineEnding(t *testing.T) {
	tests := []struct {
		src  string
		want Style
	}{
		{"a:\n  b: 1\n", Style{Indent: 2, IndentSequences: true, LineEnding: "\n"}},
		{"a:\n    b:\n        c: 1\n    l:\n    - x\n", Style{Indent: 4, IndentSequences: false, LineEnding: "\n"}},
		{"a:\r\n   b: 1\r\n   l:\r\n      - x\r\n", Style{Indent: 3, IndentSequences: true, LineEnding: "\r\n"}},
		{"a: 1", Style{Indent: 2, IndentSequences: true, LineEnding: "\n"}},
	}
	for _, tc := range tests {
		d, err := Parse([]byte(tc.src))
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Style(); got != tc.want {
			t.Errorf("style of %q = %+v, want %+v", tc.src, got, tc.want)
		}
	}
}

func TestRootReturnsTheDocumentForDecoding(t *testing.T) {
	d, err := Parse([]byte("project: shop\nservices: {web: {image: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Project  string
		Services map[string]struct{ Image string }
	}
	if err := d.Root().Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Project != "shop" || cfg.Services["web"].Image != "x" {
		t.Errorf("decoded %+v", cfg)
	}
}

func TestRenderWritesTheEntryInTheGivenStyle(t *testing.T) {
	e := Edit{Path: []string{"services", "backup"}, Comment: MarkerPrefix, Value: Map{
		{Key: "command", Value: List{Scalar("sh"), Scalar("-lc"), Scalar("sleep infinity")}},
		{Key: "env", Value: Map{{Key: "N", Value: Scalar("1")}}},
	}}
	got, err := Style{Indent: 4, LineEnding: "\r\n"}.Render(e)
	if err != nil {
		t.Fatal(err)
	}
	want := "services:\r\n    # managed by devopsellence-backup\r\n    backup:\r\n        command:\r\n        - sh\r\n" +
		"        - -lc\r\n        - sleep infinity\r\n        env:\r\n            N: \"1\"\r\n"
	if string(got) != want {
		t.Errorf("render:\n got %q\nwant %q", got, want)
	}
	got, err = Style{}.Render(Edit{Path: []string{"a"}, Value: Scalar("x\ny")})
	if err != nil || string(got) != "a: |-\n  x\n  y\n" {
		t.Errorf("render with the zero style = %q, %v", got, err)
	}
	if _, err := (Style{}).Render(Edit{Path: []string{"a"}}); err == nil {
		t.Error("rendering a delete succeeded")
	}
}

// TestKeysCommentedFindsTheKeysWhoseCommentHoldsTheText: the same keys as
// Keys filtered by Comment, in every mapping of every fixture, for texts
// that are in comments, in keys and values, and nowhere.
func TestKeysCommentedFindsTheKeysWhoseCommentHoldsTheText(t *testing.T) {
	srcs := map[string][]byte{"lookup": []byte(lookupSrc)}
	inputs, _ := filepath.Glob(filepath.Join(fixtures, "*", "input.yml"))
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		srcs[in] = b
	}
	for name, src := range srcs {
		d, err := Parse(src)
		if err != nil {
			continue // fixtures of refusals
		}
		var paths [][]string
		var walk func(path []string)
		walk = func(path []string) {
			paths = append(paths, path)
			for _, k := range d.Keys(path...) {
				if len(path) < 4 {
					walk(append(slices.Clone(path), k))
				}
			}
		}
		walk(nil)
		for _, text := range []string{MarkerPrefix, "managed", "hand-written", "image", "e", "no such text"} {
			for _, path := range paths {
				var want []string
				for _, k := range d.Keys(path...) {
					if c, _ := d.Comment(append(slices.Clone(path), k)...); strings.Contains(c, text) {
						want = append(want, k)
					}
				}
				if got := d.KeysCommented(text, path...); !slices.Equal(got, want) {
					t.Errorf("%s: KeysCommented(%q, %v) = %q, want %q", name, text, path, got, want)
				}
			}
		}
	}
}
