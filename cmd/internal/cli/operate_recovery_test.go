package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// browseDoc decodes the JSON document of snapshots, ls and find.
type browseDoc struct {
	OK           bool
	Summary      string
	Findings     []reconcile.Finding
	Environments []struct {
		Environment string
		Browse      *operate.Browse
	}
}

func (a *opsApp) browse(t *testing.T, want int, args ...string) operate.Browse {
	t.Helper()
	r := a.cli(t, append(args, "--output", "json")...)
	if r.code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	var d browseDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || len(d.Environments) != 1 || d.Environments[0].Browse == nil {
		t.Fatalf("%s: not a browse document with an answer (%v):\n%s\n%s", strings.Join(args, " "), err, r.stdout, r.stderr)
	}
	return *d.Environments[0].Browse
}

// restoreDoc decodes the JSON document of restore.
type restoreDoc struct {
	OK       bool
	Summary  string
	Findings []reconcile.Finding
	Plan     *operate.RestorePlan
	Approval string
	Result   *struct {
		Result   string
		Evidence *operate.Evidence
	}
}

func (d restoreDoc) step(t *testing.T, name string) operate.Step {
	t.Helper()
	if d.Result == nil || d.Result.Evidence == nil {
		t.Fatalf("the restore has no result: %+v", d)
	}
	for _, s := range d.Result.Evidence.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, d.Result.Evidence.Steps)
	return operate.Step{}
}

func (d restoreDoc) finding(code string) *reconcile.Finding {
	for i := range d.Findings {
		if d.Findings[i].Code == code {
			return &d.Findings[i]
		}
	}
	return nil
}

func (a *opsApp) restore(t *testing.T, want int, args ...string) restoreDoc {
	t.Helper()
	r := a.cli(t, append(append([]string{"restore"}, args...), "--output", "json")...)
	if r.code != want {
		t.Fatalf("restore %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	var d restoreDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("restore %s: stdout is not the document: %v\n%s\n%s", strings.Join(args, " "), err, r.stdout, r.stderr)
	}
	return d
}

// approved restores as a person does off a terminal: the plan first
// (--dry-run), then the same restore approved with the plan's ID.
func (a *opsApp) approved(t *testing.T, want int, args ...string) restoreDoc {
	t.Helper()
	dry := a.restore(t, 0, append(slices.Clone(args), "--dry-run")...)
	if dry.Plan == nil {
		t.Fatalf("restore %s --dry-run: no plan", strings.Join(args, " "))
	}
	return a.restore(t, want, append(args, "--approve", dry.Plan.ID)...)
}

// newest is the ID of the newest snapshot carrying every tag.
func (a *opsApp) newest(t *testing.T, tags ...string) string {
	t.Helper()
	list := a.snapshots(t, "--tag", strings.Join(tags, ","))
	if len(list) == 0 {
		t.Fatalf("no snapshot tagged %v", tags)
	}
	slices.SortFunc(list, func(x, y snapshot) int { return x.Time.Compare(y.Time) })
	return list[len(list)-1].ID
}

// readTree maps each entry under dir to its content ("dir/" for folders).
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.IsDir():
			out[rel] = "dir/"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s is missing", what, k)
		} else if g != v {
			t.Errorf("%s: %s differs (%d bytes, want %d)", what, k, len(g), len(v))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s should not be there", what, k)
		}
	}
}

func noScratchLeft(t *testing.T, vol string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(vol, ".devopsellence-restore-*")); len(left) > 0 {
		t.Errorf("scratch folders left in the volume: %v", left)
	}
}

