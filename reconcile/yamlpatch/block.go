package yamlpatch

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// owns reports whether a comment line above an edited key belongs to the
// entry: it carries the marker, or it is the edit's own comment.
func owns(text, comment string) bool {
	return strings.Contains(text, MarkerPrefix) || comment != "" && text == comment
}

// region is the text of one block mapping entry.
type region struct {
	start, end int    // bytes of the entry: owned comment lines, key, value
	first      int    // first line of the region
	last       int    // last line of the region
	keep       string // hand-written comment lines inside the region, kept as they are
	col        int    // column of the key
	same       bool   // the comment lines already are exactly the wanted comment
	prevEnd    int    // last line of what precedes the entry's comment lines
	prevTail   tail   // how the previous entry ends
}

func (d *Doc) region(frames []frame, comment string) (region, error) {
	f := frames[len(frames)-1]
	k, v := pair(f.m, f.idx)
	kl := k.Line - 1
	if !d.startsLine(k) || d.explicitAt(k) >= 0 {
		return region{}, fmt.Errorf("the key at line %d does not start its line (explicit ? keys are not supported)", k.Line)
	}
	r := region{col: k.Column - 1, prevTail: noTail}
	var t tail
	r.last, t = d.lastLine(k, v, d.nextAfter(frames, len(frames)-1, f.idx))
	if t.lost {
		return region{}, fmt.Errorf("cannot find the end of the value at line %d", v.Line)
	}
	if f.idx > 0 {
		pk, pv := pair(f.m, f.idx-1)
		r.prevEnd, r.prevTail = d.lastLine(pk, pv, kl)
		if r.prevTail.lost {
			return region{}, fmt.Errorf("cannot find the end of the value at line %d", pv.Line)
		}
	} else {
		r.prevEnd = d.floor(f.m, f.idx, f.owner)
	}
	top := d.commentTop(kl, r.prevEnd)
	r.first = kl
	owned := 0
	for l := top; l < kl; l++ {
		if owns(d.commentText(l), comment) {
			owned++
			r.first = min(r.first, l)
		}
	}
	var keep strings.Builder
	for l := r.first; l < kl; l++ {
		if !owns(d.commentText(l), comment) {
			keep.Write(d.src[d.lines[l].start:d.lines[l].next])
		}
	}
	r.keep = keep.String()
	r.same = comment == "" && owned == 0 || comment != "" && owned == 1 && d.commentText(kl-1) == comment
	r.start, r.end = d.lines[r.first].start, d.lines[r.last].next
	return r, nil
}

// openEnd reports whether the source ends without a line break.
func (d *Doc) openEnd() bool {
	last := d.lines[len(d.lines)-1]
	return last.start < last.end
}

// withFinalBreak returns a copy of d whose source ends with a line break, so
// that edits need no special case for a last line without one. Apply removes
// that line break from the result again.
func (d *Doc) withFinalBreak() *Doc {
	c := *d
	c.src = append(bytes.Clone(d.src), d.style.LineEnding...)
	c.lines = slices.Clone(d.lines)
	c.lines[len(c.lines)-1].next = len(c.src)
	c.lines = append(c.lines, line{len(c.src), len(c.src), len(c.src)})
	if c.docEnd == len(d.lines) {
		c.docEnd = len(c.lines)
	}
	c.virtual = true
	return &c
}

// atEnd reports whether offset o is the end of a source whose line break
// there is not in the file.
func (d *Doc) atEnd(o int) bool { return d.virtual && o == len(d.src) }

// blockSplices edits the entries of one block mapping.
func (d *Doc) blockSplices(ops []*op, gs []*group) ([]splice, error) {
	var out []splice
	for _, o := range ops {
		s, skip, err := d.blockEntry(o)
		if err != nil {
			return nil, fmt.Errorf("edit %s: %w", pathString(o.edit.Path), err)
		}
		if !skip {
			out = append(out, s)
		}
	}
	for _, g := range gs {
		ss, err := d.blockInsert(g)
		if err != nil {
			return nil, fmt.Errorf("edit %s: %w", groupPath(g), err)
		}
		out = append(out, ss...)
	}
	return out, nil
}

// groupPath names the mapping that g adds entries to, for error messages.
func groupPath(g *group) string {
	var p []string
	for _, fr := range g.frames {
		if fr.idx >= 0 {
			k, _ := pair(fr.m, fr.idx)
			p = append(p, k.Value)
		}
	}
	if len(p) == 0 {
		return "(root)"
	}
	return pathString(p)
}

