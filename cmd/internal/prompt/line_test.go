package prompt

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestARawLineIsEditedAsTheTerminalWouldInCanonicalMode(t *testing.T) {
	for _, tc := range []struct {
		name, typed, want string
		err               error
	}{
		{"Enter as CR ends the line", "hunter2\rnext", "hunter2", nil},
		{"Enter as LF ends the line", "hunter2\nnext", "hunter2", nil},
		{"Backspace (DEL) erases one character", "hunterX\x7f2\r", "hunter2", nil},
		{"Ctrl-H erases one character", "hunterX\x082\r", "hunter2", nil},
		{"Backspace erases a whole multi-byte character", "pässé\x7f\x7fs\r", "päss", nil},
		{"Backspace on an empty line does nothing", "\x7f\x7fok\r", "ok", nil},
		{"Ctrl-U erases the line", "wrong\x15right\r", "right", nil},
		{"Ctrl-D on a non-empty line is ignored", "ab\x04c\r", "abc", nil},
		{"the end of input ends a non-empty line", "no-newline", "no-newline", nil},
		{"Ctrl-D on an empty line is the end of input", "\x04", "", io.EOF},
		{"the end of input on an empty line is the end of input", "", "", io.EOF},
		{"Ctrl-C interrupts", "half-typed\x03rest\r", "", context.Canceled},
		{"Ctrl-\\ interrupts", "half\x1c", "", context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSecretLine(strings.NewReader(tc.typed))
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if string(got) != tc.want {
				t.Errorf("line = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAnInterruptedPromptEndsTheRunAsInterrupted(t *testing.T) {
	if !errors.Is(ErrInterrupted, context.Canceled) {
		t.Fatal("ErrInterrupted does not wrap context.Canceled: the run would not exit 130")
	}
}

// readOneByteAtATime is a terminal in raw mode: one read returns what has
// been typed so far, here one byte.
type readOneByteAtATime struct{ s string }

func (r *readOneByteAtATime) Read(b []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	b[0], r.s = r.s[0], r.s[1:]
	return 1, nil
}

func TestARawLineReadsNothingPastEnter(t *testing.T) {
	r := &readOneByteAtATime{"first\rsecond\r"}
	if got, err := readSecretLine(r); err != nil || string(got) != "first" {
		t.Fatalf("first line = %q, %v", got, err)
	}
	if got, err := readSecretLine(r); err != nil || string(got) != "second" {
		t.Fatalf("second line = %q, %v", got, err)
	}
}
