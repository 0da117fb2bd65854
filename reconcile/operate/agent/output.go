package agent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// Output is what the agent prints. With JSON, stdout carries one compact
// JSON line per event (progress at most once a second, then one result);
// without, people get the same as short text. Everything for people goes
// to stderr, scrubbed.
type Output struct {
	JSON   bool
	Stdout io.Writer
	Stderr io.Writer
	Scrub  func(string) string
	Now    func() time.Time

	mu           sync.Mutex
	lastProgress time.Time
	// lastDone is the last complete (100%) progress shown: restic keeps
	// reporting it while it uploads the last packs, and it is shown once.
	lastDone *operate.Progress
}

// Say prints a line for people on stderr.
func (o *Output) Say(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintln(o.Stderr, o.scrub(fmt.Sprintf(format, args...)))
}

func (o *Output) scrub(s string) string {
	if o.Scrub == nil {
		return s
	}
	return o.Scrub(s)
}

// Line prints a machine line (JSON mode only) and returns its bytes.
func (o *Output) Line(l operate.Line) []byte {
	data, err := json.Marshal(l)
	if err != nil {
		return nil
	}
	data = []byte(o.scrub(string(data)))
	if o.JSON {
		o.mu.Lock()
		_, _ = o.Stdout.Write(append(data, '\n'))
		o.mu.Unlock()
	}
	return data
}

// Data writes a piece of what dump reads: a data line in JSON mode, the
// bytes themselves otherwise. It is not scrubbed: it is the app's own
// data, which the operator asked for, and scrubbing would corrupt it; the
// digest in the result line proves it arrived whole.
func (o *Output) Data(b []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.JSON {
		_, err := o.Stdout.Write(b)
		return err
	}
	line := make([]byte, 0, len(`{"type":"data","data":""}`)+base64.StdEncoding.EncodedLen(len(b))+1)
	line = append(line, `{"type":"data","data":"`...)
	line = base64.StdEncoding.AppendEncode(line, b)
	line = append(line, "\"}\n"...)
	_, err := o.Stdout.Write(line)
	return err
}

// Progress prints p unless a progress line went out less than a second
// ago (for the operator's live line), or, as text for the service's log,
// less than half a minute ago; the last one of a step (100%) always goes
// out, once: restic repeats it while it uploads what it has read.
func (o *Output) Progress(p operate.Progress) {
	now := o.Now()
	every := time.Second
	if !o.JSON {
		every = 30 * time.Second
	}
	done := p.Percent >= 100
	o.mu.Lock()
	if done && o.lastDone != nil && *o.lastDone == p || !done && now.Sub(o.lastProgress) < every {
		o.mu.Unlock()
		return
	}
	o.lastProgress = now
	if done {
		o.lastDone = &p
	}
	o.mu.Unlock()
	if o.JSON {
		o.Line(operate.Line{Type: operate.LineProgress, Progress: &p})
		return
	}
	o.Say("%s", p.Text())
}

// bytesText is operate.Bytes under the name the restore code (being reworked
// for issue 17) still calls.
func bytesText(n int64) string { return operate.Bytes(n) }
