package restic_test

import (
	"context"
	"slices"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

func TestListShowsAFoldersChildrenOrItsWholeSubtreeWithoutALock(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		ctx := context.Background()
		l := initLab(t, rb)
		l.writeFile(t, "data/a.txt", "a")
		l.writeFile(t, "data/sub/b.txt", "bb")
		l.writeFile(t, "data/sub/deep/c.txt", "ccc")
		sum, err := l.r.Backup(ctx, restic.BackupOptions{Host: "h", Paths: []string{"data"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		list := func(o restic.ListOptions) []string {
			t.Helper()
			o.SnapshotID = sum.SnapshotID
			var paths []string
			if err := l.r.List(ctx, o, func(n restic.Node) error { paths = append(paths, n.Path); return nil }); err != nil {
				t.Fatal(err)
			}
			slices.Sort(paths)
			return paths
		}
		if got, want := list(restic.ListOptions{Dir: "/data/sub", NoLock: true}), []string{"/data/sub", "/data/sub/b.txt", "/data/sub/deep"}; !slices.Equal(got, want) {
			t.Errorf("children of /data/sub = %q, want %q", got, want)
		}
		if got, want := list(restic.ListOptions{Dir: "/data/sub", Recursive: true}), []string{"/data/sub", "/data/sub/b.txt", "/data/sub/deep", "/data/sub/deep/c.txt"}; !slices.Equal(got, want) {
			t.Errorf("subtree of /data/sub = %q, want %q", got, want)
		}
		if got := list(restic.ListOptions{}); !slices.Contains(got, "/data/sub/deep/c.txt") {
			t.Errorf("the whole tree = %q", got)
		}
		if err := l.r.List(ctx, restic.ListOptions{SnapshotID: sum.SnapshotID, Dir: "data/../x"}, func(restic.Node) error { return nil }); err == nil {
			t.Error("an unclean folder was accepted")
		}
	})
}
