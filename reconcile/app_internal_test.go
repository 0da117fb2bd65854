package reconcile

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestPlainVolumesReadsWhatDecodeReads: the reflection-free reading of a
// service's image and volumes gives what yaml.v3's Decode gives whenever
// it takes a node, and leaves every other shape to Decode.
func TestPlainVolumesReadsWhatDecodeReads(t *testing.T) {
	for _, tc := range []struct {
		yaml  string
		plain bool // the fast path takes it
	}{
		{"image: app:1\nvolumes:\n  - source: data\n    target: /data\n", true},
		{"image: app:1\ncommand: [bin/work, --queue, q1]\nenv:\n  QUEUE: q1\n", true},
		{"volumes: [{source: a, target: /a}, {target: /b, source: b, extra: x}]\n", true},
		{"image:\nvolumes:\n", true},
		{"image: ~\nvolumes: null\n", true},
		{"image: 'quoted:1'\nvolumes:\n  - {source: \"s\", target: ~}\n", true},
		{"image: &img app:1\nother: 3\n", true},
		{"{}", true},
		{"image: 3\n", false},     // an int: Decode's business
		{"image: [a]\n", false},   // an error for Decode to give
		{"volumes: x\n", false},   // likewise
		{"volumes: [x]\n", false}, // likewise
		{"volumes: [{source: [a]}]\n", false},
		{"image: a\nimage: b\n", false}, // Decode rejects the duplicate
		{"base: &b {image: a}\n<<: *b\n", false},
		{"volumes: &v [{source: a}]\nagain: *v\n", false}, // an alias anywhere: Decode
		{"image: !!binary aGk=\n", false},
		{"x: 1\nvolumes:\n  - &one {source: a, target: /a}\n  - *one\n", false},
		{"- a\n", false},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		n := doc.Content[0]
		got, ok := plainVolumes(n)
		if ok != tc.plain {
			t.Errorf("%q: plain = %v, want %v", tc.yaml, ok, tc.plain)
		}
		if !ok {
			continue
		}
		var want volumesOnly
		if err := n.Decode(&want); err != nil {
			t.Errorf("%q: the fast path took what Decode refuses: %v", tc.yaml, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: plain %+v, Decode %+v", tc.yaml, got, want)
		}
	}
}
