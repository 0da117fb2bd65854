package operate

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

const twoPostgres = `    - {name: main, engine: postgres, urlSecret: DATABASE_URL, format: plain}
    - {name: kw, engine: postgres, urlSecret: KEYWORD_DSN, format: plain}`

func TestADatabasePasswordReachesTheDumperOnlyInItsEnvironment(t *testing.T) {
	es := fakeSpec(t, twoPostgres)
	for _, version := range []string{"0.14.0", "0.18.1"} {
		t.Run(version, func(t *testing.T) {
			f := newFakeEnv(t, version, map[string]string{"pg_dump": fakePgDump},
				"DATABASE_URL=postgres://app@db.example/app?sslmode=disable&password=hunter22-in-query",
				"KEYWORD_DSN=host=db.example user=app password=hunter22-in-dsn dbname=app")
			out, text := f.run(t, Script(OpBackup, es, "backup"))
			argv := f.read("restic.argv") + f.read("pg_dump.argv")
			if !strings.HasPrefix(f.read("pg_dump.argv"), "--dbname=postgres://app@db.example/app?sslmode=disable --") {
				t.Fatalf("pg_dump did not run with the URL without its password:\n%s", argv)
			}
			if version == "0.18.1" && len(f.calls("backup --json --quiet --host shop-production --tag app:shop,env:production --tag kind:db,db:main,engine:postgres --stdin-filename main.sql --stdin-from-command -- pg_dump")) != 1 {
				t.Errorf("restic did not run pg_dump:\n%s", argv)
			}
			if got := f.read("pg_dump.password"); got != "hunter22-in-query\n" {
				t.Errorf("pg_dump's PGPASSWORD = %q", got)
			}
			for where, s := range map[string]string{"argv": argv, "output": text} {
				if strings.Contains(s, "hunter22") {
					t.Errorf("a database password is in the %s:\n%s", where, s)
				}
			}
			if strings.Count(f.read("pg_dump.argv"), "\n") != 1 {
				t.Errorf("pg_dump ran for the keyword DSN:\n%s", f.read("pg_dump.argv"))
			}
			kw := out.Result.Step("db:kw")
			if kw == nil || kw.Result != ResultFailed || kw.Error != "bad_url" || !strings.Contains(kw.Message, "KEYWORD_DSN must be a postgres://") {
				t.Errorf("db:kw = %+v", kw)
			}
			if main := out.Result.Step("db:main"); main == nil || main.Result != ResultOK || main.Fact("file") != "/main.sql" {
				t.Errorf("db:main = %+v", main)
			}
			if out.Result.SchemaVersion != EvidenceSchema {
				t.Errorf("schema_version = %d", out.Result.SchemaVersion)
			}
		})
	}
}

func TestQueryOutputIsScrubbedBeforeItBecomesEvidence(t *testing.T) {
	psql := "#!/bin/sh\necho \"secret row $PGPASSWORD and $OTHER_URL\"\n"
	f := newFakeEnv(t, "0.18.1", map[string]string{"psql": psql},
		"DATABASE_URL=postgres://app:querypw-1234@db/app", "OTHER_URL=postgres://x:otherpw-5678@db/x")
	snippet := "SECRET_NAMES='DATABASE_URL OTHER_URL'\nKIND=test\n" + libSH + drillSH + `pg_query DATABASE_URL postgres://app@db/app 'SELECT 1'`
	out := shellIn(t, f, snippet)
	if strings.Contains(out, "querypw-1234") || strings.Contains(out, "otherpw-5678") || !strings.Contains(out, "secret row *** and ***") {
		t.Errorf("pg_query printed %q", out)
	}
}

// evidenceList is restic's snapshot list of check evidence with the given
// tags, oldest first.
func evidenceList(tags ...string) string {
	var items []string
	for i, extra := range tags {
		t := `"app:shop","env:production","devopsellence-backup:evidence","evidence:check"`
		for _, x := range strings.Split(extra, ",") {
			if x != "" {
				t += `,"` + x + `"`
			}
		}
		items = append(items, fmt.Sprintf(`{"time":"2026-11-%02dT10:00:00Z","paths":["/devopsellence-backup/evidence-check.json"],"hostname":"shop-production","tags":[%s],"id":"e%d","short_id":"e%d"}`, i+1, t, i, i))
	}
	return "[" + strings.Join(items, ",") + "]"
}

