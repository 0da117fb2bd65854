package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrRefused matches every RefusedError: a path this tool will not write.
var ErrRefused = errors.New("refused to write")

// RefusedError says why a path is not written and what to do instead.
type RefusedError struct {
	Path   string
	Reason string
	Fix    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("will not write %s: %s; %s", e.Path, e.Reason, e.Fix)
}

// Is makes every RefusedError match ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Target returns the file WriteFile(path) would replace, after following
// symlinks, and whether it exists. Only a regular file, or a path where
// nothing is, may be written: a rename over a device, a FIFO, a socket or a
// directory would replace it (as root, /dev/null included). A read-only file
// is refused too: its mode says it is not to be changed, and root would
// otherwise replace it anyway.
func Target(path string) (target string, fi fs.FileInfo, err error) {
	li, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if di, err := os.Stat(filepath.Dir(path)); err != nil || !di.IsDir() {
			return "", nil, &RefusedError{Path: path, Reason: "its folder " + filepath.Dir(path) + " does not exist",
				Fix: "create the folder or name a file in an existing one"}
		}
		return path, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("write %s: %w", path, err)
	}
	target = path
	if li.Mode()&fs.ModeSymlink != 0 {
		target, err = filepath.EvalSymlinks(path)
		if err != nil {
			// /dev/stdout on a pipe is one: a link to "pipe:[…]".
			return "", nil, &RefusedError{Path: path, Reason: "it is a symlink to nothing that can be written",
				Fix: "name a regular file or a new path"}
		}
	}
	fi, err = os.Stat(target)
	if err != nil {
		return "", nil, fmt.Errorf("write %s: %w", path, err)
	}
	if kind := kindOf(fi.Mode()); kind != "" {
		return "", nil, &RefusedError{Path: path, Reason: "it is " + kind + ", not a regular file",
			Fix: "name a regular file or a new path; it was left as it is"}
	}
	if fi.Mode().Perm()&0o200 == 0 {
		return "", nil, &RefusedError{Path: path, Reason: fmt.Sprintf("it is read-only (mode %04o)", fi.Mode().Perm()),
			Fix: fmt.Sprintf("make it writable (chmod u+w %s) and run again", path)}
	}
	return target, fi, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return ""
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

// Writable reports, without writing, why WriteFile(path) would be refused.
func Writable(path string) error {
	_, _, err := Target(path)
	return err
}

// tempPrefix starts the name of WriteFile's temp file for target; the rest
// is the decimal digits os.CreateTemp puts in place of its "*".
func tempPrefix(target string) string { return "." + filepath.Base(target) + ".tmp-" }

// WriteFile replaces path with data atomically: a temp file in the same
// folder, fsync, the original mode, rename, fsync of the folder. A symlink is
// written through to its target, so the link stays a link. What Target
// refuses is left untouched.
func WriteFile(path string, data []byte, defaultMode os.FileMode) error {
	target, fi, err := Target(path)
	if err != nil {
		return err
	}
	mode := defaultMode
	if fi != nil {
		mode = fi.Mode().Perm()
	}
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, tempPrefix(target)+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// RemoveTemps deletes the temp files WriteFile(path) leaves when it is killed
// between creating and renaming one. Only call it while holding the lock that
// serialises the writers of path: then every such file is stale. It matches
// WriteFile's exact naming and only regular files, and returns their names.
func RemoveTemps(path string) ([]string, error) {
	target := path
	if t, err := filepath.EvalSymlinks(path); err == nil {
		target = t
	}
	dir, prefix := filepath.Dir(target), tempPrefix(target)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("look for stale temp files of %s: %w", path, err)
	}
	var removed []string
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("remove stale temp file %s: %w", filepath.Join(dir, e.Name()), err)
		}
		removed = append(removed, filepath.Join(dir, e.Name()))
	}
	return removed, nil
}
