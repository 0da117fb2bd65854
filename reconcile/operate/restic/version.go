package restic

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Version is a restic release, e.g. 0.18.1.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

// The first line of `restic version` has the same shape in every release:
// "restic 0.14.0 compiled with go1.19.8 on linux/amd64", or for a
// development build "restic 0.18.1-dev (compiled manually) compiled with …".
var versionLine = regexp.MustCompile(`^restic (\d+)\.(\d+)(?:\.(\d+))?`)

// ParseVersion reads the first line of `restic version`.
func ParseVersion(out string) (Version, error) {
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	m := versionLine.FindStringSubmatch(first)
	if m == nil {
		return Version{}, fmt.Errorf("restic version: unexpected output %q", cut(first, 100))
	}
	var v Version
	v.Major, _ = strconv.Atoi(m[1])
	v.Minor, _ = strconv.Atoi(m[2])
	if m[3] != "" {
		v.Patch, _ = strconv.Atoi(m[3])
	}
	return v, nil
}

// Version returns the version of restic, running `restic version` the
// first time and caching a successful answer.
func (r *Runner) Version(ctx context.Context) (Version, error) {
	if v := r.cached(); v != nil {
		return *v, nil
	}
	var out strings.Builder
	err := r.run(ctx, job{op: "version", args: []string{"version"}, stdout: func(rd io.Reader) error {
		_, err := io.Copy(&out, io.LimitReader(rd, 4096))
		return err
	}})
	if err != nil {
		return Version{}, err
	}
	v, err := ParseVersion(out.String())
	if err != nil {
		return Version{}, err
	}
	r.mu.Lock()
	r.version = &v
	r.mu.Unlock()
	return v, nil
}

func (r *Runner) cached() *Version {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}
