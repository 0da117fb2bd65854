package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

type opsStatusDoc struct {
	OK           bool
	Summary      string
	Findings     []reconcile.Finding
	Environments []struct {
		Backups []struct {
			Name      string
			Snapshots int
			Stale     bool
		}
		Operations []struct {
			Kind, Result string
			Stale        bool
		}
	}
}

func (a *opsApp) status(t testing.TB, want int, now time.Time) opsStatusDoc {
	t.Helper()
	r := a.cliAt(t, now, "status", "--output", "json")
	if r.code != want {
		t.Fatalf("status at %s: exit %d, want %d\n%s\n%s", now.Format(time.RFC3339), r.code, want, r.stdout, r.stderr)
	}
	var d opsStatusDoc
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.stdout)
	}
	return d
}

func codes(fs []reconcile.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	slices.Sort(out)
	return out
}

func TestStatusReportsMissingFreshAndStaleEvidenceWithTheFixingCommand(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		now := time.Now()

		d := app.status(t, 1, now)
		if got, want := codes(d.Findings), []string{"check_missing", "drill_missing", "prune_missing"}; !slices.Equal(got, want) {
			t.Fatalf("missing evidence: findings %v, want %v", got, want)
		}
		for _, f := range d.Findings {
			if len(f.NextActions) == 0 || !strings.HasPrefix(f.NextActions[0].Command, "devopsellence-backup ") {
				t.Errorf("%s has no fixing command: %+v", f.Code, f)
			}
		}

		app.mustOp(t, 0, "check")
		app.mustOp(t, 0, "drill")
		app.mustOp(t, 0, "prune")
		if d := app.status(t, 0, time.Now()); !d.OK || len(d.Findings) != 0 {
			t.Fatalf("fresh: %+v", d)
		}

		// Nine days on, the check and the backups are stale, the drill not
		// yet. Only this side's clock moves, so the service's looks 9 days
		// behind: status says so too.
		d = app.status(t, 1, time.Now().Add(9*24*time.Hour))
		if got, want := codes(d.Findings), []string{"backup_stale", "backup_stale", "check_stale", "clock_skew"}; !slices.Equal(got, want) {
			t.Errorf("after 9 days: findings %v, want %v", got, want)
		}
		d = app.status(t, 1, time.Now().Add(40*24*time.Hour))
		if !slices.Contains(codes(d.Findings), "drill_stale") {
			t.Errorf("after 40 days: findings %v", codes(d.Findings))
		}
		for _, f := range d.Findings {
			if f.Code == "backup_stale" && f.NextActions[0].Command != "devopsellence-backup backup --env production" {
				t.Errorf("backup_stale next actions: %+v", f.NextActions)
			}
		}

		// A failed run is a finding even when it is fresh.
		must(t, os.Remove(filepath.Join(app.sim.VolumeDir("shop_storage"), "notes.sqlite3")))
		app.mustOp(t, 1, "backup")
		d = app.status(t, 1, time.Now())
		if !slices.Contains(codes(d.Findings), "backup_failed") {
			t.Errorf("after a failed backup: findings %v", codes(d.Findings))
		}
		// The failed run's evidence says so in its tags, for the schedule.
		evs := app.snapshots(t, "--tag", "evidence:backup")
		if newest := evs[len(evs)-1]; !slices.Contains(newest.Tags, "result:failed") || !slices.Contains(evs[0].Tags, "result:ok") {
			t.Errorf("backup evidence tags: first %v, newest %v", evs[0].Tags, newest.Tags)
		}
	})
}

