package spec

import "testing"

func TestExcludePatternsMatchLikeResticsAnchoredOrAtAnyDepth(t *testing.T) {
	tests := []struct {
		path     string
		patterns []string
		want     bool
	}{
		{"/data/app/tmp", []string{"/data/app/tmp"}, true},
		{"/data/app/tmp2", []string{"/data/app/tmp"}, false},
		{"/data/app/x/app.log", []string{"*.log"}, true},
		{"/data/app/x/app.log.1", []string{"*.log"}, false},
		{"/data/app/a/b/cache", []string{"/data/app/**/cache"}, true},
		{"/data/app/cache", []string{"/data/app/**/cache"}, true},
		{"/data/other/cache", []string{"/data/app/**/cache"}, false},
		{"/data/app/node_modules", []string{"node_modules"}, true},
		{"/data/app/x/y", []string{"x/y"}, true},
		{"/data/app/x", []string{"x/y"}, false},
	}
	for _, tt := range tests {
		if got := Excluded(tt.path, tt.patterns); got != tt.want {
			t.Errorf("Excluded(%s, %v) = %v, want %v", tt.path, tt.patterns, got, tt.want)
		}
	}
}

func TestAPatternThatMatchesEveryNameExcludesEverything(t *testing.T) {
	for pat, want := range map[string]bool{"?*": true, "**/*": true, "*": true, "/data/v": true, "/data/*": true, "*.log": false, "tmp": false, "/data/v/cache": false, ".?*": false} {
		if got := ExcludesEverything("/data/v", pat); got != want {
			t.Errorf("ExcludesEverything(/data/v, %q) = %v, want %v", pat, got, want)
		}
	}
}
