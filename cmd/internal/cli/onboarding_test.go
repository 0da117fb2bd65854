package cli_test

import (
	"bytes"
	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// shopApp is a Rails-like app whose staging overlay mounts a volume of its
// own where production mounts shop_media.
const shopApp = `schema_version: 1
organization: solo
project: shop
default_environment: production
services:
  web:
    ports:
      - name: http
        port: 3000
    healthcheck:
      path: /up
      port: 3000
    volumes:
      - source: shop_media
        target: /rails/storage
environments:
  staging:
    services:
      web:
        volumes:
          - source: shop_media_staging
            target: /rails/storage
`

func newShop(t *testing.T, config string, envs ...string) *simtest.Env {
	t.Helper()
	sim := simtest.New(t)
	sim.AgentImages(t)
	sim.WriteFile(t, "devopsellence.yml", config)
	sim.WriteFile(t, "Dockerfile", "FROM scratch\n")
	sim.Setup(t, envs...)
	return sim
}

func TestInitBacksUpEachEnvironmentsOwnVolumes(t *testing.T) {
	sim := newShop(t, shopApp, "production", "staging")
	r := runCLI(t, sim, newSecrets("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY").env(), "init", "--non-interactive",
		"--environments", "production,staging", "--repository", "s3:s3.amazonaws.com/shop", "--image", "registry.example.com/shop-backup:1")
	if r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	s := loadSpec(t, sim).Spec
	if len(s.Volumes) != 1 || s.Volumes[0].Name != "shop_media" {
		t.Errorf("volumes = %+v", s.Volumes)
	}
	for env, want := range map[string]string{"production": "shop_media", "staging": "shop_media_staging"} {
		vols := resolved(t, sim, env)["volumes"].([]any)
		if len(vols) != 1 || vols[0].(map[string]any)["source"] != want || vols[0].(map[string]any)["target"] != "/data/shop_media" {
			t.Errorf("%s's backup service mounts %v, want %s at /data/shop_media", env, vols, want)
		}
	}
}

func TestInitRefusesAnAppWithNothingToBackUp(t *testing.T) {
	sim := newShop(t, "schema_version: 1\norganization: solo\nproject: bare\nservices:\n  web:\n    ports:\n      - name: http\n        port: 3000\n    healthcheck:\n      path: /up\n")
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/bare", "--image", "registry.example.com/bare-backup:1")
	if r.code != 2 || !strings.Contains(r.stderr, "init found nothing to back up") || !strings.Contains(r.stderr, "--volume NAME") || !strings.Contains(r.stderr, "--database NAME=ENGINE:URL_SECRET") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Error("a spec that backs up nothing was written")
	}

	// On a terminal it asks for a database instead.
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "init", "--no-apply", "--repository", "s3:s3.amazonaws.com/bare", "--image", "registry.example.com/bare-backup:1")
	p.Expect(t, "Nothing to back up was detected. A database to back up", 1)
	p.Send(t, "main=postgres:DATABASE_URL\r")
	p.Expect(t, "daily snapshots to keep [7]:", 1)
	p.Send(t, "\r")
	p.Expect(t, "restore drills of database main (postgres) create a scratch database", 1)
	p.Send(t, "\r")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("init: %v\n%s", err, p.Output())
	}
	if dbs := loadSpec(t, sim).Spec.Databases; len(dbs) != 1 || dbs[0].URLSecret != "DATABASE_URL" {
		t.Errorf("databases = %+v", dbs)
	}
}

func TestInitRefusesARepositoryPathInsideTheContainer(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	r := runCLI(t, sim, basicSecrets().env(), "init", "--non-interactive", "--repository", "/tmp/x", "--image", "i:1")
	if r.code != 2 || !strings.Contains(r.stderr, "--repository-volume NAME: /tmp/x is a path inside the backup container and is lost at the next deploy") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Error("a spec was written")
	}
	secrets := newSecrets("RESTIC_PASSWORD", "DATABASE_URL")
	r = runCLI(t, sim, secrets.env(), "init", "--non-interactive", "--repository", "/tmp/x", "--repository-volume", "shop_repo", "--image", "i:1")
	if r.code != 0 {
		t.Fatalf("with a volume: exit %d\n%s", r.code, r.stderr)
	}
	found := false
	for _, v := range resolved(t, sim, "production")["volumes"].([]any) {
		m := v.(map[string]any)
		found = found || m["source"] == "shop_repo" && m["target"] == "/tmp/x"
	}
	if !found {
		t.Errorf("the repository's volume is not mounted: %v", resolved(t, sim, "production")["volumes"])
	}

	// plan and apply refuse a spec written by hand the same way.
	sim.WriteFile(t, spec.DefaultFile, strings.Replace(sim.ReadFile(t, spec.DefaultFile), "    volume: shop_repo\n", "", 1))
	for _, cmd := range [][]string{{"plan"}, {"apply", "--non-interactive"}} {
		r := runCLI(t, sim, nil, cmd...)
		if r.code != 2 || !strings.Contains(r.stderr, `spec.repository.url: local repository "/tmp/x" is not on a volume the backup service mounts`) || !strings.Contains(r.stderr, "or use a remote repository") {
			t.Errorf("%s: exit %d\n%s", cmd, r.code, r.stderr)
		}
	}
}

