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
	case restic.ClassRepositoryMissing, restic.ClassWrongPassword, restic.ClassInterrupted, restic.ClassDiskFull:
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
// a repository that cannot take the run's evidence.
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
			s.ok(0, "initialised a new repository at "+a.Config.Repository+"; restic says: "+restic.PasswordWarning+" Keep a copy of RESTIC_PASSWORD outside the node")
			err = f()
		case re.Class == restic.ClassLocked:
			err = unlockStale(ctx, rec, o, a.restic, "unlock", err, f)
		}
	}
	switch class(err) {
	case string(restic.ClassRepositoryMissing), string(restic.ClassWrongPassword):
		rec.repoUnusable = true
	case string(restic.ClassLocked):
		// Who holds it, and when restic lets it go: the step says so.
		if ctx.Err() == nil {
			rec.lock = a.blockingLock(ctx)
		}
	}
	return err
}

// unlockStale handles err, a call f on repository r that found it locked:
// with --unlock-stale (and in every scheduled run) it runs restic unlock,
// stale locks only, as step name, and runs f once more.
func unlockStale(ctx context.Context, rec *recorder, o RunOptions, r unlocker, name string, err error, f func() error) error {
	if !o.UnlockStale || restic.ClassOf(err) != restic.ClassLocked || ctx.Err() != nil {
		return err
	}
	s := rec.begin(name, "unlock")
	removed, uerr := r.Unlock(ctx)
	if uerr != nil {
		s.fail(exitOf(uerr), class(uerr), message(uerr))
	} else {
		s.ok(0, unlockSaid(removed))
	}
	return f()
}

// unlockSaid is what the unlock step says restic unlock did: restic 0.18
// prints nothing when no lock was stale, and a lock that is not stale (a
// live run's, or another host's younger than 30 minutes) stays, so the
// run that follows may find the repository locked still.
func unlockSaid(removed string) string {
	if removed == "" {
		return "restic unlock removed no lock: none was stale"
	}
	return "restic unlock: " + removed + " (stale locks only)"
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func pid() int { return os.Getpid() }
