package yamlpatch

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// MarkerPrefix identifies the comment line this tool writes above the entries
// it manages. A comment line directly above an edited key that contains it is
// part of the entry, so re-applying an edit replaces the marker instead of
// adding another one.
const MarkerPrefix = "managed by devopsellence-backup"

// Doc is a parsed devopsellence.yml. It keeps the source it was parsed from
// and the yaml.v3 node tree, neither of which may be modified.
type Doc struct {
	src     []byte
	doc     *yaml.Node // the document node
	top     *yaml.Node // its root mapping
	lines   []line
	style   Style
	aliases map[*yaml.Node][]*yaml.Node // anchored node → aliases of it
	docEnd  int                         // line where the root mapping's text ends at the latest
	virtual bool                        // src has a final line break that the file has not

	// index caches each looked-up mapping's fields, so that looking up
	// every service of a 2,000-service file stays linear.
	cache *lookupCache
}

// lookupCache is shared by a Doc and its copies: they share the nodes.
type lookupCache struct {
	mu    sync.Mutex
	index map[*yaml.Node]*mapIndex
}

// mapIndex is the fields of one mapping, by key.
type mapIndex struct {
	fields []field
	byKey  map[string]int     // key → position in fields
	entry  map[*yaml.Node]int // key node → entry number in the mapping
}

// indexOf returns m's fields, computing them once per Doc.
func (d *Doc) indexOf(m *yaml.Node) *mapIndex {
	c := d.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	if ix, ok := c.index[m]; ok {
		return ix
	}
	fs := fields(m)
	ix := &mapIndex{fields: fs, byKey: make(map[string]int, len(fs)), entry: make(map[*yaml.Node]int, entries(m))}
	for i, f := range fs {
		ix.byKey[f.k.Value] = i
	}
	for j := 0; j < entries(m); j++ {
		ix.entry[m.Content[2*j]] = j
	}
	if c.index == nil {
		c.index = map[*yaml.Node]*mapIndex{}
	}
	c.index[m] = ix
	return ix
}

// field returns the field key of m, if any.
func (d *Doc) field(m *yaml.Node, key string) (field, bool) {
	ix := d.indexOf(m)
	i, ok := ix.byKey[key]
	if !ok {
		return field{}, false
	}
	return ix.fields[i], true
}

// Entry is a mapping entry found by Lookup.
type Entry struct {
	// Value is the entry's value with aliases and merge keys resolved. Every
	// scalar is its string form: 3000 and "3000" both read as Scalar("3000"),
	// and null (empty, ~ or null) reads as Scalar("").
	Value Value
	// Comment is the run of comment lines directly above the key, with no
	// blank line between, without "# ", joined by newlines.
	Comment string
	// Line is the key's 1-based line.
	Line int
	// Flow reports whether the value is a flow mapping or sequence.
	Flow bool
}

