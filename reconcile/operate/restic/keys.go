package restic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// Key is one key of the repository: each opens it with its own password.
type Key struct {
	ID string `json:"id"`
	// Current is the key the password in Env opened.
	Current  bool   `json:"current"`
	UserName string `json:"userName"`
	HostName string `json:"hostName"`
	Created  string `json:"created"`
}

// Keys lists the repository's keys (`restic key list --json`).
func (r *Runner) Keys(ctx context.Context) ([]Key, error) {
	if _, err := r.Version(ctx); err != nil {
		return nil, err
	}
	var keys []Key
	err := r.run(ctx, job{op: "key list", args: []string{"key", "list", "--json"}, stdout: func(rd io.Reader) error {
		if err := json.NewDecoder(rd).Decode(&keys); err != nil {
			return fmt.Errorf("decode key list: %w", err)
		}
		return nil
	}})
	return keys, err
}

// KeyAdd adds a key for password (`restic key add`), which restic reads on
// its stdin: never argv, never a file. The password in Env opens the
// repository to add it.
func (r *Runner) KeyAdd(ctx context.Context, password secret.Value) error {
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	return r.run(ctx, job{op: "key add", args: []string{"key", "add"}, stdin: io.MultiReader(password.Reader(), strings.NewReader("\n")), stdout: discard})
}

// KeyRemove removes the key id (`restic key remove`); restic refuses to
// remove the key the password in Env opened.
func (r *Runner) KeyRemove(ctx context.Context, id string) error {
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	return r.run(ctx, job{op: "key remove", args: []string{"key", "remove", "--", id}, stdout: discard})
}

// WithPassword is r opening the repository with another password.
func (r *Runner) WithPassword(password secret.Value) *Runner {
	c := &Runner{Bin: r.Bin, Dir: r.Dir, Scrub: r.Scrub, OnStderr: r.OnStderr, Grace: r.Grace, credential: r.credential}
	for _, kv := range r.Env {
		if !strings.HasPrefix(kv, "RESTIC_PASSWORD=") && !strings.HasPrefix(kv, "RESTIC_PASSWORD_FILE=") && !strings.HasPrefix(kv, "RESTIC_PASSWORD_COMMAND=") {
			c.Env = append(c.Env, kv)
		}
	}
	b, _ := io.ReadAll(password.Reader())
	c.Env = append(c.Env, "RESTIC_PASSWORD="+string(b))
	return c
}
