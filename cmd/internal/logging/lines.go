package logging

import (
	"bytes"
	"sync"

	"github.com/go-logr/logr"
)

// Lines turns text written for people into log entries, one per line: with
// --log-format json, stderr carries only JSON, so a notice or a line of
// restic's output written as text reaches stderr as {"msg":"output","line":…}.
// It is safe for concurrent use; Flush emits a last line without a newline.
type Lines struct {
	mu   sync.Mutex
	log  logr.Logger
	part []byte
}

// NewLines returns a writer that logs each line it is given on log.
func NewLines(log logr.Logger) *Lines { return &Lines{log: log} }

func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.emit(l.part[:i])
		l.part = l.part[i+1:]
	}
	return len(p), nil
}

// Flush logs what is left after the last newline.
func (l *Lines) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit(l.part)
	l.part = nil
}

func (l *Lines) emit(line []byte) {
	// A terminal's carriage returns rewrite a line; keep what would show.
	if i := bytes.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	l.log.Info("output", "line", string(line))
}
