package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

func TestPostgresAndSQLiteRestoresIntoTheLiveDatabasesGiveTheSnapshotsContents(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		pg := startPostgres(t)
		app := newOpsApp(t, rb, opsConfig{
			databases: shopDatabases,
			secrets:   map[string]string{"DATABASE_URL": pg.url("appdb"), "DRILL_DATABASE_URL": pg.url("postgres")},
		})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, pg)
		notes := filepath.Join(vol, "notes.sqlite3")
		app.mustOp(t, 0, "backup", "--init")
		orders := pg.psql(t, "appdb", ordersDigest)
		notesDigest := "SELECT count(*) || '|' || group_concat(body, ',') FROM (SELECT body FROM notes ORDER BY id)"
		backedUp := sqliteQuery(t, notes, notesDigest)

		// The app loses and changes rows after the backup.
		pg.psql(t, "appdb", "SET ROLE app; DELETE FROM orders WHERE id > 1500; UPDATE orders SET note = 'changed' WHERE id <= 10; CREATE TABLE audit(x int); INSERT INTO audit VALUES (1)")
		sqliteQuery(t, notes, "DELETE FROM notes WHERE id > 900; UPDATE notes SET body = 'changed' WHERE id = 1")

		dry := app.restore(t, 0, "--latest", "db:main", "--dry-run")
		d := dry.Plan.Database
		if d == nil || d.Name != "main" || d.Now == nil || d.Now.Rows != 1501 || d.InSnapshot == nil || d.InSnapshot.Rows != 2000 || d.InSnapshot.Tables != 1 {
			t.Fatalf("postgres plan: %+v", d)
		}
		if !slices.ContainsFunc(d.Tables, func(r operate.TableRow) bool { return r.Name == "public.audit" && r.InSnapshot == nil && *r.Now == 1 }) {
			t.Errorf("the plan does not show the table the snapshot lacks: %+v", d.Tables)
		}
		if left := pg.databases(t, dbtool.ScratchBase); len(left) > 0 {
			t.Errorf("the plan left scratch databases behind: %v", left)
		}
		res := app.restore(t, 0, "--latest", "db:main", "--approve", dry.Plan.ID)
		if got := pg.psql(t, "appdb", ordersDigest); got != orders {
			t.Errorf("orders after the restore = %s, the snapshot's %s", got, orders)
		}
		if s := res.step(t, "restore"); s.Result != "ok" || s.Fact("matches_snapshot") != "true" {
			t.Errorf("restore step %+v", s)
		}
		undo := res.step(t, "pre-restore saved").Fact("snapshot_id")
		dump := app.restic(t, "dump", undo, "/main.pgdump")
		if len(dump) == 0 || undo == "" {
			t.Errorf("the undo %q holds no dump", undo)
		}
		if pg.psql(t, "appdb", "SELECT count(*) FROM audit") != "1" {
			t.Error("a table the snapshot does not hold should stay, as the plan said")
		}

		sq := app.restore(t, 0, "--latest", "db:notes", "--dry-run")
		if p := sq.Plan.Database; p.Now == nil || p.Now.Rows != 900 || p.InSnapshot == nil || p.InSnapshot.Rows != 1000 {
			t.Errorf("sqlite plan: %+v", p)
		}
		res = app.restore(t, 0, "--latest", "db:notes", "--approve", sq.Plan.ID)
		if got := sqliteQuery(t, notes, notesDigest); got != backedUp {
			t.Errorf("notes after the restore differ from the snapshot's (%d bytes, want %d)", len(got), len(backedUp))
		}
		if s := res.step(t, "restore"); s.Result != "ok" || s.Fact("matches_snapshot") != "true" {
			t.Errorf("sqlite restore step %+v", s)
		}
		if got := sqliteQuery(t, notes, "PRAGMA integrity_check"); got != "ok" {
			t.Errorf("integrity_check after the restore: %s", got)
		}
	})
}