func TestCheckRotationAdvancesOnlyPastAVerifiedPart(t *testing.T) {
	es := fakeSpec(t, "    - {name: notes, engine: sqlite, path: /nonexistent/a/n.db}")
	es.Check.ReadDataParts = 4
	tests := []struct {
		name     string
		list     string
		rc       string
		want     string
		wantTags string
	}{
		{"no evidence", evidenceList(), "0", "1/4", "result:ok,check-part:1/4"},
		{"after a verified part", evidenceList("result:ok,check-part:2/4"), "0", "3/4", "result:ok,check-part:3/4"},
		{"a failed check and one without subset after it", evidenceList("result:ok,check-part:2/4", "result:failed", "result:ok"), "0", "3/4", "result:ok,check-part:3/4"},
		{"another rotation's part is not ours", evidenceList("result:ok,check-part:2/4", "result:ok,check-part:5/10"), "0", "3/4", "result:ok,check-part:3/4"},
		{"after the last part", evidenceList("result:ok,check-part:4/4"), "0", "1/4", "result:ok,check-part:1/4"},
		{"a failed check records no part", evidenceList("result:ok,check-part:1/4"), "1", "2/4", "result:failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEnv(t, "0.18.1", map[string]string{}, "FAKE_CHECK_RC="+tc.rc)
			f.write(t, "snapshots.json", tc.list)
			out, _ := f.run(t, Script(OpCheck, es, "backup"), "subset=auto")
			if s := out.Result.Step("check"); s == nil || s.Fact("subset") != tc.want {
				t.Errorf("check step = %+v, want subset %s", s, tc.want)
			}
			if got := f.calls("check"); len(got) != 1 || !strings.Contains(got[0], "--read-data-subset "+tc.want) {
				t.Errorf("restic check calls: %q", got)
			}
			stored := f.calls("backup")
			if len(stored) != 1 || !strings.Contains(stored[0], "--tag devopsellence-backup:evidence,evidence:check,"+tc.wantTags+" ") {
				t.Errorf("evidence stored as %q, want tags %s", stored, tc.wantTags)
			}
			if len(f.calls("dump")) != 0 || len(f.calls("snapshots")) != 1 {
				t.Errorf("restic calls:\n%s", f.read("restic.argv"))
			}
		})
	}
}

// forgetJSON is `restic forget --json` of 0.18 and of 0.14: two groups;
// "reasons" lists the kept snapshots again, with their ids since 0.16.
var forgetJSON = map[string]string{
	"0.18.1": `[{"tags":null,"host":"shop-production","paths":["/e.json"],"keep":[{"time":"2026-11-25T20:42:06Z","paths":["/e.json"],"id":"k1","short_id":"k1"}],"remove":[{"time":"2026-11-25T20:42:05Z","id":"r1","short_id":"r1"},{"time":"2026-11-25T20:42:04Z","id":"r2","short_id":"r2"}],"reasons":[{"snapshot":{"time":"2026-11-25T20:42:06Z","id":"k1","short_id":"k1"},"matches":["last snapshot"]}]},` +
		`{"tags":null,"host":"shop-production","paths":["/d"],"keep":[{"time":"2026-11-25T20:42:06Z","parent":"p","id":"k2","short_id":"k2"}],"remove":null,"reasons":[{"snapshot":{"time":"2026-11-25T20:42:06Z","id":"k2","short_id":"k2"},"matches":["last snapshot"]}]}]
`,
	"0.14.0": `[{"tags":null,"host":"shop-production","paths":["/e.json"],"keep":[{"time":"2026-11-25T20:42:06Z","paths":["/e.json"],"id":"k1","short_id":"k1"}],"remove":[{"time":"2026-11-25T20:42:05Z","id":"r1","short_id":"r1"},{"time":"2026-11-25T20:42:04Z","id":"r2","short_id":"r2"}],"reasons":[{"snapshot":{"time":"2026-11-25T20:42:06Z","paths":["/e.json"]},"matches":["last snapshot"],"counters":{}}]},` +
		`{"tags":null,"host":"shop-production","paths":["/d"],"keep":[{"time":"2026-11-25T20:42:06Z","parent":"p","id":"k2","short_id":"k2"}],"remove":null,"reasons":[{"snapshot":{"time":"2026-11-25T20:42:06Z","parent":"p"},"matches":["last snapshot"],"counters":{}}]}]
`,
}

