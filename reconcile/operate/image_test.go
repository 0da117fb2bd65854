package operate

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func argValue(t *testing.T, dockerfile, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^ARG ` + name + `=(\S+)$`).FindStringSubmatch(dockerfile)
	if m == nil {
		t.Fatalf("Dockerfile pins no %s", name)
	}
	return m[1]
}

func TestTheOfficialImagePinsItsToolsAndRunsTheAgentTheServiceCommandNames(t *testing.T) {
	df := readRepoFile(t, "Dockerfile")
	if got := argValue(t, df, "RESTIC_VERSION"); got != ResticVersion {
		t.Errorf("Dockerfile pins restic %s, the tool says %s", got, ResticVersion)
	}
	if pg, err := strconv.Atoi(argValue(t, df, "POSTGRES_CLIENT")); err != nil || pg != spec.PostgresClientMajor || pg < 18 {
		t.Errorf("the image's pg_dump is %v: want %d (spec.PostgresClientMajor), at least the current PostgreSQL major (18, postgres:latest)", pg, spec.PostgresClientMajor)
	}
	// What it pulls are build arguments (the end-to-end suite builds it
	// without Docker Hub), with the official sources as defaults.
	if got := argValue(t, df, "RESTIC_IMAGE"); got != "restic/restic:${RESTIC_VERSION}" || !strings.Contains(df, "FROM ${RESTIC_IMAGE} AS restic\n") {
		t.Errorf("restic does not come from its official image at the pinned version by default (RESTIC_IMAGE=%s)", got)
	}
	if got := argValue(t, df, "BASE_IMAGE"); got != "debian:bookworm-slim" || !strings.Contains(df, "FROM ${BASE_IMAGE}\n") {
		t.Errorf("the image is not built on debian:bookworm-slim by default (BASE_IMAGE=%s)", got)
	}
	if got := argValue(t, df, "POSTGRES_APT"); got != "https://apt.postgresql.org/pub/repos/apt" {
		t.Errorf("postgresql-client-${POSTGRES_CLIENT} does not come from apt.postgresql.org by default (POSTGRES_APT=%s)", got)
	}
	// Built from the release's binaries, as .ci/release-build names them.
	if !strings.Contains(df, "COPY dist/devopsellence-backup-linux-${TARGETARCH} "+AgentPath+"\n") {
		t.Errorf("the agent is not installed at %s from the release binary of the target architecture", AgentPath)
	}
	if !strings.Contains(readRepoFile(t, ".ci/release-build"), "name=devopsellence-backup-$goos-$goarch") {
		t.Error(".ci/release-build no longer names the binaries devopsellence-backup-OS-ARCH, which the Dockerfile copies")
	}
	cmd := spec.ServiceCommand()
	if path.Base(AgentPath) != cmd[0] || !strings.HasPrefix(path.Dir(AgentPath), "/usr/local/bin") {
		t.Errorf("the service command %q does not find the agent at %s on the default PATH", cmd, AgentPath)
	}
	if want := `CMD ["` + strings.Join(cmd, `", "`) + `"]`; !strings.Contains(df, want) {
		t.Errorf("the image's CMD is not the service command %s", want)
	}
	if !strings.Contains(df, `ENTRYPOINT ["/usr/bin/tini", "--"]`) {
		t.Error("the image has no init that passes signals")
	}
	if !strings.Contains(df, "pg=postgresql-client-${POSTGRES_CLIENT}") {
		t.Error("the image does not install postgresql-client-${POSTGRES_CLIENT} from the PostgreSQL repository")
	}
	install := regexp.MustCompile(`apt-get install -y --no-install-recommends ([^;\\&]*\$pg[^;\\&]*)`).FindStringSubmatch(df)
	if install == nil {
		t.Fatal("no apt-get install of the database clients")
	}
	pkgs := strings.Fields(install[1])
	var all []spec.Database
	for _, e := range []string{spec.EnginePostgres, spec.EngineMariaDB, spec.EngineSQLite, spec.EngineRedis} {
		all = append(all, spec.Database{Name: e, Engine: e})
	}
	for _, tool := range ToolsFor(all) {
		p := tool.Package
		if p == "restic" {
			continue
		}
		if p == "postgresql-client" {
			p = "$pg"
		}
		if !slices.Contains(pkgs, p) {
			t.Errorf("the image lacks %s (%s, for %s)", p, strings.Join(tool.Commands, "|"), tool.Why)
		}
	}
	for _, p := range []string{"tini", "redis-tools", "ca-certificates"} {
		if !slices.Contains(pkgs, p) {
			t.Errorf("the image lacks %s", p)
		}
	}
}

func TestTheImageWorkflowPublishesBothArchitecturesTaggedWithTheRelease(t *testing.T) {
	wf := readRepoFile(t, ".github/workflows/image.yml")
	for _, want := range []string{"platforms: linux/amd64,linux/arm64", "tags: " + OfficialImage + ":${{ github.ref_name }}", `tags: ["v*"]`,
		// the binaries the Dockerfile copies, stamped as the release's
		`TARGETS="linux/amd64 linux/arm64" .ci/release-build "$GITHUB_REF_NAME" "$GITHUB_SHA" dist`, "go-version-file: go.mod"} {
		if !strings.Contains(wf, want) {
			t.Errorf("image.yml lacks %q", want)
		}
	}
}
