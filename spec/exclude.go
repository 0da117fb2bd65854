package spec

import (
	"path"
	"strings"
)

// Excluded reports whether restic's --exclude patterns leave p out: an
// absolute pattern matches from the root, another at any depth; a pattern
// matches a path when it matches all its components (** matching any
// number), so a matching folder takes what it holds with it.
func Excluded(p string, patterns []string) bool {
	comps := splitPath(p)
	for _, pat := range patterns {
		pc := splitPath(pat)
		if len(pc) == 0 {
			continue
		}
		if strings.HasPrefix(pat, "/") {
			if matchComponents(pc, comps) {
				return true
			}
			continue
		}
		for i := range comps {
			if matchComponents(pc, comps[i:]) {
				return true
			}
		}
	}
	return false
}

// ExcludesEverything reports whether pattern leaves out all of root: root
// itself, or any name one could find in it.
func ExcludesEverything(root, pattern string) bool {
	pats := []string{pattern}
	if Excluded(root, pats) {
		return true
	}
	for _, probe := range []string{"a", "data.db", ".hidden", "Z9_x-y.tar.gz", "uploads/2026/photo.jpg"} {
		if !Excluded(root+"/"+probe, pats) {
			return false
		}
	}
	return true
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// matchComponents matches pattern components against all of the path's.
func matchComponents(pat, comps []string) bool {
	if len(pat) == 0 {
		return len(comps) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(comps); i++ {
			if matchComponents(pat[1:], comps[i:]) {
				return true
			}
		}
		return false
	}
	if len(comps) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], comps[0])
	return err == nil && ok && matchComponents(pat[1:], comps[1:])
}
