package restic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// PruneResult is what prune reported. Blob counts are exact; byte counts
// are restic's rounded human figures ("98.925 KiB") read back.
type PruneResult struct {
	// Summary is one clean line, e.g. "removed 11 blobs (3.465 KiB);
	// repacked 3 blobs (995 B); 17 blobs (98.925 KiB) remain; 0 B unused".
	Summary string
	// Reported is whether restic's statistics were found in its output;
	// when not, only Summary is set.
	Reported       bool
	RemovedBlobs   int64 // "total prune": deleted plus dropped while repacking
	RemovedBytes   int64
	RepackedBlobs  int64 // "to repack": blobs rewritten into new packs
	RepackedBytes  int64
	RemainingBlobs int64
	RemainingBytes int64
	UnusedBytes    int64 // "unused size after prune"
}

// Prune removes the data no snapshot references (`restic prune`, which
// prints text only). It takes an exclusive lock.
func (r *Runner) Prune(ctx context.Context) (PruneResult, error) {
	var res PruneResult
	if _, err := r.Version(ctx); err != nil {
		return res, err
	}
	err := r.run(ctx, job{op: "prune", args: []string{"prune"}, stdout: func(rd io.Reader) (err error) {
		res, err = readPrune(rd)
		return err
	}})
	if err != nil {
		return PruneResult{}, err
	}
	return res, nil
}

// readPrune reads prune's output.
func readPrune(rd io.Reader) (PruneResult, error) {
	var lines []string
	err := readLines(rd, func(line []byte) error {
		if pruneLine.Match(line) || unusedLine.Match(line) {
			lines = append(lines, string(line))
		}
		return nil
	})
	return parsePrune(lines), err
}

var (
	// "total prune:           2 blobs / 581 B", the same from 0.14 to 0.18.
	pruneLine = regexp.MustCompile(`^(to repack|this removes|to delete|total prune|remaining):\s+(\d+) blobs / ([0-9.]+ [KMGTPE]?i?B)\s*$`)
	// "unused size after prune: 0 B (0.00% of remaining size)"
	unusedLine = regexp.MustCompile(`^unused size after prune: ([0-9.]+ [KMGTPE]?i?B) \(`)
)

// parsePrune reads prune's statistics lines into a result and its summary.
func parsePrune(lines []string) PruneResult {
	var res PruneResult
	var removed, repacked, remaining, unused string
	for _, l := range lines {
		if m := unusedLine.FindStringSubmatch(l); m != nil {
			unused = m[1]
			res.UnusedBytes = parseSize(m[1])
			continue
		}
		m := pruneLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.ParseInt(m[2], 10, 64)
		switch m[1] {
		case "total prune":
			res.RemovedBlobs, res.RemovedBytes, removed = n, parseSize(m[3]), m[3]
			res.Reported = true
		case "to repack":
			res.RepackedBlobs, res.RepackedBytes, repacked = n, parseSize(m[3]), m[3]
		case "remaining":
			res.RemainingBlobs, res.RemainingBytes, remaining = n, parseSize(m[3]), m[3]
			res.Reported = true
		}
	}
	if !res.Reported {
		res.Summary = "prune finished (no statistics found in restic's output)"
		return res
	}
	var parts []string
	if removed != "" {
		if res.RemovedBlobs == 0 {
			parts = append(parts, "nothing to remove")
		} else {
			parts = append(parts, fmt.Sprintf("removed %s (%s)", blobs(res.RemovedBlobs), removed))
		}
	}
	if res.RepackedBlobs > 0 {
		parts = append(parts, fmt.Sprintf("repacked %s (%s)", blobs(res.RepackedBlobs), repacked))
	}
	if remaining != "" {
		parts = append(parts, fmt.Sprintf("%s (%s) remain", blobs(res.RemainingBlobs), remaining))
	}
	if unused != "" {
		parts = append(parts, unused+" unused")
	}
	res.Summary = strings.Join(parts, "; ")
	return res
}

func blobs(n int64) string {
	if n == 1 {
		return "1 blob"
	}
	return strconv.FormatInt(n, 10) + " blobs"
}

