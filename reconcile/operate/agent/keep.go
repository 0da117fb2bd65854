package agent

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"

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
	if slices.Contains(k.databases, p) || spec.Excluded(p, k.patterns) {
		return true
	}
	return dir && k.caches && cacheDir(p)
}
