package restic_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// randomBytes returns n bytes that do not compress or deduplicate.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func TestBackupThenListDumpLsFindRestoreAndStatsGiveTheDataBack(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		cfg, err := l.r.Config(ctx)
		if err != nil || len(cfg.ID) != 64 || cfg.Version != 2 {
			t.Fatalf("config = %+v, %v", cfg, err)
		}
		big := randomBytes(1, 100_000)
		l.writeFile(t, "data/app.conf", "setting=1\n")
		l.writeFile(t, "data/sub/big.bin", string(big))
		l.writeFile(t, "data/skip.tmp", "left out")
		at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
		sum, err := l.r.Backup(ctx, restic.BackupOptions{
			Host: "h1", Tags: []string{"app:x", "kind:files"}, Paths: []string{"data"}, Excludes: []string{"*.tmp"}, Time: at,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.FilesNew != 2 || sum.TotalFilesProcessed != 2 || sum.TotalBytesProcessed != int64(len(big))+10 || sum.DataAdded == 0 {
			t.Errorf("summary = %+v", sum)
		}
		if rb.atLeast(0, 15) {
			if len(sum.SnapshotID) != 64 || sum.ShortIDOnly {
				t.Errorf("0.15+ should give the full ID: %q, short only %v", sum.SnapshotID, sum.ShortIDOnly)
			}
		} else if len(sum.SnapshotID) != 8 || !sum.ShortIDOnly {
			t.Errorf("0.14 gives the short ID: %q, short only %v", sum.SnapshotID, sum.ShortIDOnly)
		}

		dump := "CREATE TABLE t (x int);\n"
		dbSum, err := l.r.Backup(ctx, restic.BackupOptions{
			Host: "h1", Tags: []string{"app:x", "kind:db"}, StdinFilename: "db.sql", Stdin: strings.NewReader(dump),
		}, nil)
		if err != nil || dbSum.TotalBytesProcessed != int64(len(dump)) {
			t.Fatalf("stdin backup = %+v, %v", dbSum, err)
		}

		all, err := l.r.Snapshots(ctx, restic.Filter{Host: "h1"})
		if err != nil || len(all) != 2 {
			t.Fatalf("snapshots = %d, %v", len(all), err)
		}
		files, err := l.r.Snapshots(ctx, restic.Filter{Host: "h1", Tags: [][]string{{"app:x", "kind:files"}}})
		if err != nil || len(files) != 1 {
			t.Fatalf("files snapshots = %d, %v", len(files), err)
		}
		f := files[0]
		if !strings.HasPrefix(f.ID, sum.SnapshotID) || f.ShortID != f.ID[:8] || !f.Time.Equal(at) || f.Hostname != "h1" ||
			!slices.Equal(f.Paths, []string{filepath.Join(l.dir, "data")}) || !slices.Equal(f.Tags, []string{"app:x", "kind:files"}) {
			t.Errorf("files snapshot = %+v", f)
		}
		if (f.Summary != nil) != rb.atLeast(0, 17) || (f.Summary != nil && f.Summary.FilesNew != 2) {
			t.Errorf("snapshot summary = %+v (stored from 0.17)", f.Summary)
		}
		either, err := l.r.Snapshots(ctx, restic.Filter{Tags: [][]string{{"kind:files"}, {"kind:db"}}})
		if err != nil || len(either) != 2 {
			t.Errorf("OR of tag lists = %d, %v", len(either), err)
		}
		both, err := l.r.Snapshots(ctx, restic.Filter{Tags: [][]string{{"kind:files", "kind:db"}}})
		if err != nil || len(both) != 0 {
			t.Errorf("AND of tags = %d, %v", len(both), err)
		}
		none, err := l.r.Snapshots(ctx, restic.Filter{Host: "other", NoLock: true})
		if err != nil || none != nil {
			t.Errorf("no match = %v, %v", none, err)
		}
		dbID := ""
		for _, s := range all {
			if slices.Equal(s.Paths, []string{"/db.sql"}) {
				dbID = s.ID
			}
		}

		var got bytes.Buffer
		if err := l.r.Dump(ctx, dbID, "/db.sql", &got); err != nil || got.String() != dump {
			t.Errorf("dump = %q, %v", got.String(), err)
		}

		nodes := map[string]restic.Node{}
		if err := l.r.Ls(ctx, f.ID, "", func(n restic.Node) error { nodes[n.Path] = n; return nil }); err != nil {
			t.Fatal(err)
		}
		if n := nodes["/data/sub/big.bin"]; n.Type != "file" || n.Size != int64(len(big)) || n.Name != "big.bin" || n.Mode.Perm() != 0o644 || n.Permissions != "-rw-r--r--" || n.MTime.IsZero() {
			t.Errorf("big.bin node = %+v", n)
		}
		if n := nodes["/data/sub"]; n.Type != "dir" || !n.Mode.IsDir() {
			t.Errorf("sub node = %+v", n)
		}
		if _, ok := nodes["/data/skip.tmp"]; ok || len(nodes) != 4 {
			t.Errorf("nodes = %v (want data, app.conf, sub, big.bin)", keys(nodes))
		}
		var under []string
		if err := l.r.Ls(ctx, f.ID, "/data/sub", func(n restic.Node) error { under = append(under, n.Path); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(under, []string{"/data/sub", "/data/sub/big.bin"}) {
			t.Errorf("ls /data/sub = %v", under)
		}

		var found []string
		err = l.r.Find(ctx, restic.Filter{Host: "h1"}, []string{"app.conf", "*.sql"}, func(m restic.Match) error {
			found = append(found, m.SnapshotID[:8]+":"+m.Path+":"+m.Type)
			return nil
		})
		sort.Strings(found)
		want := []string{f.ID[:8] + ":/data/app.conf:file", dbID[:8] + ":/db.sql:file"}
		sort.Strings(want)
		if err != nil || !slices.Equal(found, want) {
			t.Errorf("find = %v, %v; want %v", found, err, want)
		}

		target := filepath.Join(l.dir, "restored")
		rs, err := l.r.Restore(ctx, restic.RestoreOptions{SnapshotID: f.ID, Target: target}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(filepath.Join(target, "data/sub/big.bin")); !bytes.Equal(b, big) {
			t.Error("restored big.bin differs")
		}
		if rs.Reported != rb.atLeast(0, 16) || (rs.Reported && (rs.FilesRestored != 4 || rs.BytesRestored != int64(len(big))+10)) {
			t.Errorf("restore summary = %+v", rs)
		}
		partial := filepath.Join(l.dir, "only-sub")
		if _, err := l.r.Restore(ctx, restic.RestoreOptions{SnapshotID: f.ID, Target: partial, Includes: []string{"/data/sub"}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(partial, "data/app.conf")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("include restored more than /data/sub: %v", err)
		}
		if _, err := os.Stat(filepath.Join(partial, "data/sub/big.bin")); err != nil {
			t.Errorf("include did not restore /data/sub: %v", err)
		}

		st, err := l.r.Stats(ctx, restic.StatsOptions{Filter: restic.Filter{Host: "h1", Tags: [][]string{{"kind:db"}}}})
		if err != nil || st.SnapshotsCount != 1 || st.TotalSize != int64(len(dump)) || st.TotalFileCount != 1 {
			t.Errorf("stats = %+v, %v", st, err)
		}
		raw, err := l.r.Stats(ctx, restic.StatsOptions{Mode: "raw-data", SnapshotIDs: []string{f.ID}})
		if err != nil || raw.SnapshotsCount != 1 || raw.TotalBlobCount == 0 || raw.TotalSize == 0 {
			t.Errorf("raw-data stats = %+v, %v", raw, err)
		}
	})
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestLsAndDumpStopResticWhenTheCallerFails(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		for i := range 50 {
			l.writeFile(t, fmt.Sprintf("data/f%02d", i), "x")
		}
		if _, err := l.r.Backup(ctx, restic.BackupOptions{Host: "h", Paths: []string{"data"}}, nil); err != nil {
			t.Fatal(err)
		}
		list, err := l.r.Snapshots(ctx, restic.Filter{})
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		enough := errors.New("enough")
		seen := 0
		err = l.r.Ls(ctx, list[0].ID, "", func(restic.Node) error { seen++; return enough })
		if !errors.Is(err, enough) || seen != 1 {
			t.Errorf("ls = %v after %d nodes, want the callback's error after 1", err, seen)
		}
		err = l.r.Dump(ctx, list[0].ID, "/data/f01", failingWriter{enough})
		if !errors.Is(err, enough) {
			t.Errorf("dump = %v, want the writer's error", err)
		}
		if p := l.processes(); len(p) > 0 {
			t.Errorf("restic still runs: %v", p)
		}
		if locks := l.locks(t); len(locks) > 0 {
			t.Errorf("locks left: %v", locks)
		}
	})
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// slowReader yields random data at a few MB/s, forever: slow enough to
// cancel mid-way, fast enough that restic, which checks for cancellation
// between chunks (0.5 to 8 MiB), notices it soon. n counts the reads.
type slowReader struct{ n atomic.Uint64 }

func (r *slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	return copy(p, randomBytes(r.n.Add(1), 32<<10)), nil
}

func TestCancellingABackupStopsResticAndLeavesNoLockOrSnapshot(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		l.r.Grace = time.Hour // a restic killed after the grace exits -1
		in := &slowReader{}
		go func() {
			_, err := l.r.Backup(ctx, restic.BackupOptions{Host: "h", StdinFilename: "slow.bin", Stdin: in}, nil)
			done <- err
		}()
		// restic reads its stdin only once it holds its lock: 1 MiB read
		// (more than the pipe holds) means it is backing up.
		waitFor(t, "restic to read its stdin", 2*time.Minute, func() bool { return in.n.Load() > 32 })
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("backup did not return after cancel")
		}
		if e := wantClass(t, err, restic.ClassInterrupted); e.ExitCode == -1 {
			t.Errorf("restic was killed instead of stopping on SIGINT: %v", e)
		}
		if p := l.processes(); len(p) > 0 {
			t.Errorf("restic still runs: %v", p)
		}
		if locks := l.locks(t); len(locks) > 0 {
			t.Errorf("locks left: %v", locks)
		}
		if n := l.snapshotCount(t); n != 0 {
			t.Errorf("%d snapshot(s) saved by an interrupted backup", n)
		}
	})
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestAStdinThatFailsMidWayStopsResticWithoutASnapshot(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		boom := errors.New("dumper pipe broke")
		in := io.MultiReader(bytes.NewReader(randomBytes(7, 3<<20)), failingReader{boom})
		// restic 0.18 does not notice SIGINT while it waits for input, and
		// stdin stays open (EOF would complete the snapshot): it is killed
		// after the grace period, having already dropped its lock.
		l.r.Grace = 3 * time.Second
		sum, err := l.r.Backup(context.Background(), restic.BackupOptions{Host: "h", StdinFilename: "db.sql", Stdin: in}, nil)
		if !errors.Is(err, boom) || sum != nil {
			t.Fatalf("backup = %+v, %v; want the reader's error", sum, err)
		}
		if p := l.processes(); len(p) > 0 {
			t.Errorf("restic still runs: %v", p)
		}
		if locks := l.locks(t); len(locks) > 0 {
			t.Errorf("locks left: %v", locks)
		}
		if n := l.snapshotCount(t); n != 0 {
			t.Errorf("%d snapshot(s) of a truncated stream", n)
		}
	})
}

