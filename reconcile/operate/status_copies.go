package operate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// CopyData is what a second repository holds of this app, as the agent
// read it (without a lock).
type CopyData struct {
	Name       string      `json:"name"`
	Repository string      `json:"repository"`
	Snapshots  int         `json:"snapshots"`
	Groups     []SnapGroup `json:"groups"`
	// Error is the class of the failure that kept the copy from being
	// read (repository_missing, wrong_password, ...), Message its gist.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// CopyReport is one second repository's freshness, as judged.
type CopyReport struct {
	Name       string  `json:"name"`
	Repository string  `json:"repository"`
	Backups    []Group `json:"backups"`
	Error      string  `json:"error,omitempty"`
}

// reported says whether status shows an operation: copy only where copies
// are set or were made, restore only once one ran.
func reported(kind Op, es spec.EnvSpec, st *StatusData) bool {
	if kind != OpCopy && kind != OpRestore && kind != OpCheckpoint {
		return true
	}
	if kind == OpCopy && len(es.Copies) > 0 {
		return true
	}
	return slices.ContainsFunc(st.Evidence, func(e EvidenceRef) bool { return e.Kind == string(kind) })
}

// assessCopies judges each copy of the spec like the primary: the newest
// snapshot of the files and of each database, stale after the same limit.
func (r *Report) assessCopies(es spec.EnvSpec, st *StatusData, now time.Time, add func(Finding)) {
	limit := es.Freshness.Backup.Std()
	env := es.Environment
	for _, c := range es.Copies {
		rep := CopyReport{Name: c.Name, Repository: c.Repository.Display(), Backups: []Group{}}
		i := slices.IndexFunc(st.Copies, func(d CopyData) bool { return d.Name == c.Name })
		switch {
		case i < 0:
			rep.Error = "not_reported"
			add(Finding{Severity: SeverityError, Code: "copy_unreachable",
				Message:     fmt.Sprintf("copy %s: the agent in %s did not report it: its configuration predates the copy", c.Name, env),
				NextActions: []Action{ApplyAction("deploy the backup service with the copy", env)}})
		case st.Copies[i].Error != "":
			d := st.Copies[i]
			rep.Error = d.Error
			f := Finding{Severity: SeverityError, Code: "copy_unreachable",
				Message:     fmt.Sprintf("copy %s (%s) could not be read: %s: %s", c.Name, rep.Repository, d.Error, d.Message),
				NextActions: []Action{{Label: "copy the snapshots again", Command: Command(OpCopy, env)}}}
			switch d.Error {
			case "repository_missing":
				f.Message = fmt.Sprintf("copy %s: there is no repository at %s yet", c.Name, rep.Repository)
				f.NextActions = []Action{{Label: "create it and copy the snapshots into it", Command: Command(OpCopy, env, "--init")}}
			case "wrong_password":
				f.NextActions = []Action{{Label: "store the copy's password", Command: setSecret(c.PasswordSecret, es.Service, env)}, Deploy(env)}
			}
			add(f)
		default:
			d := st.Copies[i]
			judge := func(g Group) {
				g = judged(g, now, limit)
				rep.Backups = append(rep.Backups, g)
				if f, bad := groupFinding(g, env, limit); bad {
					f.Code = strings.Replace(f.Code, "backup_", "copy_", 1)
					f.Message = "copy " + c.Name + ": " + f.Message
					f.NextActions = []Action{{Label: "copy the newest snapshots", Command: Command(OpCopy, env)}}
					add(f)
				}
			}
			if paths := es.BackupPaths(); len(paths) > 0 {
				judge(fromGroups("files", "files", true, d.Groups, func(g SnapGroup) bool { return g.Kind == "files" && sameSet(g.Paths, paths) }))
			}
			for _, db := range es.Databases {
				judge(fromGroups("db:"+db.Name, "db", true, d.Groups, func(g SnapGroup) bool {
					return g.Kind == "db" && g.DB == db.Name && slices.Contains(g.Paths, DumpFile(db))
				}))
			}
		}
		r.Copies = append(r.Copies, rep)
	}
}
