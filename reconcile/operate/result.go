package operate

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EvidenceSchema is the schema_version of evidence documents.
const EvidenceSchema = 1

// Results of an operation and of its steps.
const (
	ResultOK      = "ok"
	ResultPartial = "partial"
	ResultFailed  = "failed"
	// ResultSkipped is a step's result when there was nothing to do for
	// it, and why is its error class.
	ResultSkipped = "skipped"
)

// ClassNotCreatedYet: an optional SQLite file the app has not created yet
// and that was never backed up; skipped, with a note.
const ClassNotCreatedYet = "not_created_yet"

// Evidence is the result document of one run of backup, check, prune, drill
// (stored in the repository) or status (not stored). See docs/evidence.md.
// Unknown fields are ignored, so older readers accept newer documents.
type Evidence struct {
	SchemaVersion int      `json:"schema_version"`
	Kind          string   `json:"kind"`
	Environment   string   `json:"environment"`
	Service       string   `json:"service"`
	Host          string   `json:"host"`
	Tags          []string `json:"tags"`
	Repository    string   `json:"repository"`
	RepositoryID  string   `json:"repository_id,omitempty"`
	// Copy names the copy (spec.copies) the run read instead of the
	// primary repository (--from-copy).
	Copy            string    `json:"copy,omitempty"`
	ResticVersion   string    `json:"restic_version"`
	AgentVersion    string    `json:"agent_version,omitempty"`
	AppID           string    `json:"app_id,omitempty"`
	RunID           string    `json:"run_id,omitempty"`
	Trigger         string    `json:"trigger"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	DurationSeconds int64     `json:"duration_seconds"`
	Result          string    `json:"result"`
	ExitCode        int       `json:"exit_code"`
	Interrupted     bool      `json:"interrupted"`
	// InterruptedBy says what interrupted it (Interrupted* below; empty
	// from agents before it was recorded).
	InterruptedBy string `json:"interrupted_by,omitempty"`
	Steps         []Step `json:"steps"`
	// Alerts are the pings and webhooks sent about this run. A failed
	// alert never fails the run.
	Alerts []Alert `json:"alerts,omitempty"`
	// RestorePoint is what a checkpoint's snapshots record: the releases
	// it was taken between, and why.
	RestorePoint *RestorePoint `json:"restore_point,omitempty"`
}

// What interrupts a run (Evidence.InterruptedBy).
const (
	// InterruptedDeadline: its own deadline (--timeout, or a scheduled
	// run's).
	InterruptedDeadline = "deadline"
	// InterruptedCancel: `agent cancel` (the operator's side sends it when
	// the operator interrupts a command).
	InterruptedCancel = "cancel"
	// InterruptedServiceStop: the service stopped (docker stop, or a deploy
	// that replaced its container).
	InterruptedServiceStop = "service_stop"
	// InterruptedSignal: a signal to the run's own process.
	InterruptedSignal = "signal"
)

// Alert is one notification sent about a run.
type Alert struct {
	Kind     string `json:"kind"` // ping-start, ping, webhook
	OK       bool   `json:"ok"`
	Status   int    `json:"status,omitempty"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
}

// Step is one part of a run: the repository, a database, the files, a
// check, a forget or prune. Facts holds its kind-specific fields
// (snapshot_id, files, bytes_added, subset, matches_source, ...).
type Step struct {
	Name            string         `json:"name"`
	Kind            string         `json:"kind"`
	Result          string         `json:"result"`
	ExitCode        *int           `json:"exit_code"`
	Error           string         `json:"error,omitempty"`
	Message         string         `json:"message,omitempty"`
	DurationSeconds int64          `json:"duration_seconds"`
	Facts           map[string]any `json:"-"`
}

var stepKeys = map[string]bool{"name": true, "kind": true, "result": true, "exit_code": true, "error": true, "message": true, "duration_seconds": true}

// UnmarshalJSON reads the known fields and keeps the rest as Facts.
func (s *Step) UnmarshalJSON(data []byte) error {
	type plain Step
	if err := json.Unmarshal(data, (*plain)(s)); err != nil {
		return err
	}
	var all map[string]any
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	for k, v := range all {
		if !stepKeys[k] {
			if s.Facts == nil {
				s.Facts = map[string]any{}
			}
			s.Facts[k] = v
		}
	}
	return nil
}

