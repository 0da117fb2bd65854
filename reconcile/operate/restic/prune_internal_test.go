package restic

import (
	"os"
	"strings"
	"testing"
)

// The testdata files are what restic 0.14.0 and 0.18.1 printed for a prune
// that repacked and removed data, and for one with nothing to do.
func TestPruneOutputOfBothVersionsBecomesOneCleanLine(t *testing.T) {
	for _, c := range []struct {
		file    string
		summary string
		want    PruneResult
	}{
		{"prune-0.14.0.txt", "removed 2 blobs (581 B); repacked 3 blobs (995 B); 8 blobs (98.925 KiB) remain; 0 B unused",
			PruneResult{Reported: true, RemovedBlobs: 2, RemovedBytes: 581, RepackedBlobs: 3, RepackedBytes: 995, RemainingBlobs: 8, RemainingBytes: 101299}},
		{"prune-0.18.1.txt", "removed 2 blobs (583 B); repacked 3 blobs (997 B); 8 blobs (98.927 KiB) remain; 0 B unused",
			PruneResult{Reported: true, RemovedBlobs: 2, RemovedBytes: 583, RepackedBlobs: 3, RepackedBytes: 997, RemainingBlobs: 8, RemainingBytes: 101301}},
		{"prune-nothing-0.14.0.txt", "nothing to remove; 58 blobs (76.300 MiB) remain; 0 B unused",
			PruneResult{Reported: true, RemainingBlobs: 58, RemainingBytes: 80006349}},
		{"prune-nothing-0.18.1.txt", "nothing to remove; 62 blobs (76.301 MiB) remain; 0 B unused",
			PruneResult{Reported: true, RemainingBlobs: 62, RemainingBytes: 80007397}},
	} {
		f, err := os.Open("testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readPrune(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		c.want.Summary = c.summary
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
	}
}

func TestPruneOutputWithoutStatisticsSaysSo(t *testing.T) {
	got, err := readPrune(strings.NewReader("loading indexes...\nsomething new\ndone\n"))
	if err != nil || got.Reported || got.Summary != "prune finished (no statistics found in restic's output)" {
		t.Errorf("got %+v, %v", got, err)
	}
}

func TestParseSizeReadsResticsUnits(t *testing.T) {
	for in, want := range map[string]int64{"0 B": 0, "581 B": 581, "1.000 KiB": 1024, "1.500 MiB": 1572864, "2.000 GiB": 2 << 30, "bad": 0} {
		if got := parseSize(in); got != want {
			t.Errorf("parseSize(%q) = %d, want %d", in, got, want)
		}
	}
}
