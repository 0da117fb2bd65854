package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// newestFiles is the newest files snapshot status counts as a backup.
func (r *rig) newestFiles() *operate.SnapRef {
	r.t.Helper()
	r.stdout.Reset()
	r.a.Status(context.Background(), RunOptions{}, time.Now())
	for _, g := range r.result().Status.Groups {
		if g.Kind == "files" {
			return g.Newest
		}
	}
	return nil
}

// TestABackupOfNothingOrOfMuchLessIsAFindingNotAFreshBackup: an exclude
// that matches every path backs up 0 files of a volume that holds some;
// a backup that lost most of the bytes of the one before is suspect too,
// unless the spec allows it.
func TestABackupOfNothingOrOfMuchLessIsAFindingNotAFreshBackup(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		for _, pattern := range []string{"?*", "**/*"} {
			r := newRig(t, bin, func(c *spec.AgentConfig) { c.Excludes = []string{pattern} })
			writeFiles(t, r.vol, map[string]string{"a.txt": "a", "uploads/b.txt": "b"})
			l := r.run(operate.OpBackup, RunOptions{Init: true})
			if s := step(t, l.Evidence, "files"); s.Result != operate.ResultFailed || s.Error != "backup_empty" {
				t.Errorf("exclude %q: files step %+v", pattern, s)
			}
			if n := r.newestFiles(); n != nil {
				t.Errorf("exclude %q: status counts %.8s, a backup of nothing, as the newest", pattern, n.ID)
			}
		}

		// A volume holding only a live database backs up no file, rightly.
		r := newRig(t, bin, nil)
		sqlExec(t, filepath.Join(r.vol, "app.sqlite3"), "CREATE TABLE t(x)")
		if l := r.run(operate.OpBackup, RunOptions{Init: true}); l.Evidence.Result != operate.ResultOK {
			t.Errorf("a volume of one database: %+v", l.Evidence.Steps)
		}

		for _, allow := range []bool{false, true} {
			r := newRig(t, bin, func(c *spec.AgentConfig) { c.AllowShrink = allow })
			files := map[string]string{}
			for i := range 10 {
				files[fmt.Sprintf("doc-%d.txt", i)] = strings.Repeat("x", 4096)
			}
			writeFiles(t, r.vol, files)
			first := r.backup(RunOptions{Init: true})
			for i := range 9 {
				must(t, os.Remove(filepath.Join(r.vol, fmt.Sprintf("doc-%d.txt", i))))
			}
			l := r.run(operate.OpBackup, RunOptions{})
			s := step(t, l.Evidence, "files")
			newest := r.newestFiles()
			switch {
			case !allow && (s.Result != operate.ResultFailed || s.Error != "backup_shrank"):
				t.Errorf("a backup of a tenth of the one before: %+v", s)
			case !allow && (newest == nil || !operate.SameSnapshot(first, newest.ID)):
				t.Errorf("status counts %+v as the newest backup, want the one before the shrink %.8s", newest, first)
			case allow && s.Result != operate.ResultOK:
				t.Errorf("with allowShrink: %+v", s)
			}
		}
	})
}
