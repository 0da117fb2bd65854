package yamlpatch

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fuzzValue mixes the scalars that need quoting or block style.
var fuzzValue = Map{
	{Key: "image", Value: Scalar("restic/restic:0.17.3")},
	{Key: "command", Value: List{Scalar("sh"), Scalar("-lc"), Scalar("restic check\nsleep infinity\n")}},
	{Key: "env", Value: Map{
		{Key: "A", Value: Scalar("true")},
		{Key: "B", Value: Scalar("")},
		{Key: "C", Value: Scalar("a: b #c")},
		{Key: "D", Value: Scalar(" lead")},
		{Key: "E", Value: Scalar("x\n  y")},
		{Key: "key with space", Value: Scalar("~")},
	}},
	{Key: "volumes", Value: List{Map{{Key: "source", Value: Scalar("app_storage")}, {Key: "target", Value: Scalar("/data")}}}},
	{Key: "args", Value: List{}},
	{Key: "healthcheck", Value: Map{}},
}

// fuzzEdits are the edit sets FuzzApply picks from.
var fuzzEdits = [][]Edit{
	{{Path: []string{"services", "backup"}, Value: fuzzValue, Comment: MarkerPrefix}},
	{{Path: []string{"services", "backup"}}},
	{{Path: []string{"environments", "x", "services", "backup"}, Value: fuzzValue, Comment: MarkerPrefix + " (overlay)"}},
	{{Path: []string{"environments", "x", "services", "backup"}}},
	{
		{Path: []string{"services", "backup"}, Value: Map{{Key: "image", Value: Scalar("3000")}}},
		{Path: []string{"environments", "x", "services", "backup"}, Value: Scalar("multi\nline\n"), Comment: MarkerPrefix},
	},
	{
		{Path: []string{"services", "backup"}},
		{Path: []string{"environments", "x", "services", "backup"}, Value: List{Scalar("-"), Scalar("[x]")}},
	},
	{{Path: []string{"services", "backup"}, Value: Scalar("line one\nline two")}},
	{{Path: []string{"services"}, Value: Map{{Key: "backup", Value: Map{}}}, Comment: "hand note"}},
	{
		{Path: []string{"services", "web"}},
		{Path: []string{"services", "backup"}, Value: Map{{Key: "image", Value: Scalar("x")}}, Comment: MarkerPrefix},
		{Path: []string{"environments", "x", "services", "web"}},
	},
}

func FuzzApply(f *testing.F) {
	dirs, _ := os.ReadDir(fixtures)
	for _, d := range dirs {
		src, err := os.ReadFile(filepath.Join(fixtures, d.Name(), "input.yml"))
		if err != nil {
			continue
		}
		for op := range fuzzEdits {
			f.Add(src, uint8(op))
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, op uint8) {
		edits := fuzzEdits[int(op)%len(fuzzEdits)]
		orig := bytes.Clone(src)
		out, err := Apply(src, edits...)
		if !bytes.Equal(src, orig) {
			t.Fatal("apply modified its input")
		}
		if err != nil {
			return
		}
		if err := checkProperties(src, edits, out); err != nil {
			t.Fatalf("input:\n%q\n%v", src, err)
		}
	})
}
