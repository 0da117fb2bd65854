package restic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// RestoreOptions says what to restore where.
type RestoreOptions struct {
	SnapshotID string // an ID (full or short); never "latest" without care
	Target     string // folder to restore into
	Includes   []string
}

// RestoreSummary is restic's summary of a restore. On restic before 0.16
// (no restore --json) Reported is false and the counters are zero.
type RestoreSummary struct {
	Reported       bool
	TotalFiles     int64
	FilesRestored  int64
	FilesSkipped   int64
	TotalBytes     int64
	BytesRestored  int64
	BytesSkipped   int64
	SecondsElapsed int64
}

// Restore restores a snapshot (`restic restore`, with --json on 0.16+).
// onProgress, when not nil, receives every status line (0.16+; from
// another goroutine).
func (r *Runner) Restore(ctx context.Context, o RestoreOptions, onProgress func(Progress)) (RestoreSummary, error) {
	var sum RestoreSummary
	if err := checkID("restore", o.SnapshotID); err != nil {
		return sum, err
	}
	if o.Target == "" {
		return sum, errors.New("restic restore: no target folder")
	}
	v, err := r.Version(ctx)
	if err != nil {
		return sum, err
	}
	args := []string{"restore", "--target=" + o.Target}
	for _, in := range o.Includes {
		if in == "" {
			return sum, errors.New("restic restore: empty include pattern")
		}
		args = append(args, "--include="+in)
	}
	j := job{op: "restore", stdout: discard}
	if v.AtLeast(0, 16) {
		args = append(args, "--json")
		if onProgress == nil {
			args = append(args, "--quiet")
		}
		j.stdout = func(rd io.Reader) error {
			return readLines(rd, func(line []byte) error {
				var l restoreLine
				if json.Unmarshal(line, &l) != nil {
					return nil
				}
				switch l.MessageType {
				case "status":
					if onProgress != nil {
						onProgress(l.progress())
					}
				case "summary":
					sum = l.summary()
				}
				return nil
			})
		}
	}
	j.args = concat(args, []string{"--", o.SnapshotID})
	return sum, r.run(ctx, j)
}

// restoreLine is a status or summary line of restore --json.
type restoreLine struct {
	MessageType    string  `json:"message_type"`
	SecondsElapsed uint64  `json:"seconds_elapsed"`
	SecondsLeft    uint64  `json:"seconds_remaining"`
	PercentDone    float64 `json:"percent_done"`
	TotalFiles     uint64  `json:"total_files"`
	FilesRestored  uint64  `json:"files_restored"`
	FilesSkipped   uint64  `json:"files_skipped"`
	TotalBytes     uint64  `json:"total_bytes"`
	BytesRestored  uint64  `json:"bytes_restored"`
	BytesSkipped   uint64  `json:"bytes_skipped"`
}

func (l *restoreLine) progress() Progress {
	return Progress{
		PercentDone:      l.PercentDone,
		TotalFiles:       clamp(l.TotalFiles),
		FilesDone:        clamp(l.FilesRestored),
		TotalBytes:       clamp(l.TotalBytes),
		BytesDone:        clamp(l.BytesRestored),
		SecondsElapsed:   clamp(l.SecondsElapsed),
		SecondsRemaining: clamp(l.SecondsLeft),
	}
}

func (l *restoreLine) summary() RestoreSummary {
	return RestoreSummary{
		Reported:       true,
		TotalFiles:     clamp(l.TotalFiles),
		FilesRestored:  clamp(l.FilesRestored),
		FilesSkipped:   clamp(l.FilesSkipped),
		TotalBytes:     clamp(l.TotalBytes),
		BytesRestored:  clamp(l.BytesRestored),
		BytesSkipped:   clamp(l.BytesSkipped),
		SecondsElapsed: clamp(l.SecondsElapsed),
	}
}

