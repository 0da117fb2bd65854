package operate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Prune decides itself which snapshots to forget, then asks restic to
// forget exactly those: restic's policy counts every snapshot of a group
// alike, so the undo snapshots that restores save would count against the
// spec's keepLast and push out the very backup being restored. Here each
// kind of snapshot has its own retention, the one trust rule picks the
// candidates, and a snapshot a recent restore brought back is kept.

// Retention kinds: which policy keeps a snapshot.
const (
	// KindBackups are the backups and the evidence: spec.retention.
	KindBackups = "backups"
	// KindUndo are the undo snapshots restores save of what they
	// overwrite: spec.restore.undoRetention.
	KindUndo = "undo"
)

// TagRestoreOf names the snapshot a restore brought back, on its undo
// snapshot and on its evidence: prune keeps that snapshot while the
// restore is recent.
const TagRestoreOf = "restore-of:"

// RetentionKind is the kind whose policy keeps s.
func RetentionKind(s Snapshot) string {
	if s.TagValue(TagPreRestore) != "" {
		return KindUndo
	}
	return KindBackups
}

// Policy is a retention policy as restic forget applies it (0.15+): the
// newest Last snapshots, the newest of each of the last Hourly hours,
// Daily days, and so on, and every snapshot within Within of the group's
// newest. Within is restic's duration (years, months, days, hours).
type Policy struct {
	Last, Hourly, Daily, Weekly, Monthly, Yearly int
	Within                                       Within
	// Text is the policy as the spec writes it, for people.
	Text string
}

// Within is a restic duration such as 1y6m or 14d.
type Within struct{ Years, Months, Days, Hours int }

// Zero reports an empty duration.
func (w Within) Zero() bool { return w == Within{} }

// ParseWithin reads a restic duration: numbers followed by y, m, d or h.
func ParseWithin(s string) (Within, error) {
	var w Within
	num := ""
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			num += string(r)
			continue
		case num == "":
			return w, fmt.Errorf("%q is not a restic duration (want e.g. 14d or 1y6m)", s)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return w, fmt.Errorf("%q is not a restic duration: %v", s, err)
		}
		switch r {
		case 'y':
			w.Years += n
		case 'm':
			w.Months += n
		case 'd':
			w.Days += n
		case 'h':
			w.Hours += n
		default:
			return w, fmt.Errorf("%q is not a restic duration (want e.g. 14d or 1y6m)", s)
		}
		num = ""
	}
	if num != "" || s == "" {
		return w, fmt.Errorf("%q is not a restic duration (want e.g. 14d or 1y6m)", s)
	}
	return w, nil
}

// ParsePolicy reads restic forget flags (--keep-last 3, or --keep-last=3)
// as the spec renders them.
func ParsePolicy(flags []string) (Policy, error) {
	p := Policy{Text: strings.Join(flags, " ")}
	for i := 0; i < len(flags); i++ {
		name, value, ok := strings.Cut(flags[i], "=")
		if !ok {
			if i+1 >= len(flags) {
				return p, fmt.Errorf("retention %q: %s has no value", p.Text, name)
			}
			i++
			value = flags[i]
		}
		if name == "--keep-within" {
			w, err := ParseWithin(value)
			if err != nil {
				return p, fmt.Errorf("retention %q: %v", p.Text, err)
			}
			p.Within = w
			continue
		}
		dst := map[string]*int{"--keep-last": &p.Last, "--keep-hourly": &p.Hourly, "--keep-daily": &p.Daily,
			"--keep-weekly": &p.Weekly, "--keep-monthly": &p.Monthly, "--keep-yearly": &p.Yearly}[name]
		n, err := strconv.Atoi(value)
		if dst == nil || err != nil || n < 0 {
			return p, fmt.Errorf("retention %q: cannot read %s %s", p.Text, name, value)
		}
		*dst = n
	}
	if p.Empty() {
		return p, fmt.Errorf("retention %q keeps nothing: it needs at least one --keep-* flag", p.Text)
	}
	return p, nil
}

// Empty reports a policy that sets nothing.
func (p Policy) Empty() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within.Zero()
}

