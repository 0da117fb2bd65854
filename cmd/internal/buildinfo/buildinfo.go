package buildinfo

import (
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
)

// Stamped by the release build; nothing else writes them:
//
//	go build -ldflags "-X github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo.version=v1.2.3
//	  -X …/buildinfo.commit=0123abcd… -X …/buildinfo.builtAt=2026-01-02T03:04:05Z"
var (
	version string
	commit  string
	builtAt string
)

// Unknown is what a field says when the build did not record it.
const Unknown = "unknown"

// Dev is the version of a build that is not a tagged release.
const Dev = "dev"

// Info describes one build.
type Info struct {
	// Version is a release tag (v1.2.3), a Go pseudo-version
	// (v0.0.0-20260102030405-0123456789ab) or Dev.
	Version string
	// Commit is the git commit the build came from, or Unknown.
	Commit string
	// BuiltAt is when the build was made (RFC 3339), or Unknown.
	BuiltAt string
}

// Get describes the running binary: the stamped values first, then what the
// Go toolchain recorded (the module version that `go install …@v1.2.3`
// fetched, the VCS revision of a build from a checkout).
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, builtAt, bi)
}

// Version is the running binary's version (see Info.Version).
func Version() string { return Get().Version }

// Release returns the running binary's version and whether it is a real
// release (see Info.Release).
func Release() (string, bool) { return Get().Release() }

func resolve(stampedVersion, stampedCommit, stampedBuiltAt string, bi *debug.BuildInfo) Info {
	info := Info{Version: Dev, Commit: Unknown, BuiltAt: Unknown}
	var vcsRevision, vcsModified string
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.modified":
				vcsModified = s.Value
			}
		}
	}
	switch {
	case vcsRevision != "":
		info.Commit = vcsRevision
		if vcsModified == "true" {
			info.Commit += "-dirty"
		}
	default:
		// `go install …@<commit>` records no VCS settings, but the
		// pseudo-version ends with the commit's first 12 hex digits.
		if m := pseudoVersion.FindStringSubmatch(info.Version); m != nil {
			info.Commit = m[1]
		}
	}
	if v := strings.TrimSpace(stampedVersion); v != "" {
		info.Version = v
	}
	if c := strings.TrimSpace(stampedCommit); c != "" {
		info.Commit = c
	}
	if t := strings.TrimSpace(stampedBuiltAt); t != "" {
		info.BuiltAt = t
	}
	return info
}

var (
	// semver is a release tag as Go modules spell it: vMAJOR.MINOR.PATCH,
	// an optional pre-release, an optional build suffix.
	semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	// pseudoVersion is a Go pseudo-version: a commit, not a tag. The three
	// forms all end with -<14-digit time>-<12 hex digits of the commit>.
	pseudoVersion = regexp.MustCompile(`[-.][0-9]{14}-([0-9a-f]{12})(\+[0-9A-Za-z.-]+)?$`)
)

// Release returns the version and whether it is a real release: a semantic
// version tag (v1.2.3, v1.3.0-rc.1), not a pseudo-version, not "(devel)" or
// dev, not built from a modified checkout (+dirty). Only a release names
// things that were published under the same version, such as an image tag.
func (i Info) Release() (string, bool) {
	v := i.Version
	if !semver.MatchString(v) || pseudoVersion.MatchString(v) || strings.Contains(v, "+dirty") {
		return v, false
	}
	return v, true
}

// String is the one-line form devopsellence prints: "v1.2.3 (commit, built at)".
func (i Info) String() string {
	return fmt.Sprintf("%s (%s, %s)", i.Version, i.Commit, i.BuiltAt)
}
