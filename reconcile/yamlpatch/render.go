package yamlpatch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Style is the layout detected in a file, used to render new entries.
type Style struct {
	// Indent is the dominant indentation step of nested block mappings (2
	// when the file has none).
	Indent int
	// IndentSequences reports whether block sequences are indented under
	// their key ("key:\n  - a") rather than indentless ("key:\n- a").
	IndentSequences bool
	// LineEnding is the file's line break: "\n", "\r\n" or "\r".
	LineEnding string
}

// Render renders the entry that e would insert into an empty document: its
// path as nested block mappings at column 0, e.Comment above its key. A zero
// Style renders with a 2-space indent, indented sequences and "\n".
//
// Block style is used throughout, also for short lists of scalars, so that a
// rendered entry always has the same shape. Scalars are plain when that reads
// back as the same string, double-quoted otherwise; a string with line breaks
// is a literal block scalar (| or |-) when one can hold it exactly.
func (s Style) Render(e Edit) ([]byte, error) {
	if e.Value == nil {
		return nil, errors.New("render: the edit deletes its entry")
	}
	if err := checkEdit(e); err != nil {
		return nil, fmt.Errorf("render %s: %w", pathString(e.Path), err)
	}
	r := newRenderer(s, true)
	lines, _, err := r.block(nil, 0, addPath(nil, e.Path, e.Value, e.Comment))
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", pathString(e.Path), err)
	}
	return []byte(strings.Join(lines, r.st.LineEnding) + r.st.LineEnding), nil
}

// node is one entry to create: a leaf with a value, or a new mapping.
type node struct {
	key     string
	value   Value // nil for a new mapping
	comment string
	kids    []*node
}

// addPath adds the entry at path to the new entries ns.
func addPath(ns []*node, path []string, v Value, comment string) []*node {
	for _, n := range ns {
		if n.key == path[0] && n.value == nil && len(path) > 1 {
			n.kids = addPath(n.kids, path[1:], v, comment)
			return ns
		}
	}
	n := &node{key: path[0]}
	if len(path) == 1 {
		n.value, n.comment = v, comment
	} else {
		n.kids = addPath(nil, path[1:], v, comment)
	}
	return append(ns, n)
}

type renderer struct {
	st      Style
	w       int
	literal bool // literal block scalars allowed
}

func newRenderer(s Style, literal bool) *renderer {
	if s.Indent <= 0 {
		s.Indent = 2
	}
	if s.LineEnding == "" {
		s.LineEnding = "\n"
	}
	return &renderer{st: s, w: s.Indent, literal: literal}
}

func pad(n int) string { return strings.Repeat(" ", n) }

// block appends the block-style lines of ns at column col. tail is the content
// indentation of a literal block scalar that ends the lines, or 0.
func (r *renderer) block(out []string, col int, ns []*node) (lines []string, tail int, err error) {
	for _, n := range ns {
		if n.comment != "" {
			out = append(out, pad(col)+"# "+n.comment)
		}
		if n.value == nil {
			out = append(out, pad(col)+scalarText(n.key, false)+":")
			if out, tail, err = r.block(out, col+r.w, n.kids); err != nil {
				return nil, 0, err
			}
			continue
		}
		if out, tail, err = r.leaf(out, col, n.key, n.value); err != nil {
			return nil, 0, err
		}
	}
	return out, tail, nil
}

// leaf renders key: v at column col and checks that it reads back as v.
func (r *renderer) leaf(out []string, col int, key string, v Value) ([]string, int, error) {
	lit := r.literal
	for {
		q := &renderer{st: r.st, w: r.w, literal: lit}
		lines, tail := q.entry(nil, col, key, v)
		if readsBack(strings.Join(lines, "\n"), key, v) {
			return append(out, lines...), tail, nil
		}
		if !lit {
			return nil, 0, fmt.Errorf("rendered %q does not read back as its value", key)
		}
		lit = false
	}
}

