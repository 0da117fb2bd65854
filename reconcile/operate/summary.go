package operate

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Summarize reads one snapshot listing (this app's host and tags, as restic
// filters it) into what status needs: the newest snapshot of each backup
// group and the newest evidence of each kind. Only this app's snapshots
// count: another app's identity under the same host and tags is counted as
// Foreign, and anything dated after now (the operator's clock, with
// FutureSlack) is set aside in Future rather than trusted as fresh.
func Summarize(snaps []Snapshot, id Identity, now time.Time) StatusData {
	st := StatusData{Groups: []SnapGroup{}, Evidence: []EvidenceRef{}}
	groups := map[string]*SnapGroup{}
	newestEvidence := map[string]*EvidenceRef{}
	snaps, st.Foreign = id.Trusted(snaps)
	for _, s := range snaps {
		st.Snapshots++
		if InFuture(s.Time, now) {
			st.Future = append(st.Future, SnapRef{ID: s.ID, Time: s.Time, Kind: kindOf(s)})
			continue
		}
		if ev, ok := ReadEvidence(s); ok {
			if cur := newestEvidence[ev.Kind]; cur == nil || ev.Time.After(cur.Time) {
				newestEvidence[ev.Kind] = &ev
			}
			continue
		}
		key, g := groupOf(s)
		if key == "" {
			continue
		}
		if groups[key] == nil {
			groups[key] = &g
		}
		cur := groups[key]
		cur.Count++
		if Suspect(s) {
			continue
		}
		if cur.Newest == nil || s.Time.After(cur.Newest.Time) {
			cur.Newest = &SnapRef{ID: s.ID, Time: s.Time}
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		st.Groups = append(st.Groups, *groups[k])
	}
	for _, kind := range EvidenceKinds() {
		if ev := newestEvidence[string(kind)]; ev != nil {
			st.Evidence = append(st.Evidence, *ev)
		}
	}
	sort.Slice(st.Future, func(i, j int) bool { return st.Future[i].Time.After(st.Future[j].Time) })
	return st
}

// groupOf is the backup group of a data snapshot: the files of a set of
// paths, or one database's dumps.
func groupOf(s Snapshot) (string, SnapGroup) {
	paths := slices.Clone(s.Paths)
	slices.Sort(paths)
	switch {
	case s.HasTag(TagFiles):
		return "files\n" + strings.Join(paths, "\n"), SnapGroup{Kind: "files", Paths: paths}
	case s.HasTag(TagDB):
		db := s.TagValue(TagDBName)
		return "db\n" + db + "\n" + strings.Join(paths, "\n"), SnapGroup{Kind: "db", DB: db, Paths: paths}
	}
	return "", SnapGroup{}
}

func kindOf(s Snapshot) string {
	if ev, ok := ReadEvidence(s); ok {
		return "evidence:" + ev.Kind
	}
	_, g := groupOf(s)
	if g.DB != "" {
		return "db:" + g.DB
	}
	return g.Kind
}

// LastRuns is, for one kind, the newest good run (ok or partial) and the
// newest failed run after it, from the evidence in a listing; the
// scheduler reads its rhythm from them, so a restart keeps it.
func LastRuns(snaps []Snapshot, id Identity, kind Op, now time.Time) (good, failed *time.Time) {
	var refs []EvidenceRef
	snaps, _ = id.Trusted(snaps)
	for _, s := range snaps {
		if InFuture(s.Time, now) {
			continue
		}
		if ev, ok := ReadEvidence(s); ok && ev.Kind == string(kind) {
			refs = append(refs, ev)
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Time.Before(refs[j].Time) })
	for _, r := range refs {
		t := r.Time
		if r.Result == ResultFailed {
			failed = &t
		} else {
			good, failed = &t, nil
		}
	}
	return good, failed
}

// LastCheckPart is n of the newest passing check that read part n/parts of
// the data (0 when there is none, or it was the last part), so the next
// check reads part n+1.
func LastCheckPart(snaps []Snapshot, id Identity, parts int, now time.Time) int {
	var newest *EvidenceRef
	snaps, _ = id.Trusted(snaps)
	for _, s := range snaps {
		if InFuture(s.Time, now) {
			continue
		}
		ev, ok := ReadEvidence(s)
		if !ok || ev.Kind != string(OpCheck) || ev.Result != ResultOK || ev.CheckPart == "" {
			continue
		}
		n, t, ok := strings.Cut(ev.CheckPart, "/")
		if !ok || t != itoa(parts) {
			continue
		}
		if newest == nil || ev.Time.After(newest.Time) {
			e := ev
			e.CheckPart = n
			newest = &e
		}
	}
	if newest == nil {
		return 0
	}
	n := atoi(newest.CheckPart)
	if n >= parts || n < 0 {
		return 0
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}
