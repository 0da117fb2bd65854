package operate

import (
	"slices"
	"strings"
	"time"
)

// Tags the agent puts on snapshots, besides the app's own tags. Evidence
// snapshots carry a summary of their document in tags, so that status and
// the scheduler read every kind's newest result with one `restic
// snapshots`, however long the history.
const (
	TagAppID    = "app-id:"
	TagEvidence = "devopsellence-backup:evidence"
	TagKind     = "evidence:"
	TagResult   = "result:"
	TagTrigger  = "trigger:"
	TagRun      = "run:"
	TagError    = "error:"
	TagPart     = "check-part:"
	TagFiles    = "kind:files"
	TagDB       = "kind:db"
	TagDBName   = "db:"
	TagEngine   = "engine:"
	// TagSuspect marks a files snapshot that restic saved but that holds
	// nothing, or much less than the one before: status does not count
	// it as a fresh backup, and restore --latest passes it over.
	TagSuspect = "suspect:"
)

// Suspect reports a snapshot marked suspect.
func Suspect(s Snapshot) bool { return s.TagValue(TagSuspect) != "" }

// EvidencePath is the snapshot path of kind's evidence document.
func EvidencePath(kind Op) string { return "/devopsellence-backup/evidence-" + string(kind) + ".json" }

// Snapshot is one snapshot as `restic snapshots --json` lists it.
type Snapshot struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Paths    []string  `json:"paths"`
	Hostname string    `json:"hostname"`
	Tags     []string  `json:"tags"`
}

// HasTag reports whether the snapshot carries tag.
func (s Snapshot) HasTag(tag string) bool { return slices.Contains(s.Tags, tag) }

// TagValue is the value of the first tag with prefix ("" when none).
func (s Snapshot) TagValue(prefix string) string {
	for _, t := range s.Tags {
		if v, ok := strings.CutPrefix(t, prefix); ok {
			return v
		}
	}
	return ""
}

// Identity is who a snapshot must belong to, to count as this app's.
type Identity struct {
	Host  string
	Tags  []string
	AppID string
}

// Owner says whose a snapshot is.
type Owner int

// Owners.
const (
	// Foreign: another host or tags, or another app's identity under this
	// app's host and tags (a second app sharing the repository).
	Foreign Owner = iota
	// Ours carries this app's host, tags and identity.
	Ours
	// Legacy carries this app's host and tags but no identity at all: made
	// before snapshots carried one. It counts as ours.
	Legacy
)

// Owner classifies s.
func (id Identity) Owner(s Snapshot) Owner {
	if s.Hostname != id.Host {
		return Foreign
	}
	for _, t := range id.Tags {
		if !s.HasTag(t) {
			return Foreign
		}
	}
	switch app := s.TagValue(TagAppID); {
	case app == id.AppID && app != "":
		return Ours
	case app == "":
		return Legacy
	}
	return Foreign
}

// Trusted drops the snapshots that are not this app's: other hosts and
// tags, another app's identity, and snapshots without any identity made
// after this app's first identified one (this app has tagged every
// snapshot since, so an untagged newer one under its host and tags was
// written by something else: a lookalike, or restic by hand). Untagged
// snapshots from before that are this app's own, made by a version of the
// tool that did not tag them yet. The second result counts the snapshots
// under this app's host that were dropped.
func (id Identity) Trusted(snaps []Snapshot) ([]Snapshot, int) {
	var first *time.Time
	for _, s := range snaps {
		if id.Owner(s) == Ours && (first == nil || s.Time.Before(*first)) {
			t := s.Time
			first = &t
		}
	}
	out := make([]Snapshot, 0, len(snaps))
	foreign := 0
	for _, s := range snaps {
		switch o := id.Owner(s); {
		case o == Ours, o == Legacy && (first == nil || !s.Time.After(*first)):
			out = append(out, s)
		case s.Hostname == id.Host:
			foreign++
		}
	}
	return out, foreign
}

// EvidenceRef is one evidence snapshot, read from its tags.
type EvidenceRef struct {
	Kind       string    `json:"kind"`
	Result     string    `json:"result"`
	Time       time.Time `json:"time"`
	SnapshotID string    `json:"snapshot_id"`
	Trigger    string    `json:"trigger,omitempty"`
	RunID      string    `json:"run_id,omitempty"`
	Error      string    `json:"error,omitempty"`
	CheckPart  string    `json:"check_part,omitempty"`
	// Copy names the second repository that holds this evidence, when it
	// is not the primary: a restore from a copy records its evidence there.
	Copy string `json:"copy,omitempty"`
	// Doc is the whole document, when it was read.
	Doc *Evidence `json:"doc,omitempty"`
}

// ReadEvidence reads an evidence snapshot's tags; ok is false for a
// snapshot that is not evidence.
func ReadEvidence(s Snapshot) (EvidenceRef, bool) {
	if !s.HasTag(TagEvidence) {
		return EvidenceRef{}, false
	}
	r := EvidenceRef{
		Kind: s.TagValue(TagKind), Result: s.TagValue(TagResult), Time: s.Time, SnapshotID: s.ID,
		Trigger: s.TagValue(TagTrigger), RunID: s.TagValue(TagRun), Error: s.TagValue(TagError),
		CheckPart: s.TagValue(TagPart),
	}
	// Evidence from before the result tags counts as a good run.
	if r.Result == "" {
		r.Result = ResultOK
	}
	return r, r.Kind != ""
}

// EvidenceTags are the tags of an evidence snapshot for ev.
func EvidenceTags(ev *Evidence, appID, runID, checkPart string) []string {
	tags := []string{TagEvidence, TagKind + ev.Kind, TagResult + ev.Result, TagTrigger + ev.Trigger}
	if appID != "" {
		tags = append(tags, TagAppID+appID)
	}
	if runID != "" {
		tags = append(tags, TagRun+runID)
	}
	if f := ev.Failure(); f != nil && f.Error != "" {
		tags = append(tags, TagError+f.Error)
	}
	if checkPart != "" {
		tags = append(tags, TagPart+checkPart)
	}
	return tags
}

// FutureSlack is how far in the future a time may be before it is not
// trusted: clocks drift a little.
const FutureSlack = 5 * time.Minute

// InFuture reports whether t is beyond now, the operator's clock.
func InFuture(t, now time.Time) bool { return t.After(now.Add(FutureSlack)) }
