package yamlpatch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSplittingAtLFAloneFindsTheLinesTheGeneralScanFinds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "key: value", " ", "\n", "\n\n", "é", "日本", "#"}
	for range 500 {
		var src []byte
		for range r.IntN(30) {
			src = append(src, pieces[r.IntN(len(pieces))]...)
		}
		if r.IntN(4) == 0 {
			src = append(bom[:len(bom):len(bom)], src...)
		}
		start := 0
		if len(src) >= 3 && string(src[:3]) == string(bom) {
			start = 3
		}
		if fast, slow := splitLF(src, start, nil), splitAnyBreak(src, start, nil); !slices.Equal(fast, slow) {
			t.Fatalf("%q: splitLF %v, the general scan %v", src, fast, slow)
		}
	}
}

func TestFilesWithOtherLineBreaksAreSplitAtEachOfThem(t *testing.T) {
	src := []byte("a\r\nb\rc\u0085d\u2028e\u2029f\ng")
	got := splitLines(src)
	var texts []string
	for _, l := range got {
		texts = append(texts, string(src[l.start:l.end]))
	}
	if !slices.Equal(texts, []string{"a", "b", "c", "d", "e", "f", "g"}) {
		t.Errorf("lines %q", texts)
	}
}
