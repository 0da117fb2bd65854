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
	goMod := readRepoFile(t, "go.mod")
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(goMod)
	if goVer := argValue(t, df, "GO_VERSION"); goLine == nil || !strings.HasPrefix(goVer, goLine[1]+".") {
		t.Errorf("Dockerfile builds with Go %s, go.mod wants %v", goVer, goLine)
	}
	if pg, err := strconv.Atoi(argValue(t, df, "POSTGRES_CLIENT")); err != nil || pg != spec.PostgresClientMajor || pg < 18 {
		t.Errorf("the image's pg_dump is %v: want %d (spec.PostgresClientMajor), at least the current PostgreSQL major (18, postgres:latest)", pg, spec.PostgresClientMajor)
	}
	if !strings.Contains(df, "FROM restic/restic:${RESTIC_VERSION} AS restic") {
		t.Error("restic does not come from its official image at the pinned version")
	}
	if !strings.Contains(df, "COPY --from=build /out/devopsellence-backup "+AgentPath+"\n") {
		t.Errorf("the agent is not installed at %s", AgentPath)
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
	install := regexp.MustCompile(`apt-get install -y --no-install-recommends ([^\\&]*postgresql-client[^\\&]*)`).FindStringSubmatch(df)
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
			p = "postgresql-client-${POSTGRES_CLIENT}"
		}
		if !slices.Contains(pkgs, p) {
			t.Errorf("the image lacks %s (%s, for %s)", p, strings.Join(tool.Commands, "|"), tool.Why)
		}
	}
	for _, p := range []string{"tini", "redis-tools"} {
		if !slices.Contains(pkgs, p) {
			t.Errorf("the image lacks %s", p)
		}
	}
	for _, x := range regexp.MustCompile(`-X ([\w./-]+)\.(\w+)=`).FindAllStringSubmatch(df, -1) {
		if !strings.HasSuffix(x[1], "cmd/internal/buildinfo") {
			t.Errorf("-X %s.%s stamps a package other than buildinfo", x[1], x[2])
			continue
		}
		src := readRepoFile(t, "cmd/internal/buildinfo/buildinfo.go")
		if !regexp.MustCompile(`(?m)^\s*` + x[2] + `\s+(=|string)`).MatchString(src) {
			t.Errorf("-X stamps buildinfo.%s, which buildinfo does not declare", x[2])
		}
	}
}

func TestTheImageWorkflowPublishesBothArchitecturesTaggedWithTheRelease(t *testing.T) {
	wf := readRepoFile(t, ".github/workflows/image.yml")
	for _, want := range []string{"platforms: linux/amd64,linux/arm64", "tags: " + OfficialImage + ":${{ github.ref_name }}", "VERSION=${{ github.ref_name }}", `tags: ["v*"]`} {
		if !strings.Contains(wf, want) {
			t.Errorf("image.yml lacks %q", want)
		}
	}
}