// blockEntry replaces or deletes one entry of a block mapping. skip reports a
// replacement that would change nothing.
func (d *Doc) blockEntry(o *op) (s splice, skip bool, err error) {
	f := o.frames[len(o.frames)-1]
	r, err := d.region(o.frames, o.edit.Comment)
	if err != nil {
		return splice{}, false, err
	}
	s = splice{start: r.start, end: r.end, order: o.order, depth: len(o.frames)}
	if t := d.tabRun(r.last + 1); t >= 0 {
		r.last, s.end = t, d.lines[t].next
	}
	if o.del {
		s.text = r.keep
		// Text before the entry that ends with a block scalar would take in
		// the lines after the entry once the entry is gone; they go with it.
		if r.prevTail.block && r.keep == "" && !d.ends(r.prevEnd+1, r.first, r.prevTail.indent) {
			if bad := d.absorbs(r.last+1, r.prevTail.indent, r.prevTail.keep); bad >= 0 {
				s.end = d.lines[bad].next
			}
			// When that scalar ends the file, the line break after its last
			// line is part of its value: the file keeps it.
			// With keep (+), the blank lines before the entry are part of it too.
			s.keepBreak = r.prevTail.keep || !r.prevTail.strip && r.first == r.prevEnd+1
		}
		return s, false, nil
	}
	_, v := pair(f.m, f.idx)
	if r.same && matches(v, o.edit.Value, 0) {
		return splice{}, true, nil
	}
	key := o.edit.Path[len(o.edit.Path)-1]
	ns := []*node{{key: key, value: o.edit.Value, comment: o.edit.Comment}}
	text, err := d.blockText(ns, r.col, r.last+1, d.atEnd(s.end))
	if err != nil {
		return splice{}, false, err
	}
	s.text = r.keep + text
	return s, false, nil
}

// blockText renders ns at column col, ending with a line break like the one
// before it, for text followed by line next (eof: by the end of a file without a final line
// break). A literal block scalar at the end would take in the lines after it
// when they are indented enough, so then it renders without.
func (d *Doc) blockText(ns []*node, col, next int, eof bool) (string, error) {
	for _, lit := range []bool{true, false} {
		r := newRenderer(d.style, lit)
		lines, tail, err := r.block(nil, col, ns)
		if err != nil {
			return "", err
		}
		// At the end of a file without a final line break, a literal block
		// scalar would lose the line break that is part of its value.
		if lit && tail > 0 && (eof || d.absorbs(next, tail, false) >= 0) {
			continue
		}
		le := d.style.LineEnding
		if next > 0 && next <= len(d.lines) {
			// The line break before the text's end, so that a mixed file's
			// "\r" never meets a "\n" after it and turns into one break.
			prev := d.lines[next-1]
			if b := string(d.src[prev.end:prev.next]); b != "" {
				le = b
			}
		}
		return strings.Join(lines, le) + le, nil
	}
	return "", fmt.Errorf("cannot render the entry at line %d", next)
}

// blockInsert adds g's entries at the end of a block mapping, or below a key
// whose value is null.
func (d *Doc) blockInsert(g *group) ([]splice, error) {
	k := len(g.frames) - 1
	f := g.frames[k]
	var out []splice
	var pos, col, next int
	if g.fill {
		key, v := pair(f.m, f.idx)
		last, t := d.lastLine(key, v, d.nextAfter(g.frames, k, f.idx))
		if t.lost {
			return nil, fmt.Errorf("cannot find the end of the value at line %d", v.Line)
		}
		pos, next = d.lines[last].next, last+1
		col = d.keyCol(key) + d.style.Indent
		if o := d.off(v); o < len(d.src) && (!isEmpty(v) || d.src[o] == '&' || d.src[o] == '!') {
			e := d.nodeEnd(v, false)
			if e < o {
				return nil, fmt.Errorf("cannot find the end of the null value at line %d", v.Line)
			}
			for o > 0 && (d.src[o-1] == ' ' || d.src[o-1] == '\t') && d.lineAt(o-1) == key.Line-1 {
				o--
			}
			rm := splice{start: o, end: e, order: g.order}
			// Blanks after it go too (a tab there would upset yaml.v3),
			// but for one before a comment.
			for rm.end < len(d.src) && (d.src[rm.end] == ' ' || d.src[rm.end] == '\t') {
				rm.end++
			}
			if rm.end < len(d.src) && d.src[rm.end] == '#' && rm.start > d.lines[d.lineAt(rm.start)].start {
				rm.text = " "
			}
			out = append(out, rm)
		}
	} else {
		lk, lv := pair(f.m, entries(f.m)-1)
		last, t := d.lastLine(lk, lv, d.nextAfter(g.frames, k, entries(f.m)-1))
		if t.lost {
			return nil, fmt.Errorf("cannot find the end of the value at line %d", lv.Line)
		}
		pos, next = d.lines[last].next, last+1
		if t.block && t.keep {
			// The empty lines after a keep (+) block scalar are part of it.
			for l := last + 1; l < len(d.lines)-1 && d.spaces(l) == d.width(l); l++ {
				pos, next = d.lines[l].next, l+1
			}
		}
		col = d.keyCol(f.m.Content[0])
		if d.atEnd(pos) && t.block && !t.strip {
			return nil, fmt.Errorf("cannot add entries after the block scalar ending at line %d: "+
				"the file has no final line break, and adding one would change that value", last+1)
		}
	}
	if t := d.tabRun(next); t >= 0 {
		pos, next = d.lines[t].next, t+1
	}
	text, err := d.blockText(g.nodes, col, next, d.atEnd(pos))
	if err != nil {
		return nil, err
	}
	depth := len(g.frames)
	if g.fill {
		depth++
	}
	return append(out, splice{start: pos, end: pos, text: text, depth: depth, order: g.order}), nil
}
