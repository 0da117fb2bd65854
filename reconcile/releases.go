package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrUnknownRelease: a release devopsellence's release list does not hold.
var ErrUnknownRelease = errors.New("unknown release")

// Deploys is what restore --before-release knows of a release from
// devopsellence's release list: every deploy of its revision.
type Deploys struct {
	// Asked is the release as asked: an ID, a revision or its prefix.
	Asked    string
	Revision string
	// Releases are the deploys that count, oldest first. Every deploy of a
	// revision makes a release; the first one ran its release task first,
	// so what was there before it is the data before the release.
	Releases []Release
	// Also are earlier deploys of the same revision that an asked ID left
	// out: their release task ran before the asked one's.
	Also []Release
	// Before is the release that was newest before the first deploy (nil
	// when there was none): the one running until the release came.
	Before *Release
}

// First is the deploy before which the data was the release's predecessor's.
func (d Deploys) First() Release { return d.Releases[0] }

// DeploysOf finds release asked in an environment's history (any order):
// an exact release ID is that release (with earlier deploys of its revision
// in Also); else every release whose revision is asked or starts with it,
// which must all be one revision. It is pure.
func DeploysOf(history []Release, asked string) (Deploys, error) {
	asked = strings.TrimSpace(asked)
	d := Deploys{Asked: asked}
	if asked == "" {
		return d, fmt.Errorf("name the release: %w", ErrUnknownRelease)
	}
	sorted := slices.Clone(history)
	slices.SortStableFunc(sorted, func(a, b Release) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if i := slices.IndexFunc(sorted, func(r Release) bool { return r.ID == asked }); i >= 0 {
		d.Revision, d.Releases = sorted[i].Revision, []Release{sorted[i]}
		for _, r := range sorted[:i] {
			if r.Revision == d.Revision {
				d.Also = append(d.Also, r)
			}
		}
	} else {
		var revisions []string
		for _, r := range sorted {
			if r.Revision != "" && strings.HasPrefix(r.Revision, asked) {
				d.Releases = append(d.Releases, r)
				if !slices.Contains(revisions, r.Revision) {
					revisions = append(revisions, r.Revision)
				}
			}
		}
		switch len(revisions) {
		case 0:
			return d, fmt.Errorf("release %q: %w", asked, ErrUnknownRelease)
		case 1:
			d.Revision = revisions[0]
		default:
			slices.Sort(revisions)
			return d, fmt.Errorf("release %q is ambiguous: revisions %s start with it; give more of the revision, or a release ID: %w", asked, strings.Join(revisions, ", "), ErrUnknownRelease)
		}
	}
	first := d.First()
	for i := range sorted {
		r := sorted[i]
		if r.CreatedAt.Before(first.CreatedAt) {
			d.Before = &sorted[i]
		}
	}
	return d, nil
}

// UnderAt is the release that was newest at t (nil when none was): the
// one a backup taken then was taken under, unless a rollback intervened,
// which release list does not show.
func UnderAt(history []Release, t time.Time) *Release {
	var under *Release
	for i, r := range history {
		if !r.CreatedAt.After(t) && (under == nil || r.CreatedAt.After(under.CreatedAt)) {
			under = &history[i]
		}
	}
	return under
}