// Parse parses src once with yaml.v3 and keeps the node positions. The root of
// the (first) document must be a mapping. The Doc keeps src, without a copy
// (a large file is held once): the caller must not modify it afterwards.
func Parse(src []byte) (*Doc, error) {
	if bytes.HasPrefix(src, []byte{0xFE, 0xFF}) || bytes.HasPrefix(src, []byte{0xFF, 0xFE}) {
		return nil, errors.New("parse yaml: utf-16 input is not supported")
	}
	d := &Doc{src: src, cache: &lookupCache{}}
	var n yaml.Node
	if err := yaml.Unmarshal(d.src, &n); err != nil {
		return nil, fmt.Errorf("parse yaml: %w", err)
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil, errors.New("parse yaml: document is empty, want a mapping")
	}
	d.doc, d.top = &n, n.Content[0]
	if d.top.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parse yaml: line %d: document is %s, want a mapping", d.top.Line, kindName(d.top))
	}
	d.lines = splitLines(d.src)
	d.aliases = map[*yaml.Node][]*yaml.Node{}
	var st styleCount
	d.survey(d.doc, &st)
	d.style = st.style(d.src)
	d.docEnd = len(d.lines)
	if !isFlow(d.top) && len(d.top.Content) > 0 {
		// The document ends at a document marker, or at text indented less
		// than the root mapping, which yaml.v3 reads as a next document.
		// A line inside a flow collection or a quoted scalar is that
		// node's text, however it is indented.
		k, _ := pair(d.top, entries(d.top)-1)
		col := d.keyCol(d.top.Content[0])
		if col == 0 && !d.markerAfter(k.Line) {
			// Nothing is indented less than column 0: only a document
			// marker could end it, and there is none.
			return d, nil
		}
		inside := d.spans(d.top, nil)
		sort.Slice(inside, func(i, j int) bool { return inside[i].start < inside[j].start })
		for l, j := k.Line, 0; l < len(d.lines); l++ {
			o := d.lines[l].start
			for j < len(inside) && inside[j].end <= o {
				j++
			}
			if j < len(inside) && inside[j].start < o {
				continue
			}
			if d.isMarker(l) || !d.blankOrComment(l) && d.spaces(l) < col {
				d.docEnd = l
				break
			}
		}
	}
	return d, nil
}

// isMarker reports whether line l starts with a document marker.
func (d *Doc) isMarker(l int) bool {
	t := d.src[d.lines[l].start:d.lines[l].end]
	return (bytes.HasPrefix(t, []byte("---")) || bytes.HasPrefix(t, []byte("..."))) &&
		(len(t) == 3 || t[3] == ' ' || t[3] == '\t')
}

// markerAfter reports whether a line from from on starts with a document
// marker (inside a quoted scalar or not).
func (d *Doc) markerAfter(from int) bool {
	for l := from; l < len(d.lines); l++ {
		if d.isMarker(l) {
			return true
		}
	}
	return false
}

// span is the text of a node that may run over lines at any indentation.
type span struct{ start, end int }

// spans collects the flow collections and quoted scalars under n.
func (d *Doc) spans(n *yaml.Node, out []span) []span {
	quoted := n.Kind == yaml.ScalarNode && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	if quoted || (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) && isFlow(n) {
		if e := d.nodeEnd(n, false); e > 0 {
			return append(out, span{d.contentStart(n), e})
		}
		return out
	}
	for _, c := range n.Content {
		out = d.spans(c, out)
	}
	return out
}

// Root returns the document node, to decode the app config from the same
// parse. Callers must not modify it.
func (d *Doc) Root() *yaml.Node { return d.doc }

// Style returns the style detected in the file.
func (d *Doc) Style() Style { return d.style }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return "a scalar"
	}
	return "empty"
}

// styleCount tallies the layout of existing block collections.
type styleCount struct {
	steps              map[int]int
	indented, indentls int
}

func (d *Doc) survey(n *yaml.Node, st *styleCount) {
	if n.Kind == yaml.AliasNode {
		d.aliases[n.Alias] = append(d.aliases[n.Alias], n)
		return
	}
	if n.Kind == yaml.MappingNode && !isFlow(n) {
		for i := 0; i < entries(n); i++ {
			k, v := pair(n, i)
			if isFlow(v) || len(v.Content) == 0 {
				continue
			}
			switch v.Kind {
			case yaml.MappingNode:
				if step := d.keyCol(v.Content[0]) - d.keyCol(k); step > 0 {
					if st.steps == nil {
						st.steps = map[int]int{}
					}
					st.steps[step]++
				}
			case yaml.SequenceNode:
				switch dash, col := d.dashCol(v), d.keyCol(k); {
				case dash == col:
					st.indentls++
				case dash > col:
					st.indented++
				}
			}
		}
	}
	for _, c := range n.Content {
		d.survey(c, st)
	}
}

