package restic_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

func TestForgetIDsForgetsExactlyThoseThenPruneSummarises(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		var ids []string
		for round := range 3 {
			ids = append(ids, backupRound(t, l, round, "app:x"))
		}
		backupRound(t, l, 3, "app:y") // another app's snapshot

		if err := l.r.ForgetIDs(ctx, []string{"--prune"}); err == nil {
			t.Error("forget accepted an ID that restic would read as a flag")
		}
		if err := l.r.ForgetIDs(ctx, nil); err != nil {
			t.Errorf("forget of no ID: %v", err)
		}
		if err := l.r.ForgetIDs(ctx, ids[:2]); err != nil {
			t.Fatal(err)
		}
		list, err := l.r.Snapshots(ctx, restic.Filter{NoLock: true})
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, s := range list {
			left = append(left, s.ID[:8])
		}
		if len(left) != 2 || !slices.Contains(left, ids[2][:8]) || slices.Contains(left, ids[0][:8]) || slices.Contains(left, ids[1][:8]) {
			t.Errorf("left %v after forgetting %v", left, ids[:2])
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