// parseSize reads restic's ui.FormatBytes output ("581 B", "98.925 KiB").
func parseSize(s string) int64 {
	num, unit, _ := strings.Cut(s, " ")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40, "PiB": 1 << 50, "EiB": 1 << 60}[unit]
	return int64(f*mult + 0.5)
}

// CheckResult is what `restic check` found.
type CheckResult struct {
	// NumErrors is from check's JSON summary (0.18+); 0 when check passed;
	// -1 (unknown) when it failed without a summary (always before 0.18).
	NumErrors int
	Subset    string // the --read-data-subset that was read, if any
	// BrokenPacks, SuggestRepairIndex and SuggestPrune are 0.18+ only.
	BrokenPacks        []string
	SuggestRepairIndex bool
	SuggestPrune       bool
}

// Check verifies the repository's structure (`restic check`) and, with a
// subset ("1/5", "10%", "500M"), reads that part of the data
// (--read-data-subset). It takes an exclusive lock. On 0.18+ it runs with
// --json; a failed check returns the result with its counts and an *Error.
func (r *Runner) Check(ctx context.Context, subset string) (CheckResult, error) {
	res := CheckResult{Subset: subset}
	if strings.HasPrefix(subset, "-") || strings.TrimSpace(subset) != subset {
		return res, fmt.Errorf("restic check: invalid subset %q (want n/t, x%% or a size)", subset)
	}
	v, err := r.Version(ctx)
	if err != nil {
		return res, err
	}
	args := []string{"check"}
	if subset != "" {
		args = append(args, "--read-data-subset="+subset)
	}
	j := job{op: "check", stdout: discard}
	summary := false
	if v.AtLeast(0, 18) {
		args = append(args, "--json")
		j.stdout = func(rd io.Reader) error {
			return readLines(rd, func(line []byte) error {
				var l struct {
					MessageType        string   `json:"message_type"`
					NumErrors          int      `json:"num_errors"`
					BrokenPacks        []string `json:"broken_packs"`
					SuggestRepairIndex bool     `json:"suggest_repair_index"`
					SuggestPrune       bool     `json:"suggest_prune"`
				}
				if json.Unmarshal(line, &l) == nil && l.MessageType == "summary" {
					summary = true
					res.NumErrors, res.BrokenPacks = l.NumErrors, l.BrokenPacks
					res.SuggestRepairIndex, res.SuggestPrune = l.SuggestRepairIndex, l.SuggestPrune
				}
				return nil
			})
		}
	}
	j.args = args
	err = r.run(ctx, j)
	if err != nil && !summary {
		res.NumErrors = -1
	}
	return res, err
}

// Unlock removes stale locks (`restic unlock`): those of processes that are
// gone from this host, or older than 30 minutes. It never removes the lock
// of a running restic (no --remove-all). removed is restic's own line, e.g.
// "successfully removed 1 locks" (0.18 prints nothing when there was none;
// 0.14 prints "successfully removed locks" either way).
func (r *Runner) Unlock(ctx context.Context) (removed string, err error) {
	if _, err := r.Version(ctx); err != nil {
		return "", err
	}
	var out []string
	err = r.run(ctx, job{op: "unlock", args: []string{"unlock"}, stdout: func(rd io.Reader) error {
		return readLines(rd, func(line []byte) error {
			if l := strings.TrimSpace(string(line)); l != "" && len(out) < 5 {
				out = append(out, l)
			}
			return nil
		})
	}})
	removed = strings.Join(out, " ")
	if r.Scrub != nil {
		removed = r.Scrub(removed)
	}
	return removed, err
}

// CopyOptions says which snapshots to copy from which repository.
type CopyOptions struct {
	// FromEnv names the source repository, as environment entries only:
	// RESTIC_FROM_REPOSITORY (or RESTIC_FROM_REPOSITORY_FILE) and
	// RESTIC_FROM_PASSWORD (or _FILE or _COMMAND), optionally
	// RESTIC_FROM_KEY_HINT. restic 0.14+ reads them all (its flag is
	// --from-repo; --repo2 was older and meant the other direction).
	FromEnv []string
	// Filter selects the source snapshots when SnapshotIDs is empty.
	Filter      Filter
	SnapshotIDs []string
}