// MarshalJSON writes the known fields and the facts side by side.
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	known, err := json.Marshal(plain(s))
	if err != nil || len(s.Facts) == 0 {
		return known, err
	}
	keys := make([]string, 0, len(s.Facts))
	for k := range s.Facts {
		if !stepKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.Write(known[:len(known)-1])
	for _, k := range keys {
		v, err := json.Marshal(s.Facts[k])
		if err != nil {
			return nil, err
		}
		kb, _ := json.Marshal(k)
		b.WriteByte(',')
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Fact returns a string fact ("" when absent).
func (s Step) Fact(key string) string {
	switch v := s.Facts[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "true"
		}
		return "false"
	}
	return ""
}

// Bytes is what the run's data snapshots hold: the sum of the bytes its
// database and files steps backed up (0 for a run that backed up nothing).
func (e *Evidence) Bytes() int64 {
	var n int64
	for _, s := range e.Steps {
		if s.Kind != "db" && s.Kind != "files" {
			continue
		}
		switch v := s.Facts["bytes"].(type) {
		case float64:
			n += int64(v)
		case int64:
			n += v
		case int:
			n += int64(v)
		case uint64:
			n += int64(v)
		}
	}
	return n
}

// Failure is the first failed step, or nil.
func (e *Evidence) Failure() *Step {
	for i := range e.Steps {
		if e.Steps[i].Result == ResultFailed {
			return &e.Steps[i]
		}
	}
	return nil
}

// ParseEvidence decodes an evidence document leniently.
func ParseEvidence(data []byte) (*Evidence, error) {
	var e Evidence
	if err := json.Unmarshal(bytes.TrimSpace(data), &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// Stored says whether a run's evidence reached the repository.
type Stored struct {
	Kind       string `json:"kind"`
	Stored     bool   `json:"stored"`
	SnapshotID string `json:"snapshot_id,omitempty"`
	Error      string `json:"error,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Outcome is what one agent run reported.
type Outcome struct {
	// ExitCode is the agent's exit status (-1 when exec itself failed).
	ExitCode int
	// Agent is who answered (nil when nothing answered).
	Agent *AgentInfo
	// Result is the run's result document; nil when the agent printed
	// none (it was killed, or exec failed before it ran).
	Result *Evidence
	// Stored says whether the evidence was saved in the repository.
	Stored *Stored
	// Status is what a status run read back.
	Status *StatusData
	// Browse is what snapshots, ls and find read; Plan a restore's plan.
	Browse *Browse
	Plan   *RestorePlan
	// Keys is what a step of rotate-key did.
	Keys *KeyRotation
	// Dump is what a dump read; onData gets each data line's piece.
	Dump   *DumpResult
	onData func(string)
	// Cancel is what the interrupting exec found, when the run was
	// interrupted from the operator's side.
	Cancel *CancelState
	// Locks is what `agent locks` read.
	Locks *LockReport
	// NotAnAgent is set when the service's image has no agent.
	NotAnAgent bool
	// BadLines counts machine lines that could not be decoded.
	BadLines int
	// Tail holds the last lines for people, to explain a run that gave
	// no result.
	Tail []string
}

// tailLines is how many lines for people an Outcome keeps.
const tailLines = 8

// keep remembers a line for people in Tail.
func (o *Outcome) keep(line string) {
	if len(o.Tail) == tailLines {
		o.Tail = o.Tail[1:]
	}
	o.Tail = append(o.Tail, line)
}

// Take reads one output line of the agent. It reports whether the line was
// a machine-readable one (and hands progress to onProgress); other lines are
// for people.
func (o *Outcome) Take(stream, text string, onProgress func(Progress)) bool {
	if stream != "stdout" || !strings.HasPrefix(text, "{") {
		return false
	}
	var l Line
	if err := json.Unmarshal([]byte(text), &l); err != nil || l.Type == "" {
		o.BadLines++
		return true
	}
	o.take(&l, onProgress)
	return true
}

func (o *Outcome) take(l *Line, onProgress func(Progress)) {
	if l.Agent != nil {
		o.Agent = l.Agent
	}
	switch l.Type {
	case LineProgress:
		if l.Progress != nil && onProgress != nil {
			onProgress(*l.Progress)
		}
	case LineResult:
		o.Result, o.Stored, o.Status = l.Evidence, l.Stored, l.Status
		o.Browse, o.Plan, o.Keys, o.Dump = l.Browse, l.Plan, l.Keys, l.Dump
	case LineLocks:
		o.Locks = l.Locks
	case LineData:
		if o.onData != nil {
			o.onData(l.Data)
		}
	case LineCancel:
		o.Cancel = l.Cancel
		if l.Cancel != nil && l.Cancel.Result != nil && o.Result == nil {
			o.take(l.Cancel.Result, onProgress)
		}
	}
}
