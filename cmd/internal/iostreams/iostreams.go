package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
)

// Streams are the standard streams of one run. stdout carries the result,
// stderr carries logs, progress and prompts.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	inTTY, errTTY, outTTY bool
	noColor               bool
}

// System returns the process's own streams, with terminal detection.
func System(env []string) *Streams {
	return &Streams{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		inTTY:   isTerminal(os.Stdin),
		errTTY:  isTerminal(os.Stderr),
		outTTY:  isTerminal(os.Stdout),
		noColor: environ.Get(env, "NO_COLOR") != "",
	}
}

// Test returns buffer-backed streams that are not terminals.
func Test(stdin string) (*Streams, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Streams{In: bytes.NewBufferString(stdin), Out: &out, Err: &errb, noColor: true}, &out, &errb
}

// WithErr returns the streams with stderr replaced by w, a writer for
// machines (JSON log lines): it is no terminal, so nothing prompts there, no
// colour and no live line is drawn on it.
func (s *Streams) WithErr(w io.Writer) *Streams {
	c := *s
	c.Err, c.errTTY = w, false
	return &c
}

// OutIsTerminal reports whether stdout is a terminal: no place for the
// bytes of a file (dump).
func (s *Streams) OutIsTerminal() bool { return s.outTTY }

// ErrIsTerminal reports whether stderr is a terminal (live progress, console logs).
func (s *Streams) ErrIsTerminal() bool { return s.errTTY }

// CanPrompt reports whether we may ask the user something: stdin must be a
// terminal we can read without echo (a file descriptor), and stderr a
// terminal, since prompts go there.
func (s *Streams) CanPrompt() bool { return s.inTTY && s.errTTY && s.InFd() >= 0 }

// Color reports whether stderr may carry colour.
func (s *Streams) Color() bool { return s.errTTY && !s.noColor }

// InFd returns stdin's file descriptor when it is a file, else -1.
func (s *Streams) InFd() int {
	if f, ok := s.In.(*os.File); ok {
		return int(f.Fd())
	}
	return -1
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
