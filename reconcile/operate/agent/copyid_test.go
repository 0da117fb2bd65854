package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// TestACopyThatIsThePrimaryIsNeitherFilledNorPruned: a copy whose URL
// reaches the primary repository by another road (here a symlink, which
// no check of the spec can see) has the primary's own repository ID; the
// copy's keepLast 1 must never prune the primary.
func TestACopyThatIsThePrimaryIsNeitherFilledNorPruned(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		var alias string
		r := newRig(t, bin, func(c *spec.AgentConfig) {
			alias = filepath.Join(filepath.Dir(c.RepositoryURL), "offsite")
			c.Retention = []string{"--keep-last", "5"}
			c.Copies = []spec.CopyConfig{{Name: "offsite", Repository: alias, URL: alias, PasswordSecret: "RESTIC_PASSWORD", Retention: []string{"--keep-last", "1"}}}
		})
		must(t, os.Symlink(r.repo, alias))
		writeFiles(t, r.vol, map[string]string{"a.txt": "a"})
		r.backup(RunOptions{Init: true})
		for i := range 3 {
			writeFiles(t, r.vol, map[string]string{"a.txt": string(rune('b' + i))})
			r.backup(RunOptions{})
		}
		before := len(r.snapshots())
		c := r.run(operate.OpCopy, RunOptions{})
		if s := step(t, c.Evidence, "copy:offsite"); s.Result != operate.ResultFailed || s.Error != "copy_is_primary" {
			t.Errorf("copy into the primary: %+v", s)
		}
		p := r.run(operate.OpPrune, RunOptions{})
		if s := step(t, p.Evidence, "forget:offsite"); s.Result != operate.ResultFailed || s.Error != "copy_is_primary" {
			t.Errorf("the copy's forget on the primary: %+v", s)
		}
		// The primary's own keepLast 5 keeps every backup made.
		if after := len(r.snapshots()); after < before {
			t.Errorf("the primary went from %d snapshots to %d", before, after)
		}
	})
}