func TestAnInterruptedRestoreLeavesTheLiveDataAsItWas(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		// restic restore hangs (and stops on a signal, as restic does), so
		// the restore's deadline stops it half way.
		marker := filepath.Join(t.TempDir(), "slow-restore")
		wrapper := fmt.Sprintf("#!/bin/sh\nif [ -e %s ] && [ \"$1\" = restore ]; then exec sleep 600; fi\nexec %s \"$@\"\n", marker, rb.path)
		app := newOpsApp(t, rb, opsConfig{bin: map[string]string{"restic": wrapper}})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		app.mustOp(t, 0, "backup", "--init")
		id := app.newest(t, "kind:files")
		must(t, os.WriteFile(filepath.Join(vol, "uploads", "doc-1.txt"), []byte("changed\n"), 0o644))
		must(t, os.WriteFile(filepath.Join(vol, "uploads", "new.txt"), []byte("new\n"), 0o644))
		changed := readTree(t, filepath.Join(vol, "uploads"))
		must(t, os.WriteFile(marker, nil, 0o644))
		start := time.Now()
		res := app.approved(t, 1, id, "--timeout", "10s")
		if took := time.Since(start); took > 5*time.Minute {
			t.Errorf("the restore took %s with --timeout 10s: it waited for the hanging restic", took)
		}
		if res.finding("timeout") == nil {
			t.Errorf("findings = %+v", res.Findings)
		}
		sameTree(t, "after an interrupted restore", readTree(t, filepath.Join(vol, "uploads")), changed)
		noScratchLeft(t, vol)
	})
}

func TestACopyInASecondRepositoryRestoresAfterThePrimaryIsLost(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		copyRepo := filepath.Join(t.TempDir(), "offsite")
		app := newOpsApp(t, rb, opsConfig{
			extra:   "  copies:\n    - name: offsite\n      repository:\n        url: " + copyRepo + "\n        volume: " + copyRepo + "\n      passwordSecret: OFFSITE_RESTIC_PASSWORD\n      retention:\n        keepLast: 5",
			secrets: map[string]string{"OFFSITE_RESTIC_PASSWORD": "offsite-pw-" + rb.version},
		})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		backup := app.cli(t, "backup", "--init", "--output", "json")
		if backup.code != 0 {
			t.Fatalf("backup: exit %d\n%s\n%s", backup.code, backup.stdout, backup.stderr)
		}
		var doc struct {
			Environments []struct {
				Copy *struct {
					Result   string
					Evidence *operate.Evidence
				}
			}
		}
		must(t, json.Unmarshal([]byte(backup.stdout), &doc))
		c := doc.Environments[0].Copy
		if c == nil || c.Result != "ok" || c.Evidence == nil || c.Evidence.Steps[len(c.Evidence.Steps)-1].Name != "copy:offsite" {
			t.Fatalf("the backup's copy: %s", backup.stdout)
		}
		st := app.cli(t, "status", "--output", "json")
		var status struct {
			Findings     []struct{ Code string }
			Environments []struct{ Copies []operate.CopyReport }
		}
		must(t, json.Unmarshal([]byte(st.stdout), &status))
		if cs := status.Environments[0].Copies; len(cs) != 1 || len(cs[0].Backups) != 2 || cs[0].Backups[0].Time == nil || cs[0].Backups[0].Stale {
			t.Errorf("status of the copy: %s", st.stdout)
		}
		for _, f := range status.Findings {
			if strings.HasPrefix(f.Code, "copy_") {
				t.Errorf("status finding %s for a fresh copy", f.Code)
			}
		}

		// The primary repository is lost; the copy still restores.
		must(t, os.RemoveAll(app.repo))
		uploads := filepath.Join(vol, "uploads")
		backedUp := readTree(t, uploads)
		must(t, os.RemoveAll(filepath.Join(uploads, "2026")))
		must(t, os.WriteFile(filepath.Join(uploads, "doc-3.txt"), []byte("damaged\n"), 0o644))
		if r := app.cli(t, "snapshots"); r.code != 1 {
			t.Errorf("snapshots of the lost primary: exit %d\n%s", r.code, r.stdout)
		}
		list := app.browse(t, 0, "snapshots", "--from-copy", "offsite")
		if list.Copy != "offsite" || len(list.Groups) == 0 || list.Groups[0].Name != "files" {
			t.Fatalf("snapshots --from-copy: %+v", list)
		}
		id := list.Groups[0].Snapshots[0].ID
		res := app.approved(t, 0, id[:8], "/data/shop_storage/uploads", "--from-copy", "offsite")
		if !res.OK || res.Plan.Copy != "offsite" {
			t.Errorf("restore from the copy: %+v", res)
		}
		sameTree(t, "restored from the copy", readTree(t, uploads), backedUp)
		if r := app.cli(t, "restore", id[:8], "--from-copy", "nas"); r.code != 2 || !strings.Contains(r.stderr, "no copy of that name") {
			t.Errorf("an unknown copy: exit %d\n%s", r.code, r.stderr)
		}

		// A new primary: status shows the restore, whose evidence is in the copy.
		if r := app.cli(t, "backup", "--init"); r.code != 0 {
			t.Fatalf("backup into a new primary: exit %d\n%s", r.code, r.stderr)
		}
		st = app.cli(t, "status", "--output", "json")
		var after struct {
			Environments []struct{ Operations []operate.Operation }
		}
		must(t, json.Unmarshal([]byte(st.stdout), &after))
		var restore *operate.Operation
		for i, op := range after.Environments[0].Operations {
			if op.Kind == "restore" {
				restore = &after.Environments[0].Operations[i]
			}
		}
		if restore == nil || restore.Result != "ok" || restore.Copy != "offsite" || !strings.Contains(restore.Summary, "recorded in copy offsite") {
			t.Errorf("status after the restore from the copy: %+v\n%s", restore, st.stdout)
		}
	})
}

