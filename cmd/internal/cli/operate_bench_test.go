package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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
// on one with years of it, beside "restic": the restic calls that status
// made (its listing and the read of the newest failed evidence), run
// alone with the same argv and their own cache. What status adds to them
// (exec, the agent, decoding, the result) should not grow with history.
// "warm" is every status after the first in a container (restic's cache
// holds the snapshots and the index), "cold" the first one.
func BenchmarkStatus(b *testing.B) {
	rb := newerRestic(b)
	for _, history := range []struct {
		name   string
		rounds int
	}{{"snapshots=8", 3}, {"snapshots=4096", historyRounds}} {
		for _, cache := range []string{"warm", "cold"} {
			b.Run(history.name+"/cache="+cache, func(b *testing.B) {
				app, argvLog := newHistoryAppRounds(b, rb, history.rounds)
				status := func() {
					if r := app.cli(b, "status", "--output", "json"); r.code != 1 {
						b.Fatalf("status: exit %d\n%s", r.code, r.stderr)
					}
				}
				status()
				calls := repositoryCalls(b, argvLog)
				if len(calls) != 2 {
					b.Fatalf("status made %d repository calls, want the listing and the evidence read: %q", len(calls), calls)
				}
				alone := func() {
					for _, c := range calls {
						app.restic(b, c...)
					}
				}
				alone()
				dir := filepath.Dir(app.binDir)
				run := func(f func(), cacheDir string) func(*testing.B) {
					return func(b *testing.B) {
						for range b.N {
							if cache == "cold" {
								b.StopTimer()
								must(b, os.RemoveAll(filepath.Join(dir, cacheDir)))
								b.StartTimer()
							}
							f()
						}
					}
				}
				b.Run("status", run(status, "cache"))
				b.Run("restic", run(alone, "test-cache"))
			})
		}
	}
}

// repositoryCalls are the restic calls in an argv log that open the
// repository (all but version), each as its arguments.
func repositoryCalls(b *testing.B, argvLog string) [][]string {
	data, err := os.ReadFile(argvLog)
	must(b, err)
	var calls [][]string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !slices.Equal(f, []string{"version"}) {
			calls = append(calls, f)
		}
	}
	return calls
}
