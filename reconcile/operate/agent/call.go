package agent

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// Repository-level failures end a run at once: nothing else can work.
func fatal(err error) bool {
	var re *restic.Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.Class {
	case restic.ClassRepositoryMissing, restic.ClassWrongPassword, restic.ClassInterrupted:
		return true
	}
	return false
}

// class is the error class of err for the evidence ("" for nil).
func class(err error) string {
	var re *restic.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return string(re.Class)
	}
	return "failed"
}

// exitOf is the exit code of a restic failure (nil when none ran).
func exitOf(err error) *int {
	var re *restic.Error
	if errors.As(err, &re) {
		return code(re.ExitCode)
	}
	if err == nil {
		return code(0)
	}
	return nil
}

// message is the gist of err for people.
func message(err error) string {
	var re *restic.Error
	if errors.As(err, &re) {
		return re.Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// call runs one restic command f and handles what the run's flags allow:
// a missing repository is created with --init, a locked one is unlocked
// (stale locks only) with --unlock-stale; then f runs once more. It notes
// whether the repository was reached, since only then is evidence stored.
func (a *Agent) call(ctx context.Context, rec *recorder, o RunOptions, f func() error) error {
	err := f()
	var re *restic.Error
	if errors.As(err, &re) && ctx.Err() == nil {
		switch {
		case re.Class == restic.ClassRepositoryMissing && o.Init:
			s := rec.begin("repository", "repository")
			if ierr := a.restic.Init(ctx); ierr != nil {
				s.fail(exitOf(ierr), class(ierr), "restic init failed: "+message(ierr))
				return ierr
			}
			s.ok(0, "initialised a new repository at "+a.Config.Repository)
			err = f()
		case re.Class == restic.ClassLocked && o.UnlockStale:
			s := rec.begin("unlock", "unlock")
			removed, uerr := a.restic.Unlock(ctx)
			if uerr != nil {
				s.fail(exitOf(uerr), class(uerr), message(uerr))
			} else {
				s.ok(0, removed)
			}
			err = f()
		}
	}
	// An interrupted command may or may not have reached it; the evidence
	// of an interrupted run is worth a try (its store has a deadline).
	switch class(err) {
	case string(restic.ClassRepositoryMissing), string(restic.ClassWrongPassword):
	default:
		rec.repoReached = true
	}
	return err
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func pid() int { return os.Getpid() }
