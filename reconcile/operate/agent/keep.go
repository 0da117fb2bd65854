package agent

import (
	"bytes"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// What a files restore leaves in place: a file backup never holds them, so
// the snapshot's folder has no copy of them, and replacing the folder
// whole would delete them.
//
//   - live database files (the spec's SQLite files and those the backup
//     finds, with their -wal, -shm and -journal): they are restored as
//     databases, through their backup API, never as files;
//   - what the spec's exclude patterns leave out;
//   - with excludeCaches, folders tagged with a CACHEDIR.TAG.

// excluded reports whether restic's --exclude pattern leaves p out: an
// absolute pattern matches from the root, another at any depth; a pattern
// matches a path when it matches all its components (** matching any
// number), so a matching folder takes what it holds with it.
func excluded(p string, patterns []string) bool {
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

// cacheTag is how a CACHEDIR.TAG starts (bford.info/cachedir).
var cacheTag = []byte("Signature: 8a477f597d28d172789f06886806bc55")

func cacheDir(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "CACHEDIR.TAG"))
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, len(cacheTag))
	_, err = io.ReadFull(f, b)
	return err == nil && bytes.Equal(b, cacheTag)
}

// liveDatabases are the database files under roots that a files restore
// must keep: the spec's SQLite files and those a backup finds, each with
// its -wal, -shm and -journal.
func (a *Agent) liveDatabases(roots []string) []string {
	var declared []string
	for _, d := range a.Config.Databases {
		if d.Engine == spec.EngineSQLite {
			declared = append(declared, d.Path)
		}
	}
	var out []string
	for _, p := range append(declared, findSQLite(roots, declared)...) {
		out = append(out, p, p+"-wal", p+"-shm", p+"-journal")
	}
	slices.Sort(out)
	return out
}

// keeper decides, while a live folder is walked, what a restore keeps.
type keeper struct {
	databases []string
	patterns  []string
	caches    bool
}

func (a *Agent) keeper(roots []string) keeper {
	return keeper{databases: a.liveDatabases(roots), patterns: a.Config.Excludes, caches: a.Config.ExcludeCaches}
}

// keeps reports whether the live path p (a folder when dir) stays as it is.
func (k keeper) keeps(p string, dir bool) bool {
	if slices.Contains(k.databases, p) || excluded(p, k.patterns) {
		return true
	}
	return dir && k.caches && cacheDir(p)
}
