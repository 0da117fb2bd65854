package restic_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// backupRound replaces the data and backs it up with tags, so that
// forgetting a round's snapshot leaves its data unreferenced.
func backupRound(t *testing.T, l *lab, round int, tags ...string) string {
	t.Helper()
	l.writeFile(t, "data/current.bin", string(randomBytes(uint64(1000+round), 50_000)))
	sum, err := l.r.Backup(context.Background(), restic.BackupOptions{Host: "h1", Tags: tags, Paths: []string{"data"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sum.SnapshotID
}

func TestForgetCountsKeptAndRemovedThenPruneSummarises(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		var ids []string
		for round := range 3 {
			ids = append(ids, backupRound(t, l, round, "app:x"))
		}
		backupRound(t, l, 3, "app:y") // another app's snapshot in the same group

		if _, err := l.r.Forget(ctx, restic.Filter{Host: "h1"}, []string{"--prune"}); err == nil {
			t.Error("forget accepted --prune in the policy")
		}
		if _, err := l.r.Forget(ctx, restic.Filter{Host: "h1"}, nil); err == nil {
			t.Error("forget accepted an empty policy")
		}
		if _, err := l.r.Forget(ctx, restic.Filter{Host: "h1", NoLock: true}, []string{"--keep-last=1"}); err == nil {
			t.Error("forget accepted NoLock")
		}
		if _, err := l.r.Forget(ctx, restic.Filter{Paths: []string{"/data"}}, []string{"--keep-last=1"}); err == nil {
			t.Error("forget accepted a filter without host or tags")
		}

		res, err := l.r.Forget(ctx, restic.Filter{Host: "h1", Tags: [][]string{{"app:x"}}}, []string{"--keep-last", "1"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Kept != 1 || res.Removed != 2 || len(res.RemovedIDs) != 2 {
			t.Fatalf("forget = %+v", res)
		}
		for i, id := range res.RemovedIDs {
			if len(id) != 64 {
				t.Errorf("removed ID %d = %q, want a full ID", i, id)
			}
		}
		removed := []string{res.RemovedIDs[0][:8], res.RemovedIDs[1][:8]}
		want := []string{ids[0][:8], ids[1][:8]}
		sort.Strings(removed)
		sort.Strings(want)
		if !slices.Equal(removed, want) {
			t.Errorf("removed %v, want the two oldest %v", removed, want)
		}
		if n := l.snapshotCount(t); n != 2 {
			t.Errorf("%d snapshots left, want app:x's newest and app:y's", n)
		}
		none, err := l.r.Forget(ctx, restic.Filter{Host: "nobody-here"}, []string{"--keep-daily=7"})
		if err != nil || none.Kept != 0 || none.Removed != 0 {
			t.Errorf("forget of nothing = %+v, %v", none, err)
		}

		pr, err := l.r.Prune(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("prune: %s", pr.Summary)
		if !pr.Reported || pr.RemovedBlobs == 0 || pr.RemovedBytes < 50_000 || pr.RemainingBlobs == 0 {
			t.Errorf("prune = %+v", pr)
		}
		clean := regexp.MustCompile(`^removed \d+ blobs? \([0-9.]+ [KMG]?i?B\); (repacked \d+ blobs? \([0-9.]+ [KMG]?i?B\); )?\d+ blobs? \([0-9.]+ [KMG]?i?B\) remain; [0-9.]+ [KMG]?i?B unused$`)
		if !clean.MatchString(pr.Summary) {
			t.Errorf("prune summary = %q", pr.Summary)
		}
	})
}

func TestCheckPassesThenReportsACorruptPack(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		backupRound(t, l, 0)
		res, err := l.r.Check(ctx, "")
		if err != nil || res.NumErrors != 0 || res.Subset != "" {
			t.Fatalf("check = %+v, %v", res, err)
		}
		res, err = l.r.Check(ctx, "1/2")
		if err != nil || res.NumErrors != 0 || res.Subset != "1/2" {
			t.Fatalf("check 1/2 = %+v, %v", res, err)
		}
		if _, err := l.r.Check(ctx, "--read-data"); err == nil {
			t.Error("a flag was accepted as a subset")
		}

		packs, _ := filepath.Glob(filepath.Join(l.repo, "data", "*", "*"))
		biggest, size := "", int64(0)
		for _, p := range packs {
			if st, err := os.Stat(p); err == nil && st.Size() > size {
				biggest, size = p, st.Size()
			}
		}
		f, err := os.OpenFile(biggest, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("corrupted corrupted corrupted"), 100); err != nil {
			t.Fatal(err)
		}
		f.Close()

		res, err = l.r.Check(ctx, "100%")
		e := wantClass(t, err, restic.ClassFailed)
		if e.ExitCode != 1 || !regexp.MustCompile(`repository contains errors`).MatchString(e.Message) {
			t.Errorf("error = %v", e)
		}
		if rb.atLeast(0, 18) {
			if res.NumErrors < 1 || len(res.BrokenPacks) != 1 {
				t.Errorf("0.18 check result = %+v", res)
			}
		} else if res.NumErrors != -1 {
			t.Errorf("before 0.18 the count is unknown (-1), got %+v", res)
		}
	})
}

func TestCopyBringsSnapshotsIntoASecondRepositoryOnce(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		src := initLab(t, rb)
		dbID := backupRound(t, src, 0, "kind:db")
		filesID := backupRound(t, src, 1, "kind:files")
		dst := initLab(t, rb) // another password
		from := []string{"RESTIC_FROM_REPOSITORY=" + src.repo, "RESTIC_FROM_PASSWORD=" + src.password}

		if err := dst.r.Copy(ctx, restic.CopyOptions{FromEnv: []string{"RESTIC_FROM_PASSWORD=x"}}); err == nil {
			t.Error("copy without a source repository was accepted")
		}
		if err := dst.r.Copy(ctx, restic.CopyOptions{FromEnv: append(from, "AWS_SECRET_ACCESS_KEY=x")}); err == nil {
			t.Error("copy accepted a FromEnv entry that is not RESTIC_FROM_*")
		}

		if err := dst.r.Copy(ctx, restic.CopyOptions{FromEnv: from, Filter: restic.Filter{Tags: [][]string{{"kind:db"}}}}); err != nil {
			t.Fatal(err)
		}
		list, err := dst.r.Snapshots(ctx, restic.Filter{})
		if err != nil || len(list) != 1 || !slices.Equal(list[0].Tags, []string{"kind:db"}) {
			t.Fatalf("after copying kind:db: %+v, %v", list, err)
		}
		if err := dst.r.Copy(ctx, restic.CopyOptions{FromEnv: from, SnapshotIDs: []string{dbID, filesID}}); err != nil {
			t.Fatal(err)
		}
		if n := dst.snapshotCount(t); n != 2 {
			t.Errorf("%d snapshots after copying both (one already there), want 2", n)
		}
		wrong := []string{"RESTIC_FROM_REPOSITORY=" + src.repo, "RESTIC_FROM_PASSWORD=wrong"}
		wantClass(t, dst.r.Copy(ctx, restic.CopyOptions{FromEnv: wrong}), restic.ClassWrongPassword)
	})
}