func TestABigBackupReportsProgressAndCancellingItMidWayLeavesNothing(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		const files, size = 4, 20_000_000
		for i := range files {
			l.writeFile(t, fmt.Sprintf("big/f%d", i), string(randomBytes(uint64(100+i), size)))
		}
		opts := restic.BackupOptions{Host: "h", Paths: []string{"big"}}

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, err := l.r.Backup(ctx, opts, func(p restic.Progress) {
			if p.BytesDone > 0 {
				cancel()
			}
		})
		wantClass(t, err, restic.ClassInterrupted)
		if p := l.processes(); len(p) > 0 {
			t.Errorf("restic still runs: %v", p)
		}
		if locks := l.locks(t); len(locks) > 0 {
			t.Errorf("locks left: %v", locks)
		}
		if n := l.snapshotCount(t); n != 0 {
			t.Errorf("%d snapshot(s) saved by an interrupted backup", n)
		}

		var mu sync.Mutex
		var seen []restic.Progress
		sum, err := l.r.Backup(context.Background(), opts, func(p restic.Progress) {
			mu.Lock()
			seen = append(seen, p)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		if sum.TotalBytesProcessed != files*size {
			t.Errorf("summary = %+v", sum)
		}
		if len(seen) < 2 {
			t.Fatalf("%d progress callbacks for a %d MB backup", len(seen), files*size/1_000_000)
		}
		var maxDone, total int64
		for _, p := range seen {
			maxDone, total = max(maxDone, p.BytesDone), max(total, p.TotalBytes)
			if p.PercentDone < 0 || p.PercentDone > 1 {
				t.Errorf("percent done = %v", p.PercentDone)
			}
		}
		if total != files*size || maxDone == 0 {
			t.Errorf("progress saw total %d and at most %d bytes done", total, maxDone)
		}

		if !rb.atLeast(0, 16) {
			return // restore has no JSON progress before 0.16
		}
		list, err := l.r.Snapshots(context.Background(), restic.Filter{})
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		restored := 0
		rs, err := l.r.Restore(context.Background(), restic.RestoreOptions{SnapshotID: list[0].ID, Target: filepath.Join(l.dir, "out")}, func(restic.Progress) { restored++ })
		if err != nil || rs.BytesRestored != files*size || restored == 0 {
			t.Errorf("restore = %+v, %v after %d progress callbacks", rs, err, restored)
		}
	})
}

