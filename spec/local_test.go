package spec

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestALocalRepositoryMustBeOnAVolumeOfItsOwn(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"a path inside the container", head + "  image: img:1\n  repository:\n    url: /tmp/x\n", []string{
			file + `8: spec.repository.url: local repository "/tmp/x" is not on a volume the backup service mounts: inside the container it is lost at the next deploy; ` +
				"mount one there with spec.repository.volume (a named volume such as restic_repo, or a host path such as /srv/backups), or use a remote repository (s3:, b2:, rest:, sftp:, azure:, gs:, swift:, rclone:)",
		}},
		{"a local: path in an override", base + "  environments: [production, staging]\n  overrides:\n    staging:\n      repository: {url: \"local:/backups/staging\"}\n", []string{
			file + `12: spec.overrides.staging.repository.url: local repository "local:/backups/staging" is not on a volume the backup service mounts`,
		}},
		{"a volume for a remote repository", head + "  image: img:1\n  repository: {url: \"s3:s3.amazonaws.com/b\", volume: restic_repo}\n", []string{
			file + "7: spec.repository.volume: only for a local repository (a url that is an absolute path): the backup service mounts it at that path",
		}},
		{"volumes that cannot be mounted", base + "  environments: [a, b]\n  overrides:\n    a:\n      repository: {url: /r, volume: \"x:y\"}\n    b:\n      repository: {url: /r, volume: \"bad name\"}\n", []string{
			file + `12: spec.overrides.a.repository.volume: "x:y" must not contain ":"`,
			file + `14: spec.overrides.b.repository.volume: "bad name" is neither a Docker volume name`,
		}},
		{"a repository that would back itself up", head + "  image: img:1\n  volumes: [{name: app_storage}]\n  repository: {url: /data/app_storage/restic, volume: restic_repo}\n", []string{
			file + `8: spec.repository.url: local repository "/data/app_storage/restic" overlaps "/data/app_storage", which is backed up: restic would back the repository up into itself`,
		}},
		{"a path backed up inside the repository", head + "  image: img:1\n  paths: [/backups/repo/x]\n  repository: {url: /backups/repo, volume: restic_repo}\n", []string{
			file + `8: spec.repository.url: local repository "/backups/repo" overlaps "/backups/repo/x"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(DefaultFile, []byte(tt.doc))
			checkProblemsPrefix(t, err, tt.want)
		})
	}
	b := mustParse(t, head+"  image: img:1\n  repository: {url: /backups/repo, volume: /srv/backups/app}\n")
	if got := b.ForEnvironment("production", "app").Repository.LocalPath(); got != "/backups/repo" {
		t.Errorf("LocalPath = %q", got)
	}
}

func TestAnOverrideGivesAnEnvironmentItsOwnVolumes(t *testing.T) {
	b := mustParse(t, base+"  environments: [production, staging]\n  volumes: [{name: shop_media}]\n  databases:\n    - {name: notes, engine: sqlite, path: /data/shop_media/notes.sqlite3}\n"+
		"  overrides:\n    staging:\n      volumes: [{name: shop_media_staging, target: /data/shop_media}]\n")
	if got := b.ForEnvironment("staging", "shop").Volumes; !reflect.DeepEqual(got, []Volume{{Name: "shop_media_staging", Target: "/data/shop_media"}}) {
		t.Errorf("staging volumes = %+v", got)
	}
	if got := b.ForEnvironment("production", "shop").Volumes; !reflect.DeepEqual(got, []Volume{{Name: "shop_media", Target: "/data/shop_media"}}) {
		t.Errorf("production volumes = %+v", got)
	}
	_, err := Parse(DefaultFile, []byte(base+"  environments: [production, staging]\n  volumes: [{name: shop_media}]\n  databases:\n    - {name: notes, engine: sqlite, path: /data/shop_media/notes.sqlite3}\n"+
		"  overrides:\n    staging:\n      volumes: [{name: shop_media_staging}, {name: shop_media_staging}]\n"))
	checkProblemsPrefix(t, err, []string{
		file + "15: spec.overrides.staging.volumes[1].name: duplicate of spec.overrides.staging.volumes[0]",
		file + "15: spec.overrides.staging.volumes: spec.databases[0] (/data/shop_media/notes.sqlite3) is not inside any of these volumes",
	})
}

// checkProblemsPrefix is checkProblems for messages given by their start:
// one line per want, in order, each starting with it.
func checkProblemsPrefix(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want:\n%s", strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false for %v", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want)+1 || lines[len(want)] != next {
		t.Fatalf("error text\n got:\n%s\nwant lines starting:\n%s", err, strings.Join(want, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d\n got: %s\nwant: %s…", i+1, lines[i], w)
		}
	}
}
