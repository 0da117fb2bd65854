package cli_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnOptionalSQLiteFileTheAppHasNotCreatedIsANoteUntilItFirstExists(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{databases: `    - name: cache
      engine: sqlite
      path: /data/shop_storage/production_cache.sqlite3
      optional: true
`})
		vol := app.sim.VolumeDir("shop_storage")
		sqliteQuery(t, filepath.Join(vol, "notes.sqlite3"), "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('a');")

		// Not created yet: backup, drill and status note it and succeed.
		d := app.mustOp(t, 0, "backup", "--init")
		if f := d.finding("not_created_yet"); f == nil || f.Severity != "info" || !strings.Contains(f.Message, "production_cache.sqlite3 does not exist yet") {
			t.Errorf("backup: finding = %+v\n%+v", f, d.Findings)
		}
		if s := d.step(t, "db:cache"); s["result"] != "skipped" || s["error"] != "not_created_yet" {
			t.Errorf("backup step = %v", s)
		}
		if d.Environments[0].Result != "ok" {
			t.Errorf("backup result = %s", d.Environments[0].Result)
		}
		d = app.mustOp(t, 0, "drill")
		if s := d.step(t, "db:cache"); s["result"] != "skipped" || s["error"] != "not_created_yet" {
			t.Errorf("drill step = %v", s)
		}
		app.mustOp(t, 0, "check")
		r := app.cli(t, "status", "--output", "json")
		st := decodeOp(t, r)
		if r.code != 0 || st.finding("backup_missing") != nil || st.finding("not_created_yet") == nil {
			t.Errorf("status: exit %d\n%s", r.code, r.stdout)
		}

		// The app creates it: the next backup takes it; once backed up, a
		// missing file fails the backup again.
		cache := filepath.Join(vol, "production_cache.sqlite3")
		sqliteQuery(t, cache, "CREATE TABLE c(k TEXT); INSERT INTO c VALUES ('x');")
		d = app.mustOp(t, 0, "backup")
		if s := d.step(t, "db:cache"); s["result"] != "ok" {
			t.Errorf("backup of the created file = %v", s)
		}
		must(t, os.Remove(cache))
		d = app.mustOp(t, 1, "backup")
		if f := d.finding("source_missing"); f == nil || f.Severity != "error" {
			t.Errorf("after it was backed up, a missing file: %+v", d.Findings)
		}
	})
}

// TestLosingTheNodeRunbookRestoresOnANewNodeFromTheCopy follows
// docs/operations.md, "Losing the node": the node (its volumes and the
// primary repository on it) and the machine that ran apply are gone; a new
// node, the secrets kept elsewhere, snapshots --from-copy, restore.
func TestLosingTheNodeRunbookRestoresOnANewNodeFromTheCopy(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		offsite := filepath.Join(t.TempDir(), "offsite")
		app := newOpsApp(t, rb, opsConfig{filesOnly: true,
			extra: "  copies:\n    - name: offsite\n      repository:\n        url: " + offsite + "\n        volume: " + offsite + "\n      passwordSecret: RESTIC_PASSWORD"})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		backedUp := readTree(t, filepath.Join(vol, "uploads"))
		app.mustOp(t, 0, "backup", "--init")

		// The node is lost, with the primary repository on it, and so is
		// the machine that held devopsellence's state (and its secrets).
		must(t, os.RemoveAll(app.repo))
		app.sim.StateHome = t.TempDir()
		for _, args := range [][]string{
			{"mode", "use", "solo"},
			{"node", "create", "prod-2", "--host", "127.0.0.1", "--user", "root", "--ssh-key", app.sim.SSHKey(t), "--labels", "web,worker", "--attach", "--env", "production"},
		} {
			if r := app.sim.Run(t, args...); r.Code != 0 {
				t.Fatalf("devopsellence %s: %s", strings.Join(args, " "), r.Stdout)
			}
		}
		newVol := app.sim.VolumeDir("shop_storage")
		if entries, _ := os.ReadDir(newVol); len(entries) != 0 {
			t.Fatalf("the new node's volume is not empty: %v", entries)
		}
		// The same secrets, from where they were kept.
		if r := app.cli(t, "apply", "--non-interactive"); r.code != 0 {
			t.Fatalf("apply on the new node: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		list := app.browse(t, 0, "snapshots", "--env", "production", "--from-copy", "offsite")
		if len(list.Groups) == 0 || list.Groups[0].Name != "files" {
			t.Fatalf("snapshots --from-copy offsite: %+v", list)
		}
		id := list.Groups[0].Snapshots[0].ID[:8]
		res := app.approved(t, 0, id, "--env", "production", "--from-copy", "offsite")
		if !res.OK {
			t.Fatalf("restore: %+v", res)
		}
		sameTree(t, "restored on the new node", readTree(t, filepath.Join(newVol, "uploads")), backedUp)
		app.mustOp(t, 0, "backup", "--env", "production", "--init")
		if _, err := os.Stat(app.repo); err != nil {
			t.Errorf("no new primary repository: %v", err)
		}
	})
}

