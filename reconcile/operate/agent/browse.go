package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// Default limits of the answers.
const (
	DefaultSnapshotsLimit = 10
	DefaultLsLimit        = 200
	DefaultFindLimit      = 100
)

// Browse answers snapshots, ls or find from the repository (or the copy
// UseCopy chose), without a lock. Like status it stores no evidence; its
// result line holds the answer, shortened to stay within MaxAnswer.
func (a *Agent) Browse(ctx context.Context, o RunOptions, req operate.BrowseRequest) int {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	done, ok := a.readOnly(o, req.Op)
	if !ok {
		return operate.ExitInterrupted
	}
	rec := a.newRecorder(req.Op, o)
	b := &operate.Browse{Repository: a.Config.Repository, Copy: a.copy}
	v, err := a.restic.Version(ctx)
	if err == nil {
		rec.ev.ResticVersion = v.String()
		switch req.Op {
		case operate.OpSnapshots:
			err = a.snapshots(ctx, b, req)
		case operate.OpLs:
			err = a.ls(ctx, b, req)
		case operate.OpFind:
			err = a.find(ctx, b, req)
		}
	}
	if err != nil {
		s := rec.begin(string(req.Op), "browse")
		failStep(s, err)
		b = nil
	}
	ev := rec.finish(ctx.Err() != nil)
	shorten(b)
	done(a.Out.Line(operate.Line{Type: operate.LineResult, Evidence: ev, Browse: b,
		Agent: &operate.AgentInfo{Version: a.Version, Protocol: operate.Protocol, ResticVersion: ev.ResticVersion}}))
	if !a.Out.JSON && b != nil {
		a.Out.Say("%s: %d found", req.Op, b.Total)
	}
	return ev.ExitCode
}

// ours lists this app's data and evidence snapshots, without a lock. The
// one trust rule (operate.Identity.Trusted) decides which are this app's,
// as it does for status, drills and prune: an unlabelled snapshot made
// after the app's first labelled one is foreign here too.
func (a *Agent) ours(ctx context.Context) ([]restic.Snapshot, error) {
	list, err := a.restic.Snapshots(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{a.Config.Tags}, NoLock: true})
	if err != nil {
		return nil, err
	}
	return a.trusted(list), nil
}

// trusted keeps of list the snapshots the trust rule says are this app's.
func (a *Agent) trusted(list []restic.Snapshot) []restic.Snapshot {
	trusted, _ := a.identity().Trusted(toShared(list))
	keep := make(map[string]bool, len(trusted))
	for _, s := range trusted {
		keep[s.ID] = true
	}
	return slices.DeleteFunc(slices.Clone(list), func(s restic.Snapshot) bool { return !keep[s.ID] })
}

// listed describes a data snapshot; ok is false for evidence and for
// snapshots of no known kind.
func (a *Agent) listed(s restic.Snapshot, runs map[string]*operate.RunRef) (operate.Listed, bool) {
	sh := operate.Snapshot{ID: s.ID, Time: s.Time, Paths: s.Paths, Hostname: s.Hostname, Tags: s.Tags}
	l := operate.Listed{ID: s.ID, Time: s.Time.UTC(), Paths: s.Paths, Host: s.Hostname, PreRestore: sh.TagValue(operate.TagPreRestore),
		RestoreOf: sh.TagValue(operate.TagRestoreOf)}
	switch {
	case sh.HasTag(operate.TagEvidence):
		return l, false
	case sh.HasTag(operate.TagFiles):
		l.Kind = "files"
	case sh.HasTag(operate.TagDB):
		l.Kind, l.DB = "db", sh.TagValue(operate.TagDBName)
	default:
		return l, false
	}
	for _, t := range s.Tags {
		shown := !slices.Contains(a.Config.Tags, t) && t != operate.TagFiles && t != operate.TagDB
		for _, p := range []string{operate.TagAppID, operate.TagRun, operate.TagDBName, operate.TagEngine, operate.TagPreRestore, operate.TagRestoreOf} {
			shown = shown && !strings.HasPrefix(t, p)
		}
		if shown {
			l.Tags = append(l.Tags, t)
		}
	}
	if s.Summary != nil {
		l.Bytes, l.Files = s.Summary.TotalBytesProcessed, s.Summary.TotalFilesProcessed
	}
	if run := sh.TagValue(operate.TagRun); run != "" {
		l.Run = runs[run]
	}
	return l, true
}

