package prompt

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExplicitSourcesWinInOrderAndIgnoreAmbientCredentials(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := []string{
		"AWS_ACCESS_KEY_ID=ambient-key",
		"MY_KEY=from-named-var",
		"DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=prefixed-any-env",
		"DEVOPSELLENCE_BACKUP_SECRET_STAGING_EU__RESTIC_PASSWORD=prefixed-staging",
	}
	e, err := ParseSources([]string{"production:AWS_SECRET_ACCESS_KEY=MY_KEY"}, []string{"DATABASE_URL=" + file}, environ)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req      Request
		want     string
		wantFrom string
		found    bool
	}{
		{Request{Name: "AWS_ACCESS_KEY_ID", Environment: "production"}, "", "", false},
		{Request{Name: "AWS_SECRET_ACCESS_KEY", Environment: "production"}, "from-named-var", "env MY_KEY", true},
		{Request{Name: "AWS_SECRET_ACCESS_KEY", Environment: "staging"}, "", "", false},
		{Request{Name: "DATABASE_URL", Environment: "staging"}, "from-file", "file " + file, true},
		{Request{Name: "RESTIC_PASSWORD", Environment: "staging-eu"}, "prefixed-staging", "env DEVOPSELLENCE_BACKUP_SECRET_STAGING_EU__RESTIC_PASSWORD", true},
		{Request{Name: "RESTIC_PASSWORD", Environment: "production"}, "prefixed-any-env", "env DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD", true},
	} {
		v, from, ok, err := e.Lookup(t.Context(), tc.req)
		if err != nil || ok != tc.found || from != tc.wantFrom {
			t.Errorf("%+v: ok=%v from=%q err=%v", tc.req, ok, from, err)
			continue
		}
		if ok {
			b, _ := io.ReadAll(v.Reader())
			if string(b) != tc.want {
				t.Errorf("%+v: got %q want %q", tc.req, b, tc.want)
			}
		}
	}
}

func TestEmptyAndUnsetSourcesAreErrorsWithoutValues(t *testing.T) {
	e, err := ParseSources([]string{"A=EMPTY", "B=UNSET"}, nil, []string{"EMPTY=  "})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := e.Lookup(t.Context(), Request{Name: "A", Service: "backup", Environment: "production"}); !ok || err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty: ok=%v err=%v", ok, err)
	}
	// The variable's name is not repeated: it may be the value itself,
	// typed where the name belongs.
	if _, _, ok, err := e.Lookup(t.Context(), Request{Name: "B"}); !ok || err == nil || !strings.Contains(err.Error(), "--secret-env B=… names is not set") || strings.Contains(err.Error(), "UNSET") {
		t.Errorf("unset: ok=%v err=%v", ok, err)
	}
}

func TestMalformedFlagsAreRejected(t *testing.T) {
	for _, bad := range []string{"NOEQUALS", "=VAR", "A=", ":A=VAR", "bad-name=VAR"} {
		if _, err := ParseSources([]string{bad}, nil, nil); err == nil {
			t.Errorf("--secret-env %q accepted", bad)
		}
	}
}

func TestFlagErrorsNeverQuoteWhatMayBeAValue(t *testing.T) {
	for _, bad := range []string{"RESTIC_PASSWORD=hunter2-the-value", "RESTIC_PASSWORD=postgres://u:hunter2-the-value@db/x", "postgres://u:hunter2-the-value@db/x"} {
		_, err := ParseSources([]string{bad}, nil, nil)
		if err == nil || strings.Contains(err.Error(), "hunter2-the-value") {
			t.Errorf("--secret-env %q: %v", bad, err)
		}
		_, err = ParseSources(nil, []string{strings.Replace(bad, "=", "", 1)}, nil)
		if err == nil || strings.Contains(err.Error(), "hunter2-the-value") {
			t.Errorf("--secret-file: %v", err)
		}
	}
}

func TestScrubDropsEveryVariableThatCarriesAValue(t *testing.T) {
	e, err := ParseSources([]string{"A=CI_A"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := Scrub([]string{"PATH=/bin", "CI_A=v1", "DEVOPSELLENCE_BACKUP_SECRET_B=v2", "HOME=/h"}, e.Named()...)
	if strings.Join(got, " ") != "PATH=/bin HOME=/h" {
		t.Errorf("Scrub = %v", got)
	}
}

func TestAFlagWithoutEqualsIsNotEchoedEvenWhenItLooksLikeAName(t *testing.T) {
	_, err := ParseSources([]string{"Hunter2TheValue"}, nil, nil)
	if err == nil || strings.Contains(err.Error(), "Hunter2TheValue") {
		t.Errorf("err = %v", err)
	}
}
