package cli

import (
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// Bounds of what plan reads of the app's workflows: they are the app's
// files, read to spot a deploy step, never run.
const (
	maxWorkflows     = 100
	maxWorkflowBytes = 1 << 20
)

// readWorkflows reads the GitHub Actions workflows of the repository that
// holds dir: .github/workflows of dir or of the nearest folder above it, up
// to the repository's root (the folder with .git). Only regular *.yml and
// *.yaml files, each at most 1 MiB; a FIFO or a device is never opened
// for reading. Paths are shown relative to dir. Never nil.
func readWorkflows(dir string) []reconcile.Workflow {
	out := []reconcile.Workflow{}
	for d := dir; ; d = filepath.Dir(d) {
		wfDir := filepath.Join(d, ".github", "workflows")
		if fi, err := os.Stat(wfDir); err == nil && fi.IsDir() {
			return appendWorkflows(out, dir, wfDir)
		}
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil || filepath.Dir(d) == d {
			return out
		}
	}
}

func appendWorkflows(out []reconcile.Workflow, dir, wfDir string) []reconcile.Workflow {
	entries, err := os.ReadDir(wfDir)
	if err != nil {
		return out
	}
	var names []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); ext == ".yml" || ext == ".yaml" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if len(out) == maxWorkflows {
			break
		}
		path := filepath.Join(wfDir, name)
		text, ok := readRegular(path, maxWorkflowBytes)
		if !ok {
			continue
		}
		shown := path
		if rel, err := filepath.Rel(dir, path); err == nil {
			shown = rel
		}
		out = append(out, reconcile.Workflow{Path: filepath.ToSlash(shown), Text: text})
	}
	return out
}

// readRegular reads a regular file of at most limit bytes. It opens
// without blocking, so a FIFO put in its place cannot hang the read, and
// checks what it opened.
func readRegular(path string, limit int64) ([]byte, bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > limit {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil || strings.ContainsRune(string(b), 0) {
		return nil, false
	}
	return b, true
}
