package dbtool

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestScrubberHidesPgDumpQuotingAPieceOfAPassword(t *testing.T) {
	// The bug of issue 10: an unencoded / cut the URL, and pg_dump quoted
	// the piece of the password before it as a port. This runs the real
	// pg_dump on a made-up value to get its real message.
	raw := "postgresql://app:Xk7pQ/w9ZrT@127.0.0.1:1/appdb"
	out, err := exec.Command("pg_dump", "--dbname="+raw).CombinedOutput()
	if err == nil {
		t.Fatal("pg_dump accepted the broken URL")
	}
	if !strings.Contains(string(out), "Xk7pQ") {
		t.Fatalf("pg_dump no longer quotes the piece, so this test proves nothing; its output: %s", out)
	}
	got := NewScrubber(raw).String(string(out))
	for _, piece := range []string{"Xk7pQ", "w9ZrT", "Xk7pQ/w9ZrT"} {
		if strings.Contains(got, piece) {
			t.Errorf("scrubbed output still shows %q: %s", piece, got)
		}
	}
	if !strings.Contains(got, "***") || !strings.Contains(got, "pg_dump: error") {
		t.Errorf("scrubbed output lost its message: %s", got)
	}
}

func TestScrubberHidesEveryFormOfAValue(t *testing.T) {
	s := NewScrubber(
		"postgresql://app:Qz9k%40Xk7v%2Frdzz@db.internal:5432/appdb",
		"host=db user=app password='Mn5bV8cX' dbname=appdb",
		"restic-repo-passphrase with spaces",
		"abc", // too short to scrub
	)
	tests := map[string]string{
		"the whole URL":          "url postgresql://app:Qz9k%40Xk7v%2Frdzz@db.internal:5432/appdb!",
		"the password decoded":   `auth failed for "Qz9k@Xk7v/rdzz"`,
		"the password as a port": `invalid integer value "Qz9k" for connection option "port"`,
		"a later piece":          "could not translate host name \"rdzz@db.internal\"",
		"a DSN password":         "password=Mn5bV8cX rejected",
		"a passphrase word":      "wrong: restic-repo-passphrase, but spaces",
		"a colour code inside":   "pw Qz9k\x1b[31m@Xk7v/rdzz",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			got := s.String(in)
			for _, secret := range []string{"Qz9k", "Xk7v", "rdzz", "Mn5bV8cX", "passphrase", "restic-repo", "spaces"} {
				if strings.Contains(got, secret) {
					t.Errorf("%q still shows %q", got, secret)
				}
			}
			if !strings.Contains(got, "***") {
				t.Errorf("%q: nothing replaced", got)
			}
		})
	}
	if got := s.String("db.internal port 5432 appdb abc"); got != "db.internal port 5432 appdb abc" {
		t.Errorf("scrubbed what is not secret: %q", got)
	}
}

func TestScrubberCoversOverlappingFragmentsEntirely(t *testing.T) {
	s := NewScrubber("abcdXYZW", "XYZWefgh")
	// The two values overlap in the text; every byte of both must go.
	if got := s.String("[abcdXYZWefgh]"); got != "[***]" {
		t.Errorf("got %q, want [***]", got)
	}
}

func TestScrubberWriterScrubsValuesSplitAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	w := NewScrubber("Tk4nS3cr3t").Writer(&out)
	for _, p := range []string{"line one Tk4n", "S3cr3t end\nsecond ", "line Tk4nS3", "cr3t"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "line one *** end\nsecond line ***" {
		t.Errorf("got %q", got)
	}
}

func TestNilScrubberChangesNothing(t *testing.T) {
	var s *Scrubber
	if got := s.String("x Tk4nS3cr3t"); got != "x Tk4nS3cr3t" {
		t.Errorf("got %q", got)
	}
}

// TestAShortPieceInsideAnIDLeavesTheIDWhole is the restore a person could
// not approve: a password with % in it has pieces such as "2525" (its
// encoded form's), which turned up inside a plan ID, so the plan was
// shown as 0217d672*** and its approval named another plan. A short piece
// of letters and digits is hidden where it stands as a word; inside a
// longer word it is part of an ID.
func TestAShortPieceInsideAnIDLeavesTheIDWhole(t *testing.T) {
	s := NewScrubber("mysql://app:p%25%3Fw0rd@127.0.0.1:3306/appdb")
	for _, id := range []string{"0217d6722525", "2525d672aa01", "3f79e168c488b2f8758c0fe63777c09b8cdaaf551721bf9b1442ce86a032a98e"} {
		if got := s.String("Restore plan " + id + " (approve it)"); got != "Restore plan "+id+" (approve it)" {
			t.Errorf("the ID %s was scrubbed: %q", id, got)
		}
	}
	if !slices.Contains(s.frags, "2525") {
		t.Fatalf("the URL's pieces no longer include 2525, so this test proves nothing: %q", s.frags)
	}
	// The same piece standing as a word, or the password whole, is hidden.
	for _, in := range []string{"bad port 2525 in URL", "password p%?w0rd", "unknown host 2525."} {
		if got := s.String(in); strings.Contains(got, "2525") || strings.Contains(got, "p%?w0rd") || !strings.Contains(got, "***") {
			t.Errorf("%q: scrubbed to %q", in, got)
		}
	}
}
