package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// ConfigFile is devopsellence's config file name.
const ConfigFile = "devopsellence.yml"

// workspace is one app: its files, its devopsellence and its local state.
type workspace struct {
	dir        string
	specPath   string
	specFile   string // as shown to people
	configPath string
	client     *devopsellence.Client
	store      *store.Store
	// rotating is the secret rotate-secret is rotating, whose next value
	// the service gets too while it does (reconcile.DesireRotating).
	rotating string
}

// openWorkspace opens the app that the global flags name; environ is the
// environment devopsellence runs with (secret values scrubbed).
func openWorkspace(g globalFlags, environ []string) (*workspace, error) {
	dir, err := filepath.Abs(g.Dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, usagef("--dir %s: not a folder", g.Dir)
	}
	specPath := g.SpecPath
	if specPath == "" {
		specPath = filepath.Join(dir, spec.DefaultFile)
	} else if specPath, err = filepath.Abs(specPath); err != nil {
		return nil, err
	}
	specFile := specPath
	if rel, err := filepath.Rel(dir, specPath); err == nil && !strings.HasPrefix(rel, "..") {
		specFile = rel
	}
	home, err := store.Home(environ)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(home, dir)
	if err != nil {
		return nil, err
	}
	return &workspace{
		dir: dir, specPath: specPath, specFile: specFile,
		configPath: filepath.Join(dir, ConfigFile),
		client:     &devopsellence.Client{Bin: g.Devopsellence, Dir: dir, Env: prompt.Scrub(environ), Timeout: g.CallTimeout, DeployTimeout: g.DeployTimeout},
		store:      st,
	}, nil
}

// inputs is everything read from disk for one pass.
type inputs struct {
	spec     *spec.Backup
	specRaw  []byte
	desired  *reconcile.Desired
	observed *reconcile.Observed
}

// read loads the spec and devopsellence.yml and derives the desired state.
// It calls nothing external.
func (w *workspace) read() (*inputs, error) {
	specRaw, err := os.ReadFile(w.specPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("no backup spec at %s; run `devopsellence-backup init` to write one", w.specFile)
	}
	if errors.Is(err, syscall.EISDIR) {
		return nil, usagef("the backup spec %s is a directory; pass --spec with the spec file", w.specFile)
	}
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	b, err := spec.Parse(w.specFile, specRaw)
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(w.configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("no %s in %s; create the app first with `devopsellence init --mode solo`", ConfigFile, w.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ConfigFile, err)
	}
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		return nil, usagef("%s: %w; run `devopsellence config resolve` to see what devopsellence makes of it", ConfigFile, err)
	}
	app, err := reconcile.ReadApp(doc.Root(), b.ServiceName())
	if err != nil {
		return nil, usageError{err}
	}
	d, err := reconcile.DesireRotating(b, app, w.specFile, w.rotating)
	if err != nil {
		return nil, usageError{err}
	}
	obs := &reconcile.Observed{ConfigFile: ConfigFile, Config: cfg, Doc: doc, App: app, Workflows: readWorkflows(w.dir)}
	return &inputs{spec: b, specRaw: specRaw, desired: d, observed: obs}, nil
}

// plan reads, observes devopsellence and the local deploy records, and diffs.
func (w *workspace) plan(ctx context.Context, selected []string) (*reconcile.Plan, *inputs, error) {
	in, err := w.observe(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, err := reconcile.Diff(in.desired, in.observed, selected)
	if err != nil {
		return nil, nil, err
	}
	return p, in, nil
}

// observe reads, and observes devopsellence and the local deploy records.
func (w *workspace) observe(ctx context.Context) (*inputs, error) {
	in, err := w.read()
	if err != nil {
		return nil, err
	}
	if err := reconcile.Observe(ctx, in.desired, w.client, in.observed); err != nil {
		return nil, err
	}
	if in.observed.Deployed, err = w.store.Deployed(); err != nil {
		return nil, err
	}
	return in, nil
}
