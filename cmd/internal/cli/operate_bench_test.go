package cli_test

import (
	"os"
	"path/filepath"
	"testing"
)

// These benchmarks measure what the operator's commands cost against what
// restic alone costs for the same work. Run them with, for example:
//
//	go test ./cmd/internal/cli -run XXX -bench 'Backup|Status' -count 10 -benchtime 1x
//
// and compare the sub-benchmarks with benchstat.

// BenchmarkBackupOf500MB backs up a 500 MB folder of random files into a
// fresh repository each time: "restic" is a plain restic backup of it,
// "agent" is `devopsellence-backup backup` through devopsellence exec (the
// agent, its restic version check, the backup, and the evidence stored).
func BenchmarkBackupOf500MB(b *testing.B) {
	rb := newerRestic(b)
	app := newOpsApp(b, rb, opsConfig{filesOnly: true})
	vol := app.sim.VolumeDir("shop_storage")
	writeRandom(b, filepath.Join(vol, "media"), 500<<20)
	fresh := func() {
		b.StopTimer()
		must(b, os.RemoveAll(app.repo))
		app.restic(b, "init")
		b.StartTimer()
	}
	b.Run("restic", func(b *testing.B) {
		for range b.N {
			fresh()
			app.restic(b, "backup", "--json", "--quiet", "--host", "shop-production", "--tag", "app:shop,env:production,kind:files", vol)
		}
	})
	b.Run("agent", func(b *testing.B) {
		for range b.N {
			fresh()
			if r := app.cli(b, "backup"); r.code != 0 {
				b.Fatalf("backup: exit %d\n%s", r.code, r.stderr)
			}
		}
	})
}

// BenchmarkStatus reads status on a repository with a short history and
// on one with years of it: the cost should not grow with the history
// beyond restic's own listing.
func BenchmarkStatus(b *testing.B) {
	rb := newerRestic(b)
	for _, history := range []struct {
		name   string
		rounds int
	}{{"snapshots=8", 3}, {"snapshots=4096", historyRounds}} {
		b.Run(history.name, func(b *testing.B) {
			app, _ := newHistoryAppRounds(b, rb, history.rounds)
			b.ResetTimer()
			for range b.N {
				if r := app.cli(b, "status", "--output", "json"); r.code != 1 {
					b.Fatalf("status: exit %d\n%s", r.code, r.stderr)
				}
			}
		})
	}
}
