package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWhenOnlyTheCopyFailsTheHeadlineSaysSo: the backup saved its
// snapshots; only the copy after it failed. The headline must not call
// the backup failed.
func TestWhenOnlyTheCopyFailsTheHeadlineSaysSo(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		copyRepo := filepath.Join(t.TempDir(), "offsite")
		app := newOpsApp(t, rb, opsConfig{
			extra:   "  copies:\n    - name: offsite\n      repository:\n        url: " + copyRepo + "\n        volume: " + copyRepo + "\n      passwordSecret: OFFSITE_RESTIC_PASSWORD",
			secrets: map[string]string{"OFFSITE_RESTIC_PASSWORD": "offsite-pw"},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		must(t, os.RemoveAll(copyRepo)) // the copy's disk is gone
		d := app.mustOp(t, 1, "backup")
		if d.Environments[0].Result != "ok" || !strings.Contains(d.Summary, "Backup ok in production") || !strings.Contains(d.Summary, "copy into spec.copies failed in production") || strings.Contains(d.Summary, "Backup failed") {
			t.Errorf("result %s, summary %q", d.Environments[0].Result, d.Summary)
		}
	})
}
