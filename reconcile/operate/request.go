package operate

import (
	"regexp"
	"strconv"
	"time"
)

// Op is an operation the agent runs: the name of its command.
type Op string

// Operations, each an agent command.
const (
	// Runs that store evidence.
	OpBackup  Op = "backup"
	OpCheck   Op = "check"
	OpPrune   Op = "prune"
	OpDrill   Op = "drill"
	OpCopy    Op = "copy"
	OpRestore Op = "restore"
	// OpCheckpoint backs up the databases (and, when asked, the files) as
	// a restore point, tagged with the releases it was taken between.
	OpCheckpoint Op = "checkpoint"
	// OpStatus reads the snapshots and evidence; the browsing operations
	// read a repository (or a copy), all without a lock.
	OpStatus    Op = "status"
	OpSnapshots Op = "snapshots"
	OpLs        Op = "ls"
	OpFind      Op = "find"
	// OpDump writes one file of a snapshot, or a folder as a tar, to the
	// operator's stdout, in data lines.
	OpDump Op = "dump"
	// OpRotateKey is one step of rotating a repository password: add a key
	// for the next password, verify the current one, or remove an old key.
	OpRotateKey Op = "rotate-key"
	// OpCancel interrupts a run; OpVersion says who answers. Every agent
	// understands both, whatever protocol it speaks.
	OpCancel  Op = "cancel"
	OpVersion Op = "version"
	// OpLocks lists the repository's locks and says which container
	// answers, without a lock.
	OpLocks Op = "locks"
	// OpScheduler is the backup service's own command (spec.ServiceCommand).
	OpScheduler Op = "run"
)

// Request is one thing the operator's side asks of the agent, typed at both
// ends: its fields are declared once, in Fields, and both Argv (this side)
// and the agent's flags are made from that declaration.
type Request interface {
	// Operation is the agent's command that serves the request.
	Operation() Op
	// Fields declares the request's flags, then its positional
	// arguments, in command-line order. Which flags it declares depends
	// on the operation only (the agent binds them before it parses);
	// which arguments may depend on the flags' values.
	Fields(d Declarer)
}

// RunRequest is a request that starts a run, which a second exec can
// interrupt by its ID.
type RunRequest interface {
	Request
	RunHeader() *Header
}

// Declarer takes the fields of a request: Argv writes them as a command
// line; the agent binds them to its flags and arguments.
type Declarer interface {
	String(p *string, flag, usage string)
	Bool(p *bool, flag, usage string)
	Int(p *int, flag, usage string)
	Duration(p *time.Duration, flag, usage string)
	// Time is written in RFC 3339, in UTC, with its fraction of a second
	// (restore --before-release compares times closer than a second).
	Time(p *time.Time, flag, usage string)
	// Strings is a flag given once per value.
	Strings(p *[]string, flag, usage string)
	// Arg is a positional argument that must be there, OptArg one that
	// may be, Rest the ones left. Positional arguments follow "--".
	Arg(p *string, name string)
	OptArg(p *string, name string)
	Rest(p *[]string, name string)
}

// Argv is the exec argv that sends r to the agent: short, whatever the spec
// holds, since the agent reads its configuration from the service's
// environment. The protocol goes with every request but cancel and
// version, which any agent must understand.
func Argv(r Request) []string {
	op := r.Operation()
	w := &argvWriter{argv: []string{AgentCommand, "agent", string(op), "--json"}}
	if op != OpCancel && op != OpVersion {
		w.argv = append(w.argv, "--protocol", strconv.Itoa(Protocol))
	}
	r.Fields(w)
	if len(w.args) > 0 {
		w.argv = append(append(w.argv, "--"), w.args...)
	}
	return w.argv
}

// argvWriter writes the fields that are set.
type argvWriter struct {
	argv, args []string
}

func (w *argvWriter) flag(name, value string) { w.argv = append(w.argv, "--"+name, value) }

func (w *argvWriter) String(p *string, flag, _ string) {
	if *p != "" {
		w.flag(flag, *p)
	}
}

func (w *argvWriter) Bool(p *bool, flag, _ string) {
	if *p {
		w.argv = append(w.argv, "--"+flag)
	}
}

func (w *argvWriter) Int(p *int, flag, _ string) {
	if *p != 0 {
		w.flag(flag, strconv.Itoa(*p))
	}
}

func (w *argvWriter) Duration(p *time.Duration, flag, _ string) {
	if *p != 0 {
		w.flag(flag, p.String())
	}
}

func (w *argvWriter) Time(p *time.Time, flag, _ string) {
	if !p.IsZero() {
		w.flag(flag, p.UTC().Format(time.RFC3339Nano))
	}
}

