package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// walker checks a yaml.v3 node tree against the Go types of the schema, by
// their json tags, so that every unknown field, duplicate key and wrong type is
// reported with its line — sigs.k8s.io/yaml stops at the first one and has no
// lines. It also records the line of every field path it sees.
type walker struct {
	file     string
	lines    map[string]int
	problems []error
	// pruned are paths whose value had the wrong type and was cut from the
	// tree; validation problems at, under or just above them are noise.
	pruned []string
	// dirty is set when anything was cut from the tree.
	dirty bool
}

func (w *walker) add(line int, path, format string, args ...any) {
	w.problems = append(w.problems, &FieldError{File: w.file, Line: line, Path: path, Message: message(format, args)})
}

// node checks n against t and reports whether n may stay in the tree.
func (w *walker) node(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind == yaml.AliasNode {
		w.add(n.Line, path, "anchors and aliases are not supported: write the value out")
		w.cut(path)
		return false
	}
	if isNull(n) {
		return true
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Schedule]() && n.Kind == yaml.ScalarNode:
		return w.manualSchedule(n, path)
	case t == reflect.TypeFor[Duration]():
		return w.duration(n, path)
	case t.Kind() == reflect.String:
		return w.scalar(n, "!!str", "a string", path)
	case t.Kind() == reflect.Bool:
		return w.scalar(n, "!!bool", "true or false", path)
	case t.Kind() == reflect.Int:
		return w.integer(n, t.Bits(), path)
	case t.Kind() == reflect.Slice:
		return w.list(n, t.Elem(), path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return w.mismatch(n, "a mapping", path)
		}
		w.pairs(n, path, func(key string) (reflect.Type, bool) { return t.Elem(), true }, nil)
		return true
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return w.mismatch(n, "a mapping", path)
		}
		fields := jsonFields(t)
		w.pairs(n, path, func(key string) (reflect.Type, bool) {
			f, ok := fields[key]
			return f, ok
		}, fields)
		return true
	}
	// The schema has no other kinds; a new one must be taught to the walker.
	panic(fmt.Sprintf("spec: walker does not handle %v at %s", t, path))
}

// manualSchedule checks the one scalar a schedule may be: manual.
func (w *walker) manualSchedule(n *yaml.Node, path string) bool {
	if n.ShortTag() != "!!str" || n.Value != ScheduleManual {
		w.add(n.Line, path, "want %q or a mapping with every or at, got %s", ScheduleManual, describe(n))
		w.cut(path)
		return false
	}
	return true
}

// duration checks a duration string such as 26h or 8d.
func (w *walker) duration(n *yaml.Node, path string) bool {
	if !w.scalar(n, "!!str", "a duration string such as \"26h\" or \"8d\"", path) {
		return false
	}
	if _, err := ParseDuration(n.Value); err != nil {
		w.add(n.Line, path, "invalid duration %q (want e.g. 90m, 26h, 8d or 1d12h)", n.Value)
		w.cut(path)
		return false
	}
	return true
}

// integer checks a decimal integer that fits in bits.
func (w *walker) integer(n *yaml.Node, bits int, path string) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" && decimal(n.Value) {
		// yaml.v3 reads integers beyond int64 as floats.
		w.add(n.Line, path, "integer out of range")
		w.cut(path)
		return false
	}
	if !w.scalar(n, "!!int", "an integer", path) {
		return false
	}
	if !decimal(n.Value) {
		w.add(n.Line, path, "want a decimal integer such as 7")
		w.cut(path)
		return false
	}
	if _, err := strconv.ParseInt(n.Value, 10, bits); err != nil {
		w.add(n.Line, path, "integer out of range")
		w.cut(path)
		return false
	}
	return true
}

// list checks each item of a list against elem, replacing those that may
// not stay by null.
func (w *walker) list(n *yaml.Node, elem reflect.Type, path string) bool {
	if n.Kind != yaml.SequenceNode {
		return w.mismatch(n, "a list", path)
	}
	for i, item := range n.Content {
		p := indexPath(path, i)
		w.lines[p] = item.Line
		if !w.node(item, elem, p) {
			n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: item.Line}
		}
	}
	return true
}