func (st styleCount) style(src []byte) Style {
	s := Style{Indent: 2, IndentSequences: st.indented >= st.indentls, LineEnding: "\n"}
	best := 0
	for step, n := range st.steps {
		if n > best || n == best && step < s.Indent {
			s.Indent, best = step, n
		}
	}
	if i := bytes.IndexAny(src, "\r\n"); i >= 0 && src[i] == '\r' {
		s.LineEnding = "\r"
		if i+1 < len(src) && src[i+1] == '\n' {
			s.LineEnding = "\r\n"
		}
	}
	return s
}

// field is one key and value of a mapping after merge keys are resolved.
type field struct{ k, v *yaml.Node }

func isMerge(k *yaml.Node) bool { return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" }

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// fields returns m's entries as yaml.v3 decodes them: explicit keys win over
// merged ones, earlier merge sources over later ones, first duplicate wins.
// It visits at most a bounded number of merged mappings, so that chains of
// merge keys cannot make it blow up.
func fields(m *yaml.Node) []field {
	var fs []field
	seen := map[string]bool{}
	budget := 10_000
	var walk func(m *yaml.Node, depth int)
	walk = func(m *yaml.Node, depth int) {
		budget--
		for i := 0; i < entries(m); i++ {
			if k, v := pair(m, i); !isMerge(k) && !seen[k.Value] {
				seen[k.Value] = true
				fs = append(fs, field{k, v})
			}
		}
		for i := 0; i < entries(m) && budget > 0 && depth < 50; i++ {
			k, v := pair(m, i)
			if !isMerge(k) {
				continue
			}
			srcs := []*yaml.Node{resolve(v)}
			if srcs[0] != nil && srcs[0].Kind == yaml.SequenceNode {
				srcs = srcs[0].Content
			}
			for _, s := range srcs {
				if s = resolve(s); s != nil && s.Kind == yaml.MappingNode && budget > 0 {
					walk(s, depth+1)
				}
			}
		}
	}
	walk(m, 0)
	return fs
}

func hasMerge(m *yaml.Node) bool {
	for i := 0; i < entries(m); i++ {
		if k, _ := pair(m, i); isMerge(k) {
			return true
		}
	}
	return false
}

// Lookup finds the mapping entry at path, resolving aliases and merge keys on
// the way. Values too large to expand (alias bombs) are reported as absent.
func (d *Doc) Lookup(path ...string) (Entry, bool) {
	if len(path) == 0 {
		return Entry{}, false
	}
	m, owner := d.top, -1
	for i, key := range path {
		m = resolve(m)
		if m == nil || m.Kind != yaml.MappingNode {
			return Entry{}, false
		}
		f, found := d.field(m, key)
		if !found {
			return Entry{}, false
		}
		k, v := f.k, f.v
		if i < len(path)-1 {
			m, owner = v, k.Line-1
			continue
		}
		budget := 1_000_000
		val, ok := toValue(v, &budget, 0)
		if !ok {
			return Entry{}, false
		}
		e := Entry{Value: val, Line: k.Line, Flow: isFlow(v) && v.Kind != yaml.ScalarNode}
		if j, ok := d.indexOf(m).entry[k]; ok {
			e.Comment = d.headComment(m, j, owner)
		}
		return e, true
	}
	return Entry{}, false
}

// Comment returns the comment lines directly above the key at path, as
// Lookup does, without converting the entry's value.
func (d *Doc) Comment(path ...string) (string, bool) {
	if len(path) == 0 {
		return "", false
	}
	m, owner := d.top, -1
	for i, key := range path {
		if m = resolve(m); m == nil || m.Kind != yaml.MappingNode {
			return "", false
		}
		f, ok := d.field(m, key)
		if !ok {
			return "", false
		}
		if i < len(path)-1 {
			m, owner = f.v, f.k.Line-1
			continue
		}
		j, ok := d.indexOf(m).entry[f.k]
		if !ok {
			return "", true // a merged key has no comment of its own here
		}
		return d.headComment(m, j, owner), true
	}
	return "", false
}

// KeysCommented lists, in the order of Keys, the keys of the mapping at
// path whose comment (as Comment returns it) contains text, a string
// without line breaks. Only a key below a line that holds text can have
// such a comment, so a large mapping costs one search of the source.
func (d *Doc) KeysCommented(text string, path ...string) []string {
	var marks []int // the lines that hold text
	for o := 0; ; {
		i := bytes.Index(d.src[o:], []byte(text))
		if i < 0 {
			break
		}
		o += i
		marks = append(marks, d.lineAt(o))
		o += len(text)
	}
	if len(marks) == 0 {
		return nil
	}
	m := d.top
	for _, key := range path {
		f, _ := d.field(m, key)
		if m = resolve(f.v); m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
	}
	var out []string
	for _, f := range d.indexOf(m).fields {
		if i, _ := slices.BinarySearch(marks, f.k.Line-1); i == 0 {
			continue // no line above the key holds text
		}
		if c, _ := d.Comment(append(slices.Clone(path), f.k.Value)...); strings.Contains(c, text) {
			out = append(out, f.k.Value)
		}
	}
	return out
}

// Keys lists the keys of the mapping at path (the root for no path) in file
// order, merged keys after explicit ones; nil when it is absent or not a
// mapping.
func (d *Doc) Keys(path ...string) []string {
	m := d.top
	for _, key := range path {
		f, _ := d.field(m, key)
		if m = resolve(f.v); m == nil || m.Kind != yaml.MappingNode {
			return nil
		}
	}
	var ks []string
	for _, f := range d.indexOf(m).fields {
		ks = append(ks, f.k.Value)
	}
	return ks
}

// toValue converts n to a Value; budget bounds the nodes it may produce.
func toValue(n *yaml.Node, budget *int, depth int) (Value, bool) {
	*budget--
	if n = resolve(n); n == nil || *budget < 0 || depth > 200 {
		return nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return Scalar(""), true
		}
		return Scalar(n.Value), true
	case yaml.SequenceNode:
		l := make(List, 0, len(n.Content))
		for _, c := range n.Content {
			v, ok := toValue(c, budget, depth+1)
			if !ok {
				return nil, false
			}
			l = append(l, v)
		}
		return l, true
	case yaml.MappingNode:
		fs := fields(n)
		m := make(Map, 0, len(fs))
		for _, f := range fs {
			v, ok := toValue(f.v, budget, depth+1)
			if !ok {
				return nil, false
			}
			m = append(m, Field{Key: f.k.Value, Value: v})
		}
		return m, true
	}
	return nil, false
}

