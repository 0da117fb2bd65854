package yamlpatch

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Apply parses src and applies the edits; see Doc.Apply.
func Apply(src []byte, edits ...Edit) ([]byte, error) {
	d, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return d.Apply(edits...)
}

// Apply returns the document's source with the edits applied, as a new
// slice; the Doc itself does not change. Bytes outside the edited entries are
// kept as they are; the package documentation has the rules.
//
// An edit with a Value replaces the entry at its path, or inserts it at the
// end of its parent mapping, creating missing parent mappings. An edit whose
// entry already holds exactly its Value under exactly its Comment changes
// nothing, so applying the same edits twice gives the same bytes. An edit
// without a Value deletes the entry; deleting an absent entry changes nothing.
// Edits are independent: their paths must not repeat or contain one another.
func (d *Doc) Apply(edits ...Edit) ([]byte, error) {
	out, _, err := d.ApplySpans(edits...)
	return out, err
}

// Span is one stretch of text an Apply replaced: the source's bytes
// [Start, End) became the result's bytes [NewStart, NewEnd). Outside its
// spans the result has the source's bytes, so a diff needs to look only here.
type Span struct {
	Start, End       int
	NewStart, NewEnd int
}

// ApplySpans is Apply that also returns where the result differs from the
// source, in order.
func (d *Doc) ApplySpans(edits ...Edit) ([]byte, []Span, error) {
	for i, e := range edits {
		if len(e.Path) == 0 {
			return nil, nil, fmt.Errorf("edit %d: empty path", i+1)
		}
		if err := checkEdit(e); err != nil {
			return nil, nil, fmt.Errorf("edit %s: %w", pathString(e.Path), err)
		}
		for _, f := range edits[:i] {
			if isPrefix(e.Path, f.Path) || isPrefix(f.Path, e.Path) {
				return nil, nil, fmt.Errorf("edit %s: overlaps the edit of %s", pathString(e.Path), pathString(f.Path))
			}
		}
	}
	srcLen := len(d.src)
	if d.openEnd() {
		d = d.withFinalBreak()
	}
	p := &plan{d: d, dels: map[*yaml.Node]map[int]bool{}, groups: map[groupKey]*group{}, into: map[*yaml.Node]bool{}}
	for i, e := range edits {
		if err := p.add(i, e); err != nil {
			return nil, nil, fmt.Errorf("edit %s: %w", pathString(e.Path), err)
		}
	}
	if err := p.cascade(); err != nil {
		return nil, nil, err
	}
	ss, err := p.splices()
	if err != nil {
		return nil, nil, err
	}
	out, err := d.splice(ss) // sorts ss
	if err != nil {
		return nil, nil, err
	}
	return out, spans(ss, srcLen, len(out)), nil
}

// spans says where the sorted splices put their text. A source without a
// final line break was given a virtual one (past srcLen) that the result may
// drop again; a splice that reaches into it ends the result, so its span runs
// to the end of both.
func spans(ss []splice, srcLen, outLen int) []Span {
	out := make([]Span, 0, len(ss))
	delta := 0
	for _, s := range ss {
		newStart := s.start + delta
		delta += len(s.text) - (s.end - s.start)
		if s.end > srcLen {
			// The result ends here. Dropping the virtual break may have
			// taken the line break before this splice with it.
			start := min(s.start, srcLen)
			newStart -= s.start - start
			if k := newStart - outLen; k > 0 {
				start, newStart = start-k, newStart-k
			}
			for len(out) > 0 && out[len(out)-1].End > start {
				last := out[len(out)-1]
				out = out[:len(out)-1]
				start = min(start, last.Start)
				newStart = last.NewStart - (last.Start - start)
			}
			out = append(out, Span{Start: start, End: srcLen, NewStart: newStart, NewEnd: outLen})
			break
		}
		out = append(out, Span{Start: s.start, End: s.end, NewStart: newStart, NewEnd: newStart + len(s.text)})
	}
	return out
}

