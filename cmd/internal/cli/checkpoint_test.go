package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// releaseList is devopsellence's release list of production, newest first.
func (a *opsApp) releaseList(t *testing.T) (current string, list []map[string]any) {
	t.Helper()
	r := a.sim.Run(t, "release", "list", "--env", "production", "--limit", "0")
	if r.Code != 0 {
		t.Fatalf("release list: %s", r.Stdout)
	}
	doc := r.JSON(t)
	for _, it := range doc["releases"].([]any) {
		list = append(list, it.(map[string]any))
	}
	return doc["current_release_id"].(string), list
}

// deploy commits what the workspace holds (a new revision when anything
// changed) and deploys production, as the app's own deploy workflow does.
func (a *opsApp) deploy(t *testing.T, commit bool) {
	t.Helper()
	if commit {
		a.sim.WriteFile(t, "REVISION", time.Now().Format(time.RFC3339Nano)+"\n")
		a.sim.GitCommit(t)
	}
	if r := a.sim.Run(t, "deploy", "--env", "production"); r.Code != 0 {
		t.Fatalf("deploy: %s", r.Stdout)
	}
}

// pointSnapshots are the repository's snapshots of a restore point.
func (a *opsApp) pointSnapshots(t *testing.T) []snapshot {
	t.Helper()
	return a.snapshots(t, "--tag", operate.TagRestorePoint)
}

func tagValue(tags []string, prefix string) string {
	for _, tag := range tags {
		if v, ok := strings.CutPrefix(tag, prefix); ok {
			return v
		}
	}
	return ""
}

func TestCheckpointTagsARestorePointWithTheReleaseItWasTakenUnderAndTheNextOne(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		app.deploy(t, true)
		current, list := app.releaseList(t)
		under := list[0]["revision"].(string)
		// The next revision is committed, not deployed yet.
		app.sim.WriteFile(t, "MIGRATION", "add a column\n")
		app.sim.GitCommit(t)
		next := headShortOf(t, app)

		r := app.cli(t, "checkpoint", "--env", "production", "--reason", "deploy "+next, "--output", "json")
		var d struct {
			Environments []struct{ Evidence *operate.Evidence }
		}
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || r.code != 0 || len(d.Environments) != 1 {
			t.Fatalf("checkpoint: exit %d %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
		}
		ev := d.Environments[0].Evidence
		if ev == nil || ev.Kind != "checkpoint" || ev.RestorePoint == nil || ev.RestorePoint.Release != under || ev.RestorePoint.ReleaseID != current ||
			ev.RestorePoint.NextRelease != next || ev.RestorePoint.Reason != "deploy "+next {
			t.Fatalf("evidence: %+v", ev)
		}
		pts := app.pointSnapshots(t)
		var dbs []string
		for _, s := range pts {
			if slices.Contains(s.Tags, "devopsellence-backup:evidence") {
				if tagValue(s.Tags, "evidence:") != "checkpoint" || tagValue(s.Tags, operate.TagNextRelease) != next {
					t.Errorf("the evidence snapshot's tags: %v", s.Tags)
				}
				continue
			}
			if slices.Contains(s.Tags, operate.TagFiles) {
				t.Errorf("a checkpoint without --files backed up the files: %v", s.Paths)
			}
			if tagValue(s.Tags, operate.TagRelease) != under || tagValue(s.Tags, operate.TagReleaseID) != current || tagValue(s.Tags, operate.TagNextRelease) != next {
				t.Errorf("restore point %v lacks the releases: %v", s.Paths, s.Tags)
			}
			dbs = append(dbs, tagValue(s.Tags, operate.TagDBName))
		}
		slices.Sort(dbs)
		if !slices.Equal(dbs, []string{"auto-data-shop_storage-cache.db", "notes"}) {
			t.Errorf("the restore point holds %v, want every database (the spec's and the one found)", dbs)
		}
		// The regular backups are not restore points.
		if n := len(app.snapshots(t, "--tag", "kind:files")); n != 1 {
			t.Errorf("%d files snapshots, want the backup's only", n)
		}

		// snapshots shows the restore point; status shows the checkpoint.
		b := app.browse(t, 0, "snapshots", "--env", "production")
		found := false
		for _, g := range b.Groups {
			for _, s := range g.Snapshots {
				if s.RestorePoint != nil && s.RestorePoint.NextRelease == next {
					found = true
					if slices.ContainsFunc(s.Tags, func(tag string) bool { return strings.HasPrefix(tag, "release") }) {
						t.Errorf("the release tags are shown twice: %v", s.Tags)
					}
				}
			}
		}
		if !found {
			t.Errorf("snapshots does not show the restore point: %+v", b.Groups)
		}
		r = app.cli(t, "status", "--env", "production")
		if !strings.Contains(r.stdout, "checkpoint ok") || !strings.Contains(r.stdout, "restore point under release "+under+", before "+next+" was deployed") {
			t.Errorf("status does not show the checkpoint:\n%s", r.stdout)
		}

		// --files takes the files too.
		app.mustOp(t, 0, "checkpoint", "--env", "production", "--files")
		if n := len(app.snapshots(t, "--tag", operate.TagRestorePoint+",kind:files")); n != 1 {
			t.Errorf("checkpoint --files: %d files restore points, want 1", n)
		}
		// A reason that could forge a line is refused before anything runs.
		if r := app.cli(t, "checkpoint", "--reason", "a\nb"); r.code != 2 {
			t.Errorf("--reason with a newline: exit %d, want 2", r.code)
		}
	})
}

