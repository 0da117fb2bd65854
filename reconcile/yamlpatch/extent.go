package yamlpatch

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// tail describes how the text of a block node ends, as far as scanning
// forward can tell: yaml.v3 records where nodes start, not where they end.
type tail struct {
	line   int  // last line of text found by scanning, or -1
	block  bool // the text ends with a block scalar (| or >)
	indent int  // that scalar's content indentation
	keep   bool // that scalar keeps trailing line breaks (+)
	strip  bool // that scalar strips its final line break (-)
	lost   bool // scanning could not find the end of the text
}

var noTail = tail{line: -1}

// frame is one mapping on the way from the document root to an entry.
type frame struct {
	m     *yaml.Node // the mapping
	idx   int        // index of the path's key among m's entries, -1 if absent
	owner int        // 0-based line of the key whose value m is, -1 for the root
}

func pair(m *yaml.Node, i int) (k, v *yaml.Node) { return m.Content[2*i], m.Content[2*i+1] }

func entries(m *yaml.Node) int { return len(m.Content) / 2 }

func isFlow(n *yaml.Node) bool { return n.Style&yaml.FlowStyle != 0 }

// nextAfter returns the line of the first token after entry idx of
// frames[k].m: the next key of that mapping or of an enclosing one, or the
// end of the document.
func (d *Doc) nextAfter(frames []frame, k, idx int) int {
	for {
		m := frames[k].m
		if idx+1 < entries(m) {
			nk, _ := pair(m, idx+1)
			return d.keyLine(nk)
		}
		if k == 0 {
			return d.docEnd
		}
		k--
		idx = frames[k].idx
	}
}

// lastLine returns the last line holding text of the block mapping entry k: v,
// and how that text ends. next is the line of the first token after the
// entry. Blank and comment lines before next belong to what follows, unless
// they are inside a quoted or block scalar of the entry.
func (d *Doc) lastLine(k, v *yaml.Node, next int) (int, tail) {
	kl := d.keyLine(k)
	last := kl
	col := d.spaces(kl)
	for l := min(next, len(d.lines)) - 1; l > kl; l-- {
		if !d.blankOrComment(l) && (d.spaces(l) > col || d.explicit(l, col)) {
			last = l
			break
		}
	}
	t := d.tail(v, d.keyCol(k), next)
	return max(last, t.line), t
}

// explicit reports whether line l, at the indentation col of a key, is an
// item of an indentless sequence or the ": value" or "? key" line of an
// explicit key. Other text indented no more than its key is not part of an
// entry (yaml.v3 lets some stray text pass).
func (d *Doc) explicit(l, col int) bool {
	o := d.firstText(l)
	if d.spaces(l) != col || o >= d.lines[l].end || d.src[o] != ':' && d.src[o] != '?' && d.src[o] != '-' {
		return false
	}
	return o+1 == d.lines[l].end || d.src[o+1] == ' ' || d.src[o+1] == '\t'
}

// tail scans the end of block node n, whose enclosing block collection is
// indented p columns.
func (d *Doc) tail(n *yaml.Node, p, next int) tail {
	switch n.Kind {
	case yaml.AliasNode:
		return d.endTail(d.nodeEnd(n, false), true)
	case yaml.ScalarNode:
		switch {
		case isEmpty(n):
			return noTail
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return d.blockScalarTail(n, p, next)
		case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			return d.endTail(d.nodeEnd(n, false), true)
		}
		return noTail
	case yaml.MappingNode, yaml.SequenceNode:
		if isFlow(n) {
			return d.endTail(d.nodeEnd(n, false), true)
		}
		if len(n.Content) == 0 {
			return noTail
		}
		if n.Kind == yaml.MappingNode {
			k, v := pair(n, entries(n)-1)
			t := d.tail(v, d.keyCol(n.Content[0]), next)
			if k.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				// An explicit key may span lines.
				if kt := d.endTail(d.nodeEnd(k, false), false); kt.line > t.line {
					kt.lost = t.lost
					t = kt
				}
			}
			return t
		}
		return d.tail(n.Content[len(n.Content)-1], d.dashCol(n), next)
	}
	return noTail
}

