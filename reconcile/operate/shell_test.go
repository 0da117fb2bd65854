package operate

import (
	"encoding/json"
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