func TestAnUnreadableFileGivesAPartialSnapshotWithItsSummary(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		// Root reads everything, so restic runs as nobody here.
		dir, err := os.MkdirTemp("", "restic-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		for _, d := range []string{dir, filepath.Join(dir, "repo"), filepath.Join(dir, "cache")} {
			if err := os.MkdirAll(d, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		l := newLab(t, rb, dir)
		restic.RunAs(l.r, 65534, 65534)
		ctx := context.Background()
		if err := l.r.Init(ctx); err != nil {
			t.Fatal(err)
		}
		l.writeFile(t, "src/ok.txt", "fine")
		secret := l.writeFile(t, "src/secret.txt", "root only")
		l.writeFile(t, "src/closed/inside.txt", "root only")
		if err := os.Chmod(secret, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, "src/closed"), 0o700); err != nil {
			t.Fatal(err)
		}
		sum, err := l.r.Backup(ctx, restic.BackupOptions{Host: "h", Paths: []string{"src"}}, nil)
		e := wantClass(t, err, restic.ClassPartial)
		if e.ExitCode != 3 {
			t.Errorf("exit code = %d", e.ExitCode)
		}
		if sum == nil || sum.SnapshotID == "" || sum.FilesNew != 1 {
			t.Fatalf("summary = %+v", sum)
		}
		wantItems := []string{filepath.Join(dir, "src/closed"), filepath.Join(dir, "src/secret.txt")}
		got := slices.Sorted(slices.Values(sum.Unreadable))
		if sum.UnreadableCount != 2 || !slices.Equal(got, wantItems) {
			t.Errorf("unreadable = %v (%d), want %v", sum.Unreadable, sum.UnreadableCount, wantItems)
		}
		if n := l.snapshotCount(t); n != 1 {
			t.Errorf("%d snapshots, want the partial one", n)
		}
	})
}

