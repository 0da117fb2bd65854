package yamlpatch

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// flowEntry is the text of one entry of a flow mapping.
type flowEntry struct {
	start, end int // key through value
	comma      int // the comma after the entry, or -1
}

// flowLayout finds the braces, entries and commas of flow mapping m.
func (d *Doc) flowLayout(m *yaml.Node) (open, close int, es []flowEntry, err error) {
	bad := fmt.Errorf("unsupported layout of the flow mapping at line %d", m.Line)
	open = d.contentStart(m)
	if open >= len(d.src) || d.src[open] != '{' {
		return 0, 0, nil, bad
	}
	i := open + 1
	for j := 0; j < entries(m); j++ {
		k, v := pair(m, j)
		s := d.skipSpace(i)
		if s != d.off(k) {
			return 0, 0, nil, bad
		}
		ke, ve := d.nodeEnd(k, true), d.nodeEnd(v, true)
		if ke < 0 || ve < 0 {
			return 0, 0, nil, bad
		}
		e := max(ke, ve)
		c := d.skipSpace(e)
		switch {
		case c < len(d.src) && d.src[c] == ',':
			es = append(es, flowEntry{s, e, c})
			i = c + 1
		case c < len(d.src) && d.src[c] == '}' && j == entries(m)-1:
			es = append(es, flowEntry{s, e, -1})
			i = c
		default:
			return 0, 0, nil, bad
		}
	}
	close = d.skipSpace(i)
	if close >= len(d.src) || d.src[close] != '}' {
		return 0, 0, nil, bad
	}
	return open, close, es, nil
}

// flowRegion is an entry of a flow mapping with its owned comment lines.
type flowRegion struct {
	start int
	keep  string // hand-written comment lines inside the region
	lead  bool   // the region starts at the start of a line
	alone bool   // the key starts its line
	ind   string // indentation of the key's line
	same  bool   // the comment lines already are exactly the wanted comment
}

func (d *Doc) flowRegion(m *yaml.Node, es []flowEntry, open, idx int, comment string) flowRegion {
	k, _ := pair(m, idx)
	r := flowRegion{start: es[idx].start, same: comment == ""}
	if !d.startsLine(k) {
		return r
	}
	kl := k.Line - 1
	r.ind, r.alone = pad(d.spaces(kl)), true
	floor := d.lineAt(open)
	if idx > 0 {
		floor = d.lineAt(max(es[idx-1].end, es[idx-1].comma))
	}
	top := d.commentTop(kl, floor)
	first, owned := kl, 0
	for l := top; l < kl; l++ {
		if owns(d.commentText(l), comment) {
			owned++
			first = min(first, l)
		}
	}
	var keep strings.Builder
	for l := first; l < kl; l++ {
		if !owns(d.commentText(l), comment) {
			keep.Write(d.src[d.lines[l].start:d.lines[l].next])
		}
	}
	r.keep = keep.String()
	r.same = comment == "" && owned == 0 || comment != "" && owned == 1 && d.commentText(kl-1) == comment
	if first < kl {
		r.start, r.lead = d.lines[first].start, true
	}
	return r
}

