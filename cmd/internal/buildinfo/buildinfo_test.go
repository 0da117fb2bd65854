package buildinfo

import (
	"runtime/debug"
	"testing"
)

func built(version string, settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/devopsellence/devopsellence-backup", Version: version}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestBuildInfoPrefersStampedValuesThenWhatTheToolchainRecorded(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name                     string
		version, commit, builtAt string
		bi                       *debug.BuildInfo
		want                     Info
	}{
		{"nothing known is dev", "", "", "", nil, Info{Dev, Unknown, Unknown}},
		{"a checkout build says (devel): dev, with its revision", "", "", "", built("(devel)", "vcs.revision", rev),
			Info{Dev, rev, Unknown}},
		{"a modified checkout marks its revision dirty", "", "", "", built("(devel)", "vcs.revision", rev, "vcs.modified", "true"),
			Info{Dev, rev + "-dirty", Unknown}},
		{"go install at a tag gives the tag", "", "", "", built("v1.2.3"), Info{"v1.2.3", Unknown, Unknown}},
		{"go install at a commit gives its pseudo-version and commit", "", "", "", built("v0.0.0-20260102030405-0123456789ab"),
			Info{"v0.0.0-20260102030405-0123456789ab", "0123456789ab", Unknown}},
		{"a pseudo-version after a pre-release names its commit", "", "", "", built("v1.2.4-rc.1.0.20260102030405-abcdefabcdef+dirty"),
			Info{"v1.2.4-rc.1.0.20260102030405-abcdefabcdef+dirty", "abcdefabcdef", Unknown}},
		{"stamped values win", "v1.4.0", rev, "2026-01-02T03:04:05Z", built("(devel)", "vcs.revision", "ffff"),
			Info{"v1.4.0", rev, "2026-01-02T03:04:05Z"}},
		{"blank stamps are ignored", " ", "", "", built("v1.2.3"), Info{"v1.2.3", Unknown, Unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resolve(tc.version, tc.commit, tc.builtAt, tc.bi); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOnlyASemanticVersionTagIsARelease(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.2.3":                               true,
		"v0.1.0":                               true,
		"v1.3.0-rc.1":                          true,
		"v2.0.0+build5":                        true,
		"dev":                                  false,
		"(devel)":                              false,
		"":                                     false,
		"1.2.3":                                false,
		"v1.2":                                 false,
		"v01.2.3":                              false,
		"v1.2.3+dirty":                         false,
		"v0.0.0-20260102030405-0123456789ab":   false,
		"v1.2.4-0.20260102030405-0123456789ab": false,
		"v1.2.4-rc.1.0.20260102030405-0123456789ab":      false,
		"v1.2.4-0.20260102030405-0123456789ab+dirty":     false,
		"v1.2.3-0.20260102030405-0123456789ab+incompat.": false,
	} {
		got, ok := Info{Version: v}.Release()
		if ok != want || got != v {
			t.Errorf("Release(%q) = %q, %v; want %v", v, got, ok, want)
		}
	}
}

func TestTheOneLineFormIsDevopsellences(t *testing.T) {
	if got := (Info{Dev, Unknown, Unknown}).String(); got != "dev (unknown, unknown)" {
		t.Errorf("String() = %q", got)
	}
}