func TestSnapshotsLsAndFindShowWhatTheBackupsHold(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		app.mustOp(t, 0, "backup")

		b := app.browse(t, 0, "snapshots")
		if b.Total != 6 {
			t.Errorf("snapshots total = %d, want 6 (two backups of three groups; evidence is not a backup)", b.Total)
		}
		var names []string
		for _, g := range b.Groups {
			names = append(names, g.Name)
			if g.Count != 2 || len(g.Snapshots) != 2 || g.Snapshots[0].Time.Before(g.Snapshots[1].Time) {
				t.Errorf("group %s: count %d, %d listed, want 2 newest first", g.Name, g.Count, len(g.Snapshots))
			}
			for _, s := range g.Snapshots {
				if s.Run == nil || s.Run.Kind != "backup" || s.Run.Result != "ok" || s.Run.Trigger != "manual" || s.Host != "shop-production" {
					t.Errorf("group %s snapshot %.8s: run %+v host %s", g.Name, s.ID, s.Run, s.Host)
				}
				if (s.Bytes > 0) != !strings.HasPrefix(rb.version, "0.14") {
					t.Errorf("snapshot %.8s size %d: known from restic 0.17, which stores it", s.ID, s.Bytes)
				}
			}
		}
		if want := []string{"files", "db:auto-data-shop_storage-cache.db", "db:notes"}; !slices.Equal(names, want) {
			t.Errorf("groups = %v, want %v", names, want)
		}
		files := b.Groups[0]
		if !slices.Equal(files.Paths, []string{"/data/shop_storage"}) {
			t.Errorf("files paths = %v", files.Paths)
		}
		id := files.Snapshots[0].ID
		if one := app.browse(t, 0, "snapshots", "--limit", "1"); len(one.Groups[0].Snapshots) != 1 || one.Groups[0].Count != 2 || !one.Shortened {
			t.Errorf("--limit 1: %+v", one.Groups[0])
		}

		ls := app.browse(t, 0, "ls", id[:8], "/data/shop_storage/uploads")
		var paths []string
		for _, e := range ls.Entries {
			paths = append(paths, e.Path)
		}
		if ls.Total != 9 || len(paths) != 9 || !slices.Contains(paths, "/data/shop_storage/uploads/2026") || !slices.Contains(paths, "/data/shop_storage/uploads/doc-7.txt") {
			t.Errorf("ls uploads: total %d, %v", ls.Total, paths)
		}
		page := app.browse(t, 0, "ls", id[:8], "/data/shop_storage/uploads", "--limit", "4", "--offset", "4")
		if page.Total != 9 || len(page.Entries) != 4 || !page.Shortened || page.Entries[0].Path != ls.Entries[4].Path {
			t.Errorf("ls page 2: %+v", page)
		}
		top := app.browse(t, 0, "ls", id)
		if top.Dir != "/data/shop_storage" || !slices.ContainsFunc(top.Entries, func(e operate.Entry) bool { return e.Path == "/data/shop_storage/uploads" && e.Type == "dir" }) {
			t.Errorf("ls without a folder: %+v", top)
		}
		if slices.ContainsFunc(top.Entries, func(e operate.Entry) bool { return strings.HasSuffix(e.Path, ".sqlite3") }) {
			t.Errorf("the files snapshot lists a live database file: %+v", top.Entries)
		}
		if r := app.cli(t, "ls", "deadbeef", "--output", "json"); r.code != 2 || !strings.Contains(r.stdout, "no snapshot deadbeef") {
			t.Errorf("ls of a snapshot that is not there: exit %d\n%s", r.code, r.stdout)
		}
		if r := app.cli(t, "ls", id[:8], "/data/shop_storage/nope"); r.code != 2 || !strings.Contains(r.stderr, "/data/shop_storage/nope is not in snapshot "+id[:8]) || strings.Contains(r.stderr, "run it again") {
			t.Errorf("ls of a folder that is not in the snapshot: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := app.cli(t, "find", "["); r.code != 2 || !strings.Contains(r.stderr, "not a valid pattern") || strings.Contains(r.stderr, ".go:") {
			t.Errorf("find of a bad pattern: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}

		found := app.browse(t, 0, "find", "doc-3.txt")
		if found.Total != 2 || len(found.Matches) != 2 || found.Matches[0].SnapshotID != id || found.Matches[0].Path != "/data/shop_storage/uploads/doc-3.txt" {
			t.Errorf("find doc-3.txt: %+v", found)
		}

		text := app.cli(t, "snapshots")
		if text.code != 0 || !strings.Contains(text.stdout, "files  /data/shop_storage  (2 snapshots)") || !strings.Contains(text.stdout, id[:8]) || !strings.Contains(text.stdout, "backup ok (manual)") {
			t.Errorf("snapshots text: exit %d\n%s", text.code, text.stdout)
		}
		if r := app.cli(t, "ls", id[:8], "/data/shop_storage/uploads"); r.code != 0 || !strings.Contains(r.stdout, "/data/shop_storage/uploads/2026/") {
			t.Errorf("ls text: exit %d\n%s", r.code, r.stdout)
		}
	})
}

func TestAFileRestoreIntoTheLiveVolumeSavesWhatItOverwritesFirst(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		app.mustOp(t, 0, "backup", "--init")
		id := app.newest(t, "kind:files")
		uploads := filepath.Join(vol, "uploads")
		backedUp := readTree(t, uploads)

		// The app changes, loses and adds files after the backup.
		must(t, os.WriteFile(filepath.Join(uploads, "doc-1.txt"), []byte("changed\n"), 0o644))
		must(t, os.Remove(filepath.Join(uploads, "doc-2.txt")))
		must(t, os.WriteFile(filepath.Join(uploads, "new.txt"), []byte("made after the backup\n"), 0o644))
		changed := readTree(t, uploads)
		notes := filepath.Join(vol, "notes.sqlite3")
		sqliteQuery(t, notes, "INSERT INTO notes(body) VALUES ('after the backup')")
		rows := sqliteQuery(t, notes, "SELECT count(*) FROM notes")

		dry := app.restore(t, 0, id[:8], "/data/shop_storage/uploads", "--dry-run")
		f := dry.Plan.Files
		if f == nil || f.Changed.Files != 1 || f.Identical.Files != 7 || f.Deleted.Files != 1 || f.Added.Files != 1 || f.Snapshot.Files != 9 || f.Live.Files != 9 ||
			!slices.Equal(f.DeletedSample, []string{"/data/shop_storage/uploads/new.txt"}) || !slices.Equal(f.ChangedSample, []string{"/data/shop_storage/uploads/doc-1.txt"}) ||
			!slices.Equal(f.AddedSample, []string{"/data/shop_storage/uploads/doc-2.txt"}) || dry.Plan.Snapshot.ID != id || !dry.Plan.Live() {
			t.Errorf("plan = %+v, files %+v", dry.Plan, f)
		}
		sameTree(t, "after --dry-run", readTree(t, uploads), changed)

		res := app.restore(t, 0, id[:8], "/data/shop_storage/uploads", "--approve", dry.Plan.ID)
		if !res.OK || res.Approval != "--approve" || res.Plan.ID != dry.Plan.ID {
			t.Fatalf("restore: %+v", res)
		}
		sameTree(t, "restored uploads", readTree(t, uploads), backedUp)
		noScratchLeft(t, vol)
		if got := sqliteQuery(t, notes, "SELECT count(*) FROM notes"); got != rows {
			t.Errorf("the live database changed: %s rows, want %s", got, rows)
		}
		// The undo was saved first, and holds what the restore overwrote.
		undo := res.step(t, "pre-restore saved").Fact("snapshot_id")
		if s := res.step(t, "restore"); s.Result != "ok" || s.Fact("undo_snapshot_id") != undo || undo == "" {
			t.Errorf("restore step %+v, undo %q", s, undo)
		}
		var pre snapshot
		for _, s := range app.snapshots(t, "--tag", "pre-restore:"+dry.Plan.ID) {
			if strings.HasPrefix(s.ID, undo) {
				pre = s
			}
		}
		if pre.ID == "" || !slices.Contains(pre.Tags, "kind:files") || !pre.Time.Before(app.evidenceTime(t, "restore")) {
			t.Fatalf("pre-restore snapshot %s: %+v", undo, pre)
		}
		if got := string(app.restic(t, "dump", pre.ID, "/data/shop_storage/uploads/new.txt")); got != "made after the backup\n" {
			t.Errorf("the undo holds new.txt as %q", got)
		}

		// A whole volume: its entries are swapped; its live databases stay.
		must(t, os.WriteFile(filepath.Join(vol, "top.txt"), []byte("top\n"), 0o644))
		whole := app.approved(t, 0, id)
		if !whole.OK || !slices.Contains(whole.Plan.Files.Kept, "/data/shop_storage/notes.sqlite3") || !slices.Contains(whole.Plan.Files.Kept, filepath.Join("/data/shop_storage", "cache.db")) {
			t.Errorf("whole volume: %+v (kept %v)", whole.Summary, whole.Plan.Files.Kept)
		}
		if _, err := os.Stat(filepath.Join(vol, "top.txt")); !os.IsNotExist(err) {
			t.Errorf("top.txt, made after the backup, is still there: %v", err)
		}
		sameTree(t, "uploads after the whole restore", readTree(t, uploads), backedUp)
		if got := sqliteQuery(t, notes, "SELECT count(*) FROM notes"); got != rows {
			t.Errorf("the live database changed: %s rows, want %s", got, rows)
		}
		if got := sqliteQuery(t, filepath.Join(vol, "cache.db"), "SELECT count(*) FROM kv"); got != "2" {
			t.Errorf("the found database changed: %s", got)
		}
		noScratchLeft(t, vol)

		r := app.cli(t, "status", "--output", "json")
		var st struct {
			Environments []struct{ Operations []operate.Operation }
		}
		must(t, json.Unmarshal([]byte(r.stdout), &st))
		if i := slices.IndexFunc(st.Environments[0].Operations, func(o operate.Operation) bool { return o.Kind == "restore" }); i < 0 || st.Environments[0].Operations[i].Result != "ok" {
			t.Errorf("status does not show the last restore: %s", r.stdout)
		}
	})
}

