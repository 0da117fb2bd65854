package render

import "strconv"

// Count is n with its noun, singular for exactly one: "1 snapshot",
// "0 snapshots", "3 snapshots". The nouns this tool counts all take an s.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
