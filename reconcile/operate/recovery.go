package operate

import (
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// Tags of recovery.
const (
	// TagPreRestore marks the snapshot a restore took of what it was about
	// to overwrite: the undo of restore plan <id>.
	TagPreRestore = "pre-restore:"
)

// MaxAnswer bounds the agent's answer line: devopsellence's exec cuts an
// output line at 128 KiB, so a listing is shortened (and says so) well
// before that.
const MaxAnswer = 96 << 10

// Browse is what snapshots, ls and find read from a repository.
type Browse struct {
	// Repository is where it was read, as shown to people; Copy names the
	// copy when it was not the primary.
	Repository string `json:"repository"`
	Copy       string `json:"copy,omitempty"`

	// Groups are the backups (snapshots): the files, then each database,
	// each newest first.
	Groups []SnapshotGroup `json:"groups,omitempty"`

	// Snapshot and Dir are what ls looked into; Entries what it found.
	Snapshot *Listed `json:"snapshot,omitempty"`
	Dir      string  `json:"dir,omitempty"`
	Entries  []Entry `json:"entries,omitempty"`

	// Pattern is what find looked for; Matches what it found, newest
	// snapshot first.
	Pattern string  `json:"pattern,omitempty"`
	Matches []Match `json:"matches,omitempty"`

	// Total counts the entries or matches found; Offset is where this
	// answer starts. Shortened says the answer holds fewer than found
	// after Offset: page with --offset, or narrow the question.
	Total     int  `json:"total"`
	Offset    int  `json:"offset,omitempty"`
	Shortened bool `json:"shortened,omitempty"`
}

// SnapshotGroup is one backup's snapshots: the files of a set of paths,
// or one database's dumps.
type SnapshotGroup struct {
	// Name is "files" or "db:NAME".
	Name  string   `json:"name"`
	Kind  string   `json:"kind"`
	DB    string   `json:"db,omitempty"`
	Paths []string `json:"paths"`
	// Count is the group's number of snapshots; Snapshots holds the
	// newest of them.
	Count     int      `json:"count"`
	Snapshots []Listed `json:"snapshots"`
}

// Listed is one data snapshot as people see it.
type Listed struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	DB    string    `json:"db,omitempty"`
	Paths []string  `json:"paths"`
	Host  string    `json:"host"`
	// Tags are the snapshot's other tags: not the app's, nor those shown
	// in the fields above and below (kind, db, engine, run, pre-restore,
	// restore-of).
	Tags []string `json:"tags,omitempty"`
	// Bytes and Files are the size of what was backed up (restic 0.17+
	// stores them in the snapshot; 0 when unknown).
	Bytes int64 `json:"bytes,omitempty"`
	Files int64 `json:"files,omitempty"`
	// PreRestore is the restore plan whose undo this snapshot is, and
	// RestoreOf the snapshot that restore brought back.
	PreRestore string `json:"pre_restore,omitempty"`
	RestoreOf  string `json:"restore_of,omitempty"`
	// Run is the evidence of the run that made it, when it is known.
	Run *RunRef `json:"run,omitempty"`
}

// RunRef is the evidence of one run, read from its tags.
type RunRef struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Result     string `json:"result"`
	Trigger    string `json:"trigger,omitempty"`
	EvidenceID string `json:"evidence_id"`
}

// Entry is one file or folder in a snapshot.
type Entry struct {
	Path  string    `json:"path"`
	Type  string    `json:"type"`
	Size  int64     `json:"size,omitempty"`
	Mode  string    `json:"mode,omitempty"`
	MTime time.Time `json:"mtime"`
}

// Match is one file find found.
type Match struct {
	SnapshotID   string    `json:"snapshot_id"`
	SnapshotTime time.Time `json:"snapshot_time"`
	Path         string    `json:"path"`
	Type         string    `json:"type"`
	Size         int64     `json:"size,omitempty"`
	MTime        time.Time `json:"mtime"`
}

// RestorePlan is what a restore will do, shown before it does it. Its ID
// digests the snapshot, the target and the shape of the live data it
// replaces (file names, table names): the restore refuses to run when the
// recomputed plan has another ID, so nothing that the person approved can
// change in between.
type RestorePlan struct {
	ID           string `json:"id"`
	Environment  string `json:"environment"`
	Repository   string `json:"repository"`
	RepositoryID string `json:"repository_id,omitempty"`
	Copy         string `json:"copy,omitempty"`
	Snapshot     Listed `json:"snapshot"`
	// Target is a scratch folder; empty means the live data, which needs
	// approval and a fresh backup first.
	Target   string        `json:"target,omitempty"`
	Files    *FilesPlan    `json:"files,omitempty"`
	Database *DatabasePlan `json:"database,omitempty"`
	// Notes are what else a person should know before approving.
	Notes []string `json:"notes,omitempty"`
	// Writers are the app's services that mount the volumes a files
	// restore replaces paths in: they must not write there while it runs
	// (the operator's side names them from devopsellence.yml).
	Writers []string `json:"writers,omitempty"`
}

