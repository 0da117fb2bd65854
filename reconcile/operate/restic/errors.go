package restic

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Class sorts the outcome of one restic run. The values are stable strings,
// fit for evidence documents and logs.
type Class string

const (
	ClassOK Class = "ok"
	// ClassPartial is exit 3: backup saved a snapshot, but some source data
	// could not be read (or, from 0.16, --stdin got no data at all).
	ClassPartial Class = "partial"
	// ClassRepositoryMissing is exit 10 (0.17+), or on older versions the
	// "Is there a repository at the following location" text after a
	// "no such file" or "does not exist" error.
	ClassRepositoryMissing Class = "repository_missing"
	// ClassLocked is exit 11 (0.17+) or "repository is already locked".
	ClassLocked Class = "locked"
	// ClassWrongPassword is exit 12 (0.17.1+) or "wrong password or no key found".
	ClassWrongPassword Class = "wrong_password"
	// ClassInterrupted is a run stopped by the caller's context (whatever
	// restic's exit code), or restic's own exit 130. A restic that still
	// exits 0 after the context ended finished its work: that is success.
	ClassInterrupted Class = "interrupted"
	// ClassDumperFailed is a backup --stdin-from-command whose command exited
	// non-zero: restic saved no snapshot.
	ClassDumperFailed Class = "dumper_failed"
	// ClassDiskFull is a repository whose disk has no space left: restic
	// cannot even write its lock.
	ClassDiskFull Class = "disk_full"
	// ClassFailed is any other failure, including exit codes restic may add
	// in the future.
	ClassFailed Class = "failed"
)

// ErrUnsupported is wrapped by errors of options that the detected restic
// version cannot honour (for example --stdin-from-command before 0.17).
var ErrUnsupported = errors.New("not supported by this restic version")

// Error is a restic run that did not succeed. Message is the gist of
// restic's stderr on one line, already scrubbed of secret values.
type Error struct {
	Op       string // the restic command, e.g. "backup"
	ExitCode int    // restic's exit code; -1 when it did not start or was killed by a signal
	Class    Class
	Message  string

	err error // why restic could not start, if it did not
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "restic %s: %s", e.Op, e.Class.describe())
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " (exit %d)", e.ExitCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the reason restic could not be started, if any.
func (e *Error) Unwrap() error { return e.err }

