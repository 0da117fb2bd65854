package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDumpFormatAndScratchSecretAreCheckedPerEngine(t *testing.T) {
	tests := []struct {
		name string
		db   string
		want string // "" when valid
	}{
		{"postgres plain", "engine: postgres\n      urlSecret: DATABASE_URL\n      format: plain", ""},
		{"postgres custom with a scratch server", "engine: postgres\n      urlSecret: DATABASE_URL\n      format: custom\n      scratchUrlSecret: DRILL_URL", ""},
		{"mysql with a scratch server", "engine: mysql\n      urlSecret: DATABASE_URL\n      scratchUrlSecret: DRILL_URL", ""},
		{"an unknown format", "engine: postgres\n      urlSecret: DATABASE_URL\n      format: directory", `spec.databases[0].format: unsupported "directory" (want custom or plain)`},
		{"a format for mysql", "engine: mysql\n      urlSecret: DATABASE_URL\n      format: plain", "spec.databases[0].format: only for postgres: mysql has one dump format"},
		{"a scratch server for sqlite", "engine: sqlite\n      path: /data/app_storage/db.sqlite3\n      scratchUrlSecret: DRILL_URL", "spec.databases[0].scratchUrlSecret: not for sqlite"},
		{"a scratch secret that is not a name", "engine: postgres\n      urlSecret: DATABASE_URL\n      scratchUrlSecret: drill-url", `spec.databases[0].scratchUrlSecret: "drill-url" is not an env var name`},
		{"the repository password as scratch secret", "engine: postgres\n      urlSecret: DATABASE_URL\n      scratchUrlSecret: RESTIC_PASSWORD", "spec.databases[0].scratchUrlSecret: RESTIC_PASSWORD is always added"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := base + "  volumes:\n    - name: app_storage\n  databases:\n    - name: main\n      " + tc.db + "\n"
			_, err := Parse("spec.yml", []byte(doc))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestScratchSecretsComeLastInTheServicesSecrets(t *testing.T) {
	doc := base + "  databases:\n" +
		"    - {name: a, engine: postgres, urlSecret: A_URL, scratchUrlSecret: DRILL_URL}\n" +
		"    - {name: b, engine: mysql, urlSecret: B_URL, scratchUrlSecret: DRILL_URL}\n"
	b, err := Parse("spec.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := b.ForEnvironment("production", "shop").SecretNames()
	if want := []string{"RESTIC_PASSWORD", "A_URL", "B_URL", "DRILL_URL"}; !slices.Equal(got, want) {
		t.Fatalf("SecretNames = %v, want %v", got, want)
	}
}
