package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timeBin is GNU time. A Go parent cannot measure a child's peak RSS
// itself: exec folds the parent's own high-water mark into the child's
// (Go starts children with CLONE_VM), so the child is started by a small
// process that forks.
const timeBin = "/usr/bin/time"

// run is one measured process: wall and CPU time, and peak RSS.
type run struct {
	wall, cpu time.Duration
	rssKB     int
}

// measure runs argv under GNU time in dir, with env, and checks it exits 0.
func measure(b *testing.B, dir string, env []string, argv ...string) run {
	b.Helper()
	out := filepath.Join(b.TempDir(), "time")
	cmd := exec.Command(timeBin, append([]string{"-o", out, "-f", "%M"}, argv...)...)
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, msg)
	}
	wall := time.Since(start)
	data, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	rss, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		b.Fatalf("GNU time printed %q", data)
	}
	// GNU time's own CPU time includes its child's, to the microsecond
	// (its %U and %S round to 10 ms).
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return run{wall: wall, cpu: cpu, rssKB: rss}
}

// releaseBuild builds pkg as the release does (.ci/release-build): static,
// trimmed, without symbols.
func releaseBuild(b *testing.B, pkg, name string) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

func median(d []float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkPlanCommand2000Services measures `plan` as users run it: the
// release build of devopsellence-backup, a whole process, `plan --dir` on
// the 2,000-service devopsellence.yml with no devopsellence on PATH,
// against a program that only parses the same file with yaml.v3
// (fixtures/yamlparse, built the same way). Each iteration runs both, in
// turn first; it reports the medians of wall time, CPU time and peak RSS
// of each, and of their ratios (time-x, cpu-x, rss-x; the goal is 1.3 at
// most). Needs GNU time at /usr/bin/time.
func BenchmarkPlanCommand2000Services(b *testing.B) {
	if _, err := os.Stat(timeBin); err != nil {
		b.Fatalf("measuring peak RSS needs GNU time at %s (apt-get install time): %v", timeBin, err)
	}
	tool := releaseBuild(b, "github.com/devopsellence/devopsellence-backup/cmd/devopsellence-backup", "devopsellence-backup")
	parse := releaseBuild(b, "github.com/devopsellence/devopsellence-backup/fixtures/yamlparse", "yamlparse")
	app := b.TempDir()
	must(b, os.WriteFile(filepath.Join(app, "devopsellence.yml"), bigConfig(2000), 0o644))
	must(b, os.WriteFile(filepath.Join(app, "devopsellence.backup.yml"), []byte(benchSpec), 0o644))
	// No devopsellence anywhere on PATH: plan shows the diff and says what
	// it could not check, as on a pull request without the CLI.
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + b.TempDir(), "LANG=C"}
	plan := func() run { return measure(b, app, env, tool, "plan", "--dir", app) }
	bare := func() run { return measure(b, app, env, parse, filepath.Join(app, "devopsellence.yml")) }
	var p, q []run
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			p, q = append(p, plan()), append(q, bare())
		} else {
			q, p = append(q, bare()), append(p, plan())
		}
	}
	b.StopTimer()
	pick := func(rs []run, f func(run) float64) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = f(r)
		}
		return out
	}
	wall := func(r run) float64 { return float64(r.wall) / float64(time.Millisecond) }
	cpu := func(r run) float64 { return float64(r.cpu) / float64(time.Millisecond) }
	rss := func(r run) float64 { return float64(r.rssKB) / 1024 }
	ratio := func(f func(run) float64) []float64 {
		out := make([]float64, len(p))
		for i := range p {
			out[i] = f(p[i]) / f(q[i])
		}
		return out
	}
	b.ReportMetric(median(pick(p, wall)), "plan-ms")
	b.ReportMetric(median(pick(q, wall)), "parse-ms")
	b.ReportMetric(median(ratio(wall)), "time-x")
	b.ReportMetric(median(pick(p, cpu)), "plan-cpu-ms")
	b.ReportMetric(median(pick(q, cpu)), "parse-cpu-ms")
	b.ReportMetric(median(ratio(cpu)), "cpu-x")
	b.ReportMetric(median(pick(p, rss)), "plan-MB")
	b.ReportMetric(median(pick(q, rss)), "parse-MB")
	b.ReportMetric(median(ratio(rss)), "rss-x")
}
