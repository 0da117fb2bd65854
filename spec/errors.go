package spec

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrInvalid matches every decoding and validation error of a spec, so the CLI
// can map them all to a usage error.
var ErrInvalid = errors.New("invalid spec")

// FieldError is one problem in a spec, located by field path and line.
type FieldError struct {
	File    string
	Line    int // 0 when unknown
	Path    string
	Message string
}

// Error renders "<file>:<line>: <path>: <message>", leaving out what is unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Path != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Path)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// NextStep is the line that ends every invalid-spec error: what to do now.
// It lives here only, so the wording stays the same everywhere.
func NextStep(file string) string {
	return "fix " + file + " and run devopsellence-backup plan"
}

// invalidError is all problems of one spec file at once, followed by the next step.
type invalidError struct {
	file   string
	joined error
}

func (e *invalidError) Error() string { return e.joined.Error() + "\n" + NextStep(e.file) }

func (e *invalidError) Unwrap() []error { return []error{e.joined, ErrInvalid} }

// Invalid gathers problems found in file (FieldErrors, typically) into one
// error that matches ErrInvalid and ends with NextStep; nil when there are none.
// Problems with known lines come out in line order. Checks that need more than
// the spec (the app's devopsellence.yml, say) use it to report like Parse does.
func Invalid(file string, problems ...error) error {
	var kept []error
	for _, p := range problems {
		if p != nil {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	sort.SliceStable(kept, func(i, j int) bool { return lineOf(kept[i]) < lineOf(kept[j]) })
	return &invalidError{file: file, joined: errors.Join(kept...)}
}

func lineOf(err error) int {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}

// positions remembers where each field path of a parsed spec was written.
type positions struct {
	file  string
	lines map[string]int
}

// File is the name the spec was parsed under ("" when it was not parsed).
func (b *Backup) File() string {
	if b == nil || b.source == nil {
		return ""
	}
	return b.source.file
}

// Line returns the line of a field path such as "spec.databases[1].engine".
// A path that was not written (a missing field, say) gets the line of its
// nearest written ancestor, up to the document's first line for a missing
// top-level field; 0 means nothing is known (a spec that was not parsed).
func (b *Backup) Line(path string) int {
	if b == nil || b.source == nil {
		return 0
	}
	for p := path; ; p = parentPath(p) {
		if l, ok := b.source.lines[p]; ok {
			return l
		}
		if p == "" {
			return 0
		}
	}
}

// Problem builds a FieldError for path in this spec, with its file and line.
// String arguments that look like repository URLs with credentials are
// redacted, so a URL pasted into the wrong field is not echoed either.
func (b *Backup) Problem(path, format string, args ...any) *FieldError {
	return &FieldError{File: b.File(), Line: b.Line(path), Path: path, Message: message(format, args)}
}

// message formats a problem, redacting any argument that embeds credentials.
func message(format string, args []any) string {
	for i, a := range args {
		if s, ok := a.(string); ok && EmbedsCredentials(s) {
			args[i] = Redact(s)
		}
	}
	return fmt.Sprintf(format, args...)
}

// written reports whether path appeared in the parsed document.
func (b *Backup) written(path string) bool {
	if b == nil || b.source == nil {
		return false
	}
	_, ok := b.source.lines[path]
	return ok
}

// parentPath drops the last segment of a field path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		switch p[i] {
		case '.':
			return p[:i]
		case '[':
			return p[:i]
		}
	}
	return ""
}

// childPath appends a map key or struct field to a path; keys that are not
// plain words are quoted so the path stays unambiguous.
func childPath(parent, key string) string {
	if EmbedsCredentials(key) {
		key = Redact(key)
	}
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func plainKey(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
