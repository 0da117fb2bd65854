package cli_test

import (
	"os"
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
