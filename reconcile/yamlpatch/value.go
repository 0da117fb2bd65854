package yamlpatch

// Value is the small YAML data model the patcher renders: ordered maps, lists
// and string scalars. It is all a devopsellence service block needs.
type Value interface{ isValue() }

// Map is an ordered mapping; keys render in this order.
type Map []Field

// Field is one key of a Map.
type Field struct {
	Key   string
	Value Value
}

// List is a sequence.
type List []Value

// Scalar is a string scalar. It renders plain when that reads back as the same
// string, double-quoted otherwise, and as a literal block when it has newlines.
type Scalar string

func (Map) isValue()    {}
func (List) isValue()   {}
func (Scalar) isValue() {}

// Get returns the value of key, or nil.
func (m Map) Get(key string) Value {
	for _, f := range m {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// Edit replaces, inserts or deletes one mapping entry.
type Edit struct {
	// Path is the key path of the entry, e.g. ["services", "backup"] or
	// ["environments", "staging", "services", "backup"]. Missing parent
	// mappings are created.
	Path []string
	// Value is the entry's new value; nil deletes the entry.
	Value Value
	// Comment is a one-line comment (without "# ") written on its own line
	// directly above the key; empty writes none.
	Comment string
}

// Equal reports whether a and b are the same value. Map key order is
// presentation, not meaning, so two Maps are equal when they hold the same keys
// with equal values in any order.
func Equal(a, b Value) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case Scalar:
		b, ok := b.(Scalar)
		return ok && a == b
	case List:
		b, ok := b.(List)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !Equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case Map:
		b, ok := b.(Map)
		if !ok || len(a) != len(b) {
			return false
		}
		for _, f := range a {
			g := b.Get(f.Key)
			if g == nil || !Equal(f.Value, g) {
				return false
			}
		}
		for _, f := range b {
			if a.Get(f.Key) == nil {
				return false
			}
		}
		return true
	}
	return false
}
