package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
)

// hostname is this container's host name: what restic writes in the locks
// it makes here.
func hostname() string {
	h, _ := os.Hostname()
	return h
}

// serviceStarted is when the container's process 1 started (Linux: /proc),
// nil when it cannot be read.
func serviceStarted() *time.Time {
	ticks, err := strconv.ParseInt(startTicks(1), 10, 64)
	if err != nil {
		return nil
	}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	for _, line := range bytes.Split(stat, []byte("\n")) {
		if f := strings.Fields(string(line)); len(f) == 2 && f[0] == "btime" {
			boot, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil
			}
			// USER_HZ is 100 on every Linux this runs on.
			t := time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / 100).UTC()
			return &t
		}
	}
	return nil
}

// lockInfo describes l, as restic judges it from this container (host
// name here): stale when its process is gone from this host, or when it is
// older than restic.StaleAfter.
func lockInfo(l restic.Lock, here string, now time.Time) operate.LockInfo {
	li := operate.LockInfo{ID: l.ID, Host: l.Hostname, PID: l.PID, Exclusive: l.Exclusive, Created: l.Time.UTC(),
		StaleAt: l.StaleAt().UTC(), Here: l.Hostname == here}
	li.Stale = !now.Before(li.StaleAt) || li.Here && !alive(l.PID)
	return li
}

// Locks is `agent locks`: the repository's locks, read without a lock,
// and this service's container.
func (a *Agent) Locks(ctx context.Context) operate.LockReport {
	rep := operate.LockReport{Container: hostname(), ServiceStarted: serviceStarted(), Locks: []operate.LockInfo{}}
	locks, err := a.restic.Locks(ctx)
	if err != nil {
		rep.Error = message(err)
	}
	for _, l := range locks {
		rep.Locks = append(rep.Locks, lockInfo(l, rep.Container, a.Now()))
	}
	return rep
}

// blockingLock is the lock that stops a run of op that found the
// repository locked: an exclusive one first, else the oldest (nil when
// none can be read).
func (a *Agent) blockingLock(ctx context.Context) *operate.LockInfo {
	locks, err := a.restic.Locks(ctx)
	if err != nil || len(locks) == 0 {
		return nil
	}
	best := locks[0]
	for _, l := range locks[1:] {
		if l.Exclusive && !best.Exclusive || l.Exclusive == best.Exclusive && l.Time.Before(best.Time) {
			best = l
		}
	}
	li := lockInfo(best, hostname(), a.Now())
	return &li
}

// LockText says who holds a lock and when restic lets it go.
func LockText(l operate.LockInfo, now time.Time) string {
	kind := "shared"
	if l.Exclusive {
		kind = "exclusive"
	}
	who := fmt.Sprintf("restic on host %s (pid %d) holds a %s lock made at %s", l.Host, l.PID, kind, l.Created.Format(time.RFC3339))
	switch {
	case l.Stale && l.Here && now.Before(l.StaleAt):
		return who + " in this container, and that process is gone: restic calls the lock stale, and --unlock-stale removes it"
	case l.Stale:
		return who + ", older than 30 minutes: restic calls it stale, and --unlock-stale removes it"
	case l.Here:
		return who + " in this container, where that process still runs: restic calls the lock stale once it is gone, and --unlock-stale removes it then"
	}
	return who + ": another host's lock (a container this service ran before a deploy replaced or a kill stopped it, or another app's restic), which restic calls stale only 30 minutes after its last refresh, at " +
		l.StaleAt.Format(time.RFC3339) + "; --unlock-stale cannot remove it before, and a running restic keeps refreshing it"
}