func (w *argvWriter) Strings(p *[]string, flag, _ string) {
	for _, v := range *p {
		w.flag(flag, v)
	}
}

func (w *argvWriter) Arg(p *string, _ string) { w.args = append(w.args, *p) }

func (w *argvWriter) OptArg(p *string, _ string) {
	if *p != "" {
		w.args = append(w.args, *p)
	}
}

func (w *argvWriter) Rest(p *[]string, _ string) { w.args = append(w.args, *p...) }

// Header names a run and bounds it; every RunRequest carries one.
type Header struct {
	// RunID names the run, so that a second exec can interrupt it (the
	// agent makes one up when absent).
	RunID string
	// Timeout is the run's deadline, which the agent enforces itself.
	Timeout time.Duration
}

// RunHeader is the run's ID and deadline.
func (h *Header) RunHeader() *Header { return h }

func (r *Header) declare(d Declarer) {
	d.String(&r.RunID, "run-id", "names the run, so that agent cancel can stop it")
	d.Duration(&r.Timeout, "timeout", "deadline of the run; restic is then interrupted so it releases its lock")
}

const (
	usageUnlockStale = "when the repository is locked, run restic unlock (stale locks only) and try once more"
	usageFromCopy    = "read the copy of this name instead of the primary repository"
)

// BackupRequest asks for a backup now.
type BackupRequest struct {
	Header
	// Init creates a missing repository.
	Init bool
	// UnlockStale runs `restic unlock` (stale locks only) when the
	// repository is locked, then tries once more.
	UnlockStale bool
}

func (*BackupRequest) Operation() Op { return OpBackup }

func (r *BackupRequest) Fields(d Declarer) {
	r.declare(d)
	d.Bool(&r.Init, "init", "create the repository when it does not exist yet")
	d.Bool(&r.UnlockStale, "unlock-stale", usageUnlockStale)
}

// CheckRequest asks for a check of the repository.
type CheckRequest struct {
	Header
	// Subset is restic's --read-data-subset: "auto", "n/t", "x%" or "".
	Subset      string
	UnlockStale bool
}

func (*CheckRequest) Operation() Op { return OpCheck }

func (r *CheckRequest) Fields(d Declarer) {
	r.declare(d)
	d.String(&r.Subset, "read-data-subset", "also read part of the data: auto (rotate), n/t, or x%")
	d.Bool(&r.UnlockStale, "unlock-stale", usageUnlockStale)
}

var subsetPattern = regexp.MustCompile(`^(auto|[0-9]+/[0-9]+|[0-9]+(\.[0-9]+)?%)$`)

// ValidSubset reports whether s is a --read-data-subset restic takes:
// auto, n/t (1 <= n <= t) or x% (0 < x <= 100).
func ValidSubset(s string) bool {
	if !subsetPattern.MatchString(s) {
		return false
	}
	switch {
	case s == "auto":
		return true
	case s[len(s)-1] == '%':
		x, err := strconv.ParseFloat(s[:len(s)-1], 64)
		return err == nil && x > 0 && x <= 100
	}
	var n, t int
	for i := range s {
		if s[i] == '/' {
			n, _ = strconv.Atoi(s[:i])
			t, _ = strconv.Atoi(s[i+1:])
		}
	}
	return n >= 1 && n <= t
}

// PruneRequest asks for forget and prune by the spec's retention.
type PruneRequest struct {
	Header
	UnlockStale bool
}

func (*PruneRequest) Operation() Op { return OpPrune }

func (r *PruneRequest) Fields(d Declarer) {
	r.declare(d)
	d.Bool(&r.UnlockStale, "unlock-stale", usageUnlockStale)
}

// DrillRequest asks for a restore drill into scratch places.
type DrillRequest struct {
	Header
	UnlockStale bool
}

func (*DrillRequest) Operation() Op { return OpDrill }

func (r *DrillRequest) Fields(d Declarer) {
	r.declare(d)
	d.Bool(&r.UnlockStale, "unlock-stale", usageUnlockStale)
}

// CheckpointRequest asks for a restore point now: a backup of the
// databases (with Point.Files, the files too) tagged with the releases it
// is taken between.
type CheckpointRequest struct {
	Header
	Point       RestorePoint
	UnlockStale bool
}

func (*CheckpointRequest) Operation() Op { return OpCheckpoint }

