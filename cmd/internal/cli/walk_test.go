package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
	"github.com/devopsellence/devopsellence-backup/spec"
)

const repoRoot = "../../.."

// TestTheREADMEWalkGetsANewUserToAVerifiedBackup is the first hour of a new
// user, as the README and docs/onboarding.md tell it, on the bundled
// example (a Rails app with its data in PostgreSQL and its cache and queue
// in SQLite) and the simulator: the README's two commands, then init on a
// terminal, doing what each message says, then every command of init's
// "Next", to a status that passes. It fails when the first hour meets a
// dead end or a silent failure again: a deploy that reports success with a
// service that cannot run (1), a first drill that fails for lack of a
// scratch server (2), a rerun of init with its own answers refused (3), an
// empty repository URL ending in "init needs: --repository-type" (4), a
// missing node found only after every question (5), a SQLite file the app
// has not created yet failing the backup (6), a status that fails right
// after onboarding (7).
func TestTheREADMEWalkGetsANewUserToAVerifiedBackup(t *testing.T) {
	t.Parallel()
	readme := string(readFile(t, filepath.Join(repoRoot, "README.md")))
	first := fencedBlock.FindStringSubmatch(readme)
	if first == nil || !strings.Contains(first[1], "go run ./cmd/devopsellence-backup plan --dir fixtures/example") || !strings.Contains(first[1], "bash .ci/run") {
		t.Fatalf("the README no longer starts with the two commands this walk follows:\n%v", first)
	}
	if ci := string(readFile(t, filepath.Join(repoRoot, ".ci", "run"))); !strings.Contains(ci, "go test -timeout 45m ./...") {
		t.Fatal(".ci/run no longer runs go test ./..., which runs this walk")
	}
	example := filepath.Join(repoRoot, "fixtures", "example")

	// The README's first command: the plan of the bundled example, with no
	// devopsellence anywhere.
	plan := exec.Command(simtest.Tool(t), "plan", "--dir", example)
	plan.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := plan.Output()
	if err != nil || !strings.Contains(string(out), "+  backup:") || !strings.Contains(string(out), "devopsellence_not_found") {
		t.Fatalf("README's plan: %v\n%s", err, out)
	}

	// docs/onboarding.md, on the example with the simulator: a new app has
	// no backup spec yet.
	onboarding := string(readFile(t, filepath.Join(repoRoot, "docs", "onboarding.md")))
	for _, want := range []string{"devopsellence-backup init", "devopsellence-backup backup --env production --init", "devopsellence-backup check --env production", "devopsellence-backup drill --env production"} {
		if !strings.Contains(onboarding, want) {
			t.Fatalf("docs/onboarding.md no longer says %q", want)
		}
	}
	pg := startPostgres(t)
	sim := simtest.New(t)
	sim.AgentImages(t)
	sim.CopyApp(t, example)
	withoutSpec(t, sim)
	sim.GitCommit(t)
	vol := sim.VolumeDir("app_storage")
	must(t, os.MkdirAll(filepath.Join(vol, "uploads"), 0o755))
	must(t, os.WriteFile(filepath.Join(vol, "uploads", "logo.png"), []byte("\x89PNG example"), 0o644))
	// The app has used its cache, not its queue yet.
	sqliteQuery(t, filepath.Join(vol, "production_cache.sqlite3"), "CREATE TABLE entries(key TEXT, value BLOB); INSERT INTO entries VALUES ('k', 'v');")
	pg.psql(t, "appdb", "SET ROLE app; CREATE TABLE posts(id serial PRIMARY KEY, title text); INSERT INTO posts(title) VALUES ('hello');")

	// init on a terminal: it offers to set the workspace mode, then finds no
	// node before asking anything (5), and says how to get one.
	var stdout bytes.Buffer
	p := ptytest.Open(t)
	cmd := startOnTerminal(t, sim, p, &stdout, "init")
	p.Expect(t, "Run `devopsellence mode use solo` now? [y/N]:", 1)
	p.Send(t, "y\r")
	p.Expect(t, "--attach --env production`", 1)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 || strings.Contains(p.Output(), "restic repository URL") {
		t.Fatalf("init without a node: exit %d, or it asked first\n%s", code, p.Output())
	}
	create := regexp.MustCompile("`(devopsellence node create <node> [^`]*)`").FindStringSubmatch(p.Output())
	if create == nil || !strings.Contains(create[1], "--attach --env production") {
		t.Fatalf("init does not say how to create a node:\n%s", p.Output())
	}
	args := strings.Fields(strings.NewReplacer("<node>", "prod-1", "<host>", "127.0.0.1", "<key>", sim.SSHKey(t)).Replace(create[1]))[1:]
	if r := sim.Run(t, args...); r.Code != 0 {
		t.Fatalf("the advised %v: %s", args, r.Stdout)
	}
	// The example was never deployed: its own web service needs its secret
	// before devopsellence deploys anything of it.
	if r := sim.RunStdin(t, pg.url("appdb")+"\n", "secret", "set", "DATABASE_URL", "--service", "web", "--env", "production", "--stdin"); r.Code != 0 {
		t.Fatalf("store the web service's DATABASE_URL: %s", r.Stdout)
	}
	sim.GitCommit(t)

	// A URL with credentials stays out of the spec: left empty, init asks
	// for the backend (4) instead of failing on it. (This user then stops.)
	p = ptytest.Open(t)
	cmd = startOnTerminal(t, sim, p, &stdout, "init")
	p.Expect(t, "restic repository URL", 1)
	p.Send(t, "\r")
	p.Expect(t, "backend type of the repository URL kept in RESTIC_REPOSITORY", 1)
	p.Send(t, "\x03")
	_ = cmd.Wait()
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Fatal("an interrupted init wrote the spec")
	}

	// init for real, answering each question.
	repo := t.TempDir()
	stdout.Reset()
	p = ptytest.Open(t)
	cmd = startOnTerminal(t, sim, p, &stdout, "init")
	p.Expect(t, "production_cache (sqlite)", 1)
	p.Expect(t, "restic repository URL", 1)
	p.Send(t, repo+"\r")
	p.Expect(t, "volume to mount at "+repo, 1)
	p.Send(t, repo+"\r")
	p.Expect(t, "backup image", 1)
	p.Send(t, "registry.example.com/example-app-backup:1.2.0\r")
	p.Expect(t, "daily snapshots to keep [7]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "restore drills of database primary (postgres) create a scratch database", 1)
	p.Send(t, "DRILL_DATABASE_URL\r")
	p.Expect(t, "Apply this plan? [y/N]:", 1)
	p.Send(t, "y\r")
	p.Expect(t, "Generate a strong one? [Y/n]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "Press Enter once you have a copy:", 1)
	p.Send(t, "\r")
	p.Expect(t, "Value of DATABASE_URL for service backup in production (input hidden):", 1)
	p.Send(t, pg.url("appdb")+"\r")
	p.Expect(t, "Value of DRILL_DATABASE_URL for service backup in production (input hidden):", 1)
	p.Send(t, pg.url("postgres")+"\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("init: %v\n%s\n%s", err, p.Output(), stdout.String())
	}
	result := stdout.String()
	if !strings.Contains(result, "deployed production.") || strings.Contains(result, "\nerror: ") || !strings.Contains(result, "note: RESTIC_PASSWORD of production is stored by devopsellence") {
		t.Fatalf("init's result:\n%s", result)
	}

	// Every command of init's Next, in order, as printed.
	var next []string
	for _, line := range strings.Split(result[strings.Index(result, "Next:"):], "\n") {
		if cmdline, ok := strings.CutPrefix(strings.TrimSpace(line), "devopsellence-backup "); ok {
			cmdline, _, _ = strings.Cut(cmdline, "#")
			next = append(next, strings.TrimSpace(cmdline))
		}
	}
	if len(next) != 4 || !strings.HasPrefix(next[0], "backup") || !strings.HasPrefix(next[1], "check") || !strings.HasPrefix(next[2], "drill") || next[3] != "status" {
		t.Fatalf("Next: %q", next)
	}
	for _, c := range next {
		r := runCLI(t, sim, nil, strings.Fields(c)...)
		if r.code != 0 {
			t.Fatalf("`devopsellence-backup %s` from Next: exit %d\n%s%s", c, r.code, r.stdout, r.stderr)
		}
		if strings.HasPrefix(c, "backup") && (!strings.Contains(r.stdout, "not_created_yet") || !strings.Contains(r.stdout, "production_queue.sqlite3 does not exist yet")) {
			t.Errorf("the backup does not note the queue the app has not created yet (6):\n%s", r.stdout)
		}
	}

	// Running init again with its own answers goes on with the spec (3).
	r := runCLI(t, sim, nil, "init", "--non-interactive")
	if r.code != 0 || !strings.Contains(r.stderr, "already says what these answers give; going on with it") || !strings.Contains(r.stdout, "Nothing to do") {
		t.Fatalf("init again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// An image without the agent is an error after the deploy, not a
	// success (1).
	specText := sim.ReadFile(t, spec.DefaultFile)
	sim.WriteFile(t, spec.DefaultFile, strings.Replace(specText, "registry.example.com/example-app-backup:1.2.0", "restic/restic:0.18.1", 1))
	r = runCLI(t, sim, nil, "apply", "--non-interactive")
	if r.code != 1 || !strings.Contains(r.stdout, "error: the image of service backup in production (restic/restic:0.18.1) has no devopsellence-backup agent") {
		t.Fatalf("apply with restic's own image: exit %d\n%s", r.code, r.stdout)
	}
	sim.WriteFile(t, spec.DefaultFile, specText)
	if r := runCLI(t, sim, nil, "apply", "--non-interactive"); r.code != 0 {
		t.Fatalf("apply back: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, sim, nil, "status"); r.code != 0 {
		t.Errorf("status at the end of the first hour: exit %d\n%s", r.code, r.stdout)
	}
}
