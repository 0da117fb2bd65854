package yamlpatch

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkProperties checks what every successful Apply must guarantee: input
// bytes outside the edited entries are kept, applying again changes nothing,
// the output decodes to the input's data plus the edits, and Lookup sees the
// edited values and comments.
func checkProperties(in []byte, edits []Edit, out []byte) error {
	again, err := Apply(out, edits...)
	if err != nil {
		return fmt.Errorf("applying again: %w", err)
	}
	var errs []error
	if !bytes.Equal(again, out) {
		errs = append(errs, fmt.Errorf("applying again changed the output:\n%s\n--- to:\n%s", out, again))
	}
	errs = append(errs, checkDecoded(in, edits, out), checkLookup(out, edits), checkPreserved(in, edits, out), checkSpans(in, edits, out))
	return errors.Join(errs...)
}

// checkSpans rebuilds the output from the input and the spans ApplySpans
// reports: outside them, the output must be the input's bytes.
func checkSpans(in []byte, edits []Edit, out []byte) error {
	d, err := Parse(in)
	if err != nil {
		return fmt.Errorf("parse again: %w", err)
	}
	got, spans, err := d.ApplySpans(edits...)
	if err != nil || !bytes.Equal(got, out) {
		return fmt.Errorf("ApplySpans differs from Apply: %v", err)
	}
	var rebuilt []byte
	pos := 0
	for i, s := range spans {
		if s.Start < pos || s.End < s.Start || s.NewEnd < s.NewStart || s.NewEnd > len(out) {
			return fmt.Errorf("span %d %+v is out of order or bounds (after %d)", i, s, pos)
		}
		if s.NewStart != len(rebuilt)+s.Start-pos {
			return fmt.Errorf("span %d %+v starts at %d in the output, want %d", i, s, s.NewStart, len(rebuilt)+s.Start-pos)
		}
		rebuilt = append(append(rebuilt, in[pos:s.Start]...), out[s.NewStart:s.NewEnd]...)
		pos = s.End
	}
	if rebuilt = append(rebuilt, in[pos:]...); !bytes.Equal(rebuilt, out) {
		return fmt.Errorf("the spans %+v do not cover every change:\n%q\nrebuilt:\n%q", spans, out, rebuilt)
	}
	return nil
}

// checkDecoded compares the decoded output with the decoded input changed by
// the edits, by an independent model of the edits on plain Go data. An input
// that yaml.v3 cannot decode into map[string]any is not checked.
func checkDecoded(in []byte, edits []Edit, out []byte) error {
	var before, after map[string]any
	if yaml.Unmarshal(in, &before) != nil || before == nil {
		return nil
	}
	if err := yaml.Unmarshal(out, &after); err != nil {
		return fmt.Errorf("the output does not decode: %w\n%s", err, out)
	}
	want := copyData(before).(map[string]any)
	for _, e := range edits {
		if e.Value == nil {
			if !deleteData(want, e.Path) {
				return nil
			}
		}
	}
	for _, e := range edits {
		if e.Value != nil && !setData(want, e.Path, toData(e.Value)) {
			return nil
		}
	}
	if !reflect.DeepEqual(want, after) {
		return fmt.Errorf("decoded output differs from the decoded input with the edits:\nwant %#v\n got %#v\noutput:\n%s", want, after, out)
	}
	return nil
}

func copyData(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = copyData(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = copyData(x)
		}
		return l
	}
	return v
}

func toData(v Value) any {
	switch v := v.(type) {
	case Scalar:
		return string(v)
	case List:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = toData(x)
		}
		return l
	case Map:
		m := make(map[string]any, len(v))
		for _, f := range v {
			m[f.Key] = toData(f.Value)
		}
		return m
	}
	return nil
}

// setData sets path in m, creating mappings; false when the path crosses
// something that is not a map[string]any.
func setData(m map[string]any, path []string, v any) bool {
	for _, k := range path[:len(path)-1] {
		switch next := m[k].(type) {
		case nil:
			n := map[string]any{}
			m[k], m = n, n
		case map[string]any:
			m = next
		default:
			return false
		}
	}
	m[path[len(path)-1]] = v
	return true
}

// deleteData deletes path from m, and the mappings that become empty, except
// the root.
func deleteData(m map[string]any, path []string) bool {
	chain := []map[string]any{m}
	for _, k := range path[:len(path)-1] {
		next, ok := chain[len(chain)-1][k].(map[string]any)
		if !ok {
			return chain[len(chain)-1][k] == nil
		}
		chain = append(chain, next)
	}
	last := chain[len(chain)-1]
	if _, ok := last[path[len(path)-1]]; !ok {
		return true
	}
	delete(last, path[len(path)-1])
	for i := len(chain) - 1; i > 0 && len(chain[i]) == 0; i-- {
		delete(chain[i-1], path[i-1])
	}
	return true
}