func (r *CheckpointRequest) Fields(d Declarer) {
	r.declare(d)
	d.Bool(&r.Point.Files, "files", "back up the files too, not only the databases")
	d.String(&r.Point.Release, "release", "the revision devopsellence runs now")
	d.String(&r.Point.ReleaseID, "release-id", "the ID of the release devopsellence runs now")
	d.String(&r.Point.NextRelease, "next-release", "the revision about to be deployed")
	d.String(&r.Point.Reason, "reason", "why the restore point is taken (recorded in its evidence)")
	d.Bool(&r.UnlockStale, "unlock-stale", usageUnlockStale)
}

// CopyRequest asks to copy this app's snapshots into each copy of the spec.
type CopyRequest struct {
	Header
	// Init creates a copy's missing repository.
	Init        bool
	UnlockStale bool
}

func (*CopyRequest) Operation() Op { return OpCopy }

func (r *CopyRequest) Fields(d Declarer) {
	r.declare(d)
	d.Bool(&r.Init, "init", "create a copy's repository when it does not exist yet")
	d.Bool(&r.UnlockStale, "unlock-stale", "when the primary repository is locked, run restic unlock (stale locks only) and try once more")
}

// StatusRequest asks what the repository holds.
type StatusRequest struct {
	Header
	// Now is the operator's clock: snapshots dated after it are not
	// trusted (zero: the service's clock).
	Now time.Time
}

func (*StatusRequest) Operation() Op { return OpStatus }

func (r *StatusRequest) Fields(d Declarer) {
	r.declare(d)
	d.Time(&r.Now, "now", "the operator's clock (RFC 3339): snapshots dated after it are not trusted")
}

// BrowseRequest is one question of snapshots, ls or find.
type BrowseRequest struct {
	Header
	// Op is snapshots, ls or find.
	Op Op
	// FromCopy names the copy to read instead of the primary repository.
	FromCopy string
	// Limit is how many snapshots per group (snapshots), entries (ls) or
	// matches (find) the answer holds at most; Offset where ls starts.
	Limit, Offset int
	// Recursive lists the whole subtree of Dir instead of its children;
	// Snapshot and Dir are what ls looks into.
	Recursive     bool
	Snapshot, Dir string
	// Pattern is what find looks for.
	Pattern string
}

func (r *BrowseRequest) Operation() Op { return r.Op }

func (r *BrowseRequest) Fields(d Declarer) {
	r.declare(d)
	d.String(&r.FromCopy, "from-copy", usageFromCopy)
	d.Int(&r.Limit, "limit", "at most this many snapshots per group, entries or matches")
	switch r.Op {
	case OpLs:
		d.Int(&r.Offset, "offset", "skip this many entries (the next page)")
		d.Bool(&r.Recursive, "recursive", "list everything under DIR, not only its entries")
		d.Arg(&r.Snapshot, "SNAPSHOT")
		d.OptArg(&r.Dir, "DIR")
	case OpFind:
		d.Arg(&r.Pattern, "PATTERN")
	}
}

// LatestDatabase as a RestoreRequest's Latest is the app's one database,
// for a spec that names none: the only database the backups hold dumps of
// (a SQLite file found in a volume); the agent refuses when they hold
// several.
const LatestDatabase = "db"

// RestoreRequest is what a person asked to restore: without Plan, the
// plan is shown; with it, the plan is carried out if it is still the same.
type RestoreRequest struct {
	Header
	// FromCopy names the copy to restore from instead of the primary.
	FromCopy string
	// Target is a scratch folder; empty restores into the live data.
	Target string
	// Latest is a group (files, db:NAME, or LatestDatabase) whose newest
	// snapshot is taken, when Snapshot is empty.
	Latest string
	// Before limits Latest to snapshots taken before it, by the operator's
	// clock, which was Now when the request was made (zero: the service's
	// own clock); restore --before-release gives a release's first deploy.
	Before time.Time
	Now    time.Time
	// Plan is the ID of the plan the person saw: a restore runs only when
	// the recomputed plan has the same. Approve is the plan ID the person
	// approved, which a restore into live data must name.
	Plan    string
	Approve string
	// LockWait bounds a database restore's wait for the app's locks
	// (0: the spec's).
	LockWait    time.Duration
	UnlockStale bool
	// Snapshot is an ID (a unique prefix of 8 or more characters).
	Snapshot string
	// Paths limit a files restore to some of the snapshot's paths.
	Paths []string
}

func (*RestoreRequest) Operation() Op { return OpRestore }

