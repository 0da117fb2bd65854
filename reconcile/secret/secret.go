package secret

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

const redacted = "***"

// Value is a secret value. The zero Value is empty.
type Value struct {
	b []byte
}

// New wraps s. Trailing CR/LF are stripped, as `devopsellence secret set --stdin` does.
func New(s string) Value {
	return Value{b: []byte(strings.TrimRight(s, "\r\n"))}
}

// Empty reports whether the value is empty or only whitespace; devopsellence refuses such values.
func (v Value) Empty() bool { return len(bytes.TrimSpace(v.b)) == 0 }

// HasNUL reports whether the value holds a NUL byte: an environment variable
// cannot carry one, so the service could not start with it.
func (v Value) HasNUL() bool { return bytes.IndexByte(v.b, 0) >= 0 }

// Reader returns the value for a command's stdin.
func (v Value) Reader() io.Reader { return bytes.NewReader(v.b) }

// String never reveals the value.
func (Value) String() string { return redacted }

// GoString never reveals the value.
func (Value) GoString() string { return redacted }

// Format never reveals the value, whatever the verb.
func (Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON never reveals the value.
func (Value) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText never reveals the value.
func (Value) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalLog never reveals the value (logr.Marshaler).
func (Value) MarshalLog() any { return redacted }
