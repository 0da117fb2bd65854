package agent

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// fakeRepo is a repository in memory, for the agent's planning: its
// snapshots, what each holds, and the dumps of files. It selects snapshots
// as restic does (host, then any tag list whose tags are all present) and
// records what it is asked to forget. A call the planning must not make
// (a backup, a restore, a prune...) panics on the nil embedded interface.
type fakeRepo struct {
	repository
	id    string
	snaps []restic.Snapshot
	// trees: snapshot ID → its nodes; dumps: snapshot ID and path → content.
	trees map[string][]restic.Node
	dumps map[string]string
	// filters are the selections asked of Snapshots; forgotten the IDs
	// of each ForgetIDs.
	filters   []restic.Filter
	forgotten [][]string
}

func (f *fakeRepo) Version(context.Context) (restic.Version, error) {
	return restic.Version{Major: 0, Minor: 18, Patch: 1}, nil
}

func (f *fakeRepo) Config(context.Context) (restic.RepositoryConfig, error) {
	return restic.RepositoryConfig{ID: f.id, Version: 2}, nil
}

func (f *fakeRepo) Snapshots(_ context.Context, flt restic.Filter) ([]restic.Snapshot, error) {
	f.filters = append(f.filters, flt)
	var out []restic.Snapshot
	for _, s := range f.snaps {
		if flt.Host != "" && s.Hostname != flt.Host {
			continue
		}
		if len(flt.Tags) > 0 && !slices.ContainsFunc(flt.Tags, func(group []string) bool {
			return !slices.ContainsFunc(group, func(t string) bool { return !slices.Contains(s.Tags, t) })
		}) {
			continue
		}
		if slices.ContainsFunc(flt.Paths, func(p string) bool { return !slices.Contains(s.Paths, p) }) {
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b restic.Snapshot) int { return a.Time.Compare(b.Time) })
	return out, nil
}

func (f *fakeRepo) List(_ context.Context, o restic.ListOptions, each func(restic.Node) error) error {
	nodes, ok := f.trees[o.SnapshotID]
	if !ok {
		return &restic.Error{Op: "ls", Class: restic.ClassFailed, ExitCode: 1, Message: "no snapshot " + o.SnapshotID}
	}
	for _, n := range nodes {
		inside := o.Dir == "" || under(n.Path, o.Dir)
		if !o.Recursive && o.Dir != "" && n.Path != o.Dir && filepath.Dir(n.Path) != o.Dir {
			inside = false
		}
		if inside {
			if err := each(n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeRepo) Dump(_ context.Context, id, path string, w io.Writer) error {
	content, ok := f.dumps[id+"\n"+path]
	if !ok {
		return fmt.Errorf("no %s in snapshot %s", path, id)
	}
	_, err := io.WriteString(w, content)
	return err
}

func (f *fakeRepo) ForgetIDs(_ context.Context, ids []string) error {
	f.forgotten = append(f.forgotten, slices.Clone(ids))
	return nil
}

// The app of the fake agent: shop in production, with app ID appID.
const (
	fakeHost  = "shop-production"
	fakeAppID = "a1b2c3d4e5f6"
)

var fakeTags = []string{"app:shop", "env:production"}

// fakeNow is the fake agent's clock.
var fakeNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// fakeAgent is an agent of app shop backing up vol, on repo; edit changes
// its configuration.
func fakeAgent(t *testing.T, repo *fakeRepo, vol string, edit func(*spec.AgentConfig)) *Agent {
	t.Helper()
	base := t.TempDir()
	cfg := spec.AgentConfig{Environment: "production", Service: "backup", Host: fakeHost, Tags: fakeTags, AppID: fakeAppID,
		Paths: []string{vol}, Repository: "s3:backups/shop", RepositoryURL: "s3:backups/shop", Retention: []string{"--keep-last", "3"}}
	if edit != nil {
		edit(&cfg)
	}
	a := &Agent{Config: cfg, Environ: []string{"TMPDIR=" + base}, Version: "test", Now: func() time.Time { return fakeNow },
		Out: &Output{Stderr: io.Discard, Stdout: io.Discard, Now: time.Now}, Runs: Registry{Dir: filepath.Join(base, "runs")}, restic: repo}
	a.scrub = func(s string) string { return s }
	a.Out.Scrub = a.scrub
	return a
}

// fakeSnap is a snapshot of the app made days before fakeNow (negative: after),
// carrying the app's host, tags and identity and the extra tags.
func fakeSnap(id string, days float64, paths []string, extra ...string) restic.Snapshot {
	return restic.Snapshot{ID: id, ShortID: id[:8], Time: fakeNow.Add(-time.Duration(days * float64(24*time.Hour))), Paths: paths,
		Hostname: fakeHost, Tags: append(append(slices.Clone(fakeTags), operate.TagAppID+fakeAppID), extra...)}
}

// without drops the tags with prefix from s: a snapshot made before the
// app had an identity, or by hand.
func without(s restic.Snapshot, prefix string) restic.Snapshot {
	s.Tags = slices.DeleteFunc(slices.Clone(s.Tags), func(t string) bool { return strings.HasPrefix(t, prefix) })
	return s
}

// fakeNode is a file (content's length its size) or, when content is "/", a
// folder of a snapshot.
func fakeNode(p, content string, mtime time.Time) restic.Node {
	if content == "/" {
		return restic.Node{Name: filepath.Base(p), Type: "dir", Path: p, MTime: mtime}
	}
	return restic.Node{Name: filepath.Base(p), Type: "file", Path: p, Size: int64(len(content)), MTime: mtime}
}

// snapID is a 64-character snapshot ID starting with prefix.
func snapID(prefix string) string { return prefix + strings.Repeat("0", 64-len(prefix)) }
