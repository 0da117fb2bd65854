package restic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// BackupOptions says what one `restic backup` saves: folders (Paths), the
// output of a command (StdinCommand), or a stream (Stdin).
type BackupOptions struct {
	// Host is the snapshot's host. Set it: restic's default is the OS
	// hostname, which changes with every container.
	Host string
	// Tags are added to the snapshot, one tag per element (no commas).
	Tags []string
	// Paths are the files and folders to save; relative paths are resolved
	// from Runner.Dir and stored as if rooted there (data/app → /data/app).
	Paths         []string
	Excludes      []string // --exclude patterns
	ExcludeFile   string   // --exclude-file
	ExcludeCaches bool     // --exclude-caches
	// Time is the snapshot's time (--time, to the second); zero means now.
	Time time.Time

	// StdinFilename names the file a stdin snapshot holds (path
	// /StdinFilename); it is required with StdinCommand or Stdin.
	StdinFilename string
	// StdinCommand is run by restic (--stdin-from-command, restic 0.17+) and
	// its standard output saved; a command that exits non-zero leaves no
	// snapshot and fails with ClassDumperFailed. The command line is visible
	// to other processes: pass credentials in CommandEnv, never here.
	StdinCommand []string
	// Stdin is saved as it is read (--stdin). restic cannot tell a
	// truncated stream from a complete one: it saves whatever arrived. On
	// 0.16+ an empty stream saves an empty snapshot and exits 3
	// (ClassPartial, with a summary); 0.14 refuses it (exit 1, no snapshot).
	// If Stdin returns an error other than io.EOF, restic is stopped
	// without a snapshot and Backup returns that error: restic's stdin is
	// never closed early, since restic takes EOF for a complete stream.
	// restic notices a cancellation only between chunks (0.5 to 8 MiB), and
	// 0.18 not at all while it waits for input: a slow or stuck stream then
	// holds it until the Runner's grace period ends (0.18 has dropped its
	// lock by then). A Read in progress may finish after Backup returned;
	// its data is dropped.
	Stdin io.Reader
	// CommandEnv is added to Runner.Env for this run, so restic and the
	// StdinCommand it starts see it (e.g. PGPASSWORD=...).
	CommandEnv []string
	// Quiet asks restic for no progress lines (also implied by a nil
	// onProgress).
	Quiet bool
}

// Progress is one status line of a backup or restore.
type Progress struct {
	PercentDone      float64 // 0 to 1
	TotalFiles       int64
	FilesDone        int64 // files_done, or files_restored for a restore
	TotalBytes       int64
	BytesDone        int64 // bytes_done, or bytes_restored for a restore
	SecondsElapsed   int64
	SecondsRemaining int64 // restic's estimate, at times absurd
}

// BackupSummary is restic's summary of a backup, with the items it could
// not read.
type BackupSummary struct {
	// SnapshotID is the new snapshot's ID: full on restic 0.15+, the short
	// 8-character ID on 0.14 (then ShortIDOnly is set). It was left short
	// rather than resolved, which would take another restic run; restic
	// accepts the short form wherever it takes an ID.
	SnapshotID          string
	ShortIDOnly         bool
	FilesNew            int64
	FilesChanged        int64
	FilesUnmodified     int64
	DirsNew             int64
	DirsChanged         int64
	DirsUnmodified      int64
	TotalFilesProcessed int64
	TotalBytesProcessed int64
	DataAdded           int64
	DataAddedPacked     int64 // 0.17+
	Duration            time.Duration
	// Unreadable lists the first 20 distinct items that restic could not
	// read (from its JSON error lines, scrubbed); UnreadableCount counts
	// them all (distinct up to 10,000, then every error line).
	Unreadable      []string
	UnreadableCount int
}

const (
	maxUnreadable     = 20
	maxUnreadableSeen = 10000
)

