package cli_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
)

func TestVersionAndDashDashVersionPrintDevopsellencesVersionDocument(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		streams, out, errb := iostreams.Test("")
		if code := cli.Main(context.Background(), args, streams, nil); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errb)
		}
		var doc map[string]any
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		var keys []string
		for k := range doc {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// A test binary is no release: no release_url or checksums_url.
		if !slices.Equal(keys, []string{"built_at", "commit", "schema_version", "version", "version_number"}) {
			t.Errorf("%v: keys %v", args, keys)
		}
		i := buildinfo.Get()
		if doc["version_number"] != i.Version || doc["version"] != i.String() || doc["schema_version"] != 1.0 {
			t.Errorf("%v: %v", args, doc)
		}
	}
}

func TestOnlyAReleaseVersionLinksToItsReleaseAndChecksums(t *testing.T) {
	rel := cli.NewVersionDoc(buildinfo.Info{Version: "v1.2.3", Commit: "abc", BuiltAt: "2026-01-02T03:04:05Z"})
	if rel.Version != "v1.2.3 (abc, 2026-01-02T03:04:05Z)" || rel.VersionNumber != "v1.2.3" ||
		rel.ReleaseURL != "https://github.com/devopsellence/devopsellence-backup/releases/tag/v1.2.3" ||
		rel.ChecksumsURL != "https://github.com/devopsellence/devopsellence-backup/releases/download/v1.2.3/SHA256SUMS" {
		t.Errorf("release: %+v", rel)
	}
	for _, v := range []string{"dev", "v0.0.0-20260102030405-0123456789ab", "v1.2.3+dirty"} {
		if d := cli.NewVersionDoc(buildinfo.Info{Version: v, Commit: "c", BuiltAt: "t"}); d.ReleaseURL != "" || d.ChecksumsURL != "" {
			t.Errorf("%s links to a release: %+v", v, d)
		}
	}
}
