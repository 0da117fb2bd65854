package cli_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// leakyDumper stands in for pg_dump: it records its arguments (which any
// process on the machine can read) in ARGV, prints its password and its
// arguments on stderr, then fails, the worst a dumper could do.
const leakyDumper = `#!/bin/sh
printf '%s\n' "$*" >>ARGV
echo "pg_dump: cannot connect as $PGPASSWORD with $*" >&2
exit 1
`

// argvRestic stands in for restic: it records its arguments in ARGV, then
// runs the restic under test.
const argvRestic = `#!/bin/sh
printf '%s\n' "$*" >>ARGV
exec RESTIC "$@"
`

// leakDatabases adds, to the shop's main database, one whose URL carries
// its password as a query parameter and one whose secret is a keyword DSN.
const leakDatabases = shopDatabases + `
    - name: query
      engine: postgres
      urlSecret: QUERY_URL
    - name: keyword
      engine: postgres
      urlSecret: KEYWORD_DSN`

func TestOperatingNeverLeaksASecretValue(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		dbPassword := "leak@db:pw/" + rb.version
		queryPassword := "leak-query-pw-" + rb.version
		keywordPassword := "leak-keyword-pw-" + rb.version
		secrets := map[string]string{
			"RESTIC_PASSWORD":    "leak-restic-password-" + rb.version,
			"DATABASE_URL":       "postgresql://app:" + url.QueryEscape(dbPassword) + "@127.0.0.1:9/appdb",
			"DRILL_DATABASE_URL": "postgresql://admin:leak-scratch-pw@127.0.0.1:9/postgres",
			"QUERY_URL":          "postgresql://app@127.0.0.1:9/querydb?sslmode=disable&password=" + queryPassword,
			"KEYWORD_DSN":        "host=127.0.0.1 port=9 user=app password=" + keywordPassword + " dbname=keyworddb",
		}
		argvDir := t.TempDir()
		dumperArgv, resticArgv := filepath.Join(argvDir, "pg_dump.argv"), filepath.Join(argvDir, "restic.argv")
		app := newOpsApp(t, rb, opsConfig{databases: leakDatabases, secrets: secrets, bin: map[string]string{
			"pg_dump": strings.ReplaceAll(leakyDumper, "ARGV", dumperArgv),
			"restic":  strings.NewReplacer("ARGV", resticArgv, "RESTIC", rb.path).Replace(argvRestic),
		}})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		var seen bytes.Buffer
		for _, args := range [][]string{
			{"backup", "--init"}, {"drill"}, {"status", "--output", "json"},
		} {
			r := app.cli(t, append(args, "-v", "2", "--log-format", "json")...)
			if r.code == 2 || r.code == 130 {
				t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
			}
			seen.WriteString(r.stdout + r.stderr)
		}
		if !bytes.Contains(seen.Bytes(), []byte("cannot connect as ***")) {
			t.Fatalf("the leaky dumper's line was not seen, so this test could not see a leak:\n%s", seen.String())
		}
		// pg_dump ran for both URLs, without their passwords; the keyword
		// DSN was refused before anything ran with it.
		for _, want := range []string{"--host=127.0.0.1 --port=9 --username=app --dbname=fallback_application_name='devopsellence-backup' dbname='appdb' --no-password",
			"--host=127.0.0.1 --port=9 --username=app --dbname=fallback_application_name='devopsellence-backup' dbname='querydb' sslmode='disable' --no-password"} {
			if !bytes.Contains(readFile(t, dumperArgv), []byte(want)) {
				t.Errorf("pg_dump did not run with %s:\n%s", want, readFile(t, dumperArgv))
			}
		}
		if !bytes.Contains(readFile(t, resticArgv), []byte("--stdin-filename=devopsellence-backup/evidence-backup.json")) {
			t.Errorf("restic's argv was not recorded:\n%s", readFile(t, resticArgv))
		}
		if n := bytes.Count(readFile(t, dumperArgv), []byte("\n")); n != 2 {
			t.Errorf("pg_dump ran %d times, want once per URL", n)
		}
		if !bytes.Contains(seen.Bytes(), []byte("parse secret KEYWORD_DSN: it is not a postgres:// URL")) {
			t.Errorf("the keyword DSN was not refused:\n%s", seen.String())
		}
		state := readFile(t, app.sim.StatePath())
		for _, name := range []string{"RESTIC_PASSWORD", "DATABASE_URL", "DRILL_DATABASE_URL"} {
			if !bytes.Contains(state, []byte(secrets[name])) {
				t.Fatalf("%s was not stored, so the service could not leak it", name)
			}
		}
		// A wrong password makes restic itself fail; its message must not
		// carry the value either.
		wrong := "leak-wrong-password-" + rb.version
		if r := app.sim.RunStdin(t, wrong+"\n", "secret", "set", "RESTIC_PASSWORD", "--service", "backup", "--env", "production", "--stdin"); r.Code != 0 {
			t.Fatal(string(r.Stdout))
		}
		// exec runs the container as last deployed: the new value needs a deploy.
		if r := app.sim.Run(t, "deploy", "--env", "production"); r.Code != 0 {
			t.Fatal(string(r.Stdout))
		}
		r := app.cli(t, "check", "-v", "2")
		seen.WriteString(r.stdout + r.stderr)

		values := map[string]string{"wrong RESTIC_PASSWORD": wrong, "database password": dbPassword, "database password (encoded)": url.QueryEscape(dbPassword),
			"query parameter password": queryPassword, "keyword DSN password": keywordPassword}
		for k, v := range secrets {
			values[k] = v
		}
		scan := map[string][]byte{
			"stdout and stderr":  seen.Bytes(),
			"call log":           readFile(t, app.sim.CallLog),
			"devopsellence.yml":  readFile(t, filepath.Join(app.sim.Workspace, "devopsellence.yml")),
			"the service's logs": app.sim.Run(t, "logs", "backup", "--lines", "1000").Stdout,
			"pg_dump's argv":     readFile(t, dumperArgv),
			"restic's argv":      readFile(t, resticArgv),
		}
		for _, kind := range []string{"backup", "drill"} {
			for _, s := range app.snapshots(t, "--tag", "evidence:"+kind) {
				scan["evidence "+s.ID[:8]] = app.restic(t, "--no-lock", "dump", s.ID, "/devopsellence-backup/evidence-"+kind+".json")
			}
		}
		_ = filepath.Walk(app.repo, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && filepath.Base(filepath.Dir(p)) != "data" {
				scan["repository "+filepath.Base(p)] = readFile(t, p)
			}
			return nil
		})
		if len(scan) < 10 {
			t.Fatalf("scanned only %d places", len(scan))
		}
		for where, b := range scan {
			for name, v := range values {
				if bytes.Contains(b, []byte(v)) {
					t.Errorf("the value of %s leaked into %s", name, where)
				}
			}
		}
	})
}

