package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONLogLinesParseAndRespectVerbosity(t *testing.T) {
	for v := 0; v <= 2; v++ {
		var buf bytes.Buffer
		log, err := New(&buf, Options{Verbosity: v, Format: FormatJSON})
		if err != nil {
			t.Fatal(err)
		}
		log.Info("levelZero", "key", 0)
		log.V(1).Info("levelOne", "key", 1)
		log.V(2).Info("levelTwo", "key", 2)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != v+1 {
			t.Fatalf("-v %d: got %d lines, want %d: %q", v, len(lines), v+1, buf.String())
		}
		for _, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("line %q is not JSON: %v", l, err)
			}
			if _, ok := m["msg"]; !ok {
				t.Errorf("line %q has no msg", l)
			}
		}
	}
}

func TestConsoleFormatUnlessJSONIsAsked(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "appDir", "/x")
	if strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), "hello") {
		t.Errorf("console line = %q", buf.String())
	}
}

func TestBadOptionsAreRejected(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Options{Verbosity: 3}); err == nil {
		t.Error("-v 3 accepted")
	}
	if _, err := New(&bytes.Buffer{}, Options{Format: "xml"}); err == nil {
		t.Error("--log-format xml accepted")
	}
}

func TestTextWrittenAsLinesBecomesOneJSONEntryPerLine(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	l := NewLines(log)
	for _, chunk := range []string{"[production] restic: ", "saved\n\n   \nlabelled node a\n", "deploy production: starting\r", "deploy production: done\nno newline"} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	l.Flush()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		if m["msg"] != "output" {
			t.Errorf("msg = %v", m["msg"])
		}
		got = append(got, m["line"].(string))
	}
	want := []string{"[production] restic: saved", "labelled node a", "deploy production: done", "no newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestTheFormatErrorNamesOnlyFormatsThatWork(t *testing.T) {
	_, err := New(&bytes.Buffer{}, Options{Format: "xml"})
	if err == nil || strings.Contains(err.Error(), "auto") {
		t.Errorf("err = %v", err)
	}
}

func TestConsoleLogsShowMessagesAsWordsAndJSONKeepsTheConstant(t *testing.T) {
	var console, js bytes.Buffer
	c, err := New(&console, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Info("patchedConfig", "changes", 1)
	j, err := New(&js, Options{Format: FormatJSON})
	if err != nil {
		t.Fatal(err)
	}
	j.Info("patchedConfig", "changes", 1)
	if !strings.Contains(console.String(), "\tpatched config\t") || strings.Contains(console.String(), "patchedConfig") {
		t.Errorf("console: %q", console.String())
	}
	if !strings.Contains(js.String(), `"msg":"patchedConfig"`) {
		t.Errorf("json: %q", js.String())
	}
	for in, want := range map[string]string{"storedSecret": "stored secret", "deployed": "deployed", "agentCheckFailed": "agent check failed", "s3Ready": "s3 ready"} {
		if got := Words(in); got != want {
			t.Errorf("Words(%q) = %q, want %q", in, got, want)
		}
	}
}