// ClassOf returns the class of an error returned by this package: ClassOK
// for nil, the Class of an *Error, else ClassFailed.
func ClassOf(err error) Class {
	if err == nil {
		return ClassOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassFailed
}

func (c Class) describe() string {
	switch c {
	case ClassPartial:
		return "snapshot saved without some source data"
	case ClassRepositoryMissing:
		return "no repository at this location"
	case ClassLocked:
		return "the repository is locked"
	case ClassWrongPassword:
		return "wrong password or no key found"
	case ClassInterrupted:
		return "interrupted"
	case ClassDumperFailed:
		return "the command given to --stdin-from-command failed, so no snapshot was saved"
	case ClassDiskFull:
		return "the repository's disk is full"
	case ClassOK:
		return "ok"
	}
	return "failed"
}

// outcome is what a finished run tells the classifier.
type outcome struct {
	code        int  // exit code, -1 when killed by a signal
	interrupted bool // the caller's context ended the run
	dumper      bool // the run used --stdin-from-command
	version     *Version
	stderr      *stderrLog
}

// classify maps an unsuccessful run to its class. Exit codes 10-12 exist
// only since 0.17, so older versions are recognised by restic's wording.
func classify(o outcome) Class {
	if o.interrupted {
		return ClassInterrupted
	}
	switch o.code {
	case 0:
		return ClassOK
	case 3:
		return ClassPartial
	case 10:
		return ClassRepositoryMissing
	case 11:
		return ClassLocked
	case 12:
		return ClassWrongPassword
	case 130:
		return ClassInterrupted
	}
	s := o.stderr
	switch {
	case o.dumper && s.commandFailed:
		return ClassDumperFailed
	case s.locked:
		return ClassLocked
	case s.wrongPassword:
		return ClassWrongPassword
	case s.diskFull:
		return ClassDiskFull
	// From 0.17 a missing repository is exit 10; the same hint after exit 1
	// there follows network errors ("context canceled", "connection refused"),
	// so the text is trusted only before 0.17, and only after an error that
	// says the config file is absent.
	case s.repoHint && s.notFound && (o.version == nil || !o.version.AtLeast(0, 17)):
		return ClassRepositoryMissing
	}
	return ClassFailed
}

// Limits of what an error keeps of stderr.
const (
	maxMessage   = 500
	maxGistLine  = 300
	gistLines    = 4
	maxLineBytes = 64 << 10
)

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// stderrLog reads restic's stderr line by line: it keeps the last readable
// lines (scrubbed) for the error message, notes the phrases that classify a
// failure, passes each readable line to onLine and each unreadable item of a
// JSON error line to onItem.
type stderrLog struct {
	scrub  func(string) string
	onLine func(string)
	onItem func(item string)

	tail []string

	commandFailed, locked, wrongPassword, repoHint, notFound, diskFull bool
}

// stderrJSON is any JSON line restic writes on stderr with --json.
type stderrJSON struct {
	MessageType string          `json:"message_type"`
	Message     string          `json:"message"` // exit_error, check errors
	Error       json.RawMessage `json:"error"`   // backup/restore errors
	During      string          `json:"during"`
	Item        string          `json:"item"`
}

// itemError is the "error" object of a backup error line: {"message": ...}
// since 0.17.1, Go's *os.PathError fields before (often just {}).
type itemError struct {
	Message string `json:"message"`
	Op      string `json:"Op"`
	Path    string `json:"Path"`
	Err     *int   `json:"Err"`
}

func (s *stderrLog) line(raw string) {
	raw = ansiEscape.ReplaceAllString(raw, "")
	raw = strings.TrimRight(raw, "\r")
	if i := strings.LastIndexByte(raw, '\r'); i >= 0 {
		raw = raw[i+1:] // a terminal would show only what follows the last carriage return
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return
	}
	s.mark(raw)
	text, keep := s.render(raw)
	if !keep {
		return
	}
	// A message may carry a Go stack trace (restic 0.14 prints one after
	// some errors; later ones put it inside a JSON exit_error): its frames
	// are no cause a person can act on.
	for _, l := range strings.Split(text, "\n") {
		s.add(strings.TrimSpace(l))
	}
}

// stackFile is a frame's file line of a Go stack trace; stackFunc the
// function line before it.
var (
	stackFile = regexp.MustCompile(`\.(go|s):\d+( \+0x[0-9a-f]+)?$`)
	stackFunc = regexp.MustCompile(`^[\w.\-/~]+\.[\w.()*\[\]{},\-]+(\(.*\))?$`)
)

func (s *stderrLog) add(text string) {
	switch {
	case text == "":
		return
	case stackFile.MatchString(text) && !strings.Contains(strings.TrimSuffix(text, stackFile.FindString(text)), " "):
		// Drop the frame: its file line, and the function line before it.
		if n := len(s.tail); n > 0 && stackFunc.MatchString(s.tail[n-1]) {
			s.tail = s.tail[:n-1]
		}
		return
	case strings.HasPrefix(text, "goroutine ") && strings.HasSuffix(text, ":"):
		return
	}
	text = s.clean(text)
	if text == "" {
		return
	}
	if s.onLine != nil {
		s.onLine(text)
	}
	if len(s.tail) > 0 && s.tail[len(s.tail)-1] == text {
		return
	}
	s.tail = append(s.tail, cut(text, maxMessage))
	if len(s.tail) > gistLines+2 {
		s.tail = s.tail[len(s.tail)-gistLines-2:]
	}
}

// mark notes the phrases that classify a failure, in whatever shape the
// line has (text, or a JSON exit_error that quotes the same text).
func (s *stderrLog) mark(raw string) {
	if strings.Contains(raw, "command failed: ") {
		s.commandFailed = true
	}
	if strings.Contains(raw, "repository is already locked") {
		s.locked = true
	}
	if strings.Contains(raw, "wrong password or no key found") {
		s.wrongPassword = true
	}
	if strings.Contains(raw, "no space left on device") {
		s.diskFull = true
	}
	if strings.Contains(raw, "Is there a repository at the following location") {
		s.repoHint = true
	}
	if strings.Contains(raw, "no such file or directory") || strings.Contains(raw, "does not exist") ||
		strings.Contains(raw, "NoSuchKey") || strings.Contains(raw, "NoSuchBucket") {
		s.notFound = true
	}
}

// render turns a JSON line into text; status lines are dropped.
func (s *stderrLog) render(raw string) (string, bool) {
	if !strings.HasPrefix(raw, "{") {
		return raw, true
	}
	var m stderrJSON
	if json.Unmarshal([]byte(raw), &m) != nil || m.MessageType == "" {
		return raw, true
	}
	switch m.MessageType {
	case "status", "verbose_status":
		return "", false
	case "exit_error":
		return m.Message, true
	case "error":
		if m.Item != "" && s.onItem != nil {
			s.onItem(s.scrubbed(m.Item))
		}
		msg := m.Message
		if msg == "" {
			msg = itemMessage(m.Error)
		}
		switch {
		case msg != "":
		case m.Item != "":
			msg = "cannot read " + m.Item
		default:
			msg = "unknown error"
		}
		if m.During != "" {
			return "error during " + m.During + ": " + msg, true
		}
		return "error: " + msg, true
	}
	return raw, true
}

func itemMessage(raw json.RawMessage) string {
	var e itemError
	if len(raw) == 0 || json.Unmarshal(raw, &e) != nil {
		return ""
	}
	if e.Message != "" {
		return e.Message
	}
	if e.Op == "" && e.Path == "" {
		return ""
	}
	msg := strings.TrimSpace(e.Op + " " + e.Path)
	if e.Err != nil {
		msg += ": " + syscall.Errno(*e.Err).Error()
	}
	return msg
}

// clean makes text one scrubbed line. Scrubbing comes first, before
// anything reshapes the text a secret could be in.
func (s *stderrLog) clean(text string) string {
	return strings.Join(strings.Fields(s.scrubbed(text)), " ")
}

func (s *stderrLog) scrubbed(text string) string {
	if s.scrub == nil {
		return text
	}
	return s.scrub(text)
}

// message is the gist of stderr: its last readable lines, the newest
// first when they do not all fit; lines before the last are cut shorter.
func (s *stderrLog) message() string {
	out := ""
	for i := len(s.tail) - 1; i >= 0 && i >= len(s.tail)-gistLines; i-- {
		l := s.tail[i]
		if out == "" {
			out = l
			continue
		}
		l = cut(l, maxGistLine)
		if len(l)+1+len(out) > maxMessage {
			break
		}
		out = l + " " + out
	}
	return out
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - 3
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
