package render

import (
	"strconv"
	"strings"
)

// printable escapes what is not printable in text from the app's data (a
// file name with a newline, a terminal escape sequence, a bidi override):
// \n, \x1b, \u202e. Such a name cannot forge a line of a plan or hide
// what follows it. JSON output needs none of this.
func printable(s string) string {
	if !strings.ContainsFunc(s, notPrintable) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !notPrintable(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRuneToASCII(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

func notPrintable(r rune) bool { return r != ' ' && !strconv.IsPrint(r) }

// printables applies printable to each of list.
func printables(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = printable(s)
	}
	return out
}