func (r *RestoreRequest) Fields(d Declarer) {
	r.declare(d)
	d.String(&r.FromCopy, "from-copy", "restore from the copy of this name instead of the primary repository")
	d.String(&r.Target, "target", "restore into this scratch folder instead of the live data")
	d.String(&r.Latest, "latest", "restore the newest snapshot of files or db:NAME")
	d.Time(&r.Before, "before", "with --latest: the newest snapshot taken before this time (RFC 3339, by the clock of --now)")
	d.Time(&r.Now, "now", "the operator's clock (RFC 3339) when it asked, to compare --before with the service's clock")
	d.String(&r.Plan, "plan-id", "carry out the plan of this ID (it must still be the plan)")
	d.Duration(&r.LockWait, "lock-wait", "how long a database restore waits for a lock the app holds (default: spec.restore.lockWait)")
	d.String(&r.Approve, "approve", "the plan ID a person approved (into live data)")
	d.Bool(&r.UnlockStale, "unlock-stale", usageUnlockStale)
	if r.Latest == "" {
		d.Arg(&r.Snapshot, "SNAPSHOT")
	}
	d.Rest(&r.Paths, "PATH")
}

// DumpRequest names what dump reads: a path in one of this app's snapshots.
type DumpRequest struct {
	Header
	FromCopy       string
	Snapshot, Path string
}

func (*DumpRequest) Operation() Op { return OpDump }

func (r *DumpRequest) Fields(d Declarer) {
	r.declare(d)
	d.String(&r.FromCopy, "from-copy", usageFromCopy)
	d.Arg(&r.Snapshot, "SNAPSHOT")
	d.Arg(&r.Path, "PATH")
}

// Steps of OpRotateKey.
const (
	KeyStepAdd    = "add"
	KeyStepVerify = "verify"
	KeyStepRemove = "remove"
)

// RotateKeyRequest is one step of rotating the repository password held by
// the secret Secret (RESTIC_PASSWORD, or a copy's passwordSecret): add
// reads the next password from the service's secret
// spec.RotationSecret(Secret); remove removes Keys (IDs, never secrets).
type RotateKeyRequest struct {
	Secret string
	// Step is add, verify or remove.
	Step string
	// Keys are the keys remove removes, in whichever repository holds
	// them (each repository has its own key IDs).
	Keys []string
}

func (*RotateKeyRequest) Operation() Op { return OpRotateKey }

func (r *RotateKeyRequest) Fields(d Declarer) {
	d.String(&r.Secret, "secret", "the password secret being rotated (RESTIC_PASSWORD, or a copy's passwordSecret)")
	d.String(&r.Step, "step", "add, verify or remove")
	d.Strings(&r.Keys, "key", "remove: the ID of a key to remove (repeatable)")
}

// CancelRequest asks the agent to interrupt run RunID and to wait up to
// Wait for it to stop.
type CancelRequest struct {
	RunID string
	Wait  time.Duration
}

func (*CancelRequest) Operation() Op { return OpCancel }

func (r *CancelRequest) Fields(d Declarer) {
	d.String(&r.RunID, "run-id", "the run to stop")
	d.Duration(&r.Wait, "wait", "how long to wait for the run to stop")
}

// VersionRequest asks the agent for its version and the tools it lacks.
type VersionRequest struct{}

func (*VersionRequest) Operation() Op   { return OpVersion }
func (*VersionRequest) Fields(Declarer) {}

// SchedulerRequest is the backup service's command: the scheduler, with
// the deadlines of its runs (0: the spec's schedule.*Timeout, else
// DefaultTimeout).
type SchedulerRequest struct {
	BackupTimeout, PruneTimeout, CheckTimeout time.Duration
	// StopGrace is how long the platform waits after SIGTERM before it
	// kills the service (0: the agent's default, 10s).
	StopGrace time.Duration
}

func (*SchedulerRequest) Operation() Op { return OpScheduler }

func (r *SchedulerRequest) Fields(d Declarer) {
	d.Duration(&r.BackupTimeout, "backup-timeout", "deadline of each scheduled backup (default: spec.schedule.backupTimeout, else "+DefaultTimeout(OpBackup).String()+")")
	d.Duration(&r.PruneTimeout, "prune-timeout", "deadline of each scheduled prune (default: spec.schedule.pruneTimeout, else "+DefaultTimeout(OpPrune).String()+")")
	d.Duration(&r.CheckTimeout, "check-timeout", "deadline of each scheduled check (default: spec.schedule.checkTimeout, else "+DefaultTimeout(OpCheck).String()+")")
	d.Duration(&r.StopGrace, "stop-grace", "how long the platform waits after SIGTERM before it kills the service (devopsellence's node agent: --stop-timeout; default 10s); runs interrupted by a stop end within it")
}

// LocksRequest asks the agent which locks the repository holds, and which
// container answers.
type LocksRequest struct{}

func (*LocksRequest) Operation() Op   { return OpLocks }
func (*LocksRequest) Fields(Declarer) {}