func headShortOf(t *testing.T, app *opsApp) string {
	t.Helper()
	r := app.sim.Run(t, "deploy", "--env", "production", "--dry-run")
	for _, ev := range r.Events(t) {
		if rev, ok := ev["workload_revision"].(string); ok {
			return rev
		}
	}
	t.Fatalf("no revision in the dry run: %s", r.Stdout)
	return ""
}

// beforeRelease runs restore --before-release with --dry-run and decodes it.
func (a *opsApp) beforeRelease(t *testing.T, want int, rev string) (restoreDoc, result) {
	t.Helper()
	r := a.cli(t, "restore", "--before-release", rev, "--env", "production", "--dry-run", "--output", "json")
	if r.code != want {
		t.Fatalf("restore --before-release %s: exit %d, want %d\n%s\n%s", rev, r.code, want, r.stdout, r.stderr)
	}
	var d restoreDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	return d, r
}

func TestRestoreBeforeReleasePicksTheRestorePointBeforeItsFirstDeploy(t *testing.T) {
	rb := newerRestic(t)
	app := newOpsApp(t, rb, opsConfig{})
	vol := app.sim.VolumeDir("shop_storage")
	seedShop(t, vol, nil)
	notes := filepath.Join(vol, "notes.sqlite3")
	app.mustOp(t, 0, "backup", "--init")

	// A: the release the app runs; a restore point before B's first deploy.
	app.deploy(t, true)
	_, list := app.releaseList(t)
	revA := list[0]["revision"].(string)
	app.sim.WriteFile(t, "B", "b\n")
	app.sim.GitCommit(t)
	cp1 := app.mustOp(t, 0, "checkpoint", "--env", "production").step(t, "db:notes")["snapshot_id"].(string)
	app.deploy(t, false)
	_, list = app.releaseList(t)
	revB, firstB := list[0]["revision"].(string), list[0]["id"].(string)
	sqliteQuery(t, notes, "UPDATE notes SET body = 'migrated by B'")
	app.mustOp(t, 0, "backup")
	// B deployed a second time, with a restore point before it too: its
	// data is B's already.
	cp2 := app.mustOp(t, 0, "checkpoint", "--env", "production").step(t, "db:notes")["snapshot_id"].(string)
	app.deploy(t, false)
	_, list = app.releaseList(t)
	secondB := list[0]["id"].(string)
	b2 := app.mustOp(t, 0, "backup").step(t, "db:notes")["snapshot_id"].(string)
	// C, deployed without a restore point.
	app.deploy(t, true)
	_, list = app.releaseList(t)
	revC := list[0]["revision"].(string)

	d, _ := app.beforeRelease(t, 0, revB)
	p := d.Plan
	if p == nil || p.Snapshot.ID != cp1 || p.Release == nil || !p.Release.RestorePoint || p.Release.Revision != revB ||
		len(p.Release.Deploys) != 2 || p.Release.Deploys[0].ReleaseID != firstB || p.Release.Under != revA {
		t.Fatalf("--before-release %s (deployed twice): want restore point %s under %s, got %+v", revB, cp1, revA, p)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "deployed 2 times") }) {
		t.Errorf("the plan does not say B was deployed twice: %v", p.Notes)
	}
	if p.Database == nil || p.Database.Name != "notes" {
		t.Errorf("the database restored: %+v", p.Database)
	}

	// The second deploy by its release ID: the restore point before it,
	// and the plan says B's first deploy came earlier.
	d, _ = app.beforeRelease(t, 0, secondB)
	if d.Plan.Snapshot.ID != cp2 || !slices.ContainsFunc(d.Plan.Notes, func(n string) bool { return strings.Contains(n, firstB) }) {
		t.Errorf("--before-release %s: want %s and a note naming %s, got %s %v", secondB, cp2, firstB, d.Plan.Snapshot.ID, d.Plan.Notes)
	}

	// C had no restore point: the newest backup before it, said so.
	d, r := app.beforeRelease(t, 0, revC)
	if d.Plan.Snapshot.ID != b2 || d.Plan.Release.RestorePoint || d.Plan.Release.Under != revB {
		t.Errorf("--before-release %s: want the backup %s under %s, got %+v", revC, b2, revB, d.Plan)
	}
	if !slices.ContainsFunc(d.Plan.Notes, func(n string) bool { return strings.Contains(n, "no restore point was taken before "+revC) }) {
		t.Errorf("the plan does not say the restore point is missing: %v", d.Plan.Notes)
	}
	text := app.cli(t, "restore", "--before-release", revC, "--env", "production", "--dry-run")
	for _, want := range []string{"release:     from before " + revC + " was deployed", "taken under: " + revB, "a regular backup: no restore point"} {
		if !strings.Contains(text.stdout, want) {
			t.Errorf("the plan does not show %q:\n%s", want, text.stdout)
		}
	}
	_ = r

	// Nothing before A's first deploy (the apply's release): no snapshot.
	_, list = app.releaseList(t)
	oldest := list[len(list)-1]["revision"].(string)
	if r := app.cli(t, "restore", "--before-release", oldest, "--env", "production", "--dry-run"); r.code != 2 || !strings.Contains(r.stderr, "no restore point or backup of db:notes was taken before") {
		t.Errorf("before the first release: exit %d\n%s", r.code, r.stderr)
	}
	if r := app.cli(t, "restore", "--before-release", "0000000", "--env", "production", "--dry-run"); r.code != 2 || !strings.Contains(r.stderr, "devopsellence release list --env production") {
		t.Errorf("an unknown release: exit %d\n%s", r.code, r.stderr)
	}
	if r := app.cli(t, "restore", "1a2b3c4d", "--before-release", revB, "--env", "production"); r.code != 2 {
		t.Errorf("a snapshot ID with --before-release: exit %d, want 2", r.code)
	}
}

