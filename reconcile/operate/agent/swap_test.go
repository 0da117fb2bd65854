package agent

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func filesUnder(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(b)
		return nil
	})
	return out
}

func equalFiles(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q (all: %v)", what, k, got[k], v, got)
		}
	}
}

// halfRestored sets up a restore of a whole volume and of a folder in
// another volume, ready to move: the live data, the restored copies in
// the scratch folders, the manifest and the sealed journal.
func halfRestored(t *testing.T) (*Agent, *journal, string, string) {
	t.Helper()
	base := t.TempDir()
	vol, other := filepath.Join(base, "vol"), filepath.Join(base, "other")
	writeFiles(t, vol, map[string]string{"a.txt": "old a", "sub/b.txt": "old b", "sub/db.sqlite3": "live db", "db.sqlite3": "live top db", "gone.txt": "made after the backup"})
	writeFiles(t, other, map[string]string{"keep.txt": "not restored", "docs/x.txt": "old x"})
	env := []string{"RESTIC_PASSWORD=pw"}
	a := &Agent{Config: spec.AgentConfig{Paths: []string{vol, other}, AppID: "app"}, Environ: env, Now: time.Now,
		Out: &Output{Stderr: io.Discard, Stdout: io.Discard, Now: time.Now}, restic: &restic.Runner{Bin: "/nonexistent/restic"}, jkey: journalKey(env, "app")}
	a.scrub = func(s string) string { return s }
	a.Out.Scrub = a.scrub
	id := "0123456789ab"
	scratch := map[string]string{vol: filepath.Join(vol, scratchPrefix+id), other: filepath.Join(other, scratchPrefix+id)}
	writeFiles(t, filepath.Join(scratch[vol], "new", vol), map[string]string{"a.txt": "new a", "sub/b.txt": "new b", "c.txt": "new c"})
	writeFiles(t, filepath.Join(scratch[other], "new", other), map[string]string{"docs/x.txt": "new x", "docs/y.txt": "new y"})
	targets := []string{vol, filepath.Join(other, "docs")}
	p := &planned{plan: &operate.RestorePlan{ID: id}, roots: map[string]string{vol: vol, filepath.Join(other, "docs"): other},
		kept: []string{filepath.Join(vol, "db.sqlite3"), filepath.Join(vol, "sub", "db.sqlite3")}}
	j := &journal{Version: journalVersion, Plan: id, Snapshot: "feedface", Targets: targets, Scratch: []string{scratch[vol], scratch[other]},
		State: stateMoving, Expected: operate.Counts{Files: 7, Bytes: int64(len("new a" + "new b" + "new c" + "live top db" + "live db" + "new x" + "new y"))}}
	if err := a.moves(j, p, scratch); err != nil {
		t.Fatal(err)
	}
	m, err := manifestOf(targets, keeper{databases: p.kept})
	if err != nil {
		t.Fatal(err)
	}
	must(t, a.writeSealed(filepath.Join(scratch[vol], manifestName), m))
	must(t, a.writeSealed(filepath.Join(scratch[vol], journalName), j))
	return a, j, vol, other
}

func TestARestoreKilledBetweenAnyTwoMovesIsFinishedByTheNextRun(t *testing.T) {
	_, j, _, _ := halfRestored(t)
	for cut := 0; cut <= len(j.Moves); cut++ {
		a, j, vol, other := halfRestored(t)
		for _, m := range j.Moves[:cut] {
			must(t, a.moveSafely(m))
		}
		// Killed after the move, before counting it: the next run redoes it.
		if cut > 0 {
			j.Done = cut - 1
			must(t, a.writeSealed(filepath.Join(j.Scratch[0], journalName), j))
		}
		if st := a.restoreFolders(); len(st) != 1 || st[0].State != operate.RestoreUnfinished {
			t.Errorf("cut %d: status sees %+v", cut, st)
		}
		if got := a.finishSwaps(context.Background(), RunOptions{}); len(got) != 1 {
			t.Errorf("cut %d: finished %v", cut, got)
		}
		equalFiles(t, "the whole volume", filesUnder(t, vol), map[string]string{"a.txt": "new a", "sub/b.txt": "new b", "c.txt": "new c", "db.sqlite3": "live top db", "sub/db.sqlite3": "live db"})
		equalFiles(t, "the other volume", filesUnder(t, other), map[string]string{"keep.txt": "not restored", "docs/x.txt": "new x", "docs/y.txt": "new y"})
		if st := a.restoreFolders(); len(st) != 0 {
			t.Errorf("cut %d: left %+v", cut, st)
		}
	}
}

func TestARestoreInterruptedBeforeItsFirstMoveIsRemovedAndTheLiveDataKept(t *testing.T) {
	a, j, vol, other := halfRestored(t)
	j.State, j.Moves = statePrepared, nil
	must(t, a.writeSealed(filepath.Join(j.Scratch[0], journalName), j))
	a.finishSwaps(context.Background(), RunOptions{})
	equalFiles(t, "the whole volume", filesUnder(t, vol), map[string]string{"a.txt": "old a", "sub/b.txt": "old b", "sub/db.sqlite3": "live db", "db.sqlite3": "live top db", "gone.txt": "made after the backup"})
	equalFiles(t, "the other volume", filesUnder(t, other), map[string]string{"keep.txt": "not restored", "docs/x.txt": "old x"})
}

func TestSomethingThatAppearsWhereARestoredPathGoesIsMovedAsideAndKept(t *testing.T) {
	a, j, vol, _ := halfRestored(t)
	// The app writes c.txt between the moves out and in.
	var in int
	for i, m := range j.Moves {
		if m.To == filepath.Join(vol, "c.txt") {
			in = i
		}
	}
	for _, m := range j.Moves[:in] {
		must(t, a.moveSafely(m))
	}
	j.Done = in
	must(t, a.writeSealed(filepath.Join(j.Scratch[0], journalName), j))
	writeFiles(t, vol, map[string]string{"c.txt": "written by the app meanwhile"})
	a.finishSwaps(context.Background(), RunOptions{})
	if b, _ := os.ReadFile(filepath.Join(vol, "c.txt")); string(b) != "new c" {
		t.Errorf("c.txt = %q, want the restored one", b)
	}
	// What was set aside could not be saved (no restic here), so the
	// folder is kept for a person, sealed as kept.
	st := a.restoreFolders()
	if len(st) != 1 || st[0].State != operate.RestoreKept {
		t.Fatalf("status sees %+v", st)
	}
	if b, _ := os.ReadFile(filepath.Join(j.Scratch[0], "appeared", strconv.Itoa(in))); string(b) != "written by the app meanwhile" {
		t.Errorf("what the app wrote is not kept: %q", b)
	}
}