// Dump writes one file of a snapshot to w (`restic dump ID PATH`; a folder
// comes out as a tar archive). If writing to w fails, restic is stopped and
// that error returned.
func (r *Runner) Dump(ctx context.Context, snapshotID, path string, w io.Writer) error {
	if err := checkID("dump", snapshotID); err != nil {
		return err
	}
	if path == "" {
		return errors.New("restic dump: no path")
	}
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	return r.run(ctx, job{
		op:   "dump",
		args: []string{"dump", "--", snapshotID, path},
		stdout: func(rd io.Reader) error {
			if _, err := io.Copy(w, rd); err != nil {
				return callerError{fmt.Errorf("write: %w", err)}
			}
			return nil
		},
	})
}

// Node is one entry of a snapshot's tree.
type Node struct {
	Name        string      `json:"name"`
	Type        string      `json:"type"` // file, dir, symlink, dev, chardev, fifo, socket
	Path        string      `json:"path"`
	Size        int64       `json:"size"` // files only
	Mode        os.FileMode `json:"mode"`
	Permissions string      `json:"permissions"` // e.g. "-rw-r--r--"
	MTime       time.Time   `json:"mtime"`
	UID         uint32      `json:"uid"`
	GID         uint32      `json:"gid"`
}

// Ls calls each for every entry of a snapshot, streaming
// (`restic ls --json`), or, when path is not empty, for that folder or file
// and everything under it (--recursive). The first line (the snapshot) is
// skipped: nodes are told apart by "struct_type":"node", which 0.14 already
// prints; 0.17+ adds "message_type":"node" and 0.16.1+ "inode". If each
// returns an error, restic is stopped and that error returned.
func (r *Runner) Ls(ctx context.Context, snapshotID, path string, each func(Node) error) error {
	return r.List(ctx, ListOptions{SnapshotID: snapshotID, Dir: path, Recursive: true}, each)
}

// Match is one file that Find found.
type Match struct {
	SnapshotID  string
	Path        string
	Type        string
	Size        int64
	Mode        os.FileMode
	Permissions string
	MTime       time.Time
}

// Find calls each for every file whose name matches one of patterns in the
// snapshots that f selects (`restic find --json`). Both 0.14 and 0.18 print
// one array with an element per snapshot:
// {"matches":[{"path","type","size","mode","permissions","mtime",…}],"hits":N,"snapshot":"<id>"};
// 0.16.1+ adds "inode" to each match. If each returns an error, restic is
// stopped and that error returned.
func (r *Runner) Find(ctx context.Context, f Filter, patterns []string, each func(Match) error) error {
	fa, err := f.args()
	if err != nil {
		return err
	}
	if len(patterns) == 0 {
		return errors.New("restic find: no pattern")
	}
	for _, p := range patterns {
		if strings.TrimSpace(p) == "" {
			return errors.New("restic find: empty pattern")
		}
	}
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	return r.run(ctx, job{
		op:   "find",
		args: concat(f.globals(), []string{"find", "--json"}, fa, []string{"--"}, patterns),
		stdout: func(rd io.Reader) error {
			return decodeArray(rd, func(dec *json.Decoder) error {
				var s struct {
					Snapshot string `json:"snapshot"`
					Matches  []struct {
						Path        string      `json:"path"`
						Type        string      `json:"type"`
						Size        int64       `json:"size"`
						Mode        os.FileMode `json:"mode"`
						Permissions string      `json:"permissions"`
						MTime       time.Time   `json:"mtime"`
					} `json:"matches"`
				}
				if err := dec.Decode(&s); err != nil {
					return fmt.Errorf("decode find result: %w", err)
				}
				for _, m := range s.Matches {
					if err := each(Match{SnapshotID: s.Snapshot, Path: m.Path, Type: m.Type, Size: m.Size, Mode: m.Mode, Permissions: m.Permissions, MTime: m.MTime}); err != nil {
						return callerError{err}
					}
				}
				return nil
			})
		},
	})
}
