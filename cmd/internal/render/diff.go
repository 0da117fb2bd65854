package render

import (
	"bytes"
	"fmt"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
)

// contextLines of unchanged text surround each change, as in `diff -u`.
const contextLines = udiff.DefaultContextLines

// Diff is the unified diff of devopsellence.yml, "" when it does not change.
// The patch replaced only a few blocks of a file that may be megabytes long,
// so the lines are compared only where its spans say it changed something;
// the output is what a diff of the whole files prints.
func Diff(p *reconcile.Plan) string {
	if bytes.Equal(p.Before, p.After) {
		return ""
	}
	from, to := p.ConfigFile, p.ConfigFile+" (planned)"
	if d, ok := spanDiff(from, to, p.Before, p.After, p.Spans); ok {
		return d
	}
	return udiff.Unified(from, to, string(p.Before), string(p.After))
}

// FileDiff is the unified diff of two versions of a small file, "" when
// they are the same.
func FileDiff(from, to string, before, after []byte) string {
	if bytes.Equal(before, after) {
		return ""
	}
	return udiff.Unified(from, to, string(before), string(after))
}

// region is a stretch of whole lines that differs: before[a:b] became
// after[newA:newB]; line is the line number (from 0) of before[a].
type region struct {
	a, b, newA, newB, line int
}

// spanDiff diffs before and after line by line inside the spans only. ok is
// false when it cannot vouch for the result: no spans, bytes outside them
// that differ after all, or a file without a final line break (which
// unified diffs mark specially).
func spanDiff(from, to string, before, after []byte, spans []yamlpatch.Span) (string, bool) {
	if len(spans) == 0 || !endsWithBreak(before) || !endsWithBreak(after) {
		return "", false
	}
	regions, ok := regionsOf(before, after, spans)
	if !ok {
		return "", false
	}
	u := unified{before: before}
	for _, r := range regions {
		old, new := string(before[r.a:r.b]), string(after[r.newA:r.newB])
		for _, e := range udiff.Lines(old, new) {
			start := r.line + strings.Count(old[:e.Start], "\n")
			u.edit(lineEdit{
				start: start, end: start + strings.Count(old[e.Start:e.End], "\n"),
				startOff: r.a + e.Start, endOff: r.a + e.End, insert: e.New,
			})
		}
	}
	return u.String(from, to), true
}

func endsWithBreak(b []byte) bool { return len(b) > 0 && b[len(b)-1] == '\n' }

// regionsOf turns the patch's spans into regions of whole lines, widened by
// the context lines so the line diff may slide a change as a diff of the
// whole files would, merged where they meet. It checks that the bytes
// between regions are the same in both files: otherwise the spans do not
// describe this change, and ok is false.
func regionsOf(before, after []byte, spans []yamlpatch.Span) ([]region, bool) {
	var rs []region
	for _, s := range spans {
		if s.Start < 0 || s.End < s.Start || s.End > len(before) || s.NewStart < 0 || s.NewEnd < s.NewStart || s.NewEnd > len(after) {
			return nil, false
		}
		a := linesBack(before, s.Start, contextLines)
		newA := s.NewStart - (s.Start - a)
		b, newB := s.End, s.NewEnd
		// Take the rest of the last line, in both files, then the context.
		for (b > a && before[b-1] != '\n') || (newB > newA && after[newB-1] != '\n') {
			if b == len(before) {
				return nil, false
			}
			n := bytes.IndexByte(before[b:], '\n') + 1
			if n == 0 {
				n = len(before) - b
			}
			b, newB = b+n, newB+n
		}
		n := linesForward(before, b, contextLines) - b
		b, newB = b+n, newB+n
		if newA < 0 || newB > len(after) {
			return nil, false
		}
		if k := len(rs) - 1; k >= 0 && a <= rs[k].b {
			rs[k].b, rs[k].newB = b, newB
			continue
		}
		rs = append(rs, region{a: a, b: b, newA: newA, newB: newB})
	}
	prevB, prevNewB, line := 0, 0, 0
	for i := range rs {
		r := &rs[i]
		if r.a-prevB != r.newA-prevNewB || !bytes.Equal(before[prevB:r.a], after[prevNewB:r.newA]) {
			return nil, false
		}
		line += bytes.Count(before[prevB:r.a], []byte{'\n'})
		r.line = line
		line += bytes.Count(before[r.a:r.b], []byte{'\n'})
		prevB, prevNewB = r.b, r.newB
	}
	return rs, bytes.Equal(before[prevB:], after[prevNewB:])
}