// checkLookup checks that Lookup on the output finds every set value with
// its comment directly above its key, and no deleted entry.
func checkLookup(out []byte, edits []Edit) error {
	d, err := Parse(out)
	if err != nil {
		return fmt.Errorf("the output does not parse: %w", err)
	}
	for _, e := range edits {
		got, ok := d.Lookup(e.Path...)
		switch {
		case e.Value == nil && ok:
			return fmt.Errorf("lookup %s: still present at line %d", pathString(e.Path), got.Line)
		case e.Value == nil:
		case !ok:
			return fmt.Errorf("lookup %s: absent", pathString(e.Path))
		case !Equal(got.Value, e.Value):
			return fmt.Errorf("lookup %s: got %#v, want %#v", pathString(e.Path), got.Value, e.Value)
		case e.Comment != "" && !strings.HasSuffix("\n"+got.Comment, "\n"+e.Comment):
			return fmt.Errorf("lookup %s: comment %q does not end with %q", pathString(e.Path), got.Comment, e.Comment)
		case e.Comment == "" && strings.Contains(got.Comment, MarkerPrefix):
			return fmt.Errorf("lookup %s: comment %q still has the marker", pathString(e.Path), got.Comment)
		}
	}
	return nil
}

// testLines splits src into lines without their line breaks, so that a line
// that loses its final break at the end of a file still counts as kept.
func testLines(src []byte) []string {
	return lineBreak.Split(string(bytes.TrimPrefix(src, bom)), -1)
}

// lineBreak matches the line breaks of YAML 1.1, which yaml.v3 follows.
var lineBreak = regexp.MustCompile("\r\n|\r|\n|\u0085|\u2028|\u2029")

// checkPreserved checks that every input line outside the edited entries is
// in the output, in order. It matches lines with a longest common
// subsequence and computes the edited entries' lines from yaml.v3 node
// positions on its own: from the comment lines above the key to the next key
// after the entry.
func checkPreserved(in []byte, edits []Edit, out []byte) error {
	a, b := testLines(in), testLines(out)
	if len(a)*len(b) > 4_000_000 {
		return nil
	}
	allowed, err := editedLines(in, a, edits, out)
	if err != nil {
		return err
	}
	kept := lcs(a, b)
	for i, l := range a {
		if !kept[i] && !allowed[i] {
			return fmt.Errorf("input line %d %q is not in the output, and not in an edited entry:\n%s", i+1, l, out)
		}
	}
	return nil
}

// lcs reports which lines of a belong to a longest common subsequence of a
// and b.
func lcs(a, b []string) []bool {
	n, m := len(a), len(b)
	t := make([][]int32, n+1)
	for i := range t {
		t[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				t[i][j] = t[i+1][j+1] + 1
			} else {
				t[i][j] = max(t[i+1][j], t[i][j+1])
			}
		}
	}
	kept := make([]bool, n)
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case a[i] == b[j]:
			kept[i] = true
			i++
			j++
		case t[i+1][j] >= t[i][j+1]:
			i++
		default:
			j++
		}
	}
	return kept
}

// editedLines returns the input lines an edit may change.
func editedLines(in []byte, lines []string, edits []Edit, out []byte) (map[int]bool, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(in, &doc); err != nil {
		return nil, err
	}
	root := doc.Content[0]
	outDoc, err := Parse(out)
	if err != nil {
		return nil, err
	}
	allowed := map[int]bool{}
	allow := func(from, to int) {
		for l := from; l < to; l++ {
			allowed[l] = true
		}
	}
	for _, e := range edits {
		type step struct{ m, k, v *yaml.Node }
		var chain []step
		m := root
		for _, key := range e.Path {
			var k, v *yaml.Node
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == key {
					k, v = m.Content[i], m.Content[i+1]
				}
			}
			if k == nil {
				break
			}
			chain = append(chain, step{m, k, v})
			if m = v; m.Kind != yaml.MappingNode {
				break
			}
		}
		span := func(i int) {
			k := chain[i].k
			kl := k.Line - 1
			from := kl
			for from > 0 && strings.HasPrefix(strings.TrimLeft(lines[from-1], " \t"), "#") {
				from--
			}
			to := len(lines)
		outer:
			for j := i; j >= 0; j-- {
				c := chain[j].m.Content
				for x := 0; x+1 < len(c); x += 2 {
					if c[x] == chain[j].k && x+2 < len(c) {
						to = c[x+2].Line - 1
						break outer
					}
				}
			}
			for l := kl + 1; l < to; l++ {
				if strings.HasPrefix(lines[l], "...") || strings.HasPrefix(lines[l], "---") {
					to = l
				}
			}
			allow(from, max(to, kl+1))
		}
		if root.Style&yaml.FlowStyle != 0 {
			allow(0, len(lines))
		}
		for i, s := range chain {
			if s.v.Style&yaml.FlowStyle != 0 && s.v.Kind == yaml.MappingNode && i < len(e.Path)-1 {
				span(i)
				break
			}
		}
		switch {
		case len(chain) == len(e.Path) && e.Value == nil:
			// The outermost entry that is gone went as a whole.
			for i := range chain {
				if _, ok := outDoc.Lookup(e.Path[:i+1]...); !ok {
					span(i)
					break
				}
			}
		case len(chain) == len(e.Path):
			span(len(chain) - 1)
		case len(chain) > 0 && chain[len(chain)-1].v.Kind == yaml.ScalarNode:
			// A parent with a null value: its key line, and the null's.
			s := chain[len(chain)-1]
			allow(s.k.Line-1, max(s.k.Line, s.v.Line))
		}
	}
	return allowed, nil
}