// evidenceTime is the time of the newest evidence of kind.
func (a *opsApp) evidenceTime(t *testing.T, kind string) time.Time {
	t.Helper()
	list := a.snapshots(t, "--tag", "devopsellence-backup:evidence,evidence:"+kind)
	if len(list) == 0 {
		t.Fatalf("no %s evidence", kind)
	}
	return list[len(list)-1].Time
}

func TestARestoreIsRefusedWithoutApprovalAndWhenItsBackupFailsAndOverwritesNothing(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		marker := filepath.Join(t.TempDir(), "fail-the-pre-restore-backup")
		wrapper := fmt.Sprintf("#!/bin/sh\nif [ -e %s ]; then for a in \"$@\"; do case \"$a\" in --tag=pre-restore:*) echo 'Fatal: the test fails this backup' >&2; exit 1;; esac; done; fi\nexec %s \"$@\"\n", marker, rb.path)
		app := newOpsApp(t, rb, opsConfig{bin: map[string]string{"restic": wrapper}})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		app.mustOp(t, 0, "backup", "--init")
		id := app.newest(t, "kind:files")
		uploads := filepath.Join(vol, "uploads")
		must(t, os.WriteFile(filepath.Join(uploads, "doc-1.txt"), []byte("changed\n"), 0o644))
		changed := readTree(t, uploads)
		untouched := func(what string) {
			t.Helper()
			sameTree(t, what, readTree(t, uploads), changed)
			noScratchLeft(t, vol)
		}

		r := app.cli(t, "restore", id[:8], "/data/shop_storage/uploads")
		if r.code != 2 || !strings.Contains(r.stderr, "--approve ") || !strings.Contains(r.stdout, "Restore plan") {
			t.Errorf("without approval: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		untouched("without approval")
		if r := app.cli(t, "restore", id[:8], "/data/shop_storage/uploads", "--yes"); r.code != 2 || !strings.Contains(r.stderr, "--yes is not enough") {
			t.Errorf("--yes: exit %d\n%s", r.code, r.stderr)
		}
		untouched("with --yes")
		other := app.newest(t, "db:notes")
		if r := app.cli(t, "restore", id[:8], "/data/shop_storage/uploads", "--approve", other[:8]); r.code != 2 || !strings.Contains(r.stderr, "does not name this plan") {
			t.Errorf("a wrong --approve: exit %d\n%s", r.code, r.stderr)
		}
		untouched("with a wrong --approve")
		if r := app.cli(t, "restore", "latest"); r.code != 2 || !strings.Contains(r.stderr, "not a clear target") {
			t.Errorf("a bare latest: exit %d\n%s", r.code, r.stderr)
		}

		// The agent refuses a plan that changed after it was shown.
		dry := app.restore(t, 0, id[:8], "/data/shop_storage/uploads", "--dry-run")
		must(t, os.WriteFile(filepath.Join(uploads, "late.txt"), []byte("written after the plan\n"), 0o644))
		changed = readTree(t, uploads)
		ex := app.sim.Run(t, "exec", "backup", "--env", "production", "--", "devopsellence-backup", "agent", "restore", "--json",
			"--plan-id", dry.Plan.ID, "--approve", dry.Plan.ID, "--", id, "/data/shop_storage/uploads")
		if ex.Code != 1 || !strings.Contains(string(ex.Stdout), "plan_changed") {
			t.Errorf("a changed plan: exit %d\n%s", ex.Code, ex.Stdout)
		}
		untouched("after a changed plan")

		// When the backup of what would be overwritten fails, nothing is.
		must(t, os.WriteFile(marker, nil, 0o644))
		res := app.approved(t, 1, id[:8], "/data/shop_storage/uploads")
		if f := res.finding("pre_restore_failed"); f == nil || res.OK {
			t.Errorf("findings = %+v", res.Findings)
		}
		untouched("after a failed pre-restore backup")
	})
}

