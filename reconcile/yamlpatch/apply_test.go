package yamlpatch

import (
	"bytes"
	"strings"
	"testing"
)

func TestApplyEditsInPlace(t *testing.T) {
	img := func(s string) Map { return Map{{Key: "image", Value: Scalar(s)}} }
	tests := []struct {
		name  string
		src   string
		edits []Edit
		want  string
	}{
		{
			name:  "an entry that already holds the value and comment is left as it is",
			src:   "services:\n  # managed by devopsellence-backup\n  backup: {image: \"x\"}  # mine\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("x"), Comment: MarkerPrefix}},
			want:  "services:\n  # managed by devopsellence-backup\n  backup: {image: \"x\"}  # mine\n",
		},
		{
			name:  "a number is rewritten as the wanted string",
			src:   "services:\n  backup:\n    image: 3000\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("3000")}},
			want:  "services:\n  backup:\n    image: \"3000\"\n",
		},
		{
			name:  "a new comment replaces the old marker line",
			src:   "services:\n  # note\n  # managed by devopsellence-backup v1\n  backup:\n    image: x\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("x"), Comment: MarkerPrefix + " v2"}},
			want:  "services:\n  # note\n  # managed by devopsellence-backup v2\n  backup:\n    image: x\n",
		},
		{
			name:  "an edit without a comment removes the marker and keeps notes",
			src:   "services:\n  # managed by devopsellence-backup\n  # note\n  backup:\n    image: x\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("y")}},
			want:  "services:\n  # note\n  backup:\n    image: y\n",
		},
		{
			name:  "an insert into a flow mapping without a comment stays on its line",
			src:   "services: {web: {image: w}}\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("x")}},
			want:  "services: {web: {image: w}, backup: {image: x}}\n",
		},
		{
			name:  "an insert into an empty flow mapping goes inside the braces",
			src:   "services: {}\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("x")}},
			want:  "services: {backup: {image: x}}\n",
		},
		{
			name:  "removing the entry after a key that ends with a colon keeps the comma that makes it a key",
			src:   "services: {000000:,\nbackup}",
			edits: []Edit{{Path: []string{"services", "backup"}}},
			want:  "services: {000000:,\n}",
		},
		{
			name:  "a flow sequence running over a less indented line does not end the document",
			src:   " 0: \n  0: [0\r]\n  0:",
			edits: []Edit{{Path: []string{"environments", "x"}, Value: img("x")}},
			want:  " 0: \n  0: [0\r]\n  0:\n environments:\n  x:\n   image: x",
		},
		{
			name:  "an insert into a flow mapping with a trailing comma adds no comma",
			src:   "services: {web: w,}\n",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("x")}},
			want:  "services: {web: w, backup: {image: x}}\n",
		},
		{
			name:  "an insert into a flow root creates its parents in flow style",
			src:   "{project: shop}",
			edits: []Edit{{Path: []string{"services", "backup"}, Value: img("x"), Comment: MarkerPrefix}},
			want:  "{project: shop, services: {\n    # managed by devopsellence-backup\n    backup: {image: x}}}",
		},
		{
			name:  "deleting the last flow entry removes the comma before it",
			src:   "services: {web: w, backup: {image: x}}\n",
			edits: []Edit{{Path: []string{"services", "backup"}}},
			want:  "services: {web: w}\n",
		},
		{
			name:  "deleting a middle flow entry removes the comma after it",
			src:   "services: {web: w, backup: {image: x}, worker: k}\n",
			edits: []Edit{{Path: []string{"services", "backup"}}},
			want:  "services: {web: w, worker: k}\n",
		},
		{
			name:  "deleting the only flow entry deletes the emptied parent",
			src:   "a: 1\nservices: {backup: x}\nb: 2\n",
			edits: []Edit{{Path: []string{"services", "backup"}}},
			want:  "a: 1\nb: 2\n",
		},
		{
			name:  "deleting an absent entry changes nothing",
			src:   "services:\n  web: {}\n",
			edits: []Edit{{Path: []string{"services", "backup"}}, {Path: []string{"environments", "x", "services", "backup"}}},
			want:  "services:\n  web: {}\n",
		},
		{
			name: "deleting two entries that empty their parent deletes the parent",
			src:  "env:\n  s:\n    a: 1\n    b: 2\nkeep: 1\n",
			edits: []Edit{
				{Path: []string{"env", "s", "a"}},
				{Path: []string{"env", "s", "b"}},
			},
			want: "keep: 1\n",
		},
		{
			name: "an insert keeps a parent that deletes would empty",
			src:  "env:\n  s:\n    a: 1\nkeep: 1\n",
			edits: []Edit{
				{Path: []string{"env", "s", "a"}},
				{Path: []string{"env", "s", "b"}, Value: Scalar("2")},
			},
			want: "env:\n  s:\n    b: \"2\"\nkeep: 1\n",
		},
		{
			name:  "a deleted last entry of a file without a final line break leaves none",
			src:   "a: 1\nb: 2",
			edits: []Edit{{Path: []string{"b"}}},
			want:  "a: 1",
		},
		{
			name:  "a deleted entry after a block scalar at the end keeps that scalar's line break",
			src:   "a: |\n  x\nb: 2",
			edits: []Edit{{Path: []string{"b"}}},
			want:  "a: |\n  x\n",
		},
		{
			name:  "a literal block at the end of a file without a final line break is quoted",
			src:   "a: 1",
			edits: []Edit{{Path: []string{"b"}, Value: Scalar("x\n")}},
			want:  "a: 1\nb: \"x\\n\"",
		},
		{
			name:  "a literal block followed by indented comments is quoted",
			src:   "a:\n  b: 1\n      # deep comment\nc: 1\n",
			edits: []Edit{{Path: []string{"a", "b"}, Value: Scalar("x\ny")}},
			want:  "a:\n  b: \"x\\ny\"\n      # deep comment\nc: 1\n",
		},
		{
			name:  "an entry whose keep block scalar ends the mapping gets new entries after its empty lines",
			src:   "a:\n  b: |+\n    x\n\nc: 1\n",
			edits: []Edit{{Path: []string{"a", "d"}, Value: Scalar("y")}},
			want:  "a:\n  b: |+\n    x\n\n  d: y\nc: 1\n",
		},
		{
			name:  "a key with a tagged null value gets the new mapping below it",
			src:   "environments: !!null # later\nx: 1\n",
			edits: []Edit{{Path: []string{"environments", "s"}, Value: Scalar("v")}},
			want:  "environments: # later\n  s: v\nx: 1\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(tc.src), tc.edits...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", got, tc.want)
			}
			if err := checkProperties([]byte(tc.src), tc.edits, got); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestApplyReturnsANewSliceEvenWhenNothingChanges(t *testing.T) {
	src := []byte("a: 1\n")
	d, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Apply()
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("apply = %q, %v", got, err)
	}
	got[0] = 'b'
	if again, _ := d.Apply(); !bytes.Equal(again, src) {
		t.Errorf("changing one result changed the next: %q", again)
	}
}

