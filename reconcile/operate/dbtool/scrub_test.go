package dbtool

import (
	"bytes"
	"os/exec"
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
