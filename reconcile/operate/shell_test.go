package operate

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// shell runs snippet after the library in sh (dash on Debian), with env.
func shell(t *testing.T, snippet string, env ...string) string {
	t.Helper()
	script := "set -u\nKIND=test\nSECRET_NAMES='PASSWORD DATABASE_URL SHORT'\n" + libSH + snippet
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LANG=C"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	return string(out)
}

func TestJstrMakesValidJSONOfAnyText(t *testing.T) {
	for _, in := range []string{`plain`, `"quoted" \back\slash`, "tab\tnew\nline\rcr", "ünïcödé ✓", ``, `a'b`} {
		out := shell(t, `jstr "$V"`, "V="+in)
		var got string
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("jstr %q printed %s: %v", in, out, err)
		}
		want := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(in)
		if got != want {
			t.Errorf("jstr %q = %q, want %q", in, got, want)
		}
	}
}

func TestURLToolSplitsADatabaseURLWithoutPrintingThePasswordWhereItShouldNot(t *testing.T) {
	env := "DATABASE_URL=postgresql://app:p%40ss%3Aw%2Frd@db.example:5433/app%20db?sslmode=disable"
	tests := map[string]string{
		`url_tool nopass DATABASE_URL`:        "postgresql://app@db.example:5433/app%20db?sslmode=disable\n",
		`url_tool password DATABASE_URL`:      "p@ss:w/rd",
		`url_tool db DATABASE_URL`:            "app db\n",
		`url_tool withdb DATABASE_URL drill1`: "postgresql://app@db.example:5433/drill1?sslmode=disable\n",
		`url_tool mycnf DATABASE_URL`:         "[client]\nuser=\"app\"\npassword=\"p@ss:w/rd\"\nhost=\"db.example\"\nport=5433\n",
	}
	for snippet, want := range tests {
		if got := shell(t, snippet, env); got != want {
			t.Errorf("%s = %q, want %q", snippet, got, want)
		}
	}
	if got := shell(t, `url_tool nopass DATABASE_URL`, "DATABASE_URL=postgres:///app?host=/run/postgresql"); got != "postgres:///app?host=/run/postgresql\n" {
		t.Errorf("a socket URL: %q", got)
	}
	if got := shell(t, `url_tool password DATABASE_URL`, "DATABASE_URL=postgresql://app@db/app"); got != "" {
		t.Errorf("a URL without password gave %q", got)
	}
}

