package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/reconcile/process"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// snapTags are the tags of a data snapshot of run o: the app's, its
// identity, what the snapshot holds, the run that made it (so a listing
// can show that run's evidence) and the run's own extra tags.
func (a *Agent) snapTags(o RunOptions, kind ...string) []string {
	tags := a.dataTags(kind...)
	if o.RunID != "" {
		tags = append(tags, operate.TagRun+o.RunID)
	}
	return append(tags, o.Tags...)
}

// dumpCommand backs up a custom dump: the spec's command writes it on its
// standard output, in the service's environment (so it sees the secrets
// it needs). Like the built-in dumpers it never leaves a truncated
// snapshot: restic 0.17+ runs it with --stdin-from-command and saves
// nothing when it exits non-zero; older restic gets the output file only
// after the command exited 0 with something written.
func (a *Agent) dumpCommand(ctx context.Context, rec *recorder, o RunOptions, d spec.Database) error {
	s := rec.begin("db:"+d.Name, "db")
	s.fact("engine", d.Engine)
	file := strings.TrimPrefix(operate.DumpFile(d), "/")
	s.fact("file", "/"+file)
	s.fact("command", strings.Join(d.Command, " "))
	backup := restic.BackupOptions{Host: a.Config.Host, Tags: a.snapTags(o, operate.TagDB, operate.TagDBName+d.Name, operate.TagEngine+d.Engine), StdinFilename: file}
	if v, _ := a.restic.Version(ctx); v.AtLeast(0, 17) {
		backup.StdinCommand = d.Command
	} else {
		f, cleanup := a.dumpFile(s, file, func(path string) bool { return a.runDumpCommand(ctx, s, d, path) })
		defer cleanup()
		if f == nil {
			return nil
		}
		backup.Stdin = f
	}
	var sum *restic.BackupSummary
	err := a.call(ctx, rec, o, func() error {
		var err error
		sum, err = a.restic.Backup(ctx, backup, func(p restic.Progress) {
			a.Out.Progress(operate.Progress{Step: "db:" + d.Name, BytesDone: p.BytesDone, ETASeconds: p.SecondsRemaining})
		})
		return err
	})
	if sum != nil && sum.TotalBytesProcessed == 0 && restic.ClassOf(err) == restic.ClassPartial {
		s.fact("snapshot_id", sum.SnapshotID)
		s.fail(exitOf(err), "dump_incomplete", fmt.Sprintf("the command exited 0 but wrote nothing: snapshot %s is empty, do not restore it", short(sum.SnapshotID)))
		return err
	}
	a.recordBackup(s, sum, err, nil)
	return err
}

// runDumpCommand runs the spec's dump command into path; a command that
// fails or writes nothing fails the step.
func (a *Agent) runDumpCommand(ctx context.Context, s *stepRun, d spec.Database, path string) bool {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		s.fail(nil, "failed", err.Error())
		return false
	}
	defer f.Close()
	if code, tail, err := a.runCommand(ctx, d.Command, nil, nil, f); err != nil {
		s.fail(exitPtr(code), "dumper_failed", fmt.Sprintf("the command failed, so no snapshot was made: %v%s", err, tail))
		return false
	}
	if fi, err := f.Stat(); err != nil || fi.Size() == 0 {
		s.fail(code(0), "dump_incomplete", "the command exited 0 but wrote nothing, so no snapshot was made")
		return false
	}
	return true
}

// drillCommand reads the newest custom dump back and, when the spec sets
// one, runs its restoreCommand with the dump on stdin (BACKUP_DUMP_FILE
// names it): exit 0 passes.
func (a *Agent) drillCommand(ctx context.Context, rec *recorder, o RunOptions, scr string, snaps []operate.Snapshot, d spec.Database) {
	s := rec.begin("db:"+d.Name, "db")
	s.fact("engine", d.Engine)
	file := operate.DumpFile(d)
	snap := newestOf(snaps, []string{operate.TagDB, operate.TagDBName + d.Name}, []string{file})
	if snap == nil {
		s.fail(nil, "no_snapshot", fmt.Sprintf("no snapshot of %s for this host and tags: run devopsellence-backup backup first", file))
		return
	}
	s.fact("snapshot_id", snap.ID)
	s.fact("snapshot_time", snap.Time.UTC().Format(time.RFC3339))
	dump := filepath.Join(scr, strings.TrimPrefix(file, "/"))
	f, err := os.OpenFile(dump, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		s.fail(nil, "failed", err.Error())
		return
	}
	defer os.Remove(dump)
	defer f.Close()
	if err := a.call(ctx, rec, o, func() error { return a.restic.Dump(ctx, snap.ID, file, f) }); err != nil {
		s.fail(exitOf(err), class(err), "restic dump failed: "+message(err))
		return
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		s.fail(code(1), "verify_failed", fmt.Sprintf("snapshot %s holds an empty dump", short(snap.ID)))
		return
	}
	s.fact("bytes", fi.Size())
	if len(d.RestoreCommand) == 0 {
		s.ok(0, fmt.Sprintf("read back %s (%d bytes) from %s; the spec sets no restoreCommand to verify it", file, fi.Size(), short(snap.ID)))
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		s.fail(nil, "failed", err.Error())
		return
	}
	exit, tail, err := a.runCommand(ctx, d.RestoreCommand, []string{"BACKUP_DUMP_FILE=" + dump}, f, io.Discard)
	s.fact("check_exit_code", exit)
	if err != nil {
		s.fail(exitPtr(exit), "verify_failed", fmt.Sprintf("restoreCommand failed on the dump of %s: %v%s", short(snap.ID), err, tail))
		return
	}
	s.ok(0, fmt.Sprintf("restoreCommand accepted the dump of %s (%d bytes)", short(snap.ID), fi.Size()))
}

// runCommand runs a spec command in the service's environment (plus
// extra), in its own process group (see package process): a cancelled run
// sends the group SIGTERM, then SIGKILL. It returns the exit code (-1 when
// none) and the scrubbed tail of its stderr, for the message.
func (a *Agent) runCommand(ctx context.Context, argv, extra []string, stdin io.Reader, stdout io.Writer) (int, string, error) {
	res, err := process.Run(ctx, process.Cmd{Path: argv[0], Args: argv[1:], Env: append(slices.Clone(a.Environ), extra...), Dir: "/",
		Stdin: stdin, Stdout: stdout, TailBytes: 2048})
	text := ""
	if res != nil {
		if t := strings.TrimSpace(strings.ReplaceAll(res.Stderr, "\n", " ")); t != "" {
			text = ": " + a.scrub(t)
		}
	}
	var ee *exec.ExitError
	switch {
	case err == nil && res.StdinErr == nil:
		return 0, text, nil
	case ctx.Err() != nil:
		return -1, text, fmt.Errorf("interrupted: %w", ctx.Err())
	case res != nil && res.StdinErr != nil:
		return -1, text, errors.New(a.scrub("reading its input failed: " + res.StdinErr.Error()))
	case errors.As(err, &ee):
		return ee.ExitCode(), text, fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return -1, text, errors.New(a.scrub(err.Error()))
}

func exitPtr(n int) *int {
	if n < 0 {
		return nil
	}
	return code(n)
}
