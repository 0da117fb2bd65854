package spec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// withoutSource drops the line table so that two parses of different text
// with the same meaning compare equal.
func withoutSource(b *Backup) Backup {
	c := *b
	c.source = nil
	return c
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("..", "fixtures", "specs", "*.yml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed specs in fixtures/specs: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		original := bytes.Clone(data)
		b, err := Parse(DefaultFile, data)
		if !bytes.Equal(data, original) {
			t.Fatal("Parse changed its input")
		}
		if err != nil {
			if b != nil {
				t.Fatal("Parse returned a spec and an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not match ErrInvalid: %v", err)
			}
			return
		}
		out := Format(b)
		again, err := Parse(DefaultFile, out)
		if err != nil {
			t.Fatalf("Format output does not parse: %v\n--- input\n%s\n--- formatted\n%s", err, data, out)
		}
		if got, want := withoutSource(again), withoutSource(b); !reflect.DeepEqual(got, want) {
			t.Fatalf("Parse(Format(b)) != b\n got %#v\nwant %#v\n--- formatted\n%s", got, want, out)
		}
		if twice := Format(again); !bytes.Equal(twice, out) {
			t.Fatalf("Format is not stable\n--- first\n%s\n--- second\n%s", out, twice)
		}
	})
}

// FuzzFormat puts arbitrary text where the schema takes any string (env
// values, database checks) and requires it back unchanged: Format must quote
// whatever a YAML reader could misread.
func FuzzFormat(f *testing.F) {
	for _, s := range []string{"yes", "02:00", "0x10", "a: b", "#x", "line\nbreak", " ", "\t", "~", "", "é", "\u2028", "'\"", "- x", "{}", "1e3", "<<", "!!str x", "\\", "\r\n", "a\x00b"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, value, check string) {
		if !utf8.ValidString(value) || !utf8.ValidString(check) {
			t.Skip("Parse never yields invalid UTF-8")
		}
		b := &Backup{
			APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "app"},
			Spec: Spec{
				Image:      "img:1",
				Paths:      []string{"/srv"},
				Databases:  []Database{{Name: "db", Engine: EngineSQLite, Path: "/srv/db.sqlite3", Check: &DatabaseCheck{Command: check}}},
				Repository: Repository{URL: "/backups", Volume: "restic_repo"},
				Env:        map[string]string{"VALUE": value},
			},
		}
		if check == "" {
			b.Spec.Databases[0].Check = nil
		}
		out := Format(b)
		again, err := Parse(DefaultFile, out)
		if strings.ContainsRune(value, 0) {
			// No environment variable can carry a NUL: the schema refuses it.
			if err == nil || !strings.Contains(err.Error(), "spec.env.VALUE: the value holds a NUL byte") {
				t.Fatalf("a NUL in an env value: %v\n%s", err, out)
			}
			return
		}
		if err != nil {
			t.Fatalf("Parse(Format(b)): %v\n%s", err, out)
		}
		if got := withoutSource(again); !reflect.DeepEqual(got, *b) {
			t.Fatalf("Parse(Format(b)) != b\n got %#v\nwant %#v\n%s", got, *b, out)
		}
	})
}