func TestExcludesAndACustomDumpShapeTheBackupAndARestoreKeepsWhatIsExcluded(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{
			databases: "    - name: custom\n      engine: command\n      command: [sh, -c, \"printf custom-dump-ok\"]\n      restoreCommand: [grep, -q, custom-dump-ok]\n" +
				"    - name: broken\n      engine: command\n      command: [sh, -c, \"printf half; exit 3\"]",
			extra: "  exclude: [\"*.log\"]\n  excludeCaches: true",
		})
		spec := app.sim.ReadFile(t, "devopsellence.backup.yml")
		app.sim.WriteFile(t, "devopsellence.backup.yml", strings.Replace(spec, "    - name: shop_storage\n", "    - name: shop_storage\n      exclude: [tmp]\n", 1))
		if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		for name, content := range map[string]string{
			"tmp/scratch.bin": "scratch", "uploads/app.log": "log", "cache/CACHEDIR.TAG": "Signature: 8a477f597d28d172789f06886806bc55\n", "cache/blob": "cached",
		} {
			must(t, os.MkdirAll(filepath.Dir(filepath.Join(vol, name)), 0o755))
			must(t, os.WriteFile(filepath.Join(vol, name), []byte(content), 0o644))
		}
		d := app.mustOp(t, 1, "backup", "--init")
		if s := d.step(t, "db:custom"); s["result"] != "ok" {
			t.Errorf("custom dump: %v", s)
		}
		if s := d.step(t, "db:broken"); s["result"] != "failed" || s["error"] != "dumper_failed" {
			t.Errorf("a custom dump whose command fails: %v", s)
		}
		if list := app.snapshots(t, "--tag", "db:broken"); len(list) != 0 {
			t.Errorf("the failed command left %d snapshot(s)", len(list))
		}
		if got := string(app.restic(t, "dump", app.newest(t, "db:custom"), "/custom.dump")); got != "custom-dump-ok" {
			t.Errorf("custom dump holds %q", got)
		}
		listing := string(app.restic(t, "ls", app.newest(t, "kind:files")))
		for _, gone := range []string{"/data/shop_storage/tmp/scratch.bin", "/data/shop_storage/uploads/app.log", "/data/shop_storage/cache/blob"} {
			if strings.Contains(listing, gone+"\n") {
				t.Errorf("the files snapshot holds the excluded %s", gone)
			}
		}
		if !strings.Contains(listing, "/data/shop_storage/uploads/doc-1.txt\n") {
			t.Error("the files snapshot lacks what is not excluded")
		}

		drill := app.mustOp(t, 1, "drill")
		if s := drill.step(t, "db:custom"); s["result"] != "ok" || !strings.Contains(fmt.Sprint(s["message"]), "restoreCommand accepted") {
			t.Errorf("drill of the custom dump: %v", s)
		}

		id := app.newest(t, "kind:files")
		res := app.approved(t, 0, id)
		for _, k := range []string{"/data/shop_storage/tmp", "/data/shop_storage/uploads/app.log", "/data/shop_storage/cache"} {
			if !slices.Contains(res.Plan.Files.Kept, k) {
				t.Errorf("the plan does not keep %s: %v", k, res.Plan.Files.Kept)
			}
		}
		for name, content := range map[string]string{"tmp/scratch.bin": "scratch", "uploads/app.log": "log", "cache/blob": "cached"} {
			if b, err := os.ReadFile(filepath.Join(vol, name)); err != nil || string(b) != content {
				t.Errorf("the restore lost the excluded %s: %q, %v", name, b, err)
			}
		}
		if r := app.cli(t, "restore", "--latest", "db:custom", "--approve", "x"); r.code != 2 || !strings.Contains(r.stderr, "custom dump") {
			t.Errorf("a custom dump into live data: exit %d\n%s", r.code, r.stderr)
		}
		target := "/tmp/custom-" + rb.version
		t.Cleanup(func() { _ = os.RemoveAll(target) })
		out := app.restore(t, 0, "--latest", "db:custom", "--target", target)
		if b, err := os.ReadFile(filepath.Join(target, "custom.dump")); err != nil || string(b) != "custom-dump-ok" || out.Approval != "not needed (--target)" {
			t.Errorf("a scratch restore of the custom dump: %q, %v, %+v", b, err, out)
		}
	})
}