// Live reports whether the plan overwrites live data.
func (p *RestorePlan) Live() bool { return p.Target == "" }

// FilesPlan is what restoring some paths does to the live files.
type FilesPlan struct {
	// Paths are replaced whole by their copy in the snapshot.
	Paths    []string `json:"paths"`
	Snapshot Counts   `json:"snapshot"`
	Live     Counts   `json:"live"`
	// Changed exist live and in the snapshot with another size or
	// modification time; Identical with the same (restic would not see a
	// change either): they come back as they are. Deleted exist only
	// live, Added only in the snapshot.
	Changed   Counts `json:"changed"`
	Identical Counts `json:"identical"`
	Deleted   Counts `json:"deleted"`
	Added     Counts `json:"added"`
	// The first few of each, for people.
	ChangedSample   []string `json:"changed_sample,omitempty"`
	IdenticalSample []string `json:"identical_sample,omitempty"`
	DeletedSample   []string `json:"deleted_sample,omitempty"`
	AddedSample     []string `json:"added_sample,omitempty"`
	// Kept are live paths the restore leaves as they are: database files
	// (restored as databases) and what the spec excludes from backups
	// (the first few; KeptCount counts them all).
	Kept      []string `json:"kept,omitempty"`
	KeptCount int      `json:"kept_count,omitempty"`
}

// Counts counts files and their bytes.
type Counts struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Add counts one more file of n bytes.
func (c *Counts) Add(n int64) {
	c.Files++
	c.Bytes += n
}

// DatabasePlan is what restoring a database does to the live one.
type DatabasePlan struct {
	Name   string `json:"name"`
	Engine string `json:"engine"`
	// Target is the live database: its URL without password, or its file.
	Target     string       `json:"target"`
	Now        *TableCounts `json:"now,omitempty"`
	InSnapshot *TableCounts `json:"in_snapshot,omitempty"`
	// Tables compares each table's rows now and in the snapshot (the
	// first ones; MoreTables counts the rest).
	Tables     []TableRow `json:"tables,omitempty"`
	MoreTables int        `json:"more_tables,omitempty"`
	// Unknown says why the snapshot's counts could not be read.
	Unknown string `json:"unknown,omitempty"`
}

// TableCounts sums a database.
type TableCounts struct {
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
}

// TableRow is one table's rows now and in the snapshot (nil: absent).
type TableRow struct {
	Name       string `json:"name"`
	Now        *int64 `json:"now,omitempty"`
	InSnapshot *int64 `json:"in_snapshot,omitempty"`
}

// CompareTables lists the tables of both sides, sorted, at most max.
func CompareTables(now, snap map[string]int64, max int) ([]TableRow, int) {
	var names []string
	for k := range now {
		names = append(names, k)
	}
	for k := range snap {
		if _, ok := now[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var rows []TableRow
	for _, n := range names {
		if len(rows) == max {
			break
		}
		r := TableRow{Name: n}
		if v, ok := now[n]; ok && now != nil {
			r.Now = &v
		}
		if v, ok := snap[n]; ok && snap != nil {
			r.InSnapshot = &v
		}
		rows = append(rows, r)
	}
	return rows, len(names) - len(rows)
}

// SameSnapshot reports whether id names the snapshot full (a unique
// prefix of at least 8 characters, as restic prints short IDs).
func SameSnapshot(id, full string) bool {
	return len(id) >= 8 && strings.HasPrefix(full, strings.ToLower(id))
}

// commandTools are the programs of the custom dumps: the image must carry
// them, but no Debian package is known for them.
func commandTools(dbs []spec.Database) []Tool {
	var out []Tool
	for _, d := range dbs {
		for _, argv := range [][]string{d.Command, d.RestoreCommand} {
			if len(argv) == 0 || strings.Contains(argv[0], "/") {
				continue
			}
			if !slices.ContainsFunc(out, func(t Tool) bool { return t.Commands[0] == argv[0] }) {
				out = append(out, Tool{Commands: []string{argv[0]}, Why: "the custom dump of " + d.Name})
			}
		}
	}
	return out
}
