package restic

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"
)

// StaleAfter is how long after its last refresh restic calls any lock
// stale, whoever holds it; a running restic refreshes its lock every 5
// minutes. Before that, restic calls a lock stale only when it was made on
// the same host name by a process that is gone.
const StaleAfter = 30 * time.Minute

// Lock is one lock in the repository, as `restic cat lock` shows it.
type Lock struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username"`
	PID       int       `json:"pid"`
}

// StaleAt is when restic calls the lock stale on any host.
func (l Lock) StaleAt() time.Time { return l.Time.Add(StaleAfter) }

// Locks lists the repository's locks without taking one: `restic list
// locks`, then `restic cat lock` for each (a lock removed in between is
// left out).
func (r *Runner) Locks(ctx context.Context) ([]Lock, error) {
	if _, err := r.Version(ctx); err != nil {
		return nil, err
	}
	var ids []string
	err := r.run(ctx, job{op: "list", args: []string{"--no-lock", "list", "locks"}, stdout: func(rd io.Reader) error {
		return readLines(rd, func(line []byte) error {
			if id := strings.TrimSpace(string(line)); id != "" && checkID("cat", id) == nil {
				ids = append(ids, id)
			}
			return nil
		})
	}})
	if err != nil {
		return nil, err
	}
	var locks []Lock
	for _, id := range ids {
		var l Lock
		err := r.run(ctx, job{op: "cat", args: []string{"--no-lock", "cat", "lock", id}, stdout: func(rd io.Reader) error {
			return json.NewDecoder(rd).Decode(&l)
		}})
		if err != nil {
			if ctx.Err() != nil {
				return locks, err
			}
			continue // removed since the listing
		}
		l.ID = id
		locks = append(locks, l)
	}
	return locks, nil
}
