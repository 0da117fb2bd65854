package secret

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestValueNeverPrintsItself(t *testing.T) {
	v := New("hunter2-very-secret\r\n")
	js, err := json.Marshal(struct{ V Value }{v})
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := v.MarshalText()
	for name, got := range map[string]string{
		"%v": fmt.Sprintf("%v", v), "%s": fmt.Sprintf("%s", v), "%+v": fmt.Sprintf("%+v", v),
		"%#v": fmt.Sprintf("%#v", v), "%q": fmt.Sprintf("%q", v), "%x": fmt.Sprintf("%x", v),
		"json": string(js), "text": string(txt), "log": fmt.Sprint(v.MarshalLog()),
	} {
		if strings.Contains(got, "hunter2-very-secret") || got == "" {
			t.Errorf("%s rendered %q", name, got)
		}
	}
	b, _ := io.ReadAll(v.Reader())
	if string(b) != "hunter2-very-secret" {
		t.Errorf("Reader gave %q, want the value without trailing CR/LF", b)
	}
}

func TestValueEmptyMeansBlank(t *testing.T) {
	for in, want := range map[string]bool{"": true, " \t\n": true, "\r\n": true, "x": false, " x ": false} {
		if got := New(in).Empty(); got != want {
			t.Errorf("New(%q).Empty() = %v, want %v", in, got, want)
		}
	}
}

func TestGeneratedValuesAreLongRandomAndCopySafe(t *testing.T) {
	a, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if a.Equal(b) || !a.Equal(a) {
		t.Error("two generated values are equal, or a value differs from itself")
	}
	got, _ := io.ReadAll(a.Reader())
	if len(got) != 43 || strings.Trim(string(got), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("generated %d bytes, or characters outside URL-safe base64", len(got))
	}
	if fmt.Sprint(a) != "***" {
		t.Error("a generated value prints")
	}
}