// endTail is the tail of text that ends before offset e (-1: not found).
// With last, the text must be the last on its line but for a comment.
func (d *Doc) endTail(e int, last bool) tail {
	if e < 0 {
		return tail{line: -1, lost: true}
	}
	l := d.lineAt(e - 1)
	if last {
		for e < d.lines[l].end && (d.src[e] == ' ' || d.src[e] == '\t') {
			e++
		}
		if e < d.lines[l].end && d.src[e] != '#' {
			return tail{line: l, lost: true}
		}
	}
	return tail{line: l}
}

// explicitAt returns the offset of the "?" that makes k an explicit key, or
// -1: a "?" before k on its line, or alone (but for a comment) on the last
// line with text above k, indented less than k.
func (d *Doc) explicitAt(k *yaml.Node) int {
	kl := k.Line - 1
	i := d.off(k) - 1
	for i >= d.lines[kl].start && (d.src[i] == ' ' || d.src[i] == '\t') {
		i--
	}
	if i >= d.lines[kl].start {
		if d.src[i] == '?' && d.firstText(kl) == i {
			return i
		}
		return -1
	}
	for l := kl - 1; l >= 0; l-- {
		if d.blankOrComment(l) {
			continue
		}
		q := d.firstText(l)
		if d.src[q] != '?' || k.Column-1 <= d.spaces(l) {
			return -1
		}
		if r := d.firstTextFrom(q + 1); r == d.lines[l].end || d.src[r] == '#' {
			return q
		}
		return -1
	}
	return -1
}

// firstTextFrom returns the offset of the first byte from o on its line that
// is neither a space nor a tab, or the line's end.
func (d *Doc) firstTextFrom(o int) int {
	end := d.lines[d.lineAt(o)].end
	for o < end && (d.src[o] == ' ' || d.src[o] == '\t') {
		o++
	}
	return o
}

// keyLine returns the first line of block mapping key k, which is the line of
// its "?" when it is an explicit key.
func (d *Doc) keyLine(k *yaml.Node) int {
	if q := d.explicitAt(k); q >= 0 {
		return d.lineAt(q)
	}
	return k.Line - 1
}

// keyCol returns the indentation of block mapping key k.
func (d *Doc) keyCol(k *yaml.Node) int {
	if q := d.explicitAt(k); q >= 0 {
		return d.spaces(d.lineAt(q))
	}
	if d.startsLine(k) {
		return k.Column - 1
	}
	return d.spaces(k.Line - 1)
}

// dashCol returns the 0-based column of the dashes of block sequence s.
func (d *Doc) dashCol(s *yaml.Node) int {
	if o := d.off(s); o < len(d.src) && d.src[o] == '-' {
		return s.Column - 1
	}
	if len(s.Content) > 0 {
		first := s.Content[0]
		o := d.off(first)
		start := d.lines[first.Line-1].start
		i := o - 1
		for i >= start && (d.src[i] == ' ' || d.src[i] == '\t') {
			i--
		}
		if i >= start && d.src[i] == '-' {
			return first.Column - 1 - (o - i)
		}
	}
	return s.Column - 1
}