// matches reports whether n decodes to exactly v: every scalar a string
// (tag !!str), every mapping with string keys. It is stricter than Equal on
// the Lookup value, so that a no-op never leaves 3000 where "3000" is wanted.
func matches(n *yaml.Node, v Value, depth int) bool {
	if n = resolve(n); n == nil || depth > 200 {
		return false
	}
	switch v := v.(type) {
	case Scalar:
		return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && n.Value == string(v)
	case List:
		if n.Kind != yaml.SequenceNode || len(n.Content) != len(v) {
			return false
		}
		for i, c := range n.Content {
			if !matches(c, v[i], depth+1) {
				return false
			}
		}
		return true
	case Map:
		if n.Kind != yaml.MappingNode {
			return false
		}
		fs := fields(n)
		if len(fs) != len(v) || hasDuplicates(n) {
			return false
		}
		for _, f := range fs {
			if f.k.Kind != yaml.ScalarNode || f.k.ShortTag() != "!!str" {
				return false
			}
			want := v.Get(f.k.Value)
			if want == nil || !matches(f.v, want, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// hasDuplicates reports whether m repeats an explicit key, which yaml.v3
// refuses to decode.
func hasDuplicates(m *yaml.Node) bool {
	seen := map[string]bool{}
	for i := 0; i < entries(m); i++ {
		k, _ := pair(m, i)
		if isMerge(k) {
			continue
		}
		if seen[k.Value] {
			return true
		}
		seen[k.Value] = true
	}
	return false
}
