package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// atClock is a clock stopped at one time.
type atClock struct{ t time.Time }

func (c atClock) Now() time.Time                         { return c.t }
func (c atClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// fakeAgent answers every exec with the same lines and exit code, and
// records what it was asked.
type fakeAgent struct {
	lines []string
	code  int
	argv  [][]string
}

func (a *fakeAgent) Exec(_ context.Context, _, _ string, argv []string, onOutput func(stream, line string)) (int, error) {
	a.argv = append(a.argv, argv)
	for _, l := range a.lines {
		onOutput("stdout", l)
	}
	return a.code, nil
}

// appDir copies a fixture app's devopsellence.yml and spec into a folder.
func appDir(t *testing.T, fixture string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"devopsellence.yml", "devopsellence.backup.yml"} {
		b, err := os.ReadFile(filepath.Join("../../../fixtures/apps", fixture, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// statusOptionsFrom parses a status command line into the options its
// runF receives, without running status.
func statusOptionsFrom(t *testing.T, f *Factory, args ...string) *operateOptions {
	t.Helper()
	var got *operateOptions
	cmd := newStatusCmd(f, func(o *operateOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("status did not call its runF")
	}
	return got
}

func TestStatusJudgesAFakeAgentsAnswerByTheRunsOneClock(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	streams, out, _ := iostreams.Test("")
	f := newFactory(streams, nil, atClock{now}, nil)
	o := statusOptionsFrom(t, f, "--env", "production", "--output", "json", "--timeout", "3m")
	if !slices.Equal(o.Envs, []string{"production"}) || o.Output != render.JSON || o.Timeout != 3*time.Minute || o.IO != streams || o.Operation != "status" {
		t.Fatalf("options = %+v", o)
	}

	// The app's files from a fixture; the agent faked, answering from a
	// clock a week ahead, with no snapshot at all.
	dir := appDir(t, "basic")
	o.Workspace = func() (*workspace, error) {
		return openWorkspace(globalFlags{Dir: dir}, []string{"HOME=" + t.TempDir()})
	}
	line, err := json.Marshal(operate.Line{Type: operate.LineResult, Status: &operate.StatusData{AgentNow: now.Add(7 * 24 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	agent := &fakeAgent{lines: []string{string(line)}}
	var deadline time.Duration
	o.Executor = func(_ *workspace, d time.Duration) operate.Executor { deadline = d; return agent }

	if err := runStatus(context.Background(), o); !errors.Is(err, errReported) {
		t.Fatalf("runStatus = %v, want the findings reported", err)
	}
	if want := 3*time.Minute + operate.Grace + time.Minute; deadline != want {
		t.Errorf("exec deadline %s, want %s: the run's own deadline must not be cut short", deadline, want)
	}
	if len(agent.argv) != 1 || !slices.Contains(agent.argv[0], now.Format(time.RFC3339)) {
		t.Errorf("argv = %q, want --now %s from the run's clock", agent.argv, now.Format(time.RFC3339))
	}
	var doc struct {
		Operation string `json:"operation"`
		OK        bool   `json:"ok"`
		Findings  []struct {
			Code string `json:"code"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not the status document: %v\n%s", err, out)
	}
	var codes []string
	for _, f := range doc.Findings {
		codes = append(codes, f.Code)
	}
	// The agent's clock is judged against this run's, and so is the age
	// of the (missing) backups.
	if doc.OK || doc.Operation != "status" || !slices.Contains(codes, "clock_skew") || !slices.Contains(codes, "backup_missing") {
		t.Errorf("document: operation %q ok %v findings %v", doc.Operation, doc.OK, codes)
	}
}

func TestAnOperatingCommandRefusesABadFlagBeforeItOpensTheAppOrReachesTheAgent(t *testing.T) {
	streams, out, _ := iostreams.Test("")
	o := statusOptionsFrom(t, newFactory(streams, nil, atClock{time.Now()}, nil), "--timeout", "0s", "--output", "json")
	o.Workspace = func() (*workspace, error) { t.Error("the app was opened"); return nil, errors.New("opened") }
	o.Executor = func(*workspace, time.Duration) operate.Executor {
		t.Error("the agent was reached")
		return &fakeAgent{}
	}
	err := runStatus(context.Background(), o)
	if exitCode(context.Background(), err) != operate.ExitUsage || out.Len() != 0 {
		t.Errorf("runStatus = %v (exit %d), stdout %q", err, exitCode(context.Background(), err), out)
	}
}
