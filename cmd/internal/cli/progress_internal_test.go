package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/logging"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestALineForPeopleClearsTheLiveProgressLineFirst(t *testing.T) {
	streams, _, errb := iostreams.Test("")
	o := &operateOptions{IO: streams, Now: time.Now}
	live := &liveLine{err: errb, tty: true, now: time.Now, env: "production"}
	lines := o.humanLines(logrDiscard(), "production", false, live)
	live.show(operate.Progress{Step: "files", Percent: 100, BytesDone: 10, BytesTotal: 10, FilesDone: 1, FilesTotal: 1})
	lines("stderr", "backup: files: ok")
	live.end()
	got := errb.String()
	if !strings.Contains(got, "1 of 1 files\r\x1b[Kbackup: files: ok\n") {
		t.Errorf("stderr = %q: the line for people does not start on a cleared line", got)
	}
	if strings.HasSuffix(got, "\n\n") {
		t.Errorf("stderr = %q: an empty line after the cleared live line", got)
	}
}

func TestJSONProgressEventsNameTheEnvironment(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New(&buf, logging.Options{Format: logging.FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	live := &liveLine{err: &buf, asLog: true, log: log, now: time.Now, env: "staging"}
	live.show(operate.Progress{Step: "files", Percent: 100})
	var ev map[string]any
	if err := json.Unmarshal(buf.Bytes(), &ev); err != nil || ev["msg"] != "progress" || ev["environment"] != "staging" {
		t.Errorf("event %s (%v)", buf.String(), err)
	}
}

func logrDiscard() logr.Logger { return logr.Discard() }