func isPrefix(p, of []string) bool { return len(p) <= len(of) && slices.Equal(p, of[:len(p)]) }

func pathString(p []string) string { return strings.Join(p, ".") }

// checkEdit rejects values and comments that cannot be written as YAML.
func checkEdit(e Edit) error {
	for _, k := range e.Path {
		if err := checkKey(k); err != nil {
			return err
		}
	}
	for _, c := range e.Comment {
		if c == '\n' || c == '\r' || !printable(c) {
			return fmt.Errorf("comment %q must be one line of printable text", e.Comment)
		}
	}
	if e.Value != nil {
		return checkValue(e.Value)
	}
	return nil
}

func checkKey(k string) error {
	if !utf8.ValidString(k) {
		return fmt.Errorf("key %q is not valid UTF-8", k)
	}
	if len(k) > 1000 {
		return fmt.Errorf("key %.20q... is longer than 1000 bytes", k)
	}
	return nil
}

func checkValue(v Value) error {
	switch v := v.(type) {
	case Scalar:
		if !utf8.ValidString(string(v)) {
			return fmt.Errorf("value %q is not valid UTF-8", string(v))
		}
	case List:
		for i, it := range v {
			if it == nil {
				return fmt.Errorf("list item %d is nil", i)
			}
			if err := checkValue(it); err != nil {
				return err
			}
		}
	case Map:
		seen := map[string]bool{}
		for _, f := range v {
			if err := checkKey(f.Key); err != nil {
				return err
			}
			if seen[f.Key] {
				return fmt.Errorf("key %q repeats in the value", f.Key)
			}
			seen[f.Key] = true
			if f.Value == nil {
				return fmt.Errorf("value of key %q is nil", f.Key)
			}
			if err := checkValue(f.Value); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown value type %T", v)
	}
	return nil
}

// op replaces or deletes the entry frames[len-1].idx of frames[len-1].m.
type op struct {
	order  int
	edit   Edit
	frames []frame
	del    bool
}

// group collects the new entries for one mapping, or for the null value of
// one entry (fill).
type group struct {
	order  int
	frames []frame
	fill   bool
	nodes  []*node
}

type groupKey struct {
	m   *yaml.Node
	idx int // -1 for new entries of m, else the entry whose null value is filled
}

type plan struct {
	d      *Doc
	ops    []*op
	dels   map[*yaml.Node]map[int]bool
	groups map[groupKey]*group
	glist  []*group
	into   map[*yaml.Node]bool // mappings that get new entries
}

func (p *plan) add(order int, e Edit) error {
	d := p.d
	frames, null, err := d.resolve(e.Path)
	if err != nil {
		return err
	}
	f := frames[len(frames)-1]
	present := !null && len(frames) == len(e.Path) && f.idx >= 0
	if e.Value == nil && !present {
		return nil
	}
	if err := d.checkAnchors(frames); err != nil {
		return err
	}
	if present {
		k, v := pair(f.m, f.idx)
		if err := d.checkRemoval(k, v); err != nil {
			return err
		}
		if e.Value == nil {
			if err := checkMerged(f.m, k.Value); err != nil {
				return err
			}
			p.delete(&op{order: order, edit: e, frames: frames, del: true})
			return nil
		}
		p.ops = append(p.ops, &op{order: order, edit: e, frames: frames})
		return nil
	}
	key, rest := groupKey{f.m, -1}, e.Path[len(frames)-1:]
	if null {
		_, v := pair(f.m, f.idx)
		if err := d.checkRemoval(v); err != nil {
			return err
		}
		key, rest = groupKey{f.m, f.idx}, e.Path[len(frames):]
	} else {
		p.into[f.m] = true
	}
	g := p.groups[key]
	if g == nil {
		g = &group{order: order, frames: frames, fill: null}
		p.groups[key] = g
		p.glist = append(p.glist, g)
	}
	g.nodes = addPath(g.nodes, rest, e.Value, e.Comment)
	return nil
}

func (p *plan) delete(o *op) {
	f := o.frames[len(o.frames)-1]
	if p.dels[f.m] == nil {
		p.dels[f.m] = map[int]bool{}
	}
	p.dels[f.m][f.idx] = true
	p.ops = append(p.ops, o)
}

func (p *plan) emptied(m *yaml.Node) bool {
	return len(p.dels[m]) == entries(m) && !hasMerge(m) && !p.into[m]
}

// cascade deletes the keys of mappings that deletes leave empty, and drops
// deletes inside entries deleted as a whole.
func (p *plan) cascade() error {
	for i := 0; i < len(p.ops); i++ {
		o := p.ops[i]
		if !o.del || len(o.frames) < 2 || !p.emptied(o.frames[len(o.frames)-1].m) {
			continue
		}
		up := o.frames[:len(o.frames)-1]
		f := up[len(up)-1]
		if p.dels[f.m][f.idx] {
			continue
		}
		k, v := pair(f.m, f.idx)
		if err := p.d.checkRemoval(k, v); err != nil {
			return fmt.Errorf("edit %s: deleting emptied %s: %w", pathString(o.edit.Path), k.Value, err)
		}
		if err := checkMerged(f.m, k.Value); err != nil {
			return fmt.Errorf("edit %s: deleting emptied %s: %w", pathString(o.edit.Path), k.Value, err)
		}
		p.delete(&op{order: o.order, edit: o.edit, frames: up, del: true})
	}
	if p.emptied(p.d.top) {
		return errors.New("edit: the deletes would leave the document empty")
	}
	kept := p.ops[:0]
	for _, o := range p.ops {
		covered := false
		for _, f := range o.frames[:len(o.frames)-1] {
			covered = covered || p.dels[f.m][f.idx]
		}
		if !covered {
			kept = append(kept, o)
		}
	}
	p.ops = kept
	return nil
}

// resolve follows path through literal keys. It returns one frame per path
// key found, plus one for the first missing key; null reports that the last
// frame's entry exists with a null value and the path goes on below it.
func (d *Doc) resolve(path []string) (frames []frame, null bool, err error) {
	m, owner := d.top, -1
	for i, key := range path {
		idx, err := d.find(m, key, path[:i+1])
		if err != nil {
			return nil, false, err
		}
		frames = append(frames, frame{m: m, idx: idx, owner: owner})
		if idx < 0 || i == len(path)-1 {
			return frames, false, nil
		}
		k, v := pair(m, idx)
		switch {
		case v.Kind == yaml.MappingNode:
			m, owner = v, k.Line-1
		case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null":
			return frames, true, nil
		case v.Kind == yaml.AliasNode:
			return nil, false, fmt.Errorf("%s (line %d) is an alias of the node at line %d; edit that node instead",
				pathString(path[:i+1]), k.Line, v.Alias.Line)
		default:
			return nil, false, fmt.Errorf("%s (line %d) is %s, want a mapping", pathString(path[:i+1]), k.Line, kindName(v))
		}
	}
	return frames, false, nil
}

// find returns the index of the literal key in m, or -1.
func (d *Doc) find(m *yaml.Node, key string, at []string) (int, error) {
	idx := -1
	for i := 0; i < entries(m); i++ {
		k, _ := pair(m, i)
		if k.Kind != yaml.ScalarNode || isMerge(k) || k.Value != key {
			continue
		}
		if idx >= 0 {
			pk, _ := pair(m, idx)
			return 0, fmt.Errorf("%s is defined twice, at lines %d and %d", pathString(at), pk.Line, k.Line)
		}
		idx = i
	}
	if idx < 0 && hasMerge(m) {
		for _, f := range fields(m) {
			if f.k.Value == key {
				return 0, fmt.Errorf("%s comes from a merge key (<<), from line %d; edit it there", pathString(at), f.k.Line)
			}
		}
	}
	return idx, nil
}

// checkMerged rejects deleting a key that a merge key of m would still provide.
func checkMerged(m *yaml.Node, key string) error {
	if !hasMerge(m) {
		return nil
	}
	merged := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i < entries(m); i++ {
		if k, v := pair(m, i); isMerge(k) {
			merged.Content = append(merged.Content, k, v)
		}
	}
	for _, f := range fields(merged) {
		if f.k.Value == key {
			return fmt.Errorf("a merge key (<<) would still provide %s, from line %d", key, f.k.Line)
		}
	}
	return nil
}

// checkAnchors rejects edits inside a mapping that an alias repeats: the
// alias would change too.
func (d *Doc) checkAnchors(frames []frame) error {
	for _, f := range frames {
		if al := d.aliases[f.m]; len(al) > 0 {
			return fmt.Errorf("the mapping at line %d has anchor &%s, used by the alias at line %d; editing it would change that alias too",
				f.m.Line, f.m.Anchor, al[0].Line)
		}
	}
	return nil
}

// checkRemoval rejects removing the nodes ns when an alias outside them uses
// an anchor inside them.
func (d *Doc) checkRemoval(ns ...*yaml.Node) error {
	inside := map[*yaml.Node]bool{}
	var anchored []*yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		inside[n] = true
		if n.Anchor != "" && len(d.aliases[n]) > 0 {
			anchored = append(anchored, n)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	for _, n := range ns {
		walk(n)
	}
	for _, a := range anchored {
		for _, al := range d.aliases[a] {
			if !inside[al] {
				return fmt.Errorf("the anchor &%s at line %d is used by the alias at line %d", a.Anchor, a.Line, al.Line)
			}
		}
	}
	return nil
}

// splice replaces src[start:end] with text.
type splice struct {
	start, end int
	text       string
	depth      int // among insertions at one offset, deeper mappings first
	order      int
	keepBreak  bool // at the end of the source, keep its final line break
}

func (p *plan) splices() ([]splice, error) {
	byMap := map[*yaml.Node][]*op{}
	var maps []*yaml.Node
	note := func(m *yaml.Node) {
		if _, ok := byMap[m]; !ok {
			maps = append(maps, m)
			byMap[m] = nil
		}
	}
	for _, o := range p.ops {
		m := o.frames[len(o.frames)-1].m
		note(m)
		byMap[m] = append(byMap[m], o)
	}
	gs := map[*yaml.Node][]*group{}
	for _, g := range p.glist {
		m := g.frames[len(g.frames)-1].m
		note(m)
		gs[m] = append(gs[m], g)
	}
	var out []splice
	for _, m := range maps {
		var ss []splice
		var err error
		if isFlow(m) {
			ss, err = p.d.flowSplices(m, byMap[m], gs[m], p.dels[m])
		} else {
			ss, err = p.d.blockSplices(byMap[m], gs[m])
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ss...)
	}
	return out, nil
}

// splice applies ss to the source in one pass.
func (d *Doc) splice(ss []splice) ([]byte, error) {
	slices.SortStableFunc(ss, func(a, b splice) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if ai, bi := a.start == a.end, b.start == b.end; ai != bi {
			if ai {
				return -1
			}
			return 1
		}
		if a.depth != b.depth {
			return b.depth - a.depth
		}
		return a.order - b.order
	})
	n := len(d.src)
	for i, s := range ss {
		if i > 0 && s.start < ss[i-1].end {
			return nil, fmt.Errorf("edit: two edits touch the same text at line %d", d.lineAt(s.start)+1)
		}
		n += len(s.text) - (s.end - s.start)
	}
	var b bytes.Buffer
	b.Grow(n)
	pos := 0
	for _, s := range ss {
		b.Write(d.src[pos:s.start])
		b.WriteString(s.text)
		pos = s.end
	}
	b.Write(d.src[pos:])
	out := b.Bytes()
	if d.virtual && !(len(ss) > 0 && ss[len(ss)-1].end == len(d.src) && ss[len(ss)-1].keepBreak) {
		out = bytes.TrimSuffix(out, []byte(d.style.LineEnding))
	}
	return out, nil
}
