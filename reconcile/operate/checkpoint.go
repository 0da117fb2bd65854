package operate

import (
	"fmt"
	"strings"
	"unicode"
)

// Tags of a restore point: the data snapshots of a checkpoint carry them
// besides the usual ones, and so does its evidence.
const (
	TagRestorePoint = "restore-point"
	// TagRelease is the revision devopsellence ran when the point was
	// taken, TagReleaseID that release's ID, TagNextRelease the revision
	// about to be deployed.
	TagRelease     = "release:"
	TagReleaseID   = "release-id:"
	TagNextRelease = "next-release:"
)

// MaxReason bounds a checkpoint's --reason: it travels in the exec's argv.
const MaxReason = 200

// RestorePoint is what a checkpoint records about the releases it was
// taken between, and why it was taken.
type RestorePoint struct {
	// Release is the revision devopsellence runs now (its release
	// ReleaseID); NextRelease the revision about to be deployed. Each is
	// "" when it could not be told.
	Release     string `json:"release,omitempty"`
	ReleaseID   string `json:"release_id,omitempty"`
	NextRelease string `json:"next_release,omitempty"`
	// Reason is what the person or the workflow said (not a tag: it may
	// hold anything).
	Reason string `json:"reason,omitempty"`
	// Files is set when the checkpoint backed up the files too.
	Files bool `json:"files,omitempty"`
}

// Tags are the tags of the point's snapshots.
func (p RestorePoint) Tags() []string {
	tags := []string{TagRestorePoint}
	for _, t := range []struct{ prefix, value string }{{TagRelease, p.Release}, {TagReleaseID, p.ReleaseID}, {TagNextRelease, p.NextRelease}} {
		if t.value != "" {
			tags = append(tags, t.prefix+t.value)
		}
	}
	return tags
}

// args are the agent's flags for the point.
func (p RestorePoint) args() []string {
	var a []string
	if p.Files {
		a = append(a, "--files")
	}
	for _, f := range []struct{ flag, value string }{{"--release", p.Release}, {"--release-id", p.ReleaseID}, {"--next-release", p.NextRelease}, {"--reason", p.Reason}} {
		if f.value != "" {
			a = append(a, f.flag, f.value)
		}
	}
	return a
}

// Check refuses what cannot travel in tags and argv: a release that is not
// one tag-safe word, a reason too long or with control characters.
func (p RestorePoint) Check() error {
	for _, f := range []struct{ name, value string }{{"release", p.Release}, {"release-id", p.ReleaseID}, {"next-release", p.NextRelease}} {
		if f.value != "" && !tagWord(f.value) {
			return fmt.Errorf("--%s %q: want one word of letters, digits and - _ . (a revision or a release ID)", f.name, f.value)
		}
	}
	if len(p.Reason) > MaxReason {
		return fmt.Errorf("--reason: %d characters, at most %d", len(p.Reason), MaxReason)
	}
	if strings.IndexFunc(p.Reason, unicode.IsControl) >= 0 {
		return fmt.Errorf("--reason: no control characters (newlines, tabs, escapes)")
	}
	return nil
}

// tagWord reports whether v can be a tag's value: restic splits tags at
// commas, and a value people read back should be one plain word.
func tagWord(v string) bool {
	if len(v) > 100 {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return v != ""
}

// PointOf reads a snapshot's restore point tags; nil when it is not one.
func PointOf(s Snapshot) *RestorePoint {
	if !s.HasTag(TagRestorePoint) {
		return nil
	}
	return &RestorePoint{Release: s.TagValue(TagRelease), ReleaseID: s.TagValue(TagReleaseID), NextRelease: s.TagValue(TagNextRelease)}
}

// Between says in words which releases a point was taken between.
func (p *RestorePoint) Between() string {
	under := "under an unknown release"
	if p.Release != "" {
		under = "under release " + p.Release
	}
	if p.NextRelease != "" {
		return under + ", before " + p.NextRelease + " was deployed"
	}
	return under
}
