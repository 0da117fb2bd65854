package agent

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// What a restore may read from and write to: the newest backup of a group
// (never an undo, suspect or future-dated snapshot), live paths reached
// without a symbolic link, and a scratch --target clear of live data, the
// repositories, restic's cache and the agent's own folders.

// latestOf is the index in list (this app's trusted snapshots) of the
// newest backup of group latest (files, or db:NAME): no evidence, undo,
// suspect or future-dated snapshot; -1 when there is none.
func latestOf(list []restic.Snapshot, latest string, paths []string, now time.Time) int {
	db, isDB := strings.CutPrefix(latest, "db:")
	best := -1
	for i, s := range list {
		sh, ok := restorable(s, now)
		if !ok {
			continue
		}
		match := sh.HasTag(operate.TagFiles) && sameSet(s.Paths, paths)
		if isDB {
			match = sh.HasTag(operate.TagDB) && sh.TagValue(operate.TagDBName) == db
		}
		if match && (best < 0 || s.Time.After(list[best].Time)) {
			best = i
		}
	}
	return best
}

// restorable is a snapshot a restore may pick by its group: a backup, not
// evidence, an undo, a suspect or a future-dated one.
func restorable(s restic.Snapshot, now time.Time) (operate.Snapshot, bool) {
	sh := operate.Snapshot{ID: s.ID, Paths: s.Paths, Tags: s.Tags}
	ok := !sh.HasTag(operate.TagEvidence) && sh.TagValue(operate.TagPreRestore) == "" && !operate.Suspect(sh) && !operate.InFuture(s.Time, now)
	return sh, ok
}

// databasesIn are the names of the databases list holds restorable dumps
// of, sorted.
func databasesIn(list []restic.Snapshot, now time.Time) []string {
	var names []string
	for _, s := range list {
		if sh, ok := restorable(s, now); ok && sh.HasTag(operate.TagDB) {
			if name := sh.TagValue(operate.TagDBName); name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// checkTarget refuses a scratch folder that is live data, a repository,
// restic's cache, a scratch folder of the agent, or is not empty.
func (a *Agent) checkTarget(t string) error {
	bad := func(format string, args ...any) error {
		return &stepError{class: "bad_target", msg: fmt.Sprintf("--target %s: ", t) + fmt.Sprintf(format, args...)}
	}
	if !strings.HasPrefix(t, "/") || path.Clean(t) != t || t == "/" {
		return bad("want a clean absolute folder inside the service, not /")
	}
	for _, c := range strings.Split(t, "/") {
		if strings.HasPrefix(c, scratchPrefix) || strings.HasPrefix(c, drillDirPrefix) {
			return bad("it lies in a scratch folder of the agent (%s): pick a folder of your own", c)
		}
	}
	rt := resolved(t)
	for p, what := range a.offLimits() {
		rp := resolved(p)
		if under(t, p) || under(p, t) || under(rt, rp) || under(rp, rt) {
			return bad("it overlaps %s, %s", p, what)
		}
	}
	fi, err := os.Stat(t)
	switch {
	case os.IsNotExist(err):
		return nil
	case err != nil:
		return bad("%v", err)
	case !fi.IsDir():
		return bad("it exists and is not a folder")
	}
	if entries, err := os.ReadDir(t); err != nil || len(entries) > 0 {
		return bad("it is not empty: pick a new folder")
	}
	return nil
}

// linkOnTheWay is the first symbolic link among p and the folders
// between root and p ("" when none).
func linkOnTheWay(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." {
		return ""
	}
	q := root
	for _, c := range strings.Split(rel, "/") {
		q = filepath.Join(q, c)
		fi, err := os.Lstat(q)
		if err != nil {
			return ""
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return q
		}
	}
	return ""
}

func readLink(p string) string {
	t, err := os.Readlink(p)
	if err != nil {
		return "?"
	}
	return t
}

// resolved is p with the symbolic links of its existing part resolved.
func resolved(p string) string {
	rest := ""
	for q := p; q != "/" && q != "."; q = filepath.Dir(q) {
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(r, rest)
		}
		rest = filepath.Join(filepath.Base(q), rest)
	}
	return p
}

// offLimits are the folders a scratch restore never writes into: live data,
// the repositories and restic's cache, the agent's own run folder, and
// scratch folders of restores and drills.
func (a *Agent) offLimits() map[string]string {
	out := map[string]string{}
	for _, p := range a.Config.Paths {
		out[p] = "which the service backs up: a scratch restore never writes into live data (restore into it without --target)"
	}
	local := func(url string) string {
		if strings.HasPrefix(url, "/") {
			return url
		}
		if p, ok := strings.CutPrefix(url, "local:"); ok {
			return p
		}
		return ""
	}
	if p := local(a.Config.RepositoryURL); p != "" {
		out[p] = "the repository"
	}
	if p := local(environ.Get(a.Environ, "RESTIC_REPOSITORY")); p != "" {
		out[p] = "the repository"
	}
	for _, c := range a.Config.Copies {
		if p := local(c.URL); p != "" {
			out[p] = "the repository of copy " + c.Name
		}
	}
	for _, p := range []string{a.Config.CacheDir, environ.Get(a.Environ, "RESTIC_CACHE_DIR")} {
		if p != "" {
			out[p] = "restic's cache"
		}
	}
	out[a.Runs.Dir] = "the agent's own run folder"
	return out
}