// TestAnAppWhoseDatabaseIsASQLiteFileInItsVolumeGetsRestorePointsAndRestores
// is the app whose database is a SQLite file in its volume, as init leaves
// its spec (a Rails app's storage/production.sqlite3): the restore point
// before its migration is that file, found and dumped as backup dumps it,
// and restore --before-release restores it without being told its name,
// unless the backups hold several. With nothing found, the checkpoint
// fails and says so.
func TestAnAppWhoseDatabaseIsASQLiteFileInItsVolumeGetsRestorePointsAndRestores(t *testing.T) {
	app := newOpsApp(t, newerRestic(t), opsConfig{filesOnly: true})
	vol := app.sim.VolumeDir("shop_storage")
	seedShop(t, vol, nil)
	must(t, os.Remove(filepath.Join(vol, "cache.db")))
	app.mustOp(t, 0, "backup", "--init")
	const notes, cache = "auto-data-shop_storage-notes.sqlite3", "auto-data-shop_storage-cache.db"
	pointDBs := func() []string {
		var dbs []string
		for _, s := range app.pointSnapshots(t) {
			if slices.Contains(s.Tags, operate.TagFiles) {
				t.Errorf("a checkpoint without --files backed up the files: %v", s.Paths)
			}
			if db := tagValue(s.Tags, operate.TagDBName); db != "" && !slices.Contains(dbs, db) {
				dbs = append(dbs, db)
			}
		}
		slices.Sort(dbs)
		return dbs
	}
	// checkpoint, then deploy a new revision: its revision.
	release := func() string {
		app.mustOp(t, 0, "checkpoint", "--env", "production")
		app.deploy(t, true)
		_, list := app.releaseList(t)
		return list[0]["revision"].(string)
	}

	rev := release()
	if dbs := pointDBs(); !slices.Equal(dbs, []string{notes}) {
		t.Errorf("the restore point holds %v, want the SQLite file of the volume", dbs)
	}
	if d, _ := app.beforeRelease(t, 0, rev); d.Plan == nil || d.Plan.Database == nil || d.Plan.Database.Name != notes || !d.Plan.Release.RestorePoint {
		t.Fatalf("restore --before-release %s: want the restore point of %s, got %+v", rev, notes, d.Plan)
	}

	// Two SQLite files: the restore asks which.
	sqliteQuery(t, filepath.Join(vol, "cache.db"), "CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES ('a', '1');")
	rev = release()
	if dbs := pointDBs(); !slices.Equal(dbs, []string{cache, notes}) {
		t.Errorf("the restore points hold %v, want both SQLite files", dbs)
	}
	r := app.cli(t, "restore", "--before-release", rev, "--env", "production", "--dry-run")
	if r.code != 2 || !strings.Contains(r.stderr, "2 databases ("+cache+", "+notes+"): name the one to restore with --latest db:NAME") {
		t.Errorf("restore --before-release with two databases: exit %d, want 2 naming both\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = app.cli(t, "restore", "--before-release", rev, "--env", "production", "--latest", "db:"+cache, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, cache) {
		t.Errorf("restore --before-release --latest db:%s: exit %d\n%s%s", cache, r.code, r.stdout, r.stderr)
	}

	for _, name := range []string{"notes.sqlite3", "notes.sqlite3-wal", "notes.sqlite3-shm", "cache.db"} {
		_ = os.Remove(filepath.Join(vol, name))
	}
	r = app.cli(t, "checkpoint", "--env", "production")
	if r.code != 1 || !strings.Contains(r.stdout, "no SQLite file was found") {
		t.Errorf("a checkpoint with nothing to take: exit %d, want 1 saying no SQLite file was found\n%s%s", r.code, r.stdout, r.stderr)
	}
}
