package dbtool

import (
	"bytes"
	"io"
	"net/url"
	"regexp"
	"strings"
)

// minFragment is the shortest fragment a Scrubber hides: shorter ones would
// blank out ordinary words and numbers.
const minFragment = 4

const redacted = "***"

// wordFragment is the length below which a fragment of only letters and
// digits is hidden only where it stands as a word of its own, not inside a
// longer one. A short piece of a password such as "2525" (from "%25") turns
// up by chance inside hex IDs (a 12-digit plan ID has nine 4-digit
// windows), and an ID with *** in it can no longer be approved or looked
// up; a secret a tool quotes stands between the characters that cut it out
// of its value.
const wordFragment = 8

// isAlnum reports whether s holds only ASCII letters and digits.
func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Scrubber hides secret values in text: every occurrence of a value, of its
// percent-decoded and percent-encoded forms, of the password inside a URL or
// a password= parameter, and of each piece of 4 or more characters between
// reserved characters (what a client quotes when a reserved character cut a
// URL apart; one of fewer than 8 letters and digits only as a word of its
// own). Every byte covered by any of them becomes part of a ***.
// Build it before use; it is then safe for concurrent use.
type Scrubber struct {
	frags []string
}

// NewScrubber returns a Scrubber for the given secret values.
func NewScrubber(values ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(values...)
	return s
}

// Add adds secret values (whole values of secrets, such as a DATABASE_URL or
// a RESTIC_PASSWORD).
func (s *Scrubber) Add(values ...string) {
	for _, v := range values {
		s.frags = append(s.frags, valueForms(v)...)
	}
	s.frags = uniqueLongest(s.frags)
}

// AddConn adds the Fragments of a parsed URL.
func (s *Scrubber) AddConn(c Conn) {
	s.frags = uniqueLongest(append(s.frags, c.Fragments()...))
}

// Len is the number of fragments the Scrubber hides.
func (s *Scrubber) Len() int {
	if s == nil {
		return 0
	}
	return len(s.frags)
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]")

// String returns in with every fragment replaced by ***. Terminal escape
// sequences are removed first, so that colour codes cannot split a secret.
// A nil Scrubber returns in unchanged.
func (s *Scrubber) String(in string) string {
	if s == nil || len(s.frags) == 0 {
		return in
	}
	in = ansiRE.ReplaceAllString(in, "")
	mask := make([]bool, len(in))
	any := false
	for _, f := range s.frags {
		word := len(f) < wordFragment && isAlnum(f)
		for off := 0; ; {
			i := strings.Index(in[off:], f)
			if i < 0 {
				break
			}
			start, end := off+i, off+i+len(f)
			off = start + 1
			if word && (start > 0 && isAlnum(in[start-1:start]) || end < len(in) && isAlnum(in[end:end+1])) {
				// Inside a longer word: a snapshot or plan ID, not the secret.
				continue
			}
			for j := start; j < end; j++ {
				mask[j] = true
			}
			any = true
		}
	}
	if !any {
		return in
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if !mask[i] {
			b.WriteByte(in[i])
			continue
		}
		if i == 0 || !mask[i-1] {
			b.WriteString(redacted)
		}
	}
	return b.String()
}

// Bytes is String for a byte slice.
func (s *Scrubber) Bytes(in []byte) []byte { return []byte(s.String(string(in))) }

// Writer returns a writer that scrubs each line before passing it to w.
// Close writes the last, unterminated line.
func (s *Scrubber) Writer(w io.Writer) io.WriteCloser { return &lineWriter{s: s, w: w} }

type lineWriter struct {
	s   *Scrubber
	w   io.Writer
	buf bytes.Buffer
}

// maxLine bounds what a lineWriter holds back waiting for a newline.
const maxLine = 64 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf.Write(p)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			if l.buf.Len() > maxLine {
				return len(p), l.flush()
			}
			return len(p), nil
		}
		line := l.buf.Next(i + 1)
		if _, err := io.WriteString(l.w, l.s.String(string(line))); err != nil {
			return len(p), err
		}
	}
}

func (l *lineWriter) flush() error {
	if l.buf.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(l.w, l.s.String(l.buf.String()))
	l.buf.Reset()
	return err
}

func (l *lineWriter) Close() error { return l.flush() }

// valueForms derives what to hide from a whole secret value: the value and
// its encoded forms; for a URL, the password of its userinfo and of its
// password parameters (not its host or database, which messages need); for a
// keyword DSN, its password parameters; for anything else (a password, a
// token), the value's pieces too.
func valueForms(v string) []string {
	out := []string{v}
	if d, err := url.PathUnescape(v); err == nil {
		out = append(out, d)
	}
	out = append(out, url.QueryEscape(v), url.PathEscape(v))
	var creds []string
	if i := strings.Index(v, "://"); i > 0 && !strings.ContainsAny(v[:i], " \t\n=") {
		creds = append(creds, urlPasswords(v[i+3:])...)
		creds = append(creds, passwordParams(v)...)
	} else if pw := passwordParams(v); len(pw) > 0 {
		creds = pw
	} else {
		out = append(out, pieces(v)...)
		if d, err := url.PathUnescape(v); err == nil {
			out = append(out, pieces(d)...)
		}
	}
	for _, c := range creds {
		out = append(out, secretForms(c, true)...)
	}
	return out
}

// urlPasswords finds the password of a URL's userinfo (rest follows the
// "://"), also when reserved characters in it keep net/url from finding it:
// then the userinfo runs to the last @.
func urlPasswords(rest string) []string {
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	at := strings.LastIndex(rest[:authEnd], "@")
	if at < 0 || strings.Contains(rest[authEnd:], "@") {
		at = strings.LastIndex(rest, "@")
	}
	if at < 0 {
		return nil
	}
	if _, pw, ok := strings.Cut(rest[:at], ":"); ok {
		return []string{pw}
	}
	return nil
}

var passwordParamRE = regexp.MustCompile(`(?i)(?:^|[?&;\s])(?:ssl)?password=('[^']*'|[^&;\s#]*)`)

// passwordParams returns the values of password= and sslpassword=
// parameters of a URL query or a keyword DSN.
func passwordParams(v string) []string {
	var out []string
	for _, m := range passwordParamRE.FindAllStringSubmatch(v, -1) {
		out = append(out, strings.Trim(m[1], "'"))
	}
	return out
}

// secretForms returns a credential as written, decoded and re-encoded in
// the ways URLs carry it, and the pieces of each form.
func secretForms(c string, withPieces bool) []string {
	forms := []string{c, url.QueryEscape(c), url.PathEscape(c), strings.TrimPrefix(url.UserPassword("", c).String(), ":")}
	if d, err := url.PathUnescape(c); err == nil {
		forms = append(forms, d, url.QueryEscape(d), url.PathEscape(d), strings.TrimPrefix(url.UserPassword("", d).String(), ":"))
	}
	if d, err := url.QueryUnescape(c); err == nil {
		forms = append(forms, d)
	}
	if !withPieces {
		return forms
	}
	out := append([]string(nil), forms...)
	for _, f := range forms {
		out = append(out, pieces(f)...)
	}
	return out
}

// pieces splits s at every character that is not a letter, digit or one of
// - _ . ~ (the characters a URL never treats specially).
func pieces(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '~':
			return false
		case r >= 0x80:
			return false
		}
		return true
	})
}
