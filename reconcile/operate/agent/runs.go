package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// Runs inside one container are serialised by a lock file, and each run is
// registered under its ID so that a second exec can find and stop it: the
// devopsellence CLI's exec passes no signal on, so `agent cancel` is the
// only way to interrupt a run from outside.
//
// Layout of the run folder (the container's own temp folder):
//
//	agent.lock          flock: held by the run that may write the repository
//	holder.json         who holds it (for the message of a waiting run)
//	runs/ID.json        a running run: pid, operation, start
//	runs/ID.cancel      asked to stop; a run that finds it at start never starts
//	runs/ID.result      the run's result line, read by `agent cancel`
//	stopping.json       the service is stopping: runs must end by its deadline
//	schedule.json       the running scheduler's next runs, which status shows

// Registry is the run folder.
type Registry struct {
	Dir string
}

// RunInfo describes a running run.
type RunInfo struct {
	ID      string    `json:"id"`
	PID     int       `json:"pid"`
	Op      string    `json:"op"`
	Trigger string    `json:"trigger"`
	Started time.Time `json:"started"`
	// Ticks is when the process started (Linux: /proc/PID/stat), so that a
	// PID reused after the container restarted is not taken for the run.
	Ticks string `json:"ticks,omitempty"`
}

func (r Registry) path(parts ...string) string {
	return filepath.Join(append([]string{r.Dir}, parts...)...)
}

func (r Registry) ensure() error {
	return os.MkdirAll(r.path("runs"), 0o700)
}

// ErrCancelled means the run was cancelled before it started.
var ErrCancelled = errors.New("cancelled before it started")

// Register records a run; it fails with ErrCancelled when `agent cancel`
// got there first, and with ErrStopping when the service is stopping.
// Finish must be called when the run ends.
func (r Registry) Register(info RunInfo) error {
	if err := r.ensure(); err != nil {
		return fmt.Errorf("run folder: %w", err)
	}
	info.Ticks = startTicks(info.PID)
	if err := writeJSON(r.path("runs", info.ID+".json"), info); err != nil {
		return err
	}
	if r.Cancelled(info.ID) {
		_ = os.Remove(r.path("runs", info.ID+".json"))
		return ErrCancelled
	}
	// Checked after the run is listed: a stop that begins in between
	// finds it and interrupts it.
	if s, stopping := r.Stopping(); stopping && s.PID != info.PID {
		_ = os.Remove(r.path("runs", info.ID+".json"))
		return ErrStopping
	}
	return nil
}

// Cancelled reports whether run id was asked to stop.
func (r Registry) Cancelled(id string) bool {
	_, err := os.Stat(r.path("runs", id+".cancel"))
	return err == nil
}

// Finish stores the run's result line and unregisters it.
func (r Registry) Finish(id string, result []byte) {
	if result != nil {
		_ = os.WriteFile(r.path("runs", id+".result"), result, 0o600)
	}
	_ = os.Remove(r.path("runs", id+".json"))
}

// Running returns run id, if it is registered and its process lives.
func (r Registry) Running(id string) (RunInfo, bool) {
	var info RunInfo
	data, err := os.ReadFile(r.path("runs", id+".json"))
	if err != nil || json.Unmarshal(data, &info) != nil {
		return info, false
	}
	return info, alive(info.PID) && (info.Ticks == "" || startTicks(info.PID) == info.Ticks)
}

// Tombstone marks run id as cancelled, so that it stops if it runs and
// never starts if it has not yet.
func (r Registry) Tombstone(id string) error {
	if err := r.ensure(); err != nil {
		return err
	}
	return os.WriteFile(r.path("runs", id+".cancel"), nil, 0o600)
}

// Result is the result line run id left, if any.
func (r Registry) Result(id string) []byte {
	data, err := os.ReadFile(r.path("runs", id+".result"))
	if err != nil {
		return nil
	}
	return data
}

// Sweep removes what runs older than a day left behind.
func (r Registry) Sweep(now time.Time) {
	entries, err := os.ReadDir(r.path("runs"))
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < 24*time.Hour {
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, ".json") {
			if _, ok := r.Running(strings.TrimSuffix(name, ".json")); ok {
				continue
			}
		}
		_ = os.Remove(r.path("runs", name))
	}
}

// Lock is the agent's lock, held while a run may write to the repository.
type Lock struct {
	f *os.File
	r Registry
}

// Acquire takes the lock, waiting while another run holds it; waiting is
// told once who that is. It gives up when ctx ends.
func (r Registry) Acquire(ctx context.Context, me RunInfo, waiting func(holder RunInfo)) (*Lock, error) {
	if err := r.ensure(); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	f, err := os.OpenFile(r.path("agent.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("agent lock: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			_ = writeJSON(r.path("holder.json"), me)
			return &Lock{f: f, r: r}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("agent lock: %w", err)
		}
		if !told && waiting != nil {
			var holder RunInfo
			if data, err := os.ReadFile(r.path("holder.json")); err == nil {
				_ = json.Unmarshal(data, &holder)
			}
			waiting(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Release lets the next run go.
func (l *Lock) Release() {
	_ = os.Remove(l.r.path("holder.json"))
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}

// Cancel is `agent cancel`: it marks the run cancelled, signals its
// process (SIGTERM: the run stops restic with SIGINT, records what
// happened and exits), and waits up to wait for it to end.
func (r Registry) Cancel(ctx context.Context, id string, wait time.Duration) operate.CancelState {
	st := operate.CancelState{RunID: id}
	if err := r.Tombstone(id); err != nil {
		return st
	}
	info, running := r.Running(id)
	st.Found = running
	if running {
		_ = syscall.Kill(info.PID, syscall.SIGTERM)
	}
	deadline := time.Now().Add(wait)
	for running && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		_, running = r.Running(id)
	}
	st.Stopped = !running
	if data := r.Result(id); data != nil {
		var l operate.Line
		if json.Unmarshal(data, &l) == nil {
			st.Result = &l
		}
	}
	return st
}

// startTicks is when process pid started, in clock ticks since boot ("" when
// it cannot be read: not Linux, or the process is gone).
func startTicks(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return ""
	}
	return fields[19] // field 22, starttime
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// writeJSON writes v to path atomically (temp file and rename), 0600.
func writeJSON(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
