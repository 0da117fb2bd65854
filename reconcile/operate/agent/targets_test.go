package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// refused plans req and wants it refused with class.
func (r *rig) refused(req operate.RestoreRequest, class string) {
	r.t.Helper()
	r.stdout.Reset()
	r.a.PlanRestore(context.Background(), RunOptions{}, req)
	l := r.result()
	if f := l.Evidence.Failure(); l.Plan != nil || f == nil || f.Error != class {
		r.t.Errorf("restore %+v: plan %v, steps %+v; want it refused (%s)", req, l.Plan != nil, l.Evidence.Steps, class)
	}
}

// TestALiveLinkOutOfTheVolumeIsNeverRestoredThrough: the app replaced a
// folder by a symbolic link to a folder outside its volume; neither the
// plan nor the undo may read through it, nor the restore write.
func TestALiveLinkOutOfTheVolumeIsNeverRestoredThrough(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, nil)
		writeFiles(t, r.vol, map[string]string{"uploads/a.txt": "a", "uploads/sub/b.txt": "b"})
		id := r.backup(RunOptions{Init: true})
		outside := filepath.Join(t.TempDir(), "etc")
		writeFiles(t, outside, map[string]string{"a.txt": "not the app's", "sub/b.txt": "not the app's either"})
		must(t, os.RemoveAll(filepath.Join(r.vol, "uploads")))
		must(t, os.Symlink(outside, filepath.Join(r.vol, "uploads")))
		r.refused(operate.RestoreRequest{Snapshot: id, Paths: []string{filepath.Join(r.vol, "uploads")}}, "bad_path")
		r.refused(operate.RestoreRequest{Snapshot: id, Paths: []string{filepath.Join(r.vol, "uploads", "sub")}}, "bad_path")
		equalFiles(t, "outside the volume", filesUnder(t, outside), map[string]string{"a.txt": "not the app's", "sub/b.txt": "not the app's either"})
	})
}

// TestAScratchRestoreNeverWritesIntoTheRepositoryTheCacheOrAScratchFolder.
func TestAScratchRestoreNeverWritesIntoTheRepositoryTheCacheOrAScratchFolder(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		var cache string
		r := newRig(t, bin, func(c *spec.AgentConfig) {
			cache = filepath.Join(filepath.Dir(c.RepositoryURL), "cache")
			c.CacheDir = cache
		})
		writeFiles(t, r.vol, map[string]string{"a.txt": "a"})
		id := r.backup(RunOptions{Init: true})
		link := filepath.Join(t.TempDir(), "repo-link")
		must(t, os.Symlink(r.repo, link))
		for _, target := range []string{
			filepath.Join(r.repo, "restored"), filepath.Join(r.repo, "data"), filepath.Join(link, "x"), filepath.Join(cache, "x"),
			filepath.Join(filepath.Dir(r.vol), scratchPrefix+"0123456789ab", "x"), filepath.Join(r.a.tempDir(), "devopsellence-backup", "x"),
		} {
			r.refused(operate.RestoreRequest{Snapshot: id, Target: target}, "bad_target")
		}
		if l := r.run(operate.OpCheck, RunOptions{}); l.Evidence.Result != operate.ResultOK {
			t.Errorf("the repository after the refused restores: %+v", l.Evidence.Steps)
		}
	})
}