func TestStatusAndPruneNeverCountOrForgetAnotherAppsSnapshots(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{retention: "keepLast: 1"})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")

		// Another app shares the repository: its own host and tags, its own
		// files snapshots, and fresh evidence of a check.
		other := t.TempDir()
		must(t, os.WriteFile(filepath.Join(other, "data.txt"), []byte("other app"), 0o644))
		for range 4 {
			app.restic(t, "backup", "--host", "blog-production", "--tag", "app:blog,env:production", "--tag", "kind:files", other)
		}
		ev := filepath.Join(t.TempDir(), "evidence.json")
		doc := `{"schema_version":1,"kind":"check","environment":"production","host":"blog-production","result":"ok","finished_at":"` + time.Now().UTC().Format(time.RFC3339) + `","steps":[]}`
		must(t, os.WriteFile(ev, []byte(doc), 0o644))
		f, err := os.Open(ev)
		must(t, err)
		cmd := []string{"backup", "--host", "blog-production", "--tag", "app:blog,env:production,devopsellence-backup:evidence,evidence:check", "--stdin", "--stdin-filename", "devopsellence-backup/evidence-check.json"}
		app.resticStdin(t, f, cmd...)
		f.Close()
		// The same tags on another host are not this app's either.
		app.restic(t, "backup", "--host", "shop-staging", "--tag", "app:shop,env:production", "--tag", "kind:files", other)

		app.mustOp(t, 0, "backup")
		d := app.status(t, 1, time.Now())
		if slices.Contains(codes(d.Findings), "check_stale") || !slices.Contains(codes(d.Findings), "check_missing") {
			t.Errorf("another app's check evidence was counted: %v", codes(d.Findings))
		}
		for _, g := range d.Environments[0].Backups {
			if g.Name == "files" && g.Snapshots != 2 {
				t.Errorf("files: %d snapshots counted, want this app's 2", g.Snapshots)
			}
		}

		prune := app.mustOp(t, 0, "prune")
		forget := prune.step(t, "forget")
		// 2 each of files, notes, cache and backup evidence → keep 1 of each.
		if forget["snapshots_before"] != 8.0 || forget["snapshots_after"] != 4.0 {
			t.Errorf("forget counted %v before and %v after, want this app's 8 and 4", forget["snapshots_before"], forget["snapshots_after"])
		}
		if got := app.snapshots(t, "--host", "blog-production"); len(got) != 5 {
			t.Errorf("the other app has %d snapshots after prune, want its 5", len(got))
		}
		if got := app.snapshots(t, "--host", "shop-staging"); len(got) != 1 {
			t.Errorf("another host's snapshot was forgotten")
		}
	})
}

// TestStatusCannotBeFooledByALookalikeOrAFutureDatedSnapshot: a second app
// shares the repository under this app's very host and tags (with its own
// identity, and with none, as plain restic writes), claims a fresh ok
// backup, and a node with a clock a week ahead stored an "ok" backup. The
// newer failed backup of this app must still show.
func TestStatusCannotBeFooledByALookalikeOrAFutureDatedSnapshot(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		app.mustOp(t, 0, "backup", "--init")
		must(t, os.Remove(filepath.Join(vol, "notes.sqlite3")))
		app.mustOp(t, 1, "backup")

		host, tags := "shop-production", "app:shop,env:production"
		other := t.TempDir()
		must(t, os.WriteFile(filepath.Join(other, "data.txt"), []byte("lookalike"), 0o644))
		future := time.Now().Add(7 * 24 * time.Hour).UTC().Format("2006-01-02 15:04:05")
		soon := time.Now().Add(time.Minute).UTC().Format("2006-01-02 15:04:05")
		// A lookalike with an identity of its own, and one with none.
		app.restic(t, "backup", "--host", host, "--tag", tags+",kind:files,app-id:0123456789ab", "--time", soon, other)
		ev := filepath.Join(t.TempDir(), "evidence-backup.json")
		must(t, os.WriteFile(ev, []byte(`{"schema_version":1,"kind":"backup","result":"ok","steps":[]}`), 0o644))
		f, err := os.Open(ev)
		must(t, err)
		app.resticStdin(t, f, "backup", "--host", host, "--tag", tags+",devopsellence-backup:evidence,evidence:backup,result:ok",
			"--time", soon, "--stdin", "--stdin-filename", "devopsellence-backup/evidence-backup.json")
		f.Close()
		// This app's own identity, from a node whose clock is a week ahead.
		id := app.snapshots(t, "--tag", "kind:files")[0].Tags
		appID := ""
		for _, tag := range id {
			if strings.HasPrefix(tag, "app-id:") {
				appID = tag
			}
		}
		if appID == "" {
			t.Fatalf("this app's snapshots carry no app-id: %v", id)
		}
		app.restic(t, "backup", "--host", host, "--tag", tags+",kind:files,"+appID, "--time", future, other)

		d := app.status(t, 1, time.Now())
		got := codes(d.Findings)
		for _, want := range []string{"backup_failed", "foreign_snapshots", "future_snapshots"} {
			if !slices.Contains(got, want) {
				t.Errorf("findings %v lack %s", got, want)
			}
		}
		for _, op := range d.Environments[0].Operations {
			if op.Kind == "backup" && op.Result != "failed" {
				t.Errorf("the newest backup evidence is %q, want this app's failed one", op.Result)
			}
		}
		for _, g := range d.Environments[0].Backups {
			if g.Name == "files" && g.Snapshots != 2 {
				t.Errorf("files: %d snapshots counted, want this app's 2", g.Snapshots)
			}
		}
	})
}

