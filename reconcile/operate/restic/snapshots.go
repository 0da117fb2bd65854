package restic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Filter selects snapshots the way restic's --host, --tag and --path do.
type Filter struct {
	Host string
	// Tags: the tags of each inner list must all be present (one --tag
	// a,b); a snapshot matching any of the lists is selected (several --tag).
	Tags [][]string
	// Paths: a snapshot must include every one (absolute, as stored).
	Paths []string
	// NoLock runs without a repository lock (restic --no-lock). Only
	// Snapshots, Find and Stats honour it; the other methods refuse it.
	NoLock bool
}

// args returns the filter's flags, each in --flag=value form so that no
// value can be read as a flag.
func (f Filter) args() ([]string, error) {
	var a []string
	if f.Host != "" {
		a = append(a, "--host="+f.Host)
	}
	for _, group := range f.Tags {
		if len(group) == 0 {
			return nil, errors.New("filter: an empty tag list would select the snapshots without tags")
		}
		for _, t := range group {
			if t == "" || strings.Contains(t, ",") {
				return nil, fmt.Errorf("filter: tag %q is empty or has a comma (give each tag as its own element)", t)
			}
		}
		a = append(a, "--tag="+strings.Join(group, ","))
	}
	for _, p := range f.Paths {
		if p == "" {
			return nil, errors.New("filter: empty path")
		}
		a = append(a, "--path="+p)
	}
	return a, nil
}

// lockedFilter returns the filter's flags for a command that must lock.
func (f Filter) lockedArgs(op string) ([]string, error) {
	if f.NoLock {
		return nil, fmt.Errorf("restic %s: NoLock is not allowed here", op)
	}
	return f.args()
}

// globals returns the global flags that go before the command.
func (f Filter) globals() []string {
	if f.NoLock {
		return []string{"--no-lock"}
	}
	return nil
}

// checkID refuses an empty snapshot ID or one restic would read as a flag.
func checkID(op, id string) error {
	if id == "" || strings.HasPrefix(id, "-") {
		return fmt.Errorf("restic %s: invalid snapshot ID %q", op, id)
	}
	return nil
}

// Snapshot is one entry of `restic snapshots --json`.
type Snapshot struct {
	ID             string    `json:"id"`
	ShortID        string    `json:"short_id"`
	Time           time.Time `json:"time"`
	Parent         string    `json:"parent,omitempty"`
	Paths          []string  `json:"paths"`
	Hostname       string    `json:"hostname"`
	Username       string    `json:"username,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	ProgramVersion string    `json:"program_version,omitempty"` // snapshots made by 0.16+
	// Summary is stored with snapshots made by restic 0.17+; nil otherwise.
	Summary *SnapshotSummary `json:"summary,omitempty"`
}

// SnapshotSummary is the backup summary restic 0.17+ stores in a snapshot.
type SnapshotSummary struct {
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
	FilesNew            int64     `json:"files_new"`
	FilesChanged        int64     `json:"files_changed"`
	FilesUnmodified     int64     `json:"files_unmodified"`
	DirsNew             int64     `json:"dirs_new"`
	DirsChanged         int64     `json:"dirs_changed"`
	DirsUnmodified      int64     `json:"dirs_unmodified"`
	DataBlobs           int64     `json:"data_blobs"`
	TreeBlobs           int64     `json:"tree_blobs"`
	DataAdded           int64     `json:"data_added"`
	DataAddedPacked     int64     `json:"data_added_packed"`
	TotalFilesProcessed int64     `json:"total_files_processed"`
	TotalBytesProcessed int64     `json:"total_bytes_processed"`
}

// Snapshots lists the snapshots that match f, oldest first as restic sorts
// them (`restic snapshots --json`). No match is an empty list. Note that
// from 0.17 a RESTIC_HOST in Runner.Env also filters.
func (r *Runner) Snapshots(ctx context.Context, f Filter) ([]Snapshot, error) {
	fa, err := f.args()
	if err != nil {
		return nil, err
	}
	if _, err := r.Version(ctx); err != nil {
		return nil, err
	}
	var list []Snapshot
	err = r.run(ctx, job{
		op:   "snapshots",
		args: concat(f.globals(), []string{"snapshots", "--json"}, fa),
		stdout: func(rd io.Reader) error {
			return decodeSnapshots(rd, func(s *Snapshot) error {
				list = append(list, *s)
				return nil
			})
		},
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// decodeSnapshots streams the elements of a JSON array of snapshots, one
// at a time; no output at all is an empty list.
func decodeSnapshots(rd io.Reader, each func(*Snapshot) error) error {
	return decodeArray(rd, func(dec *json.Decoder) error {
		var s Snapshot
		if err := dec.Decode(&s); err != nil {
			return err
		}
		return each(&s)
	})
}

// decodeArray reads one JSON array from rd and calls elem for each element,
// with the decoder positioned on it. Empty input is an empty array.
func decodeArray(rd io.Reader, elem func(*json.Decoder) error) error {
	dec := json.NewDecoder(rd)
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("decode JSON: want an array, got %v", tok)
	}
	for dec.More() {
		if err := elem(dec); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}

// RepositoryConfig is the repository's config file.
type RepositoryConfig struct {
	ID      string `json:"id"`      // stable identity of the repository
	Version int    `json:"version"` // repository format: 2 can compress
}

// Config reads the repository's config (`restic --no-lock cat config`):
// the cheapest check that the repository exists and the password opens it.
func (r *Runner) Config(ctx context.Context) (RepositoryConfig, error) {
	var c RepositoryConfig
	if _, err := r.Version(ctx); err != nil {
		return c, err
	}
	err := r.run(ctx, job{op: "cat config", args: []string{"--no-lock", "cat", "config"}, stdout: func(rd io.Reader) error {
		if err := json.NewDecoder(rd).Decode(&c); err != nil {
			return fmt.Errorf("decode config: %w", err)
		}
		return nil
	}})
	return c, err
}

// PasswordWarning is what restic init says about the repository password;
// its --json output leaves it out, so this tool carries it instead.
const PasswordWarning = "Please note that knowledge of your password is required to access the repository. Losing your password means that your data is irrecoverably lost."

// Init creates the repository (`restic init`).
func (r *Runner) Init(ctx context.Context) error {
	v, err := r.Version(ctx)
	if err != nil {
		return err
	}
	args := []string{"init"}
	if v.AtLeast(0, 15) {
		args = append(args, "--json") // a single JSON line instead of a paragraph of advice
	}
	return r.run(ctx, job{op: "init", args: args, stdout: discard})
}

// forgetBatch bounds how many IDs one restic forget names.
const forgetBatch = 100

// ForgetIDs forgets exactly the snapshots ids (`restic forget ID...`), a
// batch at a time so that argv stays short; the caller chose them. It
// never prunes. No IDs is nothing to do.
func (r *Runner) ForgetIDs(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if err := checkID("forget", id); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), forgetBatch)
		if err := r.run(ctx, job{op: "forget", args: concat([]string{"forget", "--"}, ids[:n]), stdout: discard}); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

func discard(rd io.Reader) error {
	_, err := io.Copy(io.Discard, rd)
	return err
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
