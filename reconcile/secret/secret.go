package secret

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
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

// Equal reports whether v and o hold the same bytes, in constant time.
func (v Value) Equal(o Value) bool { return subtle.ConstantTimeCompare(v.b, o.b) == 1 }

// Generate returns a new random value for a password: 32 bytes from the
// system's random source (256 bits), in URL-safe base64 without padding,
// so that it survives every shell, URL and YAML it may be copied into.
func Generate() (Value, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return Value{}, fmt.Errorf("generate a password: %w", err)
	}
	return Value{b: []byte(base64.RawURLEncoding.EncodeToString(b))}, nil
}

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
