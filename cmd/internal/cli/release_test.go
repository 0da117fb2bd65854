package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
)

// TestTheReleaseBuildStampsTheTagAndCommitAndListsChecksums runs the release
// workflow's build script for this platform and reads the binary's version:
// the -X flags must name the variables buildinfo really has.
func TestTheReleaseBuildStampsTheTagAndCommitAndListsChecksums(t *testing.T) {
	out := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	build := exec.Command("../../../.ci/release-build", "v9.8.7", commit, out)
	build.Env = append(os.Environ(), "TARGETS="+runtime.GOOS+"/"+runtime.GOARCH)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("release-build: %v\n%s", err, b)
	}
	name := "devopsellence-backup-" + runtime.GOOS + "-" + runtime.GOARCH
	bin := filepath.Join(out, name)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var doc cli.VersionDoc
		if err := json.Unmarshal(stdout, &doc); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, stdout)
		}
		if doc.VersionNumber != "v9.8.7" || doc.Commit != commit || doc.BuiltAt == "unknown" || !strings.HasPrefix(doc.Version, "v9.8.7 (") {
			t.Errorf("%v: not stamped: %+v", args, doc)
		}
		if doc.ChecksumsURL != "https://github.com/devopsellence/devopsellence-backup/releases/download/v9.8.7/SHA256SUMS" {
			t.Errorf("%v: checksums_url = %q", args, doc.ChecksumsURL)
		}
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if sums := string(readFile(t, filepath.Join(out, "SHA256SUMS"))); sums != hex.EncodeToString(sum[:])+"  "+name+"\n" {
		t.Errorf("SHA256SUMS = %q", sums)
	}
}

// TestTheReleaseWorkflowBuildsEveryPlatformOnATagAndPublishesChecksums reads
// .github/workflows/release.yml and the script it runs.
func TestTheReleaseWorkflowBuildsEveryPlatformOnATagAndPublishesChecksums(t *testing.T) {
	var wf struct {
		On struct {
			Push struct {
				Tags []string `yaml:"tags"`
			} `yaml:"push"`
		} `yaml:"on"`
		Jobs map[string]struct {
			Needs       []string          `yaml:"needs"`
			Permissions map[string]string `yaml:"permissions"`
			Steps       []struct {
				Uses string `yaml:"uses"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(readFile(t, "../../../.github/workflows/release.yml"), &wf); err != nil {
		t.Fatalf("release.yml does not parse: %v", err)
	}
	if len(wf.On.Push.Tags) != 1 || !strings.HasPrefix(wf.On.Push.Tags[0], "v[0-9]+.") {
		t.Errorf("the release runs on tags %v, want version tags", wf.On.Push.Tags)
	}
	runs := func(job string) string {
		var s []string
		for _, st := range wf.Jobs[job].Steps {
			s = append(s, st.Run)
		}
		return strings.Join(s, "\n")
	}
	if !strings.Contains(runs("build"), `.ci/release-build "$GITHUB_REF_NAME" "$GITHUB_SHA" dist`) {
		t.Errorf("the build job does not run .ci/release-build with the tag and commit:\n%s", runs("build"))
	}
	publish := wf.Jobs["publish"]
	if !slices.Contains(publish.Needs, "build") || publish.Permissions["contents"] != "write" {
		t.Errorf("publish: needs %v, permissions %v", publish.Needs, publish.Permissions)
	}
	if r := runs("publish"); !strings.Contains(r, "sha256sum -c SHA256SUMS") || !strings.Contains(r, "gh release create \"$GITHUB_REF_NAME\" dist/*") {
		t.Errorf("publish does not check and upload the binaries with SHA256SUMS:\n%s", r)
	}
	script := string(readFile(t, "../../../.ci/release-build"))
	for _, want := range []string{"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64", "CGO_ENABLED=0", "-trimpath"} {
		if !strings.Contains(script, want) {
			t.Errorf(".ci/release-build does not say %q", want)
		}
	}
}
