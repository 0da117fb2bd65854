package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// agentProcesses lists the pids of the agent running op in a container of
// the state home (so parallel tests leave each other's agents alone).
func agentProcesses(stateHome, op string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 2 && filepath.Base(args[0]) == "devopsellence-backup" && args[1] == "agent" && args[2] == op {
			if env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ")); bytes.Contains(env, []byte("TMPDIR="+stateHome)) {
				out = append(out, pid)
			}
		}
	}
	return out
}

// TestADrillStoppedAnyWayLeavesNoScratchDatabaseBehind stops a drill while
// it loads a dump into its scratch database: interrupted from the
// operator's side it drops the database itself; killed outright (SIGKILL,
// nothing can run), the next drill removes what it left.
func TestADrillStoppedAnyWayLeavesNoScratchDatabaseBehind(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		pg := startPostgres(t)
		app := newOpsApp(t, rb, opsConfig{
			databases: shopDatabases,
			secrets:   map[string]string{"DATABASE_URL": pg.url("appdb"), "DRILL_DATABASE_URL": pg.url("postgres")},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), pg)
		// Enough rows that loading them takes a while.
		pg.psql(t, "appdb", "SET ROLE app; CREATE TABLE events(id bigserial PRIMARY KEY, body text NOT NULL); "+
			"INSERT INTO events(body) SELECT repeat(md5(i::text), 8) FROM generate_series(1, 600000) AS i;")
		app.mustOp(t, 0, "backup", "--init")
		scratch := func() []string { return pg.databases(t, "devopsellence_drill_") }

		for _, how := range []string{"SIGINT", "SIGKILL"} {
			var stdout, stderr bytes.Buffer
			cmd := startCLI(t, app.sim, app.secretEnv(), &stdout, &stderr, "drill", "--output", "json")
			waitUntil(t, how+": the drill loads its scratch database", 2*time.Minute, func() bool { return len(scratch()) > 0 })
			if how == "SIGINT" {
				must(t, syscall.Kill(cmd.Process.Pid, syscall.SIGINT))
				_ = cmd.Wait()
				if left := scratch(); len(left) != 0 {
					t.Errorf("SIGINT: scratch databases left: %v\n%s", left, stderr.String())
				}
				continue
			}
			// SIGKILL the agent in the service: no cleanup can run.
			for _, pid := range agentProcesses(app.sim.StateHome, "drill") {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			_ = cmd.Wait()
			killed := scratch()
			if len(killed) == 0 {
				t.Fatal("SIGKILL: the killed drill left nothing, so this test cannot see the next drill clean up")
			}
			r := app.cli(t, "drill", "--output", "json")
			if r.code != 0 {
				t.Fatalf("the next drill: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if s := decodeOp(t, r).step(t, "db:main"); s["result"] != "ok" {
				t.Errorf("the next drill: %v", s)
			}
			if left := scratch(); len(left) != 0 {
				t.Errorf("the next drill did not remove the killed drill's scratch database: %v (the killed drill left %v)\nits stderr:\n%s", left, killed, r.stderr)
			}
		}
	})
}
