package operate

import (
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// Protocol is the version of the conversation between the operator's side
// and the agent. The agent refuses a request of a newer protocol than its
// own; the operator's side refuses an agent of an older one.
const Protocol = 1

// AgentCommand is the agent's command name inside the backup image.
const AgentCommand = spec.AgentCommand

// KeyRotation is what a step of rotate-key found and did, per repository
// the secret opens.
type KeyRotation struct {
	Secret       string          `json:"secret"`
	Step         string          `json:"step"`
	Repositories []RotatedRepo   `json:"repositories"`
	Error        *KeyRotateError `json:"error,omitempty"`
}

// RotatedRepo is one repository in a rotation: the key its current
// password opens, and the key added for the next one.
type RotatedRepo struct {
	Repository string `json:"repository"`
	// Copy names the copy; empty for the primary repository.
	Copy string `json:"copy,omitempty"`
	// CurrentKey is the key the service's password opened it with.
	CurrentKey string `json:"current_key"`
	// AddedKey is the key add made for the next password, which opened it.
	AddedKey string `json:"added_key,omitempty"`
	// Removed are the keys remove removed.
	Removed []string `json:"removed,omitempty"`
	// Keys counts the repository's keys after the step.
	Keys int `json:"keys"`
}

// KeyRotateError says why a step failed, and where.
type KeyRotateError struct {
	Repository string `json:"repository"`
	Class      string `json:"class"`
	Message    string `json:"message"`
}

// EvidenceKinds are the operations that store evidence, in report order.
func EvidenceKinds() []Op {
	return []Op{OpBackup, OpCheck, OpPrune, OpDrill, OpCopy, OpRestore, OpCheckpoint}
}

// DefaultTimeout is the default deadline of op. restic retries a dead
// backend for up to 15 minutes, so every run needs one of its own.
func DefaultTimeout(op Op) time.Duration {
	switch op {
	case OpBackup, OpCopy, OpRestore, OpDump, OpCheckpoint:
		return 6 * time.Hour
	case OpStatus, OpSnapshots, OpLs, OpFind:
		return 5 * time.Minute
	}
	return 2 * time.Hour
}

// AutoParts is how many parts `check --read-data-subset auto` rotates
// through when the spec sets no check.readDataParts.
const AutoParts = 10

// Triggers recorded in evidence.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
)

// Line is one line the agent prints on stdout with --json. Everything else
// it prints (on stderr) is for people.
type Line struct {
	// Type is progress, waiting, result, version or cancel.
	Type     string       `json:"type"`
	Progress *Progress    `json:"progress,omitempty"`
	Message  string       `json:"message,omitempty"`
	Agent    *AgentInfo   `json:"agent,omitempty"`
	Evidence *Evidence    `json:"evidence,omitempty"`
	Stored   *Stored      `json:"stored,omitempty"`
	Status   *StatusData  `json:"status,omitempty"`
	Cancel   *CancelState `json:"cancel,omitempty"`
	// Browse is what snapshots, ls and find read; Plan a restore's plan.
	Browse *Browse      `json:"browse,omitempty"`
	Plan   *RestorePlan `json:"plan,omitempty"`
	// Locks is what `agent locks` read.
	Locks *LockReport `json:"locks,omitempty"`
	// Keys is what a step of rotate-key did.
	Keys *KeyRotation `json:"keys,omitempty"`
	// Data is a piece of what dump reads, in base64 (a data line); Dump
	// is what it read in all (the result line).
	Data string      `json:"data,omitempty"`
	Dump *DumpResult `json:"dump,omitempty"`
}

// DumpChunk is how many bytes of a dump one data line carries: 64 KiB in
// base64, well within the 128 KiB at which devopsellence's exec cuts a
// line.
const DumpChunk = 48 << 10

// DumpResult is what a dump read: its bytes' count and SHA-256, which the
// operator's side compares with what it received.
type DumpResult struct {
	Snapshot string `json:"snapshot"`
	Path     string `json:"path"`
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"sha256"`
}

// Line types.
const (
	LineProgress = "progress"
	LineWaiting  = "waiting"
	LineResult   = "result"
	LineVersion  = "version"
	LineCancel   = "cancel"
	LineLocks    = "locks"
	LineData     = "data"
)

// LockReport is what `agent locks` answers: the repository's locks, and
// the service it answers from (its container's host name, and when the
// container's process 1 started).
type LockReport struct {
	Container      string     `json:"container"`
	ServiceStarted *time.Time `json:"service_started,omitempty"`
	Locks          []LockInfo `json:"locks"`
	// Error is why the locks could not be read.
	Error string `json:"error,omitempty"`
}

// LockInfo is one restic lock in the repository.
type LockInfo struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Exclusive bool      `json:"exclusive"`
	Created   time.Time `json:"created"`
	// StaleAt is when restic calls it stale on any host: 30 minutes after
	// its last refresh.
	StaleAt time.Time `json:"stale_at"`
	// Here is set for a lock made in the answering container: restic calls
	// it stale as soon as its process is gone.
	Here bool `json:"here"`
	// Stale says restic calls it stale now (so `restic unlock` removes it):
	// made here by a process that is gone, or past StaleAt.
	Stale bool `json:"stale"`
}

// Progress is how far a step is, from restic's status lines, at most once
// a second.
type Progress struct {
	Step       string  `json:"step"`
	Percent    float64 `json:"percent"`
	BytesDone  int64   `json:"bytes_done"`
	BytesTotal int64   `json:"bytes_total"`
	FilesDone  int64   `json:"files_done"`
	FilesTotal int64   `json:"files_total"`
	ETASeconds int64   `json:"eta_seconds"`
}

// AgentInfo is who answered: the agent's version and what it runs.
type AgentInfo struct {
	Version       string   `json:"version"`
	Protocol      int      `json:"protocol"`
	ResticVersion string   `json:"restic_version,omitempty"`
	MissingTools  []string `json:"missing_tools,omitempty"`
	Schedule      string   `json:"schedule,omitempty"`
}

// CancelState is what `agent cancel` found and did.
type CancelState struct {
	RunID string `json:"run_id"`
	// Found is false when no such run was running (it had finished, or
	// never started; it will not start now).
	Found bool `json:"found"`
	// Stopped is true once the run is no longer running.
	Stopped bool `json:"stopped"`
	// Result is the run's own result, when it wrote one.
	Result *Line `json:"result,omitempty"`
}

// DumpFile is the snapshot path of a database's dump: /<name>.<ext>.
func DumpFile(d spec.Database) string {
	switch {
	case d.Engine == spec.EngineSQLite:
		return "/" + d.Name + ".sqlite3"
	case d.Engine == spec.EngineCommand:
		return "/" + d.Name + ".dump"
	case d.Engine == spec.EnginePostgres && DumpFormat(d) == spec.FormatCustom:
		return "/" + d.Name + ".pgdump"
	case d.Engine == spec.EngineRedis:
		return "/" + d.Name + ".rdb"
	}
	return "/" + d.Name + ".sql"
}

// DumpFormat is a database's dump format: custom (pg_dump -Fc -Z0) by
// default for postgres; "" for the engines that have one format.
func DumpFormat(d spec.Database) string {
	if d.Engine != spec.EnginePostgres {
		return ""
	}
	if d.Format == "" {
		return spec.FormatCustom
	}
	return d.Format
}
