package agent

import (
	"context"
	"io"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// repository is what the agent asks of the restic repository it works on.
// *restic.Runner is the one that runs restic; the agent's planning (restore
// plans, the files a restore replaces, what prune forgets) is tested
// against a fake. Key rotation and the copies' runners use *restic.Runner
// itself: they need its environment.
type repository interface {
	reader
	forgetter
	unlocker
	Backup(ctx context.Context, o restic.BackupOptions, onProgress func(restic.Progress)) (*restic.BackupSummary, error)
	Restore(ctx context.Context, o restic.RestoreOptions, onProgress func(restic.Progress)) (restic.RestoreSummary, error)
	Tag(ctx context.Context, ids []string, add []string) error
	Check(ctx context.Context, subset string) (restic.CheckResult, error)
	Prune(ctx context.Context) (restic.PruneResult, error)
	Init(ctx context.Context) error
	Copy(ctx context.Context, o restic.CopyOptions) error
}

// reader is what planning and browsing read, changing nothing.
type reader interface {
	snapshotLister
	Version(ctx context.Context) (restic.Version, error)
	Config(ctx context.Context) (restic.RepositoryConfig, error)
	List(ctx context.Context, o restic.ListOptions, each func(restic.Node) error) error
	Find(ctx context.Context, f restic.Filter, patterns []string, each func(restic.Match) error) error
	Dump(ctx context.Context, snapshotID, path string, w io.Writer) error
	Stats(ctx context.Context, o restic.StatsOptions) (restic.Stats, error)
}

type snapshotLister interface {
	Snapshots(ctx context.Context, f restic.Filter) ([]restic.Snapshot, error)
}

// forgetter is what prune's selection needs: one listing, then forget
// exactly the snapshots selected.
type forgetter interface {
	snapshotLister
	ForgetIDs(ctx context.Context, ids []string) error
}

type unlocker interface {
	Unlock(ctx context.Context) (removed string, err error)
	// Locks lists the repository's locks, who holds each, without a lock.
	Locks(ctx context.Context) ([]restic.Lock, error)
}

var _ repository = (*restic.Runner)(nil)
