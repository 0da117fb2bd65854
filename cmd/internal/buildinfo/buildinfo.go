// Package buildinfo says which build of devopsellence-backup this is.
package buildinfo

import "runtime/debug"

// Stamped by the release build with -ldflags -X.
var (
	version string
	commit  string
)

// Version is the build's version (placeholder until the release stamping lands).
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "dev"
}

// Commit is the build's commit.
func Commit() string { return commit }

// Release is the version when this is a release build.
func Release() (string, bool) { return "", false }