// Copy copies snapshots from another repository into this one
// (`restic copy`); snapshots already there are skipped by restic.
func (r *Runner) Copy(ctx context.Context, o CopyOptions) error {
	fa, err := o.Filter.lockedArgs("copy")
	if err != nil {
		return err
	}
	repo := false
	for _, kv := range o.FromEnv {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "RESTIC_FROM_") {
			return fmt.Errorf("restic copy: FromEnv entry %q is not RESTIC_FROM_*=value", name)
		}
		repo = repo || name == "RESTIC_FROM_REPOSITORY" || name == "RESTIC_FROM_REPOSITORY_FILE"
	}
	if !repo {
		return errors.New("restic copy: FromEnv sets neither RESTIC_FROM_REPOSITORY nor RESTIC_FROM_REPOSITORY_FILE")
	}
	for _, id := range o.SnapshotIDs {
		if err := checkID("copy", id); err != nil {
			return err
		}
	}
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	args := concat([]string{"copy"}, fa)
	if len(o.SnapshotIDs) > 0 {
		args = concat(args, []string{"--"}, o.SnapshotIDs)
	}
	return r.run(ctx, job{op: "copy", args: args, env: o.FromEnv, stdout: discard})
}

// StatsOptions selects what Stats counts.
type StatsOptions struct {
	Filter      Filter
	SnapshotIDs []string
	// Mode is restore-size (the default when empty), files-by-contents,
	// blobs-per-file or raw-data.
	Mode string
}

// Stats is `restic stats --json`. Fields a mode or version does not print
// stay zero (TotalUncompressedSize and CompressionRatio: raw-data, 0.15+).
type Stats struct {
	TotalSize             int64   `json:"total_size"`
	TotalUncompressedSize int64   `json:"total_uncompressed_size"`
	CompressionRatio      float64 `json:"compression_ratio"`
	TotalFileCount        int64   `json:"total_file_count"`
	TotalBlobCount        int64   `json:"total_blob_count"`
	SnapshotsCount        int64   `json:"snapshots_count"`
}

// Stats counts the size of the selected snapshots (all of them when
// neither a filter nor IDs are given).
func (r *Runner) Stats(ctx context.Context, o StatsOptions) (Stats, error) {
	var s Stats
	switch o.Mode {
	case "", "restore-size", "files-by-contents", "blobs-per-file", "raw-data":
	default:
		return s, fmt.Errorf("restic stats: unknown mode %q (want restore-size, files-by-contents, blobs-per-file or raw-data)", o.Mode)
	}
	fa, err := o.Filter.args()
	if err != nil {
		return s, err
	}
	for _, id := range o.SnapshotIDs {
		if err := checkID("stats", id); err != nil {
			return s, err
		}
	}
	if _, err := r.Version(ctx); err != nil {
		return s, err
	}
	args := concat(o.Filter.globals(), []string{"stats", "--json"}, fa)
	if o.Mode != "" {
		args = append(args, "--mode="+o.Mode)
	}
	if len(o.SnapshotIDs) > 0 {
		args = concat(args, []string{"--"}, o.SnapshotIDs)
	}
	err = r.run(ctx, job{op: "stats", args: args, stdout: func(rd io.Reader) error {
		return readLines(rd, func(line []byte) error {
			if len(line) > 0 && line[0] == '{' {
				if err := json.Unmarshal(line, &s); err != nil {
					return fmt.Errorf("decode stats: %w", err)
				}
			}
			return nil
		})
	}})
	return s, err
}

// Tag adds tags to the snapshots ids (`restic tag --add`), in one run;
// restic writes each changed snapshot anew, with a new ID.
func (r *Runner) Tag(ctx context.Context, ids []string, add []string) error {
	if len(ids) == 0 || len(add) == 0 {
		return nil
	}
	if _, err := r.Version(ctx); err != nil {
		return err
	}
	args := []string{"tag"}
	for _, t := range add {
		if strings.ContainsAny(t, ",") || t == "" {
			return fmt.Errorf("restic tag: invalid tag %q", t)
		}
		args = append(args, "--add", t)
	}
	args = append(append(args, "--"), ids...)
	return r.run(ctx, job{op: "tag", args: args, stdout: discard})
}
