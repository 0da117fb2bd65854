package yamlpatch

import (
	"bytes"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// line is one line of the source: its text is src[start:end], its line break
// src[end:next].
type line struct{ start, end, next int }

var bom = []byte{0xEF, 0xBB, 0xBF}

// splitLines splits src at the line breaks yaml.v3 counts (LF, CRLF, CR, NEL,
// LS, PS), so that node line numbers index the result. A leading BOM is not
// part of the first line, as yaml.v3 does not count it as a column.
func splitLines(src []byte) []line {
	start := 0
	if bytes.HasPrefix(src, bom) {
		start = len(bom)
	}
	ls := make([]line, 0, bytes.Count(src, []byte{'\n'})+1)
	// Most files break lines with \n only: then IndexByte finds them all,
	// and the byte-by-byte scan is needed only for \r, NEL (C2 85), LS and
	// PS (E2 80 A8/A9).
	if bytes.IndexByte(src, '\r') < 0 && bytes.IndexByte(src, 0xC2) < 0 && bytes.IndexByte(src, 0xE2) < 0 {
		return splitLF(src, start, ls)
	}
	return splitAnyBreak(src, start, ls)
}

func splitLF(src []byte, start int, ls []line) []line {
	for {
		i := bytes.IndexByte(src[start:], '\n')
		if i < 0 {
			return append(ls, line{start, len(src), len(src)})
		}
		ls = append(ls, line{start, start + i, start + i + 1})
		start += i + 1
	}
}

func splitAnyBreak(src []byte, start int, ls []line) []line {
	for i := start; i < len(src); {
		n := breakLen(src, i)
		if n == 0 {
			i++
			continue
		}
		ls = append(ls, line{start, i, i + n})
		i += n
		start = i
	}
	return append(ls, line{start, len(src), len(src)})
}

// breakLen returns the length of the line break at src[i], or 0.
func breakLen(src []byte, i int) int {
	switch c := src[i]; {
	case c == '\n':
		return 1
	case c == '\r':
		if i+1 < len(src) && src[i+1] == '\n' {
			return 2
		}
		return 1
	case c == 0xC2 && i+1 < len(src) && src[i+1] == 0x85:
		return 2
	case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9):
		return 3
	}
	return 0
}

// off returns the byte offset of n's position. yaml.v3 counts columns in
// characters, not bytes.
func (d *Doc) off(n *yaml.Node) int {
	if n.Line < 1 || n.Line > len(d.lines) {
		return len(d.src)
	}
	l := d.lines[n.Line-1]
	o := l.start
	for c := 1; c < n.Column && o < l.end; c++ {
		if d.src[o] < utf8.RuneSelf {
			o++
			continue
		}
		_, size := utf8.DecodeRune(d.src[o:l.end])
		o += size
	}
	return o
}

// lineAt returns the index of the line holding offset o.
func (d *Doc) lineAt(o int) int {
	i := sort.Search(len(d.lines), func(i int) bool { return d.lines[i].start > o })
	if i == 0 {
		return 0
	}
	return i - 1
}

// spaces returns the number of leading spaces of line l.
func (d *Doc) spaces(l int) int {
	ln := d.lines[l]
	n := 0
	for ln.start+n < ln.end && d.src[ln.start+n] == ' ' {
		n++
	}
	return n
}

func (d *Doc) width(l int) int { return d.lines[l].end - d.lines[l].start }

// firstText returns the offset of the first byte of line l that is neither a
// space nor a tab, or the line's end.
func (d *Doc) firstText(l int) int {
	ln := d.lines[l]
	o := ln.start
	for o < ln.end && (d.src[o] == ' ' || d.src[o] == '\t') {
		o++
	}
	return o
}

// blankOrComment reports whether line l holds only blanks or a comment.
func (d *Doc) blankOrComment(l int) bool {
	o := d.firstText(l)
	return o == d.lines[l].end || d.src[o] == '#'
}

// isComment reports whether line l is a comment line.
func (d *Doc) isComment(l int) bool {
	o := d.firstText(l)
	return o < d.lines[l].end && d.src[o] == '#'
}

// commentText returns the text of comment line l without "#" and one space.
func (d *Doc) commentText(l int) string {
	o := d.firstText(l) + 1
	s := string(d.src[o:d.lines[l].end])
	return strings.TrimPrefix(s, " ")
}

// startsLine reports whether n is the first text on its line.
func (d *Doc) startsLine(n *yaml.Node) bool {
	return n.Line >= 1 && n.Line <= len(d.lines) && d.off(n) == d.firstText(n.Line-1)
}