// entry appends key: v at column col.
func (r *renderer) entry(out []string, col int, key string, v Value) ([]string, int) {
	head := pad(col) + scalarText(key, false) + ":"
	switch v := v.(type) {
	case Scalar:
		if body, hdr, ok := r.lit(string(v)); ok {
			return appendLit(append(out, head+" "+hdr), col+r.w, body), col + r.w
		}
		return append(out, head+" "+scalarText(string(v), false)), 0
	case Map:
		if len(v) == 0 {
			return append(out, head+" {}"), 0
		}
		tail := 0
		out = append(out, head)
		for _, f := range v {
			out, tail = r.entry(out, col+r.w, f.Key, f.Value)
		}
		return out, tail
	case List:
		if len(v) == 0 {
			return append(out, head+" []"), 0
		}
		dash := col
		if r.st.IndentSequences {
			dash += r.w
		}
		return r.items(append(out, head), dash, v)
	}
	return out, 0
}

// items appends the items of l as a block sequence with dashes at column dash.
func (r *renderer) items(out []string, dash int, l List) ([]string, int) {
	tail := 0
	for _, it := range l {
		start := len(out)
		switch it := it.(type) {
		case Scalar:
			if body, hdr, ok := r.lit(string(it)); ok {
				out, tail = appendLit(append(out, pad(dash)+"- "+hdr), dash+r.w, body), dash+r.w
				continue
			}
			out, tail = append(out, pad(dash)+"- "+scalarText(string(it), false)), 0
		case Map:
			if len(it) == 0 {
				out, tail = append(out, pad(dash)+"- {}"), 0
				continue
			}
			for _, f := range it {
				out, tail = r.entry(out, dash+2, f.Key, f.Value)
			}
			out[start] = pad(dash) + "- " + out[start][dash+2:]
		case List:
			if len(it) == 0 {
				out, tail = append(out, pad(dash)+"- []"), 0
				continue
			}
			out, tail = r.items(out, dash+2, it)
			out[start] = pad(dash) + "- " + out[start][dash+2:]
		}
	}
	return out, tail
}

func appendLit(out []string, indent int, body []string) []string {
	for _, l := range body {
		if l == "" {
			out = append(out, "")
		} else {
			out = append(out, pad(indent)+l)
		}
	}
	return out
}

// lit returns the lines and header of s as a literal block scalar, if one can
// hold it: it has a line break, no other special characters, and at most one
// trailing line break (more would need keep chomping, which the lines after
// the entry could change).
func (r *renderer) lit(s string) (body []string, header string, ok bool) {
	if !r.literal || !strings.Contains(s, "\n") {
		return nil, "", false
	}
	for _, c := range s {
		if c != '\n' && c != '\t' && (!printable(c) || c == '\r') {
			return nil, "", false
		}
	}
	b, chomp := strings.TrimSuffix(s, "\n"), "-"
	if len(b) < len(s) {
		chomp = ""
	}
	if b == "" || strings.HasSuffix(b, "\n") {
		return nil, "", false
	}
	body = strings.Split(b, "\n")
	ind := ""
	for _, l := range body {
		if l != "" {
			if l[0] == ' ' {
				if r.w > 9 {
					return nil, "", false
				}
				ind = strconv.Itoa(r.w)
			}
			break
		}
	}
	return body, "|" + ind + chomp, true
}

// printable reports whether c may appear unescaped in a YAML document, and is
// not a line break other than LF.
func printable(c rune) bool {
	switch {
	case c == utf8.RuneError, c == 0x85, c == 0x2028, c == 0x2029, c == 0xFEFF, c == 0xFFFE, c == 0xFFFF:
		return false
	case c == '\n' || c == '\t':
		return true
	case c < 0x20, c >= 0x7F && c <= 0x9F:
		return false
	}
	return true
}

