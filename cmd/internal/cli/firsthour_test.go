package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestInitWithNoNodeStopsBeforeItsQuestionsAndSaysHowToGetOne(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	if r := sim.Run(t, "node", "detach", "sim-1", "--env", "production"); r.Code != 0 {
		t.Fatalf("detach: %s", r.Stdout)
	}
	// No --repository: had init asked its questions first, it would stop at
	// "init needs: --repository".
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--image", "i:1")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"no node is attached to production of this app, so init cannot deploy the backup service there; nothing was written",
		"`devopsellence node attach <node> --env production`",
		"`devopsellence node create <node> --host <host> --user root --ssh-key <key> --labels web,worker --attach --env production`",
		"`devopsellence-backup init --no-apply`",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "init needs") {
		t.Errorf("init asked its questions before checking the node:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Error("a spec was written")
	}

	// --no-apply needs no node; neither does apply --no-deploy, which says
	// the deploy waits for a node rather than for a rerun.
	args := []string{"init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/x", "--image", "i:1"}
	if r := runCLI(t, sim, nil, append(args, "--no-apply")...); r.code != 0 {
		t.Fatalf("--no-apply: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, sim, basicSecrets().env(), "apply", "--non-interactive", "--no-deploy")
	if r.code != 0 {
		t.Fatalf("apply --no-deploy: exit %d\n%s", r.code, r.stderr)
	}
	if want := "production cannot be deployed until a node is attached to it: attach a node this machine knows (`devopsellence node attach <node> --env production`)"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	if strings.Contains(r.stdout, "run `devopsellence-backup apply` to deploy") {
		t.Errorf("apply --no-deploy says a rerun deploys, with no node:\n%s", r.stdout)
	}

	// apply without --no-deploy stops with the same advice.
	r = runCLI(t, sim, nil, "apply", "--non-interactive")
	if r.code != 1 || !strings.Contains(r.stderr, "devopsellence node create <node>") || !strings.Contains(r.stderr, "--no-deploy") {
		t.Errorf("apply: exit %d\n%s", r.code, r.stderr)
	}
}

func TestInitRunAgainDefaultsEveryQuestionFromTheSpecAndShowsHowOtherAnswersChangeIt(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	host := t.TempDir()
	first := []string{"init", "--non-interactive", "--no-apply", "--repository", "/srv/restic", "--repository-volume", host, "--image", "registry.example.com/app-backup:3", "--keep-daily", "5", "--scratch-url-secret", "primary=DRILL_DATABASE_URL"}
	if r := runCLI(t, sim, nil, first...); r.code != 0 {
		t.Fatalf("first init: exit %d\n%s", r.code, r.stderr)
	}
	written := sim.ReadFile(t, spec.DefaultFile)

	// On a terminal, with no flags: each question defaults to the spec's
	// answer, and taking every default goes on with the spec as it is.
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "init", "--no-apply")
	p.Expect(t, "volume to mount at /srv/restic for the repository (a named volume, or a host path such as /srv/backups) ["+host+"]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "backup image (the devopsellence-backup agent, restic and the database clients) [registry.example.com/app-backup:3]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "daily snapshots to keep [5]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "[DRILL_DATABASE_URL]:", 1)
	p.Send(t, "\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, p.Output())
	}
	p.Expect(t, "already says what these answers give; going on with it", 1)
	if got := sim.ReadFile(t, spec.DefaultFile); got != written {
		t.Errorf("the spec changed:\n%s", got)
	}

	// The same without a terminal, and with a hand edit that changes no
	// meaning (a comment): it goes on, leaving the file as it is.
	sim.WriteFile(t, spec.DefaultFile, written+"# kept by hand\n")
	if r := runCLI(t, sim, nil, "init", "--non-interactive", "--no-apply"); r.code != 0 || !strings.Contains(r.stderr, "going on with it") {
		t.Fatalf("rerun off a terminal: exit %d\n%s", r.code, r.stderr)
	}
	if got := sim.ReadFile(t, spec.DefaultFile); got != written+"# kept by hand\n" {
		t.Errorf("the spec was rewritten:\n%s", got)
	}

	// Another answer: refused off a terminal, with the diff of the spec.
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--no-apply", "--keep-daily", "9")
	if r.code != 2 {
		t.Fatalf("other answers: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"devopsellence.backup.yml already exists, and these answers change it:", "-    keepDaily: 5", "+    keepDaily: 9", "--force"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// On a terminal it shows the same diff and asks.
	p = ptytest.Open(t)
	cmd = startOnTerminal(t, sim, p, &stdout, "init", "--no-apply", "--keep-daily", "9", "--image", "registry.example.com/app-backup:3", "--repository-volume", host, "--scratch-url-secret", "primary=DRILL_DATABASE_URL")
	p.Expect(t, "+    keepDaily: 9", 1)
	p.Expect(t, "Write these answers to devopsellence.backup.yml? [y/N]:", 1)
	p.Send(t, "y\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("confirmed: %v\n%s", err, p.Output())
	}
	if s := loadSpec(t, sim).Spec; s.Retention.KeepDaily != 9 || s.Repository.Volume != host || s.Databases[0].ScratchURLSecret != "DRILL_DATABASE_URL" {
		t.Errorf("spec = %+v", s)
	}
}

func TestInitAsksTheBackendOfASecretRepositoryURLOnATerminal(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "init", "--no-apply", "--image", "registry.example.com/app-backup:3", "--keep-daily", "7", "--scratch-url-secret", "primary=DRILL_DATABASE_URL")
	p.Expect(t, "restic repository URL", 1)
	p.Send(t, "\r")
	p.Expect(t, "backend type of the repository URL kept in RESTIC_REPOSITORY (s3, b2, rest, sftp, azure, gs, swift, rclone):", 1)
	p.Send(t, "ftp\r")
	p.Expect(t, "want one of s3, b2", 1)
	p.Send(t, "b2\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("init: %v\n%s", err, p.Output())
	}
	if r := loadSpec(t, sim).Spec.Repository; r.URLSecret != "RESTIC_REPOSITORY" || r.Type != "b2" {
		t.Errorf("repository = %+v", r)
	}
	if !strings.Contains(stdout.String(), "B2_ACCOUNT_KEY") {
		t.Errorf("the plan does not ask for b2's credentials:\n%s", stdout.String())
	}
}

func TestInitAsksWhereDrillsRestoreAndOtherwiseSaysWhatTheDrillWillDo(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "init", "--no-apply", "--repository", "s3:s3.amazonaws.com/x", "--image", "i:1", "--keep-daily", "7")
	p.Expect(t, "restore drills of database primary (postgres) create a scratch database, then drop it: the secret to hold the URL of a server where they may (e.g. DRILL_DATABASE_URL; empty: drills of primary stop at no_scratch):", 1)
	p.Send(t, "postgres://u:p@h/db\r")
	p.Expect(t, "want a secret name in capitals", 1)
	p.Send(t, "SCRATCH_PG_URL\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("init: %v\n%s", err, p.Output())
	}
	if dbs := loadSpec(t, sim).Spec.Databases; dbs[0].ScratchURLSecret != "SCRATCH_PG_URL" {
		t.Errorf("databases = %+v", dbs)
	}
	if strings.Contains(p.Output(), "postgres://u:p@h/db") && strings.Count(p.Output(), "postgres://u:p@h/db") > 1 {
		t.Errorf("the URL typed where a name belongs was repeated:\n%s", p.Output())
	}

	// Without an answer, Next says what the drill does and how to drill
	// the database too.
	withoutSpec(t, sim)
	r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/x", "--image", "i:1")
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"devopsellence-backup check --env production",
		"# prove it restores: the files into a scratch folder\n",
		"The drill stops at no_scratch for database primary: it restores a database dump into a scratch database that it creates and drops",
		"add `scratchUrlSecret: DRILL_DATABASE_URL` to database primary in devopsellence.backup.yml",
		"then run `devopsellence-backup apply`, which asks for its value",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestInitMakesTheSQLiteFilesItDetectsOptional(t *testing.T) {
	// Rails 8: the cache and queue databases exist only once the app uses them.
	sim := newShop(t, shopApp)
	sim.WriteFile(t, "config/database.yml", `production:
  primary:
    <<: *default
    database: storage/production.sqlite3
  cache:
    <<: *default
    database: storage/production_cache.sqlite3
  queue:
    <<: *default
    database: storage/production_queue.sqlite3
`)
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--no-apply", "--repository", "s3:s3.amazonaws.com/shop", "--image", "i:1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	dbs := loadSpec(t, sim).Spec.Databases
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
		if !d.Optional || d.Engine != spec.EngineSQLite {
			t.Errorf("database %+v is not an optional SQLite file", d)
		}
	}
	if strings.Join(names, ",") != "production,production_cache,production_queue" {
		t.Errorf("databases = %v", names)
	}
	if n := strings.Count(sim.ReadFile(t, spec.DefaultFile), "optional: true"); n != 3 {
		t.Errorf("the spec says optional: true %d times, want 3", n)
	}
}

func TestApplyOnATerminalGeneratesTheRepositoryPasswordShowsItOnceAndSaysWhereItIsKept(t *testing.T) {
	sim := newApp(t, "basic", "production", "staging")
	setSpec(t, sim, `  image: registry.example.com/example-app-backup:1.2.0
  environments: [production, staging]
  volumes: [{name: app_storage}]
  repository: {url: "s3:s3.amazonaws.com/example-app-backups"}
`)
	secrets := basicSecrets()
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply", "--yes")
	p.Expect(t, `restic says: "Please note that knowledge of your password is required to access the repository. Losing your password means that your data is irrecoverably lost."`, 1)
	p.Expect(t, "Generate a strong one? [Y/n]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "RESTIC_PASSWORD for service backup in production, generated: copy it now into a password manager, outside this machine and the node. It is shown only this once", 1)
	p.Expect(t, "Press Enter once you have a copy:", 1)
	shown := regexp.MustCompile(`\n\s+([A-Za-z0-9_-]{43})\r?\n`).FindStringSubmatch(p.Output())
	if shown == nil {
		t.Fatalf("no generated password shown:\n%s", p.Output())
	}
	p.Send(t, "\r")
	for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		p.Expect(t, "Value of "+name+" for service backup in production (input hidden):", 1)
		p.Send(t, secrets[name]+"\r")
	}
	// staging shares the repository, so it shares its password.
	p.Expect(t, "RESTIC_PASSWORD in staging: the same as in production, whose repository (s3:s3.amazonaws.com/example-app-backups) it shares", 1)
	for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		p.Expect(t, "Value of "+name+" for service backup in staging (input hidden):", 1)
		p.Send(t, secrets[name]+"\r")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v\n%s", err, p.Output())
	}
	for _, env := range []string{"production", "staging"} {
		r := sim.Run(t, "exec", "backup", "--env", env, "--", "printenv", "RESTIC_PASSWORD")
		if got := strings.Join(outputLines(r.Events(t), "stdout"), ""); got != shown[1] {
			t.Errorf("%s: the stored password is not the one shown", env)
		}
	}
	if strings.Contains(stdout.String(), shown[1]) {
		t.Error("the generated password is on stdout")
	}
	for _, want := range []string{"note: RESTIC_PASSWORD of production is stored by devopsellence as a secret of the backup service: in devopsellence's state on this machine", "Keep a copy outside the node and this machine"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	// A value given for a stored secret is not used, and apply says so.
	r := runCLI(t, sim, []string{"DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=another"}, "apply", "--non-interactive")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: RESTIC_PASSWORD is already stored for service backup in production, so the value DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD gives is not used: apply stores only missing secrets. To change it, run `devopsellence-backup rotate-secret RESTIC_PASSWORD --env production`") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "another") {
		t.Error("the value was printed")
	}
}

func TestPlanWarnsWhenTheOnlyRepositoryIsOnTheNode(t *testing.T) {
	sim := newApp(t, "basic")
	setSpec(t, sim, `  image: registry.example.com/example-app-backup:1.2.0
  volumes: [{name: app_storage}]
  repository: {url: /srv/restic, volume: /mnt/backups}
`)
	r := runCLI(t, sim, nil, "plan")
	if !strings.Contains(r.stdout, "repository_on_node: the repository of production is /srv/restic on the node that runs the app (volume /mnt/backups), and no copy is elsewhere") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	appendTo(t, filepath.Join(sim.Workspace, spec.DefaultFile), "  copies:\n    - name: offsite\n      repository: {url: \"s3:s3.amazonaws.com/offsite\"}\n      passwordSecret: RESTIC_PASSWORD\n")
	if r := runCLI(t, sim, nil, "plan"); strings.Contains(r.stdout, "repository_on_node") {
		t.Errorf("warned with a copy off the node:\n%s", r.stdout)
	}
}

// outputLines are an exec's output lines on stream.
func outputLines(events []map[string]any, stream string) []string {
	var out []string
	for _, e := range events {
		if e["event"] == "output" && e["stream"] == stream {
			out = append(out, e["message"].(string))
		}
	}
	return out
}

func TestPlanWarnsWhenAPostgresServiceIsNewerThanTheImagesPgDump(t *testing.T) {
	sim := newApp(t, "db-services")
	config := sim.ReadFile(t, "devopsellence.yml")
	for _, tc := range []struct {
		image string
		warn  bool
	}{{"postgres:19", true}, {"postgis/postgis:19-3.6", true}, {"postgres:18.1-alpine", false}, {"postgres:latest", false}, {"postgres:16", false}} {
		sim.WriteFile(t, "devopsellence.yml", strings.Replace(config, "image: postgres:16", "image: "+tc.image, 1))
		r := runCLI(t, sim, nil, "plan")
		got := strings.Contains(r.stdout, "client_older_than_server")
		if got != tc.warn {
			t.Errorf("%s: warned %v, want %v\n%s", tc.image, got, tc.warn, r.stdout)
		}
		if tc.warn && !strings.Contains(r.stdout, "newer than the backup image's pg_dump (18 in the official image)") {
			t.Errorf("%s: the warning does not name the versions:\n%s", tc.image, r.stdout)
		}
	}
}