func isAlpha(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

// skipProperty skips the anchor or tag at src[o].
func (d *Doc) skipProperty(o int) int {
	src := d.src
	if src[o] == '&' {
		o++
		for o < len(src) && isAlpha(src[o]) {
			o++
		}
		return o
	}
	if o+1 < len(src) && src[o+1] == '<' {
		if i := bytes.IndexByte(src[o:], '>'); i >= 0 {
			return o + i + 1
		}
		return len(src)
	}
	o++
	for o < len(src) && (isAlpha(src[o]) || strings.IndexByte(";/?:@&=+$,.!~*'()[]%", src[o]) >= 0) {
		o++
	}
	return o
}

// skipSpace skips blanks, line breaks and comments from o.
func (d *Doc) skipSpace(o int) int {
	src := d.src
	for o < len(src) {
		switch c := src[o]; {
		case c == ' ' || c == '\t':
			o++
		case c == '#':
			o = d.lines[d.lineAt(o)].end
		default:
			n := breakLen(src, o)
			if n == 0 {
				return o
			}
			o += n
		}
	}
	return o
}

// isEmpty reports whether n is an implicit empty (null) scalar, which has no
// text of its own.
func isEmpty(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Style&^yaml.TaggedStyle == 0 && n.Value == ""
}

// contentStart returns the offset of n's content after its anchor and tag.
// For an empty scalar it is the end of its properties.
func (d *Doc) contentStart(n *yaml.Node) int {
	o := d.off(n)
	for o < len(d.src) && (d.src[o] == '&' || d.src[o] == '!') {
		o = d.skipProperty(o)
		if isEmpty(n) {
			p := o
			for p < len(d.src) && (d.src[p] == ' ' || d.src[p] == '\t') {
				p++
			}
			if p < len(d.src) && (d.src[p] == '&' || d.src[p] == '!') {
				o = p
				continue
			}
			return o
		}
		o = d.skipSpace(o)
	}
	return o
}

// quotedEnd returns the offset after the quoted scalar starting at src[o].
func (d *Doc) quotedEnd(o int) int {
	src := d.src
	q := src[o]
	for i := o + 1; i < len(src); i++ {
		switch c := src[i]; {
		case q == '"' && c == '\\':
			i++
		case c == q:
			if q == '\'' && i+1 < len(src) && src[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(src)
}

func isFlowIndicator(c byte) bool { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' }

// plainEnd returns the offset after the plain scalar starting at src[o]. In
// block context a plain scalar found here is one line; in flow context it may
// continue on the next lines.
func (d *Doc) plainEnd(o int, flow bool) int {
	src := d.src
	end := o
	for i := o; i < len(src); {
		c := src[i]
		if n := breakLen(src, i); n > 0 {
			if !flow {
				return end
			}
			i += n
			continue
		}
		switch {
		case c == ' ' || c == '\t':
			i++
			continue
		case c == '#' && (i == o || src[i-1] == ' ' || src[i-1] == '\t' || src[i-1] == '\n' || src[i-1] == '\r'):
			return end
		case c == ':' && (i+1 == len(src) || src[i+1] == ' ' || src[i+1] == '\t' || breakLen(src, i+1) > 0 ||
			flow && isFlowIndicator(src[i+1])):
			return end
		case flow && isFlowIndicator(c):
			return end
		}
		_, size := utf8.DecodeRune(src[i:])
		i += size
		end = i
	}
	return end
}

// nodeEnd returns the offset after n's text, for nodes whose end can be found
// by scanning: aliases, quoted and plain scalars, flow collections. It returns
// -1 when it cannot find the end.
func (d *Doc) nodeEnd(n *yaml.Node, flow bool) int {
	o := d.contentStart(n)
	if o >= len(d.src) {
		return o
	}
	switch n.Kind {
	case yaml.AliasNode:
		return o + 1 + len(n.Value)
	case yaml.ScalarNode:
		switch {
		case isEmpty(n):
			return o
		case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			return d.quotedEnd(o)
		case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
			return -1
		}
		return d.plainEnd(o, flow)
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle == 0 {
			return -1
		}
		return d.flowEnd(n, o)
	}
	return -1
}

// flowEnd returns the offset after the flow collection n that opens at o.
func (d *Doc) flowEnd(n *yaml.Node, o int) int {
	// A single key: value pair in a flow sequence has no braces of its own;
	// it starts where its key does, which may be a flow mapping.
	pair := n.Kind == yaml.MappingNode && len(n.Content) > 0 &&
		(d.src[o] != '{' || d.contentStart(n.Content[0]) == o)
	if !pair && d.src[o] != '[' && d.src[o] != '{' {
		return -1
	}
	last := o + 1
	if pair {
		last = o
	}
	for _, c := range n.Content {
		e := d.nodeEnd(c, true)
		if e < 0 {
			return -1
		}
		last = max(last, e)
	}
	if pair {
		return last
	}
	for i := last; i < len(d.src); {
		i = d.skipSpace(i)
		if i >= len(d.src) {
			break
		}
		switch d.src[i] {
		case ',', ':', '?':
			i++
		case ']', '}':
			return i + 1
		default:
			return -1
		}
	}
	return -1
}
