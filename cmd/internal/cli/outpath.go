package cli

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/devopsellence/devopsellence-backup/reconcile/store"
)

// stdoutPath names standard output where a flag takes a file.
const stdoutPath = "-"

// checkOutPath refuses, before anything runs, an output path that would
// replace something other than a regular file (see store.Target), or one of
// the files devopsellence-backup itself manages: devopsellence.yml, the spec,
// the lock and the deploy records.
func (w *workspace) checkOutPath(flag, path string) error {
	for _, managed := range []struct{ path, what string }{
		{w.configPath, ConfigFile}, {w.specPath, "the backup spec " + w.specFile},
	} {
		if samePath(path, managed.path) {
			return usagef("%s %s: that is %s, which devopsellence-backup manages; name another file", flag, path, managed.what)
		}
	}
	if w.store.Manages(path) {
		return usagef("%s %s: that is devopsellence-backup's own state (lock and deploy records); name another file", flag, path)
	}
	if err := store.Writable(path); err != nil {
		return usagef("%s: %w", flag, err)
	}
	return nil
}

// samePath reports whether a and b name the same file, through symlinks,
// hard links and relative paths, whether or not it exists yet.
func samePath(a, b string) bool {
	if fa, err := os.Stat(a); err == nil {
		fb, err := os.Stat(b)
		return err == nil && os.SameFile(fa, fb)
	}
	return resolved(a) == resolved(b)
}

// resolved is path made absolute with the symlinks of its folder followed.
func resolved(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// lock takes the app's lock, then removes the temp files that a run killed
// while writing one of files left behind: the lock serialises their
// writers, so while it is held no live writer owns such a file.
func (w *workspace) lock(ctx context.Context, wait time.Duration, files ...string) (unlock func(), err error) {
	unlock, err = w.store.Lock(ctx, wait)
	if err != nil {
		return nil, err
	}
	log := logr.FromContextOrDiscard(ctx)
	for _, f := range files {
		removed, err := store.RemoveTemps(f)
		if err != nil {
			log.Error(err, "staleTempFilesNotRemoved", "file", f)
		}
		if len(removed) > 0 {
			log.V(1).Info("removed stale temp files", "files", removed)
		}
	}
	return unlock, nil
}