func TestPruneCountsSnapshotsFromForgetsOwnJSON(t *testing.T) {
	es := fakeSpec(t, "    - {name: notes, engine: sqlite, path: /nonexistent/a/n.db}")
	for version, list := range forgetJSON {
		t.Run(version, func(t *testing.T) {
			f := newFakeEnv(t, version, map[string]string{}, "BACKUP_RETENTION=--keep-last 1")
			f.write(t, "forget.json", list)
			out, _ := f.run(t, Script(OpPrune, es, "backup"))
			s := out.Result.Step("forget")
			if s == nil || s.Result != ResultOK || s.Fact("snapshots_before") != "4" || s.Fact("snapshots_after") != "2" || !strings.HasPrefix(s.Message, "2 snapshot(s) forgotten, 2 kept") {
				t.Errorf("forget step = %+v", s)
			}
			if got := f.calls("snapshots"); len(got) != 0 {
				t.Errorf("prune listed snapshots: %q", got)
			}
		})
	}
}

func TestOnlyACheckOfAPartTagsItsEvidenceWithThePart(t *testing.T) {
	es := fakeSpec(t, "    - {name: notes, engine: sqlite, path: /nonexistent/a/n.db}")
	for _, args := range [][]string{nil, {"subset=5%"}} {
		f := newFakeEnv(t, "0.18.1", map[string]string{})
		f.run(t, Script(OpCheck, es, "backup"), args...)
		stored := f.calls("backup")
		if len(stored) != 1 || !strings.Contains(stored[0], "--tag devopsellence-backup:evidence,evidence:check,result:ok --stdin") {
			t.Errorf("check %v: evidence stored as %q", args, stored)
		}
	}
}

func TestADrillListsTheSnapshotsOnce(t *testing.T) {
	es := fakeSpec(t, twoPostgres+"\n    - {name: notes, engine: sqlite, path: /nonexistent/a/n.db}")
	f := newFakeEnv(t, "0.18.1", map[string]string{})
	f.write(t, "snapshots.json", `[{"time":"2026-11-25T10:00:00Z","paths":["/notes.sqlite3"],"hostname":"shop-production","tags":["app:shop","env:production","kind:db","db:notes","engine:sqlite"],"id":"n1"}]`)
	out, _ := f.run(t, Script(OpDrill, es, "backup"))
	if got := f.calls("snapshots"); len(got) != 1 {
		t.Errorf("the drill listed snapshots %d times: %q", len(got), got)
	}
	// The sqlite dump is looked up in the listing, by its tags and path.
	if got := f.calls("dump"); !slices.Equal(got, []string{"dump n1 /notes.sqlite3"}) {
		t.Errorf("restic dump calls: %q", got)
	}
	for _, name := range []string{"db:main", "db:kw"} {
		if s := out.Result.Step(name); s == nil || s.Error != "no_snapshot" || !strings.Contains(s.Message, "/"+strings.TrimPrefix(name, "db:")+".sql") {
			t.Errorf("%s = %+v", name, s)
		}
	}
}

// shellIn runs script in sh with the fake service's environment and
// returns its output (stdout and stderr).
func shellIn(t *testing.T, f *fakeEnv, script string) string {
	t.Helper()
	cmd := exec.Command("sh", "-c", "set -u\n"+script)
	cmd.Env = f.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	return string(out)
}

