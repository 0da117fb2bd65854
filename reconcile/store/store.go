package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Home is where devopsellence-backup keeps state: next to devopsellence's own
// (DEVOPSELLENCE_STATE_HOME, else XDG_STATE_HOME, else ~/.local/state), so the
// two travel together on a runner that keeps its state.
func Home(env []string) (string, error) {
	for _, k := range []string{"DEVOPSELLENCE_STATE_HOME", "XDG_STATE_HOME"} {
		if v := environ.Get(env, k); v != "" {
			return filepath.Join(v, "devopsellence-backup"), nil
		}
	}
	home := environ.Get(env, "HOME")
	if home == "" {
		return "", errors.New("cannot place local state: set HOME, XDG_STATE_HOME or DEVOPSELLENCE_STATE_HOME")
	}
	return filepath.Join(home, ".local", "state", "devopsellence-backup"), nil
}

// Store is the local state of one app workspace.
type Store struct {
	// Workspace is the app root with symlinks resolved.
	Workspace string
	dir       string
	key       string
}

// Open returns the store of the app at workspace under home.
func Open(home, workspace string) (*Store, error) {
	abs, err := filepath.Abs(workspace)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	sum := sha256.Sum256([]byte(abs))
	return &Store{Workspace: abs, dir: filepath.Join(home, "apps"), key: hex.EncodeToString(sum[:8])}, nil
}

// ErrLocked means another run holds the app's lock past the wait.
var ErrLocked = errors.New("another devopsellence-backup run holds the lock for this app")

// Lock serialises runs on one app. It waits up to wait, then fails with ErrLocked.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (unlock func(), err error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := filepath.Join(s.dir, s.key+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("%w (%s, waited %s); wait for it to finish and run again", ErrLocked, path, wait)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// A run killed while writing the deploy records left its temp file;
	// holding the lock, no writer of ours is alive to own one.
	if _, err := RemoveTemps(s.recordsPath()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// Manages reports whether path names a file of the store: the lock, the
// deploy records, or anything else in the folder that holds them.
func (s *Store) Manages(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	} else if parent, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(parent, filepath.Base(abs))
	}
	dir := s.dir
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return filepath.Dir(abs) == dir
}

// Record is what was last deployed successfully in one environment.
type Record struct {
	Fingerprint string    `json:"fingerprint"`
	DeployedAt  time.Time `json:"deployed_at"`
	ReleaseID   string    `json:"release_id,omitempty"`
}

type recordsFile struct {
	SchemaVersion int               `json:"schema_version"`
	Workspace     string            `json:"workspace"`
	Environments  map[string]Record `json:"environments"`
}

func (s *Store) recordsPath() string { return filepath.Join(s.dir, s.key+".json") }

// Deployed returns the fingerprint of the last successful deploy per environment.
func (s *Store) Deployed() (map[string]string, error) {
	f, err := s.load()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for env, r := range f.Environments {
		out[env] = r.Fingerprint
	}
	return out, nil
}

func (s *Store) load() (recordsFile, error) {
	f := recordsFile{SchemaVersion: 1, Workspace: s.Workspace, Environments: map[string]Record{}}
	b, err := os.ReadFile(s.recordsPath())
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read deploy records: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("read deploy records %s: %w (delete the file to start over; the next apply deploys once)", s.recordsPath(), err)
	}
	if f.Environments == nil {
		f.Environments = map[string]Record{}
	}
	return f, nil
}

// RecordDeploy remembers that env was deployed successfully with fingerprint.
func (s *Store) RecordDeploy(env string, r Record) error {
	f, err := s.load()
	if err != nil {
		return err
	}
	f.Environments[env] = r
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	return WriteFile(s.recordsPath(), append(b, '\n'), 0o600)
}
