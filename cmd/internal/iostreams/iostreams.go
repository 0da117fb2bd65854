package iostreams

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// Streams are the standard streams of one run. stdout carries the result,
// stderr carries logs, progress and prompts.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer

	inTTY, outTTY, errTTY bool
	noColor               bool
}

// System returns the process's own streams, with terminal detection.
func System(environ []string) *Streams {
	return &Streams{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		inTTY:   isTerminal(os.Stdin),
		outTTY:  isTerminal(os.Stdout),
		errTTY:  isTerminal(os.Stderr),
		noColor: lookup(environ, "NO_COLOR") != "",
	}
}

// Test returns buffer-backed streams that are not terminals.
func Test(stdin string) (*Streams, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Streams{In: bytes.NewBufferString(stdin), Out: &out, Err: &errb, noColor: true}, &out, &errb
}

// WithTerminal marks the streams as terminals, for tests that drive prompts
// through a pseudo-terminal.
func (s *Streams) WithTerminal(in, out, err bool) *Streams {
	c := *s
	c.inTTY, c.outTTY, c.errTTY = in, out, err
	return &c
}

// InIsTerminal reports whether stdin is a terminal.
func (s *Streams) InIsTerminal() bool { return s.inTTY }

// OutIsTerminal reports whether stdout is a terminal.
func (s *Streams) OutIsTerminal() bool { return s.outTTY }

// ErrIsTerminal reports whether stderr is a terminal (live progress, console logs).
func (s *Streams) ErrIsTerminal() bool { return s.errTTY }

// CanPrompt reports whether we may ask the user something: stdin and stderr
// must both be terminals, since prompts go to stderr.
func (s *Streams) CanPrompt() bool { return s.inTTY && s.errTTY }

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

func lookup(environ []string, key string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		kv := environ[i]
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			return kv[len(key)+1:]
		}
	}
	return ""
}
