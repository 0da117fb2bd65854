package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// Load reads and parses the spec at path. A missing file says to run init.
func Load(path string) (*Backup, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read spec: %w\nrun devopsellence-backup init to create %s", err, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a spec strictly and validates it, reporting every problem at
// once with its line. file is used in messages only.
//
// The bytes are read twice: yaml.v3 gives a node tree that is checked against
// the schema's types for unknown fields, duplicate keys and wrong types (with
// lines, and without stopping at the first), and sigs.k8s.io/yaml decodes the
// values strictly. The two must agree on every value.
func Parse(file string, data []byte) (*Backup, error) {
	root, err := document(file, data)
	if err != nil {
		return nil, Invalid(file, err)
	}
	w := &walker{file: file, lines: map[string]int{}}
	if root.Kind != yaml.MappingNode {
		return nil, Invalid(file, &FieldError{File: file, Line: root.Line, Message: "want a mapping with apiVersion, kind, metadata and spec, got " + describe(root)})
	}
	w.lines[""] = root.Line
	w.node(root, reflect.TypeFor[Backup](), "")

	b, err := w.decode(data, root)
	if err != nil {
		return nil, Invalid(file, append(w.problems, err)...)
	}
	if b == nil {
		return nil, Invalid(file, w.problems...)
	}
	normalize(&b.Spec)
	b.source = &positions{file: file, lines: w.lines}

	problems := w.problems
	for _, p := range validate(b) {
		if fe, ok := p.(*FieldError); ok && w.masked(fe.Path) {
			continue
		}
		problems = append(problems, p)
	}
	if err := Invalid(file, problems...); err != nil {
		return nil, err
	}
	return b, nil
}

// decode runs sigs.k8s.io/yaml on the document, or on what is left of it
// after cutting the bad parts, so the rest can still be validated and every
// problem shows up in one run. Values the two YAML readers disagree on are
// cut too, and the rest decoded once more. A nil spec without error means
// nothing trustworthy is left to validate.
func (w *walker) decode(data []byte, root *yaml.Node) (*Backup, error) {
	for round := 0; round < 2; round++ {
		input := data
		if w.dirty {
			var err error
			if input, err = yaml.Marshal(root); err != nil {
				return nil, nil
			}
		}
		var b Backup
		if err := sigsyaml.UnmarshalStrict(input, &b); err != nil {
			if w.dirty {
				return nil, nil
			}
			return nil, &FieldError{File: w.file, Message: "cannot be decoded: " + decodeError(err)}
		}
		before := len(w.problems)
		w.agree(root, reflect.ValueOf(&b).Elem(), "")
		if len(w.problems) == before {
			return &b, nil
		}
	}
	return nil, nil
}

// document returns the content of the one YAML document in data.
func document(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, &FieldError{File: file, Message: "empty document: want apiVersion, kind, metadata and spec"}
	} else if err != nil {
		return nil, syntaxError(file, err)
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &FieldError{File: file, Line: doc.Line, Message: "empty document: want apiVersion, kind, metadata and spec"}
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, &FieldError{File: file, Line: startLine(&next), Message: "more than one YAML document: keep a single spec in the file"}
	} else if err != io.EOF {
		return nil, syntaxError(file, err)
	}
	return doc.Content[0], nil
}

func startLine(n *yaml.Node) int {
	if len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

// syntaxError turns "yaml: line 3: did not find expected key" into a FieldError
// with the line taken apart.
func syntaxError(file string, err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, tail
			}
		}
	}
	return &FieldError{File: file, Line: line, Message: "invalid YAML: " + msg}
}

// decodeError shortens an error of sigs.k8s.io/yaml. It is only reached when
// the node walk found nothing, i.e. when the two YAML readers disagree.
func decodeError(err error) string {
	msg := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "yaml: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	return msg
}

// normalize drops empty lists and maps: they mean the same as absent ones, and
// Format leaves them out. An empty credentials list is kept: it means "this
// repository needs no credential secrets".
func normalize(s *Spec) {
	s.Environments = compact(s.Environments)
	s.Volumes = compact(s.Volumes)
	s.Paths = compact(s.Paths)
	s.Databases = compact(s.Databases)
	s.Secrets = compactMap(s.Secrets)
	s.Tags = compact(s.Tags)
	s.Env = compactMap(s.Env)
	s.Overrides = compactMap(s.Overrides)
	for env, o := range s.Overrides {
		o.Tags = compact(o.Tags)
		o.Secrets = compactMap(o.Secrets)
		s.Overrides[env] = o
	}
}

func compact[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func compactMap[K comparable, V any](m map[K]V) map[K]V {
	if len(m) == 0 {
		return nil
	}
	return m
}