// flowSplices edits the entries of flow mapping m in flow style, keeping the
// braces and the other entries as they are.
func (d *Doc) flowSplices(m *yaml.Node, ops []*op, gs []*group, dels map[int]bool) ([]splice, error) {
	open, _, es, err := d.flowLayout(m)
	if err != nil {
		return nil, err
	}
	f := &flowEdit{d: d, m: m, es: es, open: open, ind: pad(d.spaces(d.lineAt(open)) + d.style.Indent),
		r: newRenderer(d.style, false), delEnd: map[int]int{}}
	var out []splice
	for _, o := range ops {
		s, changed, err := f.entry(o)
		if err != nil {
			return nil, err
		}
		if changed {
			out = append(out, s)
		}
	}
	out, remain, comma := f.lastComma(out, dels)
	for _, g := range gs {
		s, err := f.add(g, dels, remain, comma)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// flowEdit is the edit of one flow mapping: its entries, its opening brace,
// the indentation of new lines in it.
type flowEdit struct {
	d      *Doc
	m      *yaml.Node
	es     []flowEntry
	open   int
	ind    string
	r      *renderer
	delEnd map[int]int // where each deleted entry's text ended
}

// entry is the splice of op o, a change or a deletion of one entry;
// changed is false when the entry already is as wanted.
func (f *flowEdit) entry(o *op) (s splice, changed bool, err error) {
	d, es := f.d, f.es
	idx := o.frames[len(o.frames)-1].idx
	reg := d.flowRegion(f.m, es, f.open, idx, o.edit.Comment)
	s = splice{start: reg.start, end: es[idx].end, order: o.order, depth: len(o.frames)}
	if o.del {
		s.text = reg.keep
		if c := es[idx].comma; c >= 0 {
			s.end = c + 1
			for s.end < len(d.src) && (d.src[s.end] == ' ' || d.src[s.end] == '\t') {
				s.end++
			}
		} else if !reg.lead {
			for s.start > f.open+1 && (d.src[s.start-1] == ' ' || d.src[s.start-1] == '\t') {
				s.start--
			}
		}
		f.delEnd[idx] = s.end
		return s, true, nil
	}
	if _, v := pair(f.m, idx); reg.same && matches(v, o.edit.Value, 0) {
		return s, false, nil
	}
	n := &node{key: o.edit.Path[len(o.edit.Path)-1], value: o.edit.Value}
	text, err := f.r.flowNodes([]*node{n}, "", true)
	if err != nil {
		return s, false, fmt.Errorf("edit %s: %w", pathString(o.edit.Path), err)
	}
	le := d.style.LineEnding
	if c := o.edit.Comment; c != "" {
		switch {
		case reg.lead:
			text = reg.ind + "# " + c + le + reg.ind + text
		case reg.alone:
			text = "# " + c + le + reg.ind + text
		default:
			for s.start > 0 && (d.src[s.start-1] == ' ' || d.src[s.start-1] == '\t') {
				s.start--
			}
			text = le + f.ind + "# " + c + le + f.ind + text
		}
	} else if reg.lead {
		text = reg.ind + text
	}
	s.text = reg.keep + text
	return s, true, nil
}

// lastComma drops the comma of the last remaining entry when the entries
// after it are gone, since it would end the mapping otherwise. It returns
// the last remaining entry (-1 for none) and whether it still has a comma.
func (f *flowEdit) lastComma(out []splice, dels map[int]bool) ([]splice, int, bool) {
	es := f.es
	last, remain := len(es)-1, -1
	for j := last; j >= 0; j-- {
		if !dels[j] {
			remain = j
			break
		}
	}
	comma := remain >= 0 && es[remain].comma >= 0
	// A plain scalar may end with ":" only before a flow indicator: without
	// its comma, `{a:,` + "\n}" would turn key "a:" into key "a". Such an
	// entry keeps its comma; a trailing comma is valid in a flow mapping.
	colon := remain >= 0 && f.d.src[es[remain].end-1] == ':'
	if remain >= 0 && remain < last && es[last].comma < 0 && comma && !colon {
		out = append(out, splice{start: es[remain].comma, end: es[remain].comma + 1})
		comma = false
	}
	return out, remain, comma
}

// add is the splice of group g: new entries after the last one, or the
// entries that fill an entry's null value.
func (f *flowEdit) add(g *group, dels map[int]bool, remain int, comma bool) (splice, error) {
	d, es := f.d, f.es
	if g.fill {
		fr := g.frames[len(g.frames)-1]
		k, _ := pair(f.m, fr.idx)
		kids, err := f.r.flowNodes(g.nodes, f.ind+pad(d.style.Indent), true)
		if err != nil {
			return splice{}, fmt.Errorf("edit %s: %w", groupPath(g), err)
		}
		e := es[fr.idx]
		text := string(d.src[e.start:d.nodeEnd(k, true)]) + ": {" + kids + "}"
		return splice{start: e.start, end: e.end, text: text, order: g.order}, nil
	}
	pos := f.open + 1
	if last := len(es) - 1; last >= 0 {
		switch {
		case dels[last]:
			pos = f.delEnd[last]
		case es[last].comma >= 0:
			pos = es[last].comma + 1
		default:
			pos = es[last].end
		}
	}
	text, err := f.r.flowNodes(g.nodes, f.ind, remain < 0)
	if err != nil {
		return splice{}, fmt.Errorf("edit %s: %w", groupPath(g), err)
	}
	if remain >= 0 && !comma {
		text = "," + text
	}
	return splice{start: pos, end: pos, text: text, depth: len(g.frames), order: g.order}, nil
}