// scalarText renders s plain when that reads back as the same string with
// tag !!str, double-quoted otherwise.
func scalarText(s string, flow bool) string {
	if plainOK(s, flow) {
		return s
	}
	if singleOK(s) {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return quote(s)
}

// singleOK: a one-line printable string with double quotes or backslashes
// (JSON, say) reads better single-quoted, where neither is escaped.
func singleOK(s string) bool {
	if !strings.ContainsAny(s, "\"\\") {
		return false
	}
	for _, c := range s {
		if c == '\t' || c == '\n' || c == '\r' || !printable(c) {
			return false
		}
	}
	return true
}

func plainOK(s string, flow bool) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for _, c := range s {
		if c == '\t' || c == '\n' || !printable(c) {
			return false
		}
	}
	switch s[0] {
	case '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', '{', '}', '[', ']', ',':
		return false
	case '-', '?', ':':
		if len(s) == 1 || s[1] == ' ' || flow && isFlowIndicator(s[1]) {
			return false
		}
	}
	if strings.Contains(s, ": ") || strings.HasSuffix(s, ":") || strings.Contains(s, " #") ||
		flow && strings.ContainsAny(s, ",[]{}") {
		return false
	}
	var n yaml.Node
	if yaml.Unmarshal([]byte(s), &n) != nil || len(n.Content) != 1 {
		return false
	}
	c := n.Content[0]
	return c.Kind == yaml.ScalarNode && c.Style == 0 && c.ShortTag() == "!!str" && c.Value == s
}

// quote renders s double-quoted, escaping what YAML does not allow as is.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		case 0x85:
			b.WriteString(`\N`)
		case 0x2028:
			b.WriteString(`\L`)
		case 0x2029:
			b.WriteString(`\P`)
		default:
			switch {
			case c < 0x20 || c >= 0x7F && c <= 0x9F:
				fmt.Fprintf(&b, `\x%02X`, c)
			case !printable(c):
				fmt.Fprintf(&b, `\u%04X`, c)
			default:
				b.WriteRune(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// flow renders v in flow style on one line.
func flow(v Value) string {
	switch v := v.(type) {
	case Scalar:
		return scalarText(string(v), true)
	case Map:
		parts := make([]string, len(v))
		for i, f := range v {
			parts[i] = scalarText(f.Key, true) + ": " + flow(f.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case List:
		parts := make([]string, len(v))
		for i, it := range v {
			parts[i] = flow(it)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return ""
}

// flowNodes renders ns as the entries of a flow mapping. A comment goes on its
// own line, indented by ind, above its key. afterOpen says the text follows
// the opening brace directly.
func (r *renderer) flowNodes(ns []*node, ind string, afterOpen bool) (string, error) {
	var b strings.Builder
	le := r.st.LineEnding
	for i, n := range ns {
		if i > 0 {
			b.WriteString(",")
		}
		if n.comment != "" {
			b.WriteString(le + ind + "# " + n.comment + le + ind)
		} else if i > 0 || !afterOpen {
			b.WriteString(" ")
		}
		k := scalarText(n.key, true)
		if n.value == nil {
			kids, err := r.flowNodes(n.kids, ind+pad(r.w), true)
			if err != nil {
				return "", err
			}
			b.WriteString(k + ": {" + kids + "}")
			continue
		}
		v := flow(n.value)
		if !readsBack("{"+k+": "+v+"}", n.key, n.value) {
			return "", fmt.Errorf("rendered %q does not read back as its value", n.key)
		}
		b.WriteString(k + ": " + v)
	}
	return b.String(), nil
}

// readsBack reports whether text parses as a mapping of key to exactly v.
func readsBack(text, key string, v Value) bool {
	var n yaml.Node
	if yaml.Unmarshal([]byte(text), &n) != nil || len(n.Content) != 1 {
		return false
	}
	m := n.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) != 2 {
		return false
	}
	k := m.Content[0]
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!str" && k.Value == key && matches(m.Content[1], v, 0)
}