func TestAStaleLockInACopyIsRemovedOnlyWithUnlockStale(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		copyRepo := filepath.Join(t.TempDir(), "offsite")
		pw := "offsite-pw-" + rb.version
		app := newOpsApp(t, rb, opsConfig{
			extra:   "  copies:\n    - name: offsite\n      repository:\n        url: " + copyRepo + "\n        volume: " + copyRepo + "\n      passwordSecret: OFFSITE_RESTIC_PASSWORD",
			secrets: map[string]string{"OFFSITE_RESTIC_PASSWORD": pw},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		// A copy killed while it held the copy's lock.
		leaveStaleLockIn(t, rb, copyRepo, pw, app.sim.Home, true)

		d := app.mustOp(t, 1, "copy")
		if s := d.step(t, "copy:offsite"); s["error"] != "locked" {
			t.Fatalf("copy into the locked copy: %v", s)
		}
		d = app.mustOp(t, 0, "copy", "--unlock-stale")
		if s := d.step(t, "unlock:offsite"); s["result"] != "ok" {
			t.Errorf("unlock step = %v", s)
		}
		if s := d.step(t, "copy:offsite"); s["result"] != "ok" {
			t.Errorf("copy after the unlock = %v", s)
		}
	})
}

func TestTheSchedulerCopiesEachBackupAndPrunesTheCopyByItsOwnRetention(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		copyRepo := filepath.Join(t.TempDir(), "offsite")
		pw := "offsite-pw-" + rb.version
		app := newOpsApp(t, rb, opsConfig{
			extra:   "  schedule:\n    every: 1h\n  copies:\n    - name: offsite\n      repository:\n        url: " + copyRepo + "\n        volume: " + copyRepo + "\n      passwordSecret: OFFSITE_RESTIC_PASSWORD\n      retention:\n        keepLast: 1",
			secrets: map[string]string{"OFFSITE_RESTIC_PASSWORD": pw},
			simEnv:  []string{"DEVOPSELLENCE_SIM_RUN_SERVICES=1"},
			noApply: true,
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.restic(t, "init")
		inCopy := func(args ...string) []byte {
			t.Helper()
			cmd := exec.Command(rb.path, args...)
			cmd.Env = []string{"RESTIC_REPOSITORY=" + copyRepo, "RESTIC_PASSWORD=" + pw, "RESTIC_CACHE_DIR=" + filepath.Join(t.TempDir(), "cache"), "PATH=" + servicePath, "HOME=" + app.sim.Home}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("restic %v on the copy: %v\n%s", args, err, out)
			}
			return out
		}
		inCopy("init")
		if r := app.cli(t, "apply", "--non-interactive", "--yes"); r.code != 0 {
			t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		deadline := time.Now().Add(10 * time.Minute)
		for _, kind := range []string{"backup", "copy", "prune"} {
			for len(app.snapshots(t, "--tag", "evidence:"+kind)) == 0 {
				if time.Now().After(deadline) {
					logs := app.sim.Run(t, "logs", "backup", "--lines", "200")
					t.Fatalf("no %s evidence from the scheduled service\nlogs:\n%s", kind, logs.Stdout)
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
		if doc := app.evidence(t, "copy"); doc["trigger"] != "schedule" || doc["result"] != "ok" {
			t.Errorf("copy evidence: %v", doc)
		}
		var list []snapshot
		must(t, json.Unmarshal(inCopy("snapshots", "--json", "--tag", "kind:files"), &list))
		if len(list) != 1 || list[0].Hostname != "shop-production" {
			t.Errorf("the copy holds %d files snapshot(s): %+v", len(list), list)
		}
		prune := app.evidence(t, "prune")
		var forget map[string]any
		for _, s := range prune["steps"].([]any) {
			if m := s.(map[string]any); m["name"] == "forget:offsite" {
				forget = m
			}
		}
		if forget == nil || forget["result"] != "ok" || forget["policy"] != "--keep-last 1" {
			t.Errorf("the scheduled prune did not forget in the copy by its retention: %v", prune["steps"])
		}
		_ = app.sim.Run(t, "sim", "stop-services")
	})
}

func TestAMariaDBRestoreSwapsTheSnapshotsTablesIntoTheLiveDatabase(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		my := dbtest.StartMariaDB(t)
		app := newOpsApp(t, rb, opsConfig{
			databases: "    - name: shopdb\n      engine: mariadb\n      urlSecret: MYSQL_URL\n      scratchUrlSecret: MYSQL_SCRATCH_URL",
			secrets:   map[string]string{"MYSQL_URL": my.URL("appdb"), "MYSQL_SCRATCH_URL": my.URL("")},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		my.SQL(t, "appdb", "CREATE TABLE items(id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO items VALUES (1,'one'),(2,'two'),(3,'three')")
		digest := "SELECT COUNT(*), GROUP_CONCAT(name ORDER BY id) FROM items"
		backedUp := my.SQL(t, "appdb", digest)
		app.mustOp(t, 0, "backup", "--init")
		my.SQL(t, "appdb", "DELETE FROM items WHERE id > 1; UPDATE items SET name = 'changed'; CREATE TABLE later(x INT)")

		dry := app.restore(t, 0, "--latest", "db:shopdb", "--dry-run")
		d := dry.Plan.Database
		if d == nil || d.Now == nil || d.Now.Tables != 2 || d.Now.Rows != 1 || d.InSnapshot == nil || d.InSnapshot.Tables != 1 || d.InSnapshot.Rows != 3 {
			t.Fatalf("mariadb plan: %+v", d)
		}
		res := app.restore(t, 0, "--latest", "db:shopdb", "--approve", dry.Plan.ID)
		if got := my.SQL(t, "appdb", digest); got != backedUp {
			t.Errorf("items after the restore = %q, the snapshot's %q", got, backedUp)
		}
		if s := res.step(t, "restore"); s.Result != "ok" || s.Fact("matches_snapshot") != "true" {
			t.Errorf("restore step %+v", s)
		}
		if tables := my.SQL(t, "appdb", "SHOW TABLES"); tables != "items" {
			t.Errorf("tables after the restore: %q (the swap replaces the live tables whole, as the plan said)", tables)
		}
		if left := append(my.Databases(t, dbtool.ScratchBase), my.Databases(t, dbtool.RestoreBase)...); len(left) > 0 {
			t.Errorf("helper databases left behind: %v", left)
		}
	})
}
