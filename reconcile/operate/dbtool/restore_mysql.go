package dbtool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// RestorePrefix is the start of the names of the databases a MySQL restore
// of database goes through (see RestoreMySQL); CleanupLeftovers takes it.
func RestorePrefix(database string) string { return scratchPrefix(RestoreBase, database) }

// RestoreMySQL replaces the tables of a live MySQL/MariaDB database with
// those of a dump (made without --databases) without a moment where the
// app sees a half-loaded database: it loads the dump into a new database on
// the same server, then swaps the tables in ONE RENAME TABLE statement
// (live → a holding database, loaded → live), which is atomic, and drops
// both helper databases. admin is a URL of the same server with the right
// to create databases and to rename the live tables (the zero Conn: live).
//
// RENAME TABLE cannot move views or tables with triggers between
// databases, so a dump with views or triggers, or a live database with
// triggers, is refused before anything changes. Stored routines and events
// of the live database stay as they are. A failure, or an interruption,
// before the RENAME leaves the live database untouched; so does a RENAME
// that waits longer than lockWait for the app's transactions.
func RestoreMySQL(ctx context.Context, live, admin Conn, dump io.Reader, now time.Time, lockWait time.Duration) (err error) {
	op := "restore " + live.Database
	if err := OnServer(live).validate(op); err != nil {
		return err
	}
	if !live.Engine.mysqlish() {
		return errorf(ClassFailed, op, "RestoreMySQL takes a mysql:// URL")
	}
	if live.Database == "" {
		return errorf(ClassBadURL, op, "the URL names no database")
	}
	if admin.zero() {
		admin = live
	}
	if err := OnServer(admin).validate(op); err != nil {
		return err
	}
	prefix := RestorePrefix(live.Database)
	incoming, holding := scratchName(prefix, now), scratchName(prefix, now)
	swapped := false
	defer func() {
		cctx, cancel := CleanupContext(ctx)
		defer cancel()
		var errs []error
		for _, n := range []string{incoming, holding} {
			if derr := myDrop(cctx, admin, n, "drop "+n); derr != nil {
				errs = append(errs, derr)
			}
		}
		if len(errs) > 0 && err == nil {
			what := "nothing changed"
			if swapped {
				what = "the restore is done"
			}
			err = &Error{Class: ClassScratchFailed, Op: op, ExitCode: -1, Msg: what + ", but a helper database is left (the next drill or restore removes it)", Err: errors.Join(errs...)}
		}
	}()
	for _, n := range []string{incoming, holding} {
		if err := myCreate(ctx, admin, n, op); err != nil {
			return err
		}
	}
	if err := myLoad(ctx, admin.With(incoming), dump, op); err != nil {
		return fmt.Errorf("load the dump into %s (the live database is untouched): %w", incoming, err)
	}
	moves, err := mySwap(ctx, admin, live.Database, incoming, holding, op)
	if err != nil {
		return err
	}
	// RENAME TABLE waits for every open transaction on the live tables,
	// and every query of the app waits behind it: it gives up soon.
	wait := fmt.Sprintf("SET SESSION lock_wait_timeout = %d; ", max(1, int(lockWait.Round(time.Second).Seconds())))
	if _, err := myExec(ctx, admin, op, ClassRestoreFailed, wait+"RENAME TABLE "+strings.Join(moves, ", ")); err != nil {
		if ClassOf(err) == ClassLocked {
			return fmt.Errorf("the app kept a transaction open on the live tables for longer than the restore waits for it (%s); nothing was changed: %w", lockWait, err)
		}
		return fmt.Errorf("swap the tables in one RENAME TABLE (atomic: the live database is as it was): %w", err)
	}
	swapped = true
	return nil
}

// mySwap is the one RENAME TABLE's moves that swap the tables of incoming
// in for those of the live database (moved into holding). It refuses a
// dump without tables, and views or triggers, which RENAME TABLE cannot
// move between databases.
func mySwap(ctx context.Context, admin Conn, live, incoming, holding, op string) ([]string, error) {
	blockers, err := myExec(ctx, admin, op, ClassRestoreFailed, fmt.Sprintf(
		"SELECT (SELECT COUNT(*) FROM information_schema.views WHERE table_schema = %s) + "+
			"(SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema IN (%s, %s))",
		myLiteral(incoming), myLiteral(incoming), myLiteral(live)))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(blockers)) != "0" {
		return nil, errorf(ClassRestoreFailed, op, "the dump holds views or triggers, or the live database has triggers, which RENAME TABLE cannot move between databases; nothing was changed: load the dump by hand (see docs/operations.md)")
	}
	liveTables, err := myTables(ctx, OnServer(admin.With(live)), op)
	if err != nil {
		return nil, err
	}
	newTables, err := myTables(ctx, OnServer(admin.With(incoming)), op)
	if err != nil {
		return nil, err
	}
	if len(newTables) == 0 {
		return nil, errorf(ClassRestoreFailed, op, "the dump holds no tables; nothing was changed")
	}
	var moves []string
	for _, t := range liveTables {
		moves = append(moves, myIdent(live)+"."+myIdent(t)+" TO "+myIdent(holding)+"."+myIdent(t))
	}
	for _, t := range newTables {
		moves = append(moves, myIdent(incoming)+"."+myIdent(t)+" TO "+myIdent(live)+"."+myIdent(t))
	}
	return moves, nil
}

// myLiteral quotes a MySQL string literal.
func myLiteral(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
