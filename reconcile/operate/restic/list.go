package restic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
)

// ListOptions says which entries of a snapshot List reads.
type ListOptions struct {
	SnapshotID string
	// Dir is an absolute folder of the snapshot; empty: the whole tree.
	Dir string
	// Recursive lists everything under Dir; without it, only Dir's direct
	// children (and Dir itself, which restic prints too).
	Recursive bool
	// NoLock reads without a repository lock (restic --no-lock), so a
	// stale lock or a running prune does not stop a look.
	NoLock bool
}

// List calls each for the entries of a snapshot (`restic ls --json`),
// streaming. Without Recursive, restic prints Dir and its direct children
// only, which keeps a look into a big snapshot cheap. If each returns an
// error, restic is stopped and that error returned.
func (r *Runner) List(ctx context.Context, o ListOptions, each func(Node) error) error {
	if err := checkID("ls", o.SnapshotID); err != nil {
		return err
	}
	if o.Dir != "" && (!strings.HasPrefix(o.Dir, "/") || path.Clean(o.Dir) != o.Dir) {
		return fmt.Errorf("restic ls: %q is not a clean absolute path", o.Dir)
	}
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	var args []string
	if o.NoLock {
		args = append(args, "--no-lock")
	}
	args = append(args, "ls", "--json")
	if o.Recursive && o.Dir != "" {
		args = append(args, "--recursive")
	}
	args = append(args, "--", o.SnapshotID)
	if o.Dir != "" {
		args = append(args, o.Dir)
	}
	return r.run(ctx, job{op: "ls", args: args, stdout: func(rd io.Reader) error {
		return readLines(rd, func(line []byte) error {
			var n struct {
				Node
				StructType  string `json:"struct_type"`
				MessageType string `json:"message_type"`
			}
			if err := json.Unmarshal(line, &n); err != nil {
				return fmt.Errorf("decode ls line: %w", err)
			}
			if n.StructType != "node" && n.MessageType != "node" {
				return nil
			}
			if err := each(n.Node); err != nil {
				return callerError{err}
			}
			return nil
		})
	}})
}