// TestAPasswordThatBreaksItsURLStartsNoDumperAndLeaksNoFragment: a
// generated password with an unencoded / or ? makes the URL unparsable (or
// puts part of the password where the host belongs). The agent refuses it
// as bad_url before any dumper runs, so no client ever quotes a piece of it.
func TestAPasswordThatBreaksItsURLStartsNoDumperAndLeaksNoFragment(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		argv := filepath.Join(t.TempDir(), "pg_dump.argv")
		app := newOpsApp(t, rb, opsConfig{
			databases: `    - name: main
      engine: postgres
      urlSecret: DATABASE_URL
    - name: other
      engine: postgres
      urlSecret: OTHER_DATABASE_URL`,
			secrets: map[string]string{
				"DATABASE_URL":       "postgresql://app:Xk9/pQ2z@db.internal:5432/appdb",
				"OTHER_DATABASE_URL": "postgresql://app:Wq7?Lm3r@db.internal/otherdb",
			},
			bin: map[string]string{"pg_dump": strings.ReplaceAll(leakyDumper, "ARGV", argv)},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)
		r := app.cli(t, "backup", "--init", "--output", "json", "-v", "2")
		d := decodeOp(t, r)
		for _, name := range []string{"db:main", "db:other"} {
			s := d.step(t, name)
			if s["result"] != "failed" || s["error"] != "bad_url" {
				t.Errorf("%s = %v, want failed with bad_url", name, s)
			}
		}
		if _, err := os.Stat(argv); err == nil {
			t.Errorf("pg_dump ran:\n%s", readFile(t, argv))
		}
		seen := r.stdout + r.stderr + string(readFile(t, app.sim.CallLog))
		for _, fragment := range []string{"Xk9", "pQ2z", "Wq7", "Lm3r"} {
			if strings.Contains(seen, fragment) {
				t.Errorf("a fragment of a password (%s) reached the output", fragment)
			}
		}
	})
}