func TestAfterARestartTheScheduleRetriesAFailedRunSoonerThanAGoodOne(t *testing.T) {
	// Now is 2026-11-25 12:00 UTC; backups every 6h, retried after 1h.
	const now = 1795608000
	at := func(hhmm string) string { return "2026-11-25T" + hhmm + ":00.123456789Z" }
	line := func(id, hhmm, tags string) string {
		return id + "\t" + at(hhmm) + "\t/devopsellence-backup/evidence-x.json\tapp:shop,env:production,devopsellence-backup:evidence," + tags + "\n"
	}
	tests := []struct {
		name, tsv, kind string
		atSeconds       int
		want            int
	}{
		{"no evidence: now", "", "backup", -1, now},
		{"a good backup: its interval", line("a", "09:00", "evidence:backup,result:ok"), "backup", -1, now + 3*3600},
		{"a partial backup counts as run", line("a", "09:00", "evidence:backup,result:partial"), "backup", -1, now + 3*3600},
		{"evidence from before the result tags counts as run", line("a", "09:00", "evidence:backup"), "backup", -1, now + 3*3600},
		{"a failed backup after a good one: retried", line("a", "09:00", "evidence:backup,result:ok") + line("b", "11:30", "evidence:backup,result:failed"), "backup", -1, now + 1800},
		{"a failed backup before a good one: forgotten", line("b", "08:00", "evidence:backup,result:failed") + line("a", "09:00", "evidence:backup,result:ok"), "backup", -1, now + 3*3600},
		{"only failed backups: now", line("b", "11:30", "evidence:backup,result:failed"), "backup", -1, now},
		{"other kinds do not count", line("a", "09:00", "evidence:backup,result:ok") + line("c", "11:50", "evidence:check,result:failed"), "backup", -1, now + 3*3600},
		{"a failed check after a good one: retried", line("g", "09:00", "evidence:check,result:ok") + line("c", "11:30", "evidence:check,result:failed") + line("a", "10:00", "evidence:backup,result:ok"), "check", -1, now + 1800},
		{"daily: the next 02:30", line("a", "02:30", "evidence:backup,result:ok"), "backup", 9000, now + 14*3600 + 1800},
		{"daily, failed since: retried", line("a", "02:30", "evidence:backup,result:ok") + line("b", "11:30", "evidence:backup,result:failed"), "backup", 9000, now + 1800},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEnv(t, "0.18.1", map[string]string{}, "TSV="+tc.tsv)
			script := libSH + scheduleSH + fmt.Sprintf(`KIND=schedule
T=$(mktemp -d); printf '%%s' "$TSV" >"$T/evidence.tsv"
SM_NOW=%d AT_SECONDS=%d RETRY_AFTER=3600
due %s 21600`, now, tc.atSeconds, tc.kind)
			if got := shellIn(t, f, script); got != fmt.Sprint(tc.want) {
				t.Errorf("due %s = %s, want %d (now %+d)", tc.kind, got, tc.want, tc.want-now)
			}
		})
	}
}

func TestTheScheduleReadsAllItsEvidenceWithOneListing(t *testing.T) {
	f := newFakeEnv(t, "0.18.1", map[string]string{})
	f.write(t, "snapshots.json", evidenceList("result:ok"))
	script := "SECRET_NAMES=RESTIC_PASSWORD\n" + libSH + scheduleSH + `KIND=schedule BACKUP_EVERY=21600 PRUNE_EVERY=86400 CHECK_EVERY=604800 AT_SECONDS=-1 RETRY_AFTER=3600
T=$(mktemp -d); SM_NOW=$(now_s)
schedule_evidence
printf '%s|' "$(due backup "$BACKUP_EVERY")" "$(due prune "$PRUNE_EVERY")" "$(due check "$CHECK_EVERY")"`
	got := strings.Split(shellIn(t, f, script), "|")
	checkDue := fmt.Sprint(time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC).Unix() + 604800)
	if len(got) != 4 || got[0] != got[1] || got[2] != checkDue {
		t.Errorf("due times %q: want backup and prune now, check at %s, a week after its evidence", got, checkDue)
	}
	if calls := f.calls("snapshots"); len(calls) != 1 || !strings.Contains(calls[0], "--tag app:shop,env:production,devopsellence-backup:evidence") {
		t.Errorf("restic snapshots calls: %q", calls)
	}
}