// pairs walks a mapping's keys and values, cutting unknown, duplicate and
// ill-typed entries. fields lists the known names of a struct (nil for maps).
func (w *walker) pairs(n *yaml.Node, path string, elem func(string) (reflect.Type, bool), fields map[string]reflect.Type) {
	seen := map[string]int{}
	kept := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			w.add(k.Line, path, "merge keys (<<) are not supported: write the values out")
			w.dirty = true
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			w.add(k.Line, path, "keys must be strings")
			w.dirty = true
			continue
		}
		p := childPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.add(k.Line, p, "duplicate key (first at line %d)", first)
			w.dirty = true
			continue
		}
		seen[k.Value] = k.Line
		t, ok := elem(k.Value)
		if !ok {
			w.add(k.Line, p, "unknown field%s", suggest(k.Value, fields))
			w.dirty = true
			continue
		}
		w.lines[p] = k.Line
		if !w.node(v, t, p) {
			continue
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

// scalar checks that n is a scalar with the wanted tag.
func (w *walker) scalar(n *yaml.Node, tag, want, path string) bool {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == tag {
		return true
	}
	msg := "want " + want + ", got " + describe(n)
	if n.Kind == yaml.ScalarNode && want == "a string" && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		msg += ": put it in quotes"
	}
	w.add(n.Line, path, "%s", msg)
	w.cut(path)
	return false
}

func (w *walker) mismatch(n *yaml.Node, want, path string) bool {
	w.add(n.Line, path, "want %s, got %s", want, describe(n))
	w.cut(path)
	return false
}

// cut notes that the value at path was dropped for its type or reading.
func (w *walker) cut(path string) {
	w.dirty = true
	w.pruned = append(w.pruned, path)
}

// masked reports whether a validation problem at path only echoes a value
// that was cut for having the wrong type.
func (w *walker) masked(path string) bool {
	for _, p := range w.pruned {
		if path == p || path == parentPath(p) || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, never its value: a misplaced scalar might be
// a repository URL with credentials in it.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a floating-point number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!timestamp":
		return "a timestamp"
	case "!!binary":
		return "binary data"
	default:
		return "a value tagged " + strconv.Quote(tag)
	}
}

func decimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// jsonFields maps a struct's json names to field types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := jsonName(f); name != "" {
			fields[name] = f.Type
		}
	}
	return fields
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// suggest names the intended field for a near miss, or lists the known ones.
func suggest(key string, fields map[string]reflect.Type) string {
	if fields == nil {
		return ""
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		if strings.EqualFold(name, key) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return " (want one of " + strings.Join(names, ", ") + ")"
}

// agree compares the tree with what sigs.k8s.io/yaml decoded. That decoder
// reads YAML 1.1, where an unquoted yes, on or 0755 is not the string a YAML
// 1.2 reader sees; such values must be quoted to mean the same everywhere.
// Like node, it reports whether n may stay, and cuts what may not.
func (w *walker) agree(n *yaml.Node, v reflect.Value, path string) bool {
	if isNull(n) {
		return true
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return w.disagree(n.Line, path, "value was lost in decoding: put it in quotes")
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == reflect.TypeFor[Duration]():
		if d, _ := ParseDuration(n.Value); Duration(v.Int()) != d {
			return w.disagree(n.Line, path, "ambiguous unquoted value: put it in quotes")
		}
	case v.Kind() == reflect.String:
		if v.String() != n.Value {
			return w.disagree(n.Line, path, "ambiguous unquoted value: put it in quotes")
		}
	case v.Kind() == reflect.Bool:
		if strconv.FormatBool(v.Bool()) != n.Value {
			return w.disagree(n.Line, path, "ambiguous boolean: write true or false")
		}
	case v.Kind() == reflect.Int:
		if strconv.FormatInt(v.Int(), 10) != n.Value {
			return w.disagree(n.Line, path, "ambiguous number: write it in decimal")
		}
	case v.Kind() == reflect.Slice:
		if v.Len() != len(n.Content) {
			return w.disagree(n.Line, path, "the list reads differently in YAML 1.1: put its items in quotes")
		}
		for i, item := range n.Content {
			if !w.agree(item, v.Index(i), indexPath(path, i)) {
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: item.Line}
			}
		}
	case v.Kind() == reflect.Map:
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := childPath(path, k.Value)
			e := v.MapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()))
			if !e.IsValid() {
				w.disagree(k.Line, p, "ambiguous unquoted key: put it in quotes")
				continue
			}
			// Map elements are not addressable; copy to reach pointers inside.
			c := reflect.New(e.Type()).Elem()
			c.Set(e)
			if w.agree(n.Content[i+1], c, p) {
				kept = append(kept, k, n.Content[i+1])
			}
		}
		n.Content = kept
	case v.Kind() == reflect.Struct:
		fields := map[string]int{}
		for i := 0; i < v.NumField(); i++ {
			if name := jsonName(v.Type().Field(i)); name != "" {
				fields[name] = i
			}
		}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if idx, ok := fields[k.Value]; ok && !w.agree(n.Content[i+1], v.Field(idx), childPath(path, k.Value)) {
				continue
			}
			kept = append(kept, k, n.Content[i+1])
		}
		n.Content = kept
	}
	return true
}

func (w *walker) disagree(line int, path, msg string) bool {
	w.add(line, path, "%s", msg)
	w.cut(path)
	return false
}