func TestStdinFromCommandSavesTheCommandsOutputOrNothingWhenItFails(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		ok := restic.BackupOptions{
			Host: "h", Tags: []string{"kind:db"}, StdinFilename: "db.sql",
			StdinCommand: []string{"sh", "-c", `printf 'dump:%s' "$DUMP_SECRET"`},
			CommandEnv:   []string{"DUMP_SECRET=value-from-env"},
		}
		sum, err := l.r.Backup(ctx, ok, nil)
		if !rb.atLeast(0, 17) {
			if !errors.Is(err, restic.ErrUnsupported) || sum != nil {
				t.Fatalf("0.14 must refuse --stdin-from-command: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := l.r.Dump(ctx, sum.SnapshotID, "/db.sql", &got); err != nil || got.String() != "dump:value-from-env" {
			t.Errorf("dump = %q, %v", got.String(), err)
		}

		failing := ok
		failing.StdinCommand = []string{"sh", "-c", "echo half a dump; echo pg_dump: connection refused >&2; exit 1"}
		sum, err = l.r.Backup(ctx, failing, nil)
		e := wantClass(t, err, restic.ClassDumperFailed)
		if sum != nil || !strings.Contains(e.Message, "command failed") {
			t.Errorf("summary %+v, message %q", sum, e.Message)
		}
		if !strings.Contains(l.stderr.text(), "pg_dump: connection refused") {
			t.Errorf("the dumper's stderr did not reach OnStderr:\n%s", l.stderr.text())
		}
		if n := l.snapshotCount(t); n != 1 {
			t.Errorf("%d snapshots, want only the good dump", n)
		}
	})
}