func TestApplyRejectsEditsItCannotMakeExactly(t *testing.T) {
	img := Map{{Key: "image", Value: Scalar("x")}}
	tests := []struct {
		name  string
		src   string
		edits []Edit
		want  string
	}{
		{"a source that does not parse", "a: [1\n", []Edit{{Path: []string{"a"}}}, "parse yaml: yaml: line"},
		{"a document that is not a mapping", "- a\n- b\n", nil, "parse yaml: line 1: document is a sequence, want a mapping"},
		{"an empty document", "# nothing\n", nil, "parse yaml: document is empty"},
		{"a path through a sequence", "services:\n  - web\n", []Edit{{Path: []string{"services", "backup"}, Value: img}},
			"edit services.backup: services (line 1) is a sequence, want a mapping"},
		{"a path through a scalar", "environments: production\n", []Edit{{Path: []string{"environments", "x", "services"}, Value: img}},
			"edit environments.x.services: environments (line 1) is a scalar, want a mapping"},
		{"a path through an alias", "base: &b {x: 1}\nservices: *b\n", []Edit{{Path: []string{"services", "backup"}, Value: img}},
			"edit services.backup: services (line 2) is an alias of the node at line 1; edit that node instead"},
		{"a mapping that an alias repeats", "services: &s\n  web: {}\nother: *s\n", []Edit{{Path: []string{"services", "backup"}, Value: img}},
			"edit services.backup: the mapping at line 1 has anchor &s, used by the alias at line 3"},
		{"an entry that defines an anchor used elsewhere", "services:\n  backup: &b {image: y}\n  web: *b\n",
			[]Edit{{Path: []string{"services", "backup"}, Value: img}},
			"edit services.backup: the anchor &b at line 2 is used by the alias at line 3"},
		{"a key that comes from a merge key", "base: &b {backup: {}}\nservices:\n  <<: *b\n", []Edit{{Path: []string{"services", "backup", "image"}, Value: Scalar("x")}},
			"edit services.backup.image: services.backup comes from a merge key (<<), from line 1; edit it there"},
		{"a delete that a merge key undoes", "base: &b {backup: {}}\nservices:\n  <<: *b\n  backup: {}\n", []Edit{{Path: []string{"services", "backup"}}},
			"edit services.backup: a merge key (<<) would still provide backup, from line 1"},
		{"a duplicate key", "services:\n  backup: {}\n  backup: {}\n", []Edit{{Path: []string{"services", "backup"}, Value: img}},
			"edit services.backup: services.backup is defined twice, at lines 2 and 3"},
		{"overlapping edits", "a: 1\n", []Edit{{Path: []string{"s"}, Value: img}, {Path: []string{"s", "b"}, Value: img}},
			"edit s.b: overlaps the edit of s"},
		{"an empty path", "a: 1\n", []Edit{{Value: img}}, "edit 1: empty path"},
		{"a comment on two lines", "a: 1\n", []Edit{{Path: []string{"b"}, Value: img, Comment: "x\ny"}},
			`edit b: comment "x\ny" must be one line of printable text`},
		{"invalid UTF-8", "a: 1\n", []Edit{{Path: []string{"b"}, Value: Scalar("\xff")}}, `edit b: value "\xff" is not valid UTF-8`},
		{"a nil value in a map", "a: 1\n", []Edit{{Path: []string{"b"}, Value: Map{{Key: "c"}}}}, `edit b: value of key "c" is nil`},
		{"a delete that empties the document", "services:\n  backup: {}\n", []Edit{{Path: []string{"services", "backup"}}},
			"edit: the deletes would leave the document empty"},
		{"an explicit key", "? services\n: {}\n? backup\n: {}\n", []Edit{{Path: []string{"backup"}, Value: img}},
			"edit backup: the key at line 3 does not start its line (explicit ? keys are not supported)"},
		{"an append after a block scalar at the end of a file without a final line break", "a: |\n  x",
			[]Edit{{Path: []string{"b"}, Value: img}},
			"edit (root): cannot add entries after the block scalar ending at line 2"},
		{"utf-16 input", "\xff\xfea\x00:\x00", nil, "parse yaml: utf-16 input is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply([]byte(tc.src), tc.edits...)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %v, want prefix %q", err, tc.want)
			}
		})
	}
}