// Backup runs `restic backup --json`. onProgress, when not nil, receives
// every status line (from another goroutine; throttle it yourself). When
// restic prints a summary, Backup returns it, also on exit 3 together with
// an *Error of ClassPartial: a snapshot was saved without some source data.
func (r *Runner) Backup(ctx context.Context, o BackupOptions, onProgress func(Progress)) (*BackupSummary, error) {
	v, err := r.Version(ctx)
	if err != nil {
		return nil, err
	}
	args, err := o.args(v, onProgress == nil)
	if err != nil {
		return nil, err
	}
	env := append([]string(nil), o.CommandEnv...)
	if !o.Time.IsZero() {
		env = append(env, "TZ=UTC") // restic reads --time in its local zone
	}
	var sum *BackupSummary
	unreadable := newItemSet()
	err = r.run(ctx, job{
		op:     "backup",
		args:   args,
		env:    env,
		stdin:  o.Stdin,
		dumper: dumperName(o.StdinCommand),
		onItem: func(item string) {
			// restic names the same item relative (archival) and absolute (scan).
			if item != "" && !filepath.IsAbs(item) && r.Dir != "" {
				item = filepath.Join(r.Dir, item)
			}
			unreadable.add(item)
		},
		stdout: func(rd io.Reader) error {
			return readLines(rd, func(line []byte) error {
				var l backupLine
				if json.Unmarshal(line, &l) != nil {
					return nil // restic prints the odd text line; only JSON counts
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
		},
	})
	if sum != nil {
		sum.Unreadable, sum.UnreadableCount = unreadable.first, unreadable.count
	}
	if err != nil {
		return sum, err
	}
	if sum == nil {
		return nil, errors.New("restic backup: exit 0 but no summary line")
	}
	return sum, nil
}

func (o BackupOptions) args(v Version, quiet bool) ([]string, error) {
	a := []string{"backup", "--json"}
	if o.Quiet || quiet {
		a = append(a, "--quiet")
	}
	if o.Host != "" {
		a = append(a, "--host="+o.Host)
	}
	for _, t := range o.Tags {
		if t == "" || strings.Contains(t, ",") {
			return nil, fmt.Errorf("restic backup: tag %q is empty or has a comma (give each tag as its own element)", t)
		}
		a = append(a, "--tag="+t)
	}
	for _, e := range o.Excludes {
		if e == "" {
			return nil, errors.New("restic backup: empty exclude pattern")
		}
		a = append(a, "--exclude="+e)
	}
	if o.ExcludeFile != "" {
		a = append(a, "--exclude-file="+o.ExcludeFile)
	}
	if o.ExcludeCaches {
		a = append(a, "--exclude-caches")
	}
	if !o.Time.IsZero() {
		a = append(a, "--time="+o.Time.UTC().Format("2006-01-02 15:04:05"))
	}
	for _, kv := range o.CommandEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, errors.New("restic backup: a CommandEnv entry is not NAME=value") // the entry may hold a secret: not shown
		}
	}
	stdin := o.Stdin != nil || len(o.StdinCommand) > 0
	switch {
	case o.Stdin != nil && len(o.StdinCommand) > 0:
		return nil, errors.New("restic backup: give Stdin or StdinCommand, not both")
	case stdin && len(o.Paths) > 0:
		return nil, errors.New("restic backup: give Paths or a stdin source, not both")
	case stdin && o.StdinFilename == "":
		return nil, errors.New("restic backup: a stdin backup needs StdinFilename")
	case !stdin && o.StdinFilename != "":
		return nil, errors.New("restic backup: StdinFilename without Stdin or StdinCommand")
	case !stdin && len(o.Paths) == 0:
		return nil, errors.New("restic backup: nothing to back up (no Paths, Stdin or StdinCommand)")
	case len(o.StdinCommand) > 0 && !v.AtLeast(0, 17):
		return nil, fmt.Errorf("restic backup: --stdin-from-command needs restic 0.17 or newer, this is %s: %w", v, ErrUnsupported)
	case len(o.StdinCommand) > 0:
		return concat(a, []string{"--stdin-from-command", "--stdin-filename=" + o.StdinFilename, "--", "sh", "-c", dumperShim, "sh"}, o.StdinCommand), nil
	case o.Stdin != nil:
		return append(a, "--stdin", "--stdin-filename="+o.StdinFilename), nil
	}
	for _, p := range o.Paths {
		if p == "" {
			return nil, errors.New("restic backup: empty path")
		}
	}
	return concat(a, []string{"--"}, o.Paths), nil
}

// dumperShim runs the dumper with its stderr on file descriptor 3, a pipe
// of the runner's own. restic relays a --stdin-from-command's stderr from
// a pipe it closes as soon as the command exits, so under load it loses
// the dumper's last words, which say why a dump failed.
const dumperShim = `exec "$@" 2>&3 3>&-`

// dumperName is the dumper's name in the lines of its stderr, as restic
// would have named it; empty for no dumper.
func dumperName(command []string) string {
	if len(command) == 0 {
		return ""
	}
	return command[0]
}

// backupLine is any JSON line of backup's stdout. Counters are decoded as
// restic writes them (unsigned) and clamped.
type backupLine struct {
	MessageType string `json:"message_type"`

	PercentDone      float64 `json:"percent_done"`
	SecondsElapsed   uint64  `json:"seconds_elapsed"`
	SecondsRemaining uint64  `json:"seconds_remaining"`
	TotalFiles       uint64  `json:"total_files"`
	FilesDone        uint64  `json:"files_done"`
	TotalBytes       uint64  `json:"total_bytes"`
	BytesDone        uint64  `json:"bytes_done"`

	FilesNew            uint64  `json:"files_new"`
	FilesChanged        uint64  `json:"files_changed"`
	FilesUnmodified     uint64  `json:"files_unmodified"`
	DirsNew             uint64  `json:"dirs_new"`
	DirsChanged         uint64  `json:"dirs_changed"`
	DirsUnmodified      uint64  `json:"dirs_unmodified"`
	DataAdded           uint64  `json:"data_added"`
	DataAddedPacked     uint64  `json:"data_added_packed"`
	TotalFilesProcessed uint64  `json:"total_files_processed"`
	TotalBytesProcessed uint64  `json:"total_bytes_processed"`
	TotalDuration       float64 `json:"total_duration"`
	SnapshotID          string  `json:"snapshot_id"`
}

func (l *backupLine) progress() Progress {
	return Progress{
		PercentDone:      l.PercentDone,
		TotalFiles:       clamp(l.TotalFiles),
		FilesDone:        clamp(l.FilesDone),
		TotalBytes:       clamp(l.TotalBytes),
		BytesDone:        clamp(l.BytesDone),
		SecondsElapsed:   clamp(l.SecondsElapsed),
		SecondsRemaining: clamp(l.SecondsRemaining),
	}
}

func (l *backupLine) summary() *BackupSummary {
	return &BackupSummary{
		SnapshotID:          l.SnapshotID,
		ShortIDOnly:         l.SnapshotID != "" && len(l.SnapshotID) < 64,
		FilesNew:            clamp(l.FilesNew),
		FilesChanged:        clamp(l.FilesChanged),
		FilesUnmodified:     clamp(l.FilesUnmodified),
		DirsNew:             clamp(l.DirsNew),
		DirsChanged:         clamp(l.DirsChanged),
		DirsUnmodified:      clamp(l.DirsUnmodified),
		TotalFilesProcessed: clamp(l.TotalFilesProcessed),
		TotalBytesProcessed: clamp(l.TotalBytesProcessed),
		DataAdded:           clamp(l.DataAdded),
		DataAddedPacked:     clamp(l.DataAddedPacked),
		Duration:            time.Duration(l.TotalDuration * float64(time.Second)),
	}
}

func clamp(u uint64) int64 {
	if u > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(u)
}

// itemSet counts distinct items and keeps the first few.
type itemSet struct {
	seen  map[string]bool
	first []string
	count int
}

func newItemSet() *itemSet { return &itemSet{seen: map[string]bool{}} }

// add notes an item. The same path is often reported twice (scan and
// archival); past maxUnreadableSeen items every report counts.
func (s *itemSet) add(item string) {
	if s.seen[item] {
		return
	}
	if len(s.seen) < maxUnreadableSeen {
		s.seen[item] = true
	}
	s.count++
	if len(s.first) < maxUnreadable {
		s.first = append(s.first, item)
	}
}