func TestTheAgentReadsTheServersVersionBeforeDumpingAndRefusesAPgDumpTooOld(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		pg := startPostgres(t)
		db := "    - name: primary\n      engine: postgres\n      urlSecret: DATABASE_URL\n"
		app := newOpsApp(t, rb, opsConfig{databases: db, secrets: map[string]string{"DATABASE_URL": pg.url("appdb")}})
		notes := "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('a');"
		sqliteQuery(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "notes.sqlite3"), notes)
		d := app.mustOp(t, 0, "backup", "--init")
		s := d.step(t, "db:primary")
		if !strings.HasPrefix(fmt.Sprint(s["server_version"]), "15.") || !strings.Contains(fmt.Sprint(s["client_version"]), "pg_dump (PostgreSQL) 15") {
			t.Errorf("the step does not record the versions: %v", s)
		}

		// A pg_dump of an older major than the server: the step fails before
		// it runs, naming both versions and the fix.
		old := newOpsApp(t, rb, opsConfig{databases: db, secrets: map[string]string{"DATABASE_URL": pg.url("appdb")},
			bin: map[string]string{"pg_dump": "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) 14.12'; exit 0; fi\necho ran >> \"$0.ran\"; exit 1\n"}})
		sqliteQuery(t, filepath.Join(old.sim.VolumeDir("shop_storage"), "notes.sqlite3"), notes)
		d = old.mustOp(t, 1, "backup", "--init")
		f := d.finding("client_too_old")
		if f == nil || !strings.Contains(f.Message, "the server is PostgreSQL 15.") || !strings.Contains(f.Message, "pg_dump is 14.12") || !strings.Contains(f.Message, "postgresql-client-15 or newer") {
			t.Fatalf("findings: %+v", d.Findings)
		}
		if len(f.NextActions) == 0 || f.NextActions[0].Command != "devopsellence-backup image --env production" {
			t.Errorf("next: %+v", f.NextActions)
		}
		if _, err := os.Stat(filepath.Join(old.binDir, "pg_dump.ran")); err == nil {
			t.Error("pg_dump ran to dump a server it cannot dump")
		}
	})
}

func TestResticItselfRunsInTheBackupServiceAsTheDocsSay(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{filesOnly: true})
		app.mustOp(t, 0, "backup", "--init")
		// docs/operations.md, "restic itself": the service has the repository's environment.
		r := app.sim.Run(t, "exec", "backup", "--env", "production", "--", "restic", "snapshots", "--json", "--host", "shop-production")
		if r.Code != 0 {
			t.Fatalf("restic through exec: exit %d\n%s", r.Code, r.Stdout)
		}
		out := strings.Join(outputLines(r.Events(t), "stdout"), "")
		if !strings.Contains(out, `"hostname":"shop-production"`) || !strings.Contains(out, "kind:files") {
			t.Errorf("restic snapshots through exec: %s", out)
		}
		if strings.Contains(string(r.Stdout), app.password) {
			t.Error("the password is in exec's output")
		}
	})
}

func TestADatabaseDumpShowsTheBytesSoFarWhileItRuns(t *testing.T) {
	t.Parallel()
	rb := newerRestic(t) // restic 0.17+ backs up the dump while it is written
	release := filepath.Join(t.TempDir(), "release")
	dumper := fmt.Sprintf("head -c 3000000 /dev/urandom; while [ ! -e %s ]; do sleep 0.05; done", release)
	app := newOpsApp(t, rb, opsConfig{databases: "    - name: custom\n      engine: command\n      command: [sh, -c, \"" + dumper + "\"]\n"})
	sqliteQuery(t, filepath.Join(app.sim.VolumeDir("shop_storage"), "notes.sqlite3"), "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('a');")
	cmd := exec.Command(cliBinary(t), "backup", "--init", "--dir", app.sim.Workspace, "--devopsellence", app.sim.Bin)
	cmd.Env = append(app.sim.Environ(), app.secretEnv()...)
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	seen := ""
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "db:custom: ") && strings.Contains(line, " so far") {
			seen = line
			break
		}
	}
	// The dump goes on until the test has seen its progress.
	must(t, os.WriteFile(release, nil, 0o644))
	_, _ = io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if seen == "" {
		t.Fatal("no progress line while the dump ran")
	}
}