// TestAnApprovalNamesThePlanThePersonReviewed: a plan that deleted nothing
// when reviewed must not run once the app has added files that it would
// delete; the approval names the plan, and the agent checks it itself.
func TestAnApprovalNamesThePlanThePersonReviewed(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		app.mustOp(t, 0, "backup", "--init")
		id := app.newest(t, "kind:files")
		uploads := filepath.Join(vol, "uploads")

		dry := app.restore(t, 0, id[:8], "/data/shop_storage/uploads", "--dry-run")
		if dry.Plan.Files.Deleted.Files != 0 {
			t.Fatalf("the reviewed plan deletes %d files", dry.Plan.Files.Deleted.Files)
		}
		if !slices.Equal(dry.Plan.Writers, []string{"web"}) {
			t.Errorf("the plan names %v as the services that write these paths, want web", dry.Plan.Writers)
		}
		want := "devopsellence-backup restore " + id[:8] + " /data/shop_storage/uploads --env production --approve " + dry.Plan.ID
		if text := app.cli(t, "restore", id[:8], "/data/shop_storage/uploads", "--dry-run"); text.code != 0 || !strings.Contains(text.stdout, want) {
			t.Errorf("--dry-run does not print the command that carries out its plan (%s):\n%s", want, text.stdout)
		}
		for i := range 20 {
			must(t, os.WriteFile(filepath.Join(uploads, fmt.Sprintf("new-%d.txt", i)), []byte("written after the review\n"), 0o644))
		}
		changed := readTree(t, uploads)

		r := app.cli(t, "restore", id[:8], "/data/shop_storage/uploads", "--approve", dry.Plan.ID)
		if r.code != 2 || !strings.Contains(r.stderr, "does not name this plan") || !strings.Contains(r.stdout, "deleted:     20 files") {
			t.Errorf("the approval of an older plan: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		sameTree(t, "after the approval of an older plan", readTree(t, uploads), changed)
		if r := app.cli(t, "restore", id[:8], "/data/shop_storage/uploads", "--approve", id[:8]); r.code != 2 || !strings.Contains(r.stderr, "not a snapshot's") {
			t.Errorf("--approve with the snapshot: exit %d\n%s", r.code, r.stderr)
		}
		sameTree(t, "after --approve with the snapshot", readTree(t, uploads), changed)

		// The agent refuses a plan whose approval names anything else.
		now := app.restore(t, 0, id[:8], "/data/shop_storage/uploads", "--dry-run")
		ex := app.sim.Run(t, "exec", "backup", "--env", "production", "--", "devopsellence-backup", "agent", "restore", "--json",
			"--plan-id", now.Plan.ID, "--approve", id, "--", id, "/data/shop_storage/uploads")
		if ex.Code != 1 || !strings.Contains(string(ex.Stdout), "not_approved") {
			t.Errorf("the agent with the snapshot as approval: exit %d\n%s", ex.Code, ex.Stdout)
		}
		sameTree(t, "after the agent's refusal", readTree(t, uploads), changed)

		res := app.restore(t, 0, id[:8], "/data/shop_storage/uploads", "--approve", now.Plan.ID)
		if !res.OK || res.Plan.Files.Deleted.Files != 20 {
			t.Errorf("the reviewed plan: %+v", res)
		}
	})
}