// runsOf reads the evidence snapshots' tags: run ID → that run's evidence.
func runsOf(list []restic.Snapshot) map[string]*operate.RunRef {
	runs := map[string]*operate.RunRef{}
	for _, s := range list {
		ev, ok := operate.ReadEvidence(operate.Snapshot{ID: s.ID, Time: s.Time, Paths: s.Paths, Hostname: s.Hostname, Tags: s.Tags})
		if ok && ev.RunID != "" {
			runs[ev.RunID] = &operate.RunRef{ID: ev.RunID, Kind: ev.Kind, Result: ev.Result, Trigger: ev.Trigger, EvidenceID: ev.SnapshotID}
		}
	}
	return runs
}

// snapshots groups this app's data snapshots (the files, then each
// database), newest first, each with the evidence of the run that made it.
func (a *Agent) snapshots(ctx context.Context, b *operate.Browse, req operate.BrowseRequest) error {
	list, err := a.ours(ctx)
	if err != nil {
		return err
	}
	runs := runsOf(list)
	groups := map[string]*operate.SnapshotGroup{}
	for _, s := range list {
		l, ok := a.listed(s, runs)
		if !ok {
			continue
		}
		paths := slices.Clone(l.Paths)
		slices.Sort(paths)
		key, name := "0\n"+strings.Join(paths, "\n"), "files"
		if l.Kind == "db" {
			key, name = "1\n"+l.DB+"\n"+strings.Join(paths, "\n"), "db:"+l.DB
		}
		g := groups[key]
		if g == nil {
			g = &operate.SnapshotGroup{Name: name, Kind: l.Kind, DB: l.DB, Paths: paths}
			groups[key] = g
		}
		g.Count++
		g.Snapshots = append(g.Snapshots, l)
		b.Total++
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	limit := or0(req.Limit, DefaultSnapshotsLimit)
	for _, k := range keys {
		g := groups[k]
		sort.SliceStable(g.Snapshots, func(i, j int) bool { return g.Snapshots[i].Time.After(g.Snapshots[j].Time) })
		if len(g.Snapshots) > limit {
			g.Snapshots, b.Shortened = g.Snapshots[:limit], true
		}
		b.Groups = append(b.Groups, *g)
	}
	return nil
}

// resolve finds this app's snapshot that id names (a unique prefix of at
// least 8 characters); evidence snapshots are not backups.
func (a *Agent) resolve(ctx context.Context, id string) (restic.Snapshot, []restic.Snapshot, error) {
	list, err := a.ours(ctx)
	if err != nil {
		return restic.Snapshot{}, nil, err
	}
	var found []restic.Snapshot
	for _, s := range list {
		if operate.SameSnapshot(id, s.ID) {
			found = append(found, s)
		}
	}
	switch {
	case len(id) < 8:
		return restic.Snapshot{}, nil, &stepError{class: "no_snapshot", msg: fmt.Sprintf("%q is too short to name a snapshot: give at least 8 characters of its ID (devopsellence-backup snapshots lists them)", id)}
	case len(found) == 0:
		return restic.Snapshot{}, nil, &stepError{class: "no_snapshot", msg: fmt.Sprintf("no snapshot %s of this app in %s: devopsellence-backup snapshots lists them", id, a.Config.Repository)}
	case len(found) > 1:
		return restic.Snapshot{}, nil, &stepError{class: "no_snapshot", msg: fmt.Sprintf("%s names %d snapshots: give more of its ID", id, len(found))}
	}
	return found[0], list, nil
}

// ls lists what a snapshot holds in a folder (or under it), a page at a time.
func (a *Agent) ls(ctx context.Context, b *operate.Browse, req operate.BrowseRequest) error {
	snap, list, err := a.resolve(ctx, req.Snapshot)
	if err != nil {
		return err
	}
	l, ok := a.listed(snap, runsOf(list))
	if !ok {
		l = operate.Listed{ID: snap.ID, Time: snap.Time.UTC(), Paths: snap.Paths, Host: snap.Hostname, Kind: "evidence"}
	}
	b.Snapshot = &l
	dir := req.Dir
	if dir == "" {
		dir = "/"
		if len(snap.Paths) == 1 {
			dir = snap.Paths[0]
		}
	}
	if !strings.HasPrefix(dir, "/") || path.Clean(dir) != dir {
		return &stepError{class: "bad_path", msg: fmt.Sprintf("%q is not a clean absolute path of the snapshot (such as %s)", dir, snap.Paths[0])}
	}
	b.Dir, b.Offset = dir, req.Offset
	limit := or0(req.Limit, DefaultLsLimit)
	seen := dir == "/"
	err = a.restic.List(ctx, restic.ListOptions{SnapshotID: snap.ID, Dir: dir, Recursive: req.Recursive, NoLock: true}, func(n restic.Node) error {
		if n.Path == dir {
			seen = true
		}
		if n.Path == dir || !under(n.Path, dir) {
			return nil
		}
		seen = true
		b.Total++
		if b.Total > req.Offset && len(b.Entries) < limit {
			b.Entries = append(b.Entries, operate.Entry{Path: n.Path, Type: n.Type, Size: n.Size, Mode: n.Permissions, MTime: n.MTime.UTC()})
		}
		return nil
	})
	b.Shortened = b.Total > req.Offset+len(b.Entries)
	if err == nil && !seen {
		return &stepError{class: "bad_path", msg: fmt.Sprintf("%s is not in snapshot %s (its paths: %s); devopsellence-backup ls %s lists what it holds", dir, short(snap.ID), strings.Join(snap.Paths, " "), short(snap.ID))}
	}
	return err
}

// find looks for a pattern in every data snapshot of this app, newest
// snapshot first.
func (a *Agent) find(ctx context.Context, b *operate.Browse, req operate.BrowseRequest) error {
	if err := CheckPattern(req.Pattern); err != nil {
		return &stepError{class: "bad_pattern", msg: err.Error()}
	}
	list, err := a.ours(ctx)
	if err != nil {
		return err
	}
	data := map[string]restic.Snapshot{}
	for _, s := range list {
		if _, ok := a.listed(s, nil); ok {
			data[s.ID] = s
		}
	}
	b.Pattern = req.Pattern
	var all []operate.Match
	err = a.restic.Find(ctx, restic.Filter{Host: a.Config.Host, Tags: [][]string{a.Config.Tags}, NoLock: true}, []string{req.Pattern}, func(m restic.Match) error {
		s, ok := data[m.SnapshotID]
		if !ok {
			for id, cand := range data {
				if strings.HasPrefix(id, m.SnapshotID) && m.SnapshotID != "" {
					s, ok = cand, true
				}
			}
		}
		if !ok {
			return nil
		}
		b.Total++
		if len(all) < 10*MaxMatches {
			all = append(all, operate.Match{SnapshotID: s.ID, SnapshotTime: s.Time.UTC(), Path: m.Path, Type: m.Type, Size: m.Size, MTime: m.MTime.UTC()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].SnapshotTime.Equal(all[j].SnapshotTime) {
			return all[i].SnapshotTime.After(all[j].SnapshotTime)
		}
		return all[i].Path < all[j].Path
	})
	limit := min(or0(req.Limit, DefaultFindLimit), MaxMatches)
	if len(all) > limit {
		all = all[:limit]
	}
	b.Matches = all
	b.Shortened = b.Total > len(all)
	return nil
}

// CheckPattern refuses a find pattern restic cannot read (its error is a
// stack trace).
func CheckPattern(pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("%q is not a valid pattern (%v): close each [ with ], or write \\[ for a [ itself", pattern, err)
	}
	return nil
}

// MaxMatches bounds find's answer whatever --limit says.
const MaxMatches = 1000

// shorten drops the tail of the longest list until the answer fits in
// MaxAnswer, and says so.
func shorten(b *operate.Browse) {
	if b == nil {
		return
	}
	for {
		data, err := json.Marshal(b)
		if err != nil || len(data) <= operate.MaxAnswer {
			return
		}
		b.Shortened = true
		switch {
		case len(b.Entries) > 1:
			b.Entries = b.Entries[:len(b.Entries)/2]
		case len(b.Matches) > 1:
			b.Matches = b.Matches[:len(b.Matches)/2]
		default:
			longest := -1
			for i, g := range b.Groups {
				if len(g.Snapshots) > 1 && (longest < 0 || len(g.Snapshots) > len(b.Groups[longest].Snapshots)) {
					longest = i
				}
			}
			if longest < 0 {
				return
			}
			g := &b.Groups[longest]
			g.Snapshots = g.Snapshots[:len(g.Snapshots)/2]
		}
	}
}

// under reports whether p lies inside dir (or is dir).
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func or0(n, fallback int) int {
	if n > 0 {
		return n
	}
	return fallback
}

// readOnly registers a run that only reads (browse, a restore's plan), so
// that the operator's interrupt (agent cancel) reaches it; it takes no
// lock. ok is false when it was cancelled before it started. done stores
// its result line and unregisters it.
func (a *Agent) readOnly(o RunOptions, op operate.Op) (done func([]byte), ok bool) {
	if o.RunID == "" {
		return func([]byte) {}, true
	}
	err := a.Runs.Register(RunInfo{ID: o.RunID, PID: pid(), Op: string(op), Trigger: operate.TriggerManual, Started: a.Now().UTC()})
	if errors.Is(err, ErrCancelled) {
		return nil, false
	}
	return func(line []byte) { a.Runs.Finish(o.RunID, line) }, true
}