// blockScalarTail finds the last content line of a literal or folded scalar,
// following yaml.v3's rules for its indentation.
func (d *Doc) blockScalarTail(n *yaml.Node, p, next int) tail {
	h := d.contentStart(n)
	if h >= len(d.src) {
		return noTail
	}
	t := tail{line: d.lineAt(h), block: true}
	for o := h + 1; o < len(d.src); o++ {
		c := d.src[o]
		if c >= '1' && c <= '9' {
			t.indent = max(p, 0) + int(c-'0')
		} else if c == '+' {
			t.keep = true
		} else if c == '-' {
			t.strip = true
		} else {
			break
		}
	}
	lead := 0
	for l := t.line + 1; l < min(next, len(d.lines)); l++ {
		s, w := d.spaces(l), d.width(l)
		if t.indent == 0 {
			if s == w {
				lead = max(lead, s)
				continue
			}
			t.indent = max(lead, s, p+1, 1)
		}
		switch {
		case s >= t.indent:
			if w > t.indent {
				t.line = l
			}
		case s == w:
		default:
			return t
		}
	}
	if t.indent == 0 {
		t.indent = max(lead, p+1, 1)
	}
	return t
}

// absorbs reports the last of the lines from `from` on that a block scalar
// ending just before them (content indentation indent, keep chomping if keep)
// would take into its value, or -1. It stops at the first line that ends the
// scalar.
func (d *Doc) absorbs(from, indent int, keep bool) int {
	bad := -1
	for l := from; l < len(d.lines); l++ {
		s, w := d.spaces(l), d.width(l)
		switch {
		case s == w && w <= indent:
			if keep && l < len(d.lines)-1 {
				bad = l
			}
		case s >= indent:
			bad = l
		case d.src[d.lines[l].start+s] == '\t':
			// yaml.v3 rejects a tab in the indentation of a block scalar.
			bad = l
		default:
			return bad
		}
	}
	return bad
}

// tabRun returns the last of the blank lines from line `from` on when one of
// them has a tab, or -1. yaml.v3 accepts such lines only after a plain
// scalar, so they stay with the text before them.
func (d *Doc) tabRun(from int) int {
	run := -1
	for l := from; l < len(d.lines); l++ {
		t := d.src[d.lines[l].start:d.lines[l].end]
		if len(bytes.Trim(t, " \t")) > 0 {
			break
		}
		if bytes.IndexByte(t, '\t') >= 0 {
			run = l
		}
	}
	return run
}

// ends reports whether lines [from, to) hold a line that ends a block scalar
// with content indentation indent.
func (d *Doc) ends(from, to, indent int) bool {
	for l := from; l < to; l++ {
		if s, w := d.spaces(l), d.width(l); s < indent && s != w {
			return true
		}
	}
	return false
}

// commentTop returns the first line of the run of comment lines directly
// above line kl, not going above line floor+1.
func (d *Doc) commentTop(kl, floor int) int {
	l := kl
	for l-1 > floor && d.isComment(l-1) {
		l--
	}
	return l
}

// floor returns the last line, above entry idx of mapping m, that belongs to
// something else: the previous entry, the mapping's opening, or the key that
// owns m. Comment lines below it and directly above the entry's key are the
// entry's head comment.
func (d *Doc) floor(m *yaml.Node, idx, owner int) int {
	k, _ := pair(m, idx)
	if idx > 0 {
		pk, pv := pair(m, idx-1)
		if isFlow(m) {
			e := max(d.nodeEnd(pk, true), d.nodeEnd(pv, true))
			if e < 0 {
				return k.Line - 1
			}
			return d.lineAt(e - 1)
		}
		last, _ := d.lastLine(pk, pv, d.keyLine(k))
		return last
	}
	if m.Line < k.Line && d.explicitAt(k) < 0 {
		return m.Line - 1
	}
	return owner
}

// headComment returns the comment lines directly above entry idx of m,
// without "# ", joined by newlines.
func (d *Doc) headComment(m *yaml.Node, idx, owner int) string {
	k, _ := pair(m, idx)
	if !d.startsLine(k) || d.explicitAt(k) >= 0 {
		return ""
	}
	kl := k.Line - 1
	top := d.commentTop(kl, d.floor(m, idx, owner))
	s := ""
	for l := top; l < kl; l++ {
		if l > top {
			s += "\n"
		}
		s += d.commentText(l)
	}
	return s
}