// linesBack returns the start of the line n lines above the one holding
// offset o (its own line when n is 0), or 0.
func linesBack(b []byte, o, n int) int {
	o = bytes.LastIndexByte(b[:o], '\n') + 1
	for ; n > 0 && o > 0; n-- {
		o = bytes.LastIndexByte(b[:o-1], '\n') + 1
	}
	return o
}

// linesForward returns the offset after n more lines from o, a line start,
// or the end of b.
func linesForward(b []byte, o, n int) int {
	for ; n > 0 && o < len(b); n-- {
		i := bytes.IndexByte(b[o:], '\n')
		if i < 0 {
			return len(b)
		}
		o += i + 1
	}
	return o
}

// lineEdit replaces the lines [start, end) of the old file, which are the
// bytes [startOff, endOff), with the lines of insert.
type lineEdit struct {
	start, end       int
	startOff, endOff int
	insert           string
}

type hunkLine struct {
	kind byte // ' ', '-' or '+'
	text string
}

type hunk struct {
	fromLine, toLine int
	lines            []hunkLine
}

// unified gathers hunks from line edits in order, the way go-udiff's
// ToUnified does for edits of a whole file, reading context lines from the
// old file around each edit only.
type unified struct {
	before []byte
	hunks  []*hunk
	h      *hunk
	// last is the old line after the previous edit, lastOff its offset;
	// toLine counts the new file's lines before the current position.
	last, lastOff, toLine int
}

func (u *unified) edit(e lineEdit) {
	// Unchanged lines since the previous edit. (go-udiff forgets to count
	// those that join two edits into one hunk, so its later hunks show the
	// wrong new line numbers.)
	u.toLine += e.start - u.last
	switch {
	case u.h != nil && e.start == u.last:
	case u.h != nil && e.start <= u.last+2*contextLines:
		u.equal(u.lastOff, e.start-u.last)
	default:
		u.flush()
		from := linesBack(u.before, e.startOff, contextLines)
		u.h = &hunk{fromLine: e.start + 1, toLine: u.toLine + 1}
		n := u.equal(from, bytes.Count(u.before[from:e.startOff], []byte{'\n'}))
		u.h.fromLine -= n
		u.h.toLine -= n
	}
	u.last = e.start
	for _, l := range splitKeep(string(u.before[e.startOff:e.endOff])) {
		u.h.lines = append(u.h.lines, hunkLine{'-', l})
		u.last++
	}
	for _, l := range splitKeep(e.insert) {
		u.h.lines = append(u.h.lines, hunkLine{'+', l})
		u.toLine++
	}
	u.lastOff = e.endOff
}

// equal adds up to n unchanged lines starting at offset o, and says how many.
func (u *unified) equal(o, n int) int {
	added := 0
	for ; added < n && o < len(u.before); added++ {
		end := linesForward(u.before, o, 1)
		u.h.lines = append(u.h.lines, hunkLine{' ', string(u.before[o:end])})
		o = end
	}
	return added
}

func (u *unified) flush() {
	if u.h == nil {
		return
	}
	u.equal(u.lastOff, contextLines)
	u.hunks = append(u.hunks, u.h)
	u.h = nil
}

// String prints the hunks as go-udiff does, GNU diff's quirks included.
func (u *unified) String(from, to string) string {
	u.flush()
	if len(u.hunks) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s\n+++ %s\n", from, to)
	for _, h := range u.hunks {
		fromCount, toCount := 0, 0
		for _, l := range h.lines {
			if l.kind != '+' {
				fromCount++
			}
			if l.kind != '-' {
				toCount++
			}
		}
		b.WriteString("@@")
		writeRange(&b, '-', h.fromLine, fromCount)
		writeRange(&b, '+', h.toLine, toCount)
		b.WriteString(" @@\n")
		for _, l := range h.lines {
			b.WriteByte(l.kind)
			b.WriteString(l.text)
			if !strings.HasSuffix(l.text, "\n") {
				b.WriteString("\n\\ No newline at end of file\n")
			}
		}
	}
	return b.String()
}

func writeRange(b *strings.Builder, sign byte, line, count int) {
	switch {
	case count > 1:
		fmt.Fprintf(b, " %c%d,%d", sign, line, count)
	case line == 1 && count == 0:
		fmt.Fprintf(b, " %c0,0", sign) // GNU diff -u, adding to an empty file
	default:
		fmt.Fprintf(b, " %c%d", sign, line)
	}
}

// splitKeep splits text into lines that keep their line break.
func splitKeep(text string) []string {
	var out []string
	for text != "" {
		i := strings.IndexByte(text, '\n') + 1
		if i == 0 {
			i = len(text)
		}
		out = append(out, text[:i])
		text = text[i:]
	}
	return out
}