func TestInitThatFailsBeforeAnyChangeWritesNothingAndARerunGoesOn(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	args := []string{"init", "--non-interactive", "--repository", "s3:s3.amazonaws.com/example-app-backups", "--image", "i:1"}
	r := runCLI(t, sim, nil, args...)
	if r.code != 2 || !strings.Contains(r.stderr, "missing secret values") || strings.Contains(r.stderr, "--force") {
		t.Fatalf("without values: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(sim.Workspace, spec.DefaultFile)); err == nil {
		t.Error("the spec stayed after a failure that changed nothing")
	}
	if r := runCLI(t, sim, basicSecrets().env(), args...); r.code != 0 {
		t.Fatalf("the same command with the values: exit %d\n%s", r.code, r.stderr)
	}

	// A failed deploy leaves the spec (devopsellence.yml uses it now), and the
	// same command goes on from there.
	sim2 := newApp(t, "basic")
	withoutSpec(t, sim2)
	sim2.Faults = "deploy#1=exit:1:docker build: exit status 1"
	if r := runCLI(t, sim2, basicSecrets().env(), args...); r.code != 1 {
		t.Fatalf("failed deploy: exit %d\n%s", r.code, r.stderr)
	}
	sim2.Faults = ""
	if r := runCLI(t, sim2, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "deployed production") {
		t.Fatalf("rerun: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestInitReusesTheRepositoryOfAHandWrittenBackupServiceButNotResticsOwnImage(t *testing.T) {
	sim := newApp(t, "adopt-guide")
	withoutSpec(t, sim)
	secrets := newSecrets("RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL").env()
	// The guide's service runs restic's own image, which has no agent: it
	// is no default, so this development build needs --image.
	r := runCLI(t, sim, secrets, "init", "--non-interactive")
	if r.code != 2 || !strings.Contains(r.stderr, "restic/restic:0.18.1, restic's own image, which has no devopsellence-backup agent") || !strings.Contains(r.stderr, "init needs: --image") || strings.Contains(r.stderr, "--repository") {
		t.Fatalf("without --image: exit %d\n%s", r.code, r.stderr)
	}
	r = runCLI(t, sim, secrets, "init", "--non-interactive", "--image", "registry.example.com/guide-backup:1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	s := loadSpec(t, sim).Spec
	if s.Image != "registry.example.com/guide-backup:1" || s.Repository.URL != "s3:s3.amazonaws.com/guide-app-backups" {
		t.Errorf("image %q repository %+v, want the hand-written service's repository", s.Image, s.Repository)
	}
}

func TestInitTakesADatabasesScratchTargetForDrills(t *testing.T) {
	sim := newApp(t, "basic")
	withoutSpec(t, sim)
	r := runCLI(t, sim, nil, "init", "--non-interactive", "--no-apply", "--repository", "s3:s3.amazonaws.com/x", "--image", "i:1", "--scratch-url-secret", "primary=DRILL_DATABASE_URL")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if dbs := loadSpec(t, sim).Spec.Databases; len(dbs) != 1 || dbs[0].ScratchURLSecret != "DRILL_DATABASE_URL" {
		t.Errorf("databases = %+v", dbs)
	}
	if !strings.Contains(r.stdout, "DRILL_DATABASE_URL") {
		t.Errorf("the plan does not ask for the scratch secret:\n%s", r.stdout)
	}
	withoutSpec(t, sim)
	r = runCLI(t, sim, nil, "init", "--non-interactive", "--no-apply", "--repository", "s3:s3.amazonaws.com/x", "--image", "i:1", "--scratch-url-secret", "orders=DRILL_DATABASE_URL")
	if r.code != 2 || !strings.Contains(r.stderr, "--scratch-url-secret orders: no database of that name (databases: primary (postgres))") {
		t.Errorf("unknown database: exit %d\n%s", r.code, r.stderr)
	}
}