func TestScrubHidesSecretValuesAsWrittenAndDecoded(t *testing.T) {
	out := shell(t, `T=$(mktemp -d); printf '%s\n' "pw is $PASSWORD" "url $DATABASE_URL" "raw p%40ss:w0rd!" "decoded p@ss:w0rd!" "short $SHORT ok" | scrub "$T/copy"; cat "$T/copy"; rm -rf "$T"`,
		"PASSWORD=hunter2-long", "DATABASE_URL=postgres://u:p%40ss:w0rd!@h/db", "SHORT=abc")
	for _, leak := range []string{"hunter2-long", "p%40ss:w0rd!", "p@ss:w0rd!"} {
		if strings.Contains(out, leak) {
			t.Errorf("scrub let %q through:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "pw is ***\n") || !strings.Contains(out, "decoded ***\n") || !strings.Contains(out, "short abc ok") {
		t.Errorf("scrub output:\n%s", out)
	}
	if strings.Count(out, "pw is ***") != 2 {
		t.Errorf("the copy in the file differs:\n%s", out)
	}
}

func TestSnapshotsTSVReadsEveryResticVersionsList(t *testing.T) {
	const v014 = `[{"time":"2026-11-25T18:57:12.257605955Z","tree":"41c8","paths":["/notes.sqlite3"],"hostname":"h","username":"root","tags":["app:a","kind:db"],"id":"1d923ddc198c","short_id":"1d923ddc"},{"time":"2026-11-25T18:58:00Z","parent":"1d923ddc198c","tree":"52a6","paths":["/data/a","/data/b"],"hostname":"h","username":"root","tags":["app:a","kind:files"],"id":"507d41a0a980","short_id":"507d41a0"}]`
	const v018 = `[{"time":"2026-11-25T18:57:25.7Z","tree":"6489","paths":["/devopsellence-backup/evidence-check.json"],"hostname":"h","username":"root","tags":["app:a","evidence:check"],"program_version":"restic 0.18.1","summary":{"backup_start":"2026-11-25T18:57:25.7Z","files_new":1,"total_bytes_processed":8},"id":"cc1d960f8893","short_id":"cc1d960f"}]`
	want := map[string]string{
		v014: "1d923ddc198c\t2026-11-25T18:57:12.257605955Z\t/notes.sqlite3\tapp:a,kind:db\n507d41a0a980\t2026-11-25T18:58:00Z\t/data/a,/data/b\tapp:a,kind:files\n",
		v018: "cc1d960f8893\t2026-11-25T18:57:25.7Z\t/devopsellence-backup/evidence-check.json\tapp:a,evidence:check\n",
		`[]`: "",
	}
	for in, w := range want {
		got := shell(t, `T=$(mktemp -d); printf '%s\n' "$LIST" > "$T/s.out"; snapshots_tsv s; rm -rf "$T"`, "LIST="+in)
		if got != w {
			t.Errorf("snapshots_tsv of %.40s...:\n got %q\nwant %q", in, got, w)
		}
	}
}

func TestClassifyKnowsEachVersionsWayOfFailing(t *testing.T) {
	tests := []struct {
		rc, stderr, want string
	}{
		{"0", "", "ok"},
		{"3", "", "partial"},
		{"10", "", "repository_missing"},
		{"11", "", "locked"},
		{"12", "", "wrong_password"},
		{"1", "Fatal: unable to open config file: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r", "repository_missing"},
		{"1", "Fatal: wrong password or no key found", "wrong_password"},
		{"1", "unable to create lock in backend: repository is already locked by PID 1 on vm by root", "locked"},
		{"1", "Fatal: something else", "failed"},
	}
	for _, tc := range tests {
		got := shell(t, `T=$(mktemp -d); STOP=; printf '%s\n' "$ERR" > "$T/x.err"; RC=$CODE; classify x; printf '%s' "$CLASS"; rm -rf "$T"`, "ERR="+tc.stderr, "CODE="+tc.rc)
		if got != tc.want {
			t.Errorf("exit %s with %q: %s, want %s", tc.rc, tc.stderr, got, tc.want)
		}
	}
	if got := shell(t, `T=$(mktemp -d); STOP=INT; : > "$T/x.err"; RC=1; classify x; printf '%s' "$CLASS"; rm -rf "$T"`); got != "interrupted" {
		t.Errorf("an interrupted run: %s", got)
	}
}

func TestRunForwardsAnInterruptAndWaitsForTheCommandToClean(t *testing.T) {
	// The command cleans up on the signal, then exits. (A background sh
	// cannot trap INT, which sh ignores for background commands; restic, a Go
	// program, does get INT, and dumpers get TERM.)
	out := shell(t, `T=$(mktemp -d); STOP= CHILD= RUN_SIG=TERM RUN_IN=
trap 'on_signal INT' INT
(sleep 0.3; kill -INT $$) &
RUN_SIG=TERM
run slow sh -c 'trap "echo cleaned; exit 7" TERM; while :; do sleep 0.1; done'
printf 'rc=%s stop=%s out=%s\n' "$RC" "$STOP" "$(cat "$T/slow.out")"; rm -rf "$T"`)
	if !strings.Contains(out, "rc=130 stop=INT out=cleaned") {
		t.Errorf("output:\n%s", out)
	}
}

// shellStatus runs snippet like shell and returns its output and exit status.
func shellStatus(t *testing.T, snippet string, env ...string) (string, int) {
	t.Helper()
	script := "set -u\nKIND=test\nSECRET_NAMES='PASSWORD DATABASE_URL SHORT'\n" + libSH + snippet
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LANG=C"}, env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func TestURLToolRefusesAKeywordDSNAndDropsPasswordParameters(t *testing.T) {
	for _, dsn := range []string{"host=db user=app password=hunter22 dbname=app", "db.example:5432/app", "  postgres://app:hunter22@db/app"} {
		for _, mode := range []string{"check", "nopass", "withdb", "password", "db", "mycnf"} {
			out, code := shellStatus(t, `url_tool `+mode+` DATABASE_URL drill1`, "DATABASE_URL="+dsn)
			if code != 2 || out != "" {
				t.Errorf("url_tool %s of %q: exit %d, output %q; want exit 2 and no output", mode, dsn, code, out)
			}
		}
	}
	// As for libpq, the last password parameter wins.
	env := "DATABASE_URL=postgres://app@db.example/app?sslmode=require&PassWord=first99&application_name=x&sslpassword=keypw99&Password=hunter%2622"
	tests := map[string]string{
		`url_tool nopass DATABASE_URL`:        "postgres://app@db.example/app?sslmode=require&application_name=x\n",
		`url_tool withdb DATABASE_URL drill1`: "postgres://app@db.example/drill1?sslmode=require&application_name=x\n",
		`url_tool password DATABASE_URL`:      "hunter&22",
		`url_tool db DATABASE_URL`:            "app\n",
		`url_tool mycnf DATABASE_URL`:         "[client]\nuser=\"app\"\npassword=\"hunter&22\"\nhost=\"db.example\"\n",
	}
	for snippet, want := range tests {
		if got := shell(t, snippet, env); got != want {
			t.Errorf("%s = %q, want %q", snippet, got, want)
		}
	}
	// The userinfo's password wins over a parameter; both stay out of nopass.
	env = "DATABASE_URL=mysql://app:inuser99@db:3306/shop?password=inquery99"
	if got := shell(t, `url_tool password DATABASE_URL; echo; url_tool nopass DATABASE_URL`, env); got != "inuser99\nmysql://app@db:3306/shop\n" {
		t.Errorf("userinfo and parameter: %q", got)
	}
	// A query without a path.
	if got := shell(t, `url_tool withdb DATABASE_URL d2`, "DATABASE_URL=postgres://h?password=zzzz&sslmode=disable"); got != "postgres://h/d2?sslmode=disable\n" {
		t.Errorf("query without path: %q", got)
	}
}

func TestDBURLRecordsAKeywordDSNWithoutItsValue(t *testing.T) {
	out := shell(t, `T=$(mktemp -d); STEP=db:main; STEP_T0=0; FACTS=; : >"$T/steps"
if db_url DATABASE_URL; then echo accepted; fi
cat "$T/steps"; rm -rf "$T"`, "DATABASE_URL=host=db user=app password=hunter22 dbname=app")
	if strings.Contains(out, "accepted") || strings.Contains(out, "hunter22") {
		t.Fatalf("db_url accepted or printed the DSN:\n%s", out)
	}
	line := out[strings.Index(out, "{"):]
	var s Step
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if s.Result != ResultFailed || s.Error != "bad_url" || s.Fact("secret") != "DATABASE_URL" ||
		!strings.Contains(s.Message, "the secret DATABASE_URL must be a postgres://… or mysql://… URL") {
		t.Errorf("step = %+v", s)
	}
}

func TestScrubHidesPasswordParametersOfURLsAndKeywordDSNs(t *testing.T) {
	out := shell(t, `T=$(mktemp -d); printf '%s\n' "q pw1-in-query! then" "q decoded pw1-in-query! too" "kw hunter22kw, done" "ssl keypass-77 x" | scrub "$T/copy"; rm -rf "$T"`,
		"DATABASE_URL=postgres://app@db/app?sslmode=require&PASSWORD=pw1-in-query%21&sslpassword=keypass-77",
		"PASSWORD=host=db user=app password=hunter22kw, dbname=app")
	for _, leak := range []string{"pw1-in-query", "hunter22kw", "keypass-77"} {
		if strings.Contains(out, leak) {
			t.Errorf("scrub let %q through:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "q *** then\n") || !strings.Contains(out, "ssl *** x\n") {
		t.Errorf("scrub output:\n%s", out)
	}
}

func TestNewestInPicksTheNewestSnapshotWithEveryTagAndPath(t *testing.T) {
	tsv := "a1\t2026-01-01T00:00:00Z\t/x,/y z\tapp:s,kind:files\n" +
		"a2\t2026-01-02T00:00:00Z\t/x,/y z\tapp:s,kind:files\n" +
		"a3\t2026-01-03T00:00:00Z\t/x\tapp:s,kind:files\n" +
		"a4\t2026-01-04T00:00:00Z\t/x,/y z\tapp:t,kind:files\n"
	snippet := `T=$(mktemp -d); printf '%s' "$TSV" >"$T/l.tsv"
newest_in l app:s,kind:files /x "/y z"; printf '%s %s|' "$SNAP_ID" "$SNAP_TIME"
newest_in l app:s,kind:files /x; printf '%s|' "$SNAP_ID"
newest_in l app:s,kind:db /x; printf '%s|' "$SNAP_ID"
rm -rf "$T"`
	if got := shell(t, snippet, "TSV="+tsv); got != "a2 2026-01-02T00:00:00Z|a3||" {
		t.Errorf("newest_in: %q", got)
	}
}