// TestPruneAppliesTheRetentionToSnapshotsMadeBeforeTheyCarriedTheAppsIdentity:
// an app onboarded by an earlier version has untagged snapshots; forget
// filters by the app's identity, so prune first gives them the identity,
// or they would be kept forever.
func TestPruneAppliesTheRetentionToSnapshotsMadeBeforeTheyCarriedTheAppsIdentity(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{retention: "keepLast: 1"})
		old := t.TempDir()
		must(t, os.WriteFile(filepath.Join(old, "data.txt"), []byte("from before"), 0o644))
		app.restic(t, "init")
		for i := range 3 {
			at := time.Now().Add(time.Duration(-72+i) * time.Hour).UTC().Format("2006-01-02 15:04:05")
			app.restic(t, "backup", "--host", "shop-production", "--tag", "app:shop,env:production,kind:files", "--time", at, old)
		}
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup")
		d := app.mustOp(t, 0, "prune")
		if s := d.step(t, "adopt"); s["result"] != "ok" || s["snapshots"] != 3.0 {
			t.Errorf("adopt = %v", s)
		}
		left := app.snapshots(t, "--path", old)
		if len(left) != 1 {
			t.Fatalf("%d of the old snapshots are left, want the newest 1", len(left))
		}
		if !slices.ContainsFunc(left[0].Tags, func(tag string) bool { return strings.HasPrefix(tag, "app-id:") }) {
			t.Errorf("the kept old snapshot carries no identity: %v", left[0].Tags)
		}
		// Once adopted, a second prune has nothing to adopt.
		d = app.mustOp(t, 0, "prune")
		for _, s := range d.Environments[0].Evidence.Steps {
			if s["name"] == "adopt" {
				t.Errorf("a second prune adopted again: %v", s)
			}
		}
	})
}

func TestStatusMarkdownChartsTheBackupsFromTheirOwnEvidence(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app := newOpsApp(t, rb, opsConfig{filesOnly: true})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		app.mustOp(t, 0, "backup", "--init")
		ev := app.snapshots(t, "--tag", "devopsellence-backup:evidence,evidence:backup")
		if len(ev) != 1 || !slices.ContainsFunc(ev[0].Tags, func(s string) bool { return strings.HasPrefix(s, "bytes:") && s != "bytes:0" }) ||
			!slices.ContainsFunc(ev[0].Tags, func(s string) bool { return strings.HasPrefix(s, "seconds:") }) {
			t.Fatalf("the backup's evidence does not say its size and duration in its tags: %+v", ev)
		}
		now := time.Now()
		r := app.cliAt(t, now, "status", "--output", "markdown")
		// No check or drill yet: attention needed, with the summary all the same.
		if r.code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		md := r.stdout
		if !strings.HasPrefix(md, "<!-- devopsellence-backup:status -->\n") || !strings.Contains(md, "| Last restore drill | never | ⛔ |") {
			t.Fatalf("markdown:\n%s", md)
		}
		today := `"` + now.UTC().Format("01-02") + `"]`
		bars := regexp.MustCompile(`bar \[(.*)\]`).FindStringSubmatch(md)
		if !strings.Contains(md, today) || bars == nil || strings.HasSuffix(bars[1], ", 0") {
			t.Errorf("the chart does not show today's backup (%q):\n%s", today, md)
		}
		if r := app.cliAt(t, now, "status", "--output", "yaml"); r.code != 2 {
			t.Errorf("--output yaml: exit %d, want 2", r.code)
		}
	})
}

func TestStatusMarkdownThatFailsShowsTheErrorUnderItsMarker(t *testing.T) {
	streams, out, errb := iostreams.Test("")
	// No HOME or state home: status fails before it reaches any service.
	code := cli.Main(context.Background(), []string{"status", "--output", "markdown", "--dir", t.TempDir()}, streams, nil)
	if code != operate.ExitFailed || !strings.HasPrefix(out.String(), "<!-- devopsellence-backup:status -->\n### ⛔ devopsellence-backup status failed") ||
		!strings.Contains(out.String(), "cannot place local state") || !strings.Contains(errb.String(), "cannot place local state") {
		t.Errorf("exit %d stdout %q stderr %q", code, out, errb)
	}
}

// TestStatusMarkdownOnYearsOfHistoryOpensTheRepositoryTwiceAtMost: the
// chart is drawn from what status already reads (the evidence's tags), so
// the Markdown costs no repository open more than the text.
func TestStatusMarkdownOnYearsOfHistoryOpensTheRepositoryTwiceAtMost(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		app, argvLog := newHistoryApp(t, rb)
		r := app.cliAt(t, time.Now(), "status", "--output", "markdown")
		if r.code != 1 || !strings.HasPrefix(r.stdout, "<!-- devopsellence-backup:status -->\n") || !strings.Contains(r.stdout, "xychart-beta") {
			t.Fatalf("exit %d, want 1 (no check or drill yet), with the chart:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		if n := opens(t, argvLog); n == 0 || n > 2 {
			t.Errorf("status --output markdown opened the repository %d times, want 1 or 2 (the log of restic calls):\n%s", n, readFile(t, argvLog))
		}
	})
}
