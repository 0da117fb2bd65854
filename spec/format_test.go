package spec

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/golden"
)

func TestFormatRoundTripsEveryValidFixture(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "fixtures", "specs", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "invalid-") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(DefaultFile, data)
			if err != nil {
				t.Fatal(err)
			}
			out := Format(b)
			again, err := Parse(DefaultFile, out)
			if err != nil {
				t.Fatalf("Parse(Format(b)): %v\n%s", err, out)
			}
			if !reflect.DeepEqual(withoutSource(again), withoutSource(b)) {
				t.Errorf("Parse(Format(b)) != b\n got %#v\nwant %#v", withoutSource(again), withoutSource(b))
			}
		})
	}
}

func TestFormatMatchesTheGoldenFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "fixtures", "specs", "full.yml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(DefaultFile, data)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("..", "fixtures", "specs", "full.formatted.yml"), Format(b))
}

func TestFormatQuotesStringsYAML11WouldMisread(t *testing.T) {
	values := []string{"yes", "No", "on", "OFF", "y", "n", "true", "null", "~", "", "123", "0x10", "0o10", "1e3", "1_000", "02:00", "2001-12-14", " lead", "trail ", "a: b", "#x", "- x", "[x]", "{x}", "*x", "&x", "!x", "%x", "@x", "`x", "|x", ">x", "'x'", "\"x\"", "a\nb", "tab\there", "ünïcode", "x:", ".inf", "<<", "=", "\u2028"}
	b := mustParse(t, base)
	b.Spec.Env = map[string]string{}
	for i, v := range values {
		b.Spec.Env["V"+strings.Repeat("X", i)] = v
	}
	out := Format(b)
	again, err := Parse(DefaultFile, out)
	if err != nil {
		t.Fatalf("Parse(Format(b)): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again.Spec.Env, b.Spec.Env) {
		t.Errorf("env came back as %q, want %q\n%s", again.Spec.Env, b.Spec.Env, out)
	}
}

func TestFormatRoundTripsASpecBuiltInCode(t *testing.T) {
	b := &Backup{
		APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "example-app"},
		Spec: Spec{
			Image:        "registry.example.com/example-app-backup:1.2.0",
			Environments: []string{"production"},
			Volumes:      []Volume{{Name: "app_storage"}},
			Databases:    []Database{{Name: "primary", Engine: EnginePostgres, URLSecret: "DATABASE_URL"}},
			Repository:   Repository{URL: "s3:s3.amazonaws.com/example-app-backups"},
			Retention:    &Retention{KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6, KeepWithin: "1y6m"},
			Schedule:     &Schedule{Every: Duration(90 * time.Minute), CheckEvery: Duration(7 * day)},
			Check:        &Check{},
			Freshness:    &Freshness{Backup: Duration(26 * time.Hour)},
		},
	}
	out := Format(b)
	again, err := Parse(DefaultFile, out)
	if err != nil {
		t.Fatalf("Parse(Format(b)): %v\n%s", err, out)
	}
	if !reflect.DeepEqual(withoutSource(again), *b) {
		t.Errorf("Parse(Format(b)) != b\n got %#v\nwant %#v\n%s", withoutSource(again), *b, out)
	}
	for _, line := range []string{"    every: 1h30m", "    checkEvery: 7d", "    backup: 26h", "    keepWithin: 1y6m", "  check: {}"} {
		if !strings.Contains(string(out), "\n"+line+"\n") {
			t.Errorf("Format output lacks %q:\n%s", line, out)
		}
	}
}

func TestFormatCommentsEverySpecField(t *testing.T) {
	typ := reflect.TypeFor[Spec]()
	for i := 0; i < typ.NumField(); i++ {
		name := jsonName(typ.Field(i))
		if specComment(name) == "" {
			t.Errorf("spec.%s has no comment in Format", name)
		}
	}
	out := string(Format(mustParse(t, base+"  retention:\n    keepDaily: 7\n")))
	for _, want := range []string{
		"  # Image of the backup service; it must carry restic and the database clients.\n  image: img:1\n",
		"  # Which snapshots restic forget keeps.\n  retention:\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Format output lacks %q:\n%s", want, out)
		}
	}
}

func TestFormatOfNothingIsNothing(t *testing.T) {
	if got := Format(nil); got != nil {
		t.Errorf("Format(nil) = %q", got)
	}
}
