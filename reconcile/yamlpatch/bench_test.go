package yamlpatch

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/fixtures/benchcpu"
)

// bigConfig returns a devopsellence.yml with n services and an overlay for
// each, with comments, flow lists and block sequences like real ones.
func bigConfig(n int) []byte {
	var b strings.Builder
	b.WriteString("schema_version: 1\norganization: solo\nproject: big\nservices:\n")
	for i := range n {
		fmt.Fprintf(&b, "  # service %d\n  svc%d:\n    image: registry.example.com/svc%d:1.2.3\n", i, i, i)
		fmt.Fprintf(&b, "    command: [bin/run, --port, \"%d\"]\n    env:\n      PORT: \"%d\"\n      MODE: worker\n", 3000+i, 3000+i)
		fmt.Fprintf(&b, "    volumes:\n      - source: data%d\n        target: /data/%d\n", i, i)
	}
	b.WriteString("environments:\n  staging:\n    services:\n")
	for i := range n {
		fmt.Fprintf(&b, "      svc%d:\n        image: registry.example.com/svc%d:1.2.4-rc\n", i, i)
	}
	return []byte(b.String())
}

var benchEdits = []Edit{setBackup, setStaging, {Path: []string{"services", "svc1000"}}}

func BenchmarkYAMLv3Parse(b *testing.B) {
	src := bigConfig(2000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		var n yaml.Node
		if err := yaml.Unmarshal(src, &n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	src := bigConfig(2000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply measures what a caller pays on top of its one parse: a
// couple of edits on a parsed 2,000-service document.
func BenchmarkApply(b *testing.B) {
	src := bigConfig(2000)
	d, err := Parse(src)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if _, err := d.Apply(benchEdits...); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchmarkEditsApplyToTheBigConfig(t *testing.T) {
	src := bigConfig(50)
	out, err := Apply(src, benchEdits...)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkProperties(src, benchEdits, out); err != nil {
		t.Fatal(err)
	}
}