// keep applies the policy to one group, as restic does: newest first, a
// snapshot is kept when it opens a new bucket of a kind that has count
// left (the oldest snapshot too, while counts are left), or lies within
// Within of the newest. It returns the IDs kept.
func (p Policy) keep(group []Snapshot) map[string]bool {
	list := slices.Clone(group)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Time.After(list[j].Time) })
	kept := map[string]bool{}
	if len(list) == 0 {
		return kept
	}
	buckets := []struct {
		count int
		of    func(t time.Time, nr int) int
		last  int
	}{
		{p.Last, func(_ time.Time, nr int) int { return nr }, -1},
		{p.Hourly, func(t time.Time, _ int) int { return t.Year()*1000000 + int(t.Month())*10000 + t.Day()*100 + t.Hour() }, -1},
		{p.Daily, func(t time.Time, _ int) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }, -1},
		{p.Weekly, func(t time.Time, _ int) int { y, w := t.ISOWeek(); return y*100 + w }, -1},
		{p.Monthly, func(t time.Time, _ int) int { return t.Year()*100 + int(t.Month()) }, -1},
		{p.Yearly, func(t time.Time, _ int) int { return t.Year() }, -1},
	}
	w := p.Within
	since := list[0].Time.AddDate(-w.Years, -w.Months, -w.Days).Add(-time.Duration(w.Hours) * time.Hour)
	for nr, s := range list {
		keep := !w.Zero() && s.Time.After(since)
		for i := range buckets {
			b := &buckets[i]
			if b.count <= 0 {
				continue
			}
			if v := b.of(s.Time, nr); v != b.last || nr == len(list)-1 {
				keep, b.last = true, v
				b.count--
			}
		}
		if keep {
			kept[s.ID] = true
		}
	}
	return kept
}

// Forgetting is what prune forgets and keeps of this app's snapshots.
type Forgetting struct {
	// Considered counts the snapshots the policies applied to: this app's
	// trusted ones, not dated in the future.
	Considered int
	Forget     []Snapshot
	// Sources are snapshots a policy would forget but a recent restore
	// brought back: they are kept.
	Sources []Snapshot
}

// SelectForget decides what prune forgets of snaps (one listing of the
// repository): only the snapshots the trust rule says are this app's, and
// none dated after now; each kind by its own policy (a kind without one
// is kept whole), in groups of the same paths as restic groups them; and
// never a snapshot that a recent restore (one whose undo or evidence the
// undo policy keeps) named as its source.
func SelectForget(snaps []Snapshot, id Identity, policies map[string]Policy, now time.Time) Forgetting {
	trusted, _ := id.Trusted(snaps)
	trusted = slices.DeleteFunc(trusted, func(s Snapshot) bool { return InFuture(s.Time, now) })
	var f Forgetting
	f.Considered = len(trusted)
	groups := map[string][]Snapshot{}
	var keys []string
	for _, s := range trusted {
		paths := slices.Clone(s.Paths)
		slices.Sort(paths)
		k := RetentionKind(s) + "\n" + strings.Join(paths, "\n")
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	sort.Strings(keys)
	kept := map[string]bool{}
	for _, k := range keys {
		kind, _, _ := strings.Cut(k, "\n")
		p, ok := policies[kind]
		if !ok || p.Empty() {
			for _, s := range groups[k] {
				kept[s.ID] = true
			}
			continue
		}
		for id := range p.keep(groups[k]) {
			kept[id] = true
		}
	}
	// Recent restores: their undo snapshots as kept above, and their
	// evidence while the undo policy would keep it.
	recent := map[string]bool{}
	var restores []Snapshot
	for _, s := range trusted {
		if ev, ok := ReadEvidence(s); ok && ev.Kind == string(OpRestore) {
			restores = append(restores, s)
		}
		if RetentionKind(s) == KindUndo && kept[s.ID] {
			recent[s.ID] = true
		}
	}
	if p, ok := policies[KindUndo]; ok && !p.Empty() {
		for id := range p.keep(restores) {
			recent[id] = true
		}
	}
	sources := map[string]bool{}
	for _, s := range trusted {
		if src := s.TagValue(TagRestoreOf); recent[s.ID] && src != "" {
			sources[src] = true
		}
	}
	for _, s := range trusted {
		switch {
		case kept[s.ID]:
		case sources[s.ID]:
			f.Sources = append(f.Sources, s)
		default:
			f.Forget = append(f.Forget, s)
		}
	}
	return f
}
