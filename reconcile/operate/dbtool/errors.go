package dbtool

import (
	"errors"
	"fmt"
)

// Class names why an operation failed; it becomes the "error" of a step in
// the evidence (docs/evidence.md).
type Class string

// Classes of failure.
const (
	ClassBadURL         Class = "bad_url"         // the URL secret is not a usable URL; no process was started
	ClassToolMissing    Class = "tool_missing"    // the client program is not on PATH
	ClassAuthFailed     Class = "auth_failed"     // the server refused the user or password
	ClassConnectFailed  Class = "connect_failed"  // the server could not be reached
	ClassDumperFailed   Class = "dumper_failed"   // the dumper failed for another reason
	ClassDumpIncomplete Class = "dump_incomplete" // the dump lacks its completion marker or fails its check
	ClassSourceMissing  Class = "source_missing"  // the SQLite file does not exist
	ClassScratchFailed  Class = "scratch_failed"  // a scratch database could not be created or dropped
	ClassRestoreFailed  Class = "restore_failed"  // loading a dump stopped at an error
	ClassVerifyFailed   Class = "verify_failed"   // a restored copy fails its check
	ClassQueryFailed    Class = "query_failed"    // a summary or check query failed
	ClassInterrupted    Class = "interrupted"     // the context was cancelled
	ClassLocked         Class = "db_locked"       // the app held a lock longer than a restore may wait
	ClassFailed         Class = "failed"          // anything else
)

// Error is a failure of one operation. Its message never holds a secret:
// output of the client programs is scrubbed before it gets here.
type Error struct {
	Class    Class
	Op       string // what was being done, e.g. "pg_dump appdb"
	Secret   string // the name of the secret concerned, if known (never its value)
	ExitCode int    // of the client program; -1 when none ran or it was killed
	Msg      string
	Err      error // the cause, when it is safe to show
}

func (e *Error) Error() string {
	s := e.Op
	if e.Msg != "" {
		if s != "" {
			s += ": "
		}
		s += e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: that of the first *Error in its chain,
// else ClassFailed (nil has no class).
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ClassFailed
}

func errorf(class Class, op, format string, args ...any) *Error {
	return &Error{Class: class, Op: op, ExitCode: -1, Msg: fmt.Sprintf(format, args...)}
}
