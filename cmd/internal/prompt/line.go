package prompt

import (
	"context"
	"fmt"
	"io"
	"unicode/utf8"
)

// Keys a raw terminal delivers as bytes instead of acting on them.
const (
	keyInterrupt = 0x03 // Ctrl-C
	keyEOF       = 0x04 // Ctrl-D
	keyBackspace = 0x08 // Ctrl-H
	keyKill      = 0x15 // Ctrl-U: erase the whole line
	keyQuit      = 0x1c // Ctrl-\
	keyDelete    = 0x7f // what most terminals send for Backspace
)

// ErrInterrupted is Ctrl-C (or Ctrl-\) at a hidden prompt. In raw mode the
// terminal sends no signal, so the prompt reports it; it wraps
// context.Canceled so the run ends like an interrupted one (exit 130).
var ErrInterrupted = fmt.Errorf("prompt: %w", context.Canceled)

// readSecretLine reads one line from a terminal in raw mode, doing the line
// editing the terminal would do in canonical mode: Enter (CR or LF) ends the
// line, Backspace erases a character, Ctrl-U the line, Ctrl-D on an empty
// line is the end of input, Ctrl-C interrupts.
func readSecretLine(r io.Reader) ([]byte, error) {
	// Room for any real secret, so that no copy is left behind by growing.
	line := make([]byte, 0, 512)
	var buf [1]byte
	for {
		n, err := r.Read(buf[:])
		if n == 1 {
			switch c := buf[0]; c {
			case '\r', '\n':
				return line, nil
			case keyInterrupt, keyQuit:
				clear(line)
				return nil, ErrInterrupted
			case keyEOF:
				if len(line) == 0 {
					return nil, io.EOF
				}
			case keyBackspace, keyDelete:
				if len(line) > 0 {
					_, size := utf8.DecodeLastRune(line)
					clear(line[len(line)-size:])
					line = line[:len(line)-size]
				}
			case keyKill:
				clear(line)
				line = line[:0]
			default:
				line = append(line, c)
			}
			continue
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			clear(line)
			return nil, err
		}
	}
}