// TestEveryLineADumperWritesOnStderrReachesTheLog fails a dumper that
// writes many lines on stderr and exits at once. restic relays a
// command's stderr from a pipe it closes the moment the command exits, so
// under load it drops what it has not read yet, often the one line that
// says why the dump failed; the runner reads the dumper's stderr itself.
func TestEveryLineADumperWritesOnStderrReachesTheLog(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		if !rb.atLeast(0, 17) {
			return // no --stdin-from-command: the dumper runs under the agent
		}
		l := initLab(t, rb)
		const lines = 2000
		_, err := l.r.Backup(context.Background(), restic.BackupOptions{
			Host: "h", Tags: []string{"kind:db"}, StdinFilename: "db.sql",
			StdinCommand: []string{"sh", "-c", fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "dumper line $i" >&2; i=$((i+1)); done; echo "pg_dump: the last word" >&2; exit 1`, lines)},
		}, nil)
		wantClass(t, err, restic.ClassDumperFailed)
		text := l.stderr.text()
		for i := range lines {
			if !strings.Contains(text, fmt.Sprintf("dumper line %d\n", i)) {
				t.Fatalf("line %d of the dumper's stderr is missing:\n%s", i, text)
			}
		}
		if !strings.Contains(text, "subprocess sh: pg_dump: the last word") {
			t.Errorf("the dumper's last line is missing or unnamed:\n%s", text[max(0, len(text)-500):])
		}
	})
}

func TestAnEmptyStdinIsAnEmptyPartialSnapshotFrom016AndAFailureBefore(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		l := initLab(t, rb)
		sum, err := l.r.Backup(context.Background(), restic.BackupOptions{Host: "h", StdinFilename: "empty.sql", Stdin: io.MultiReader()}, nil)
		if rb.atLeast(0, 16) {
			wantClass(t, err, restic.ClassPartial)
			if sum == nil || sum.SnapshotID == "" || sum.TotalBytesProcessed != 0 {
				t.Errorf("summary = %+v", sum)
			}
			if n := l.snapshotCount(t); n != 1 {
				t.Errorf("%d snapshots, want the empty one", n)
			}
			return
		}
		wantClass(t, err, restic.ClassFailed)
		if sum != nil || l.snapshotCount(t) != 0 {
			t.Errorf("0.14 saved something: %+v", sum)
		}
	})
}

func TestBackupOptionsThatContradictEachOtherAreRefused(t *testing.T) {
	f := newFake(t)
	for name, o := range map[string]restic.BackupOptions{
		"nothing":              {Host: "h"},
		"paths and stdin":      {Paths: []string{"a"}, Stdin: strings.NewReader(""), StdinFilename: "x"},
		"stdin and command":    {Stdin: strings.NewReader(""), StdinCommand: []string{"true"}, StdinFilename: "x"},
		"stdin without a name": {Stdin: strings.NewReader("")},
		"a name without stdin": {Paths: []string{"a"}, StdinFilename: "x"},
		"a tag with a comma":   {Paths: []string{"a"}, Tags: []string{"a,b"}},
		"a bad CommandEnv":     {Paths: []string{"a"}, CommandEnv: []string{"SECRET"}},
	} {
		if _, err := f.r.Backup(context.Background(), o, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := os.Stat(f.out + ".args"); !errors.Is(err, os.ErrNotExist) {
		t.Error("restic backup ran for refused options")
	}
}
