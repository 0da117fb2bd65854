package process_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/process"
)

// sh is a shell script as a Cmd.
func sh(script string) process.Cmd {
	return process.Cmd{Path: "/bin/sh", Args: []string{"-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}
}

// readyPID starts c with its stdout on a pipe and reads the first line,
// a process ID the script prints once it is ready.
func readyPID(t *testing.T, ctx context.Context, c process.Cmd) (*process.Process, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.Stdout = w
	p, err := process.Start(ctx, c)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	r.Close()
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("no ready line: %q %v %v", line, err, perr)
	}
	return p, pid
}

// waitGone waits until pid has exited (a zombie left for init to reap
// counts): an event, however long the machine takes to deliver it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !gone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

// TestAStoppedProgramsGrandchildThatIgnoresTheSignalIsKilledWithItsGroup:
// the program forks a grandchild that ignores SIGTERM; stopping the
// program kills the grandchild too, after the grace period, since the
// SIGKILL goes to the whole group.
func TestAStoppedProgramsGrandchildThatIgnoresTheSignalIsKilledWithItsGroup(t *testing.T) {
	for _, leaderIgnores := range []bool{false, true} {
		t.Run("leader ignores SIGTERM "+strconv.FormatBool(leaderIgnores), func(t *testing.T) {
			script := `sh -c 'trap "" TERM; echo $$; exec sleep 1000' & wait`
			if leaderIgnores {
				script = `trap "" TERM; ` + script
			}
			ctx, cancel := context.WithCancel(context.Background())
			c := sh(script)
			c.Grace = 100 * time.Millisecond
			p, grandchild := readyPID(t, ctx, c)
			t.Cleanup(func() { _ = syscall.Kill(grandchild, syscall.SIGKILL) })
			if gone(grandchild) {
				t.Fatal("the grandchild is not running")
			}
			cancel()
			res, err := p.Wait()
			if err == nil || !res.Stopped {
				t.Errorf("Wait: %v, stopped %v; want an error and stopped", err, res.Stopped)
			}
			waitGone(t, grandchild)
		})
	}
}

// TestWhatAProgramLeavesRunningInItsGroupGoesWithIt: a program that exits
// on its own but leaves a child behind does not leave it running.
func TestWhatAProgramLeavesRunningInItsGroupGoesWithIt(t *testing.T) {
	p, child := readyPID(t, context.Background(), sh(`sleep 1000 >/dev/null 2>&1 & echo $!`))
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	res, err := p.Wait()
	if err != nil || res.ExitCode != 0 || res.Stopped {
		t.Fatalf("Wait: %v, exit %d, stopped %v", err, res.ExitCode, res.Stopped)
	}
	waitGone(t, child)
}

// TestThePoliteSignalLetsAProgramFinishCleanly: SIGINT to the leader only,
// which traps it and exits 0 on its own, well within the grace.
func TestThePoliteSignalLetsAProgramFinishCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := sh(`trap 'echo got INT >&2; exit 0' INT; echo $$; while :; do sleep 0.05; done`)
	c.Signal, c.SignalLeader, c.Grace = syscall.SIGINT, true, time.Hour
	p, _ := readyPID(t, ctx, c)
	cancel()
	res, _ := p.Wait()
	if res.ExitCode != 0 || !res.Stopped || res.Stderr != "got INT\n" {
		t.Fatalf("exit %d, stopped %v, stderr %q; want 0, true, the trap's line", res.ExitCode, res.Stopped, res.Stderr)
	}
}

// TestTheStderrTailIsBoundedAndStartsAtALine: a program that writes far
// more than the tail keeps leaves its last lines, from a line start, and
// the Stderr writer still sees it all.
func TestTheStderrTailIsBoundedAndStartsAtALine(t *testing.T) {
	c := sh(`i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo "line $i of what the program says" >&2; done`)
	c.TailBytes = 1000
	var all countingWriter
	c.Stderr = &all
	res, err := process.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stderr) > 1000 || !strings.HasPrefix(res.Stderr, "line ") || !strings.HasSuffix(res.Stderr, "line 20000 of what the program says\n") {
		t.Errorf("tail of %d bytes: %.80q ... %q", len(res.Stderr), res.Stderr, res.Stderr[max(0, len(res.Stderr)-60):])
	}
	if want := int64(len("line 1 of what the program says\n")) * 20000; all.n < want {
		t.Errorf("the Stderr writer saw %d bytes, want more than %d", all.n, want)
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// TestAStdinThatFailsStopsTheProgramBeforeItSeesTheEnd: a loader must
// never take a failed stream for a complete one.
func TestAStdinThatFailsStopsTheProgramBeforeItSeesTheEnd(t *testing.T) {
	boom := errors.New("the dump broke off")
	c := sh(`cat >/dev/null; echo "saw the end" >&2`)
	c.Stdin = io.MultiReader(strings.NewReader("half a dump\n"), errReader{boom})
	res, err := process.Run(context.Background(), c)
	if err == nil || !errors.Is(res.StdinErr, boom) || !res.Stopped || strings.Contains(res.Stderr, "saw the end") {
		t.Fatalf("Wait: %v, stdin error %v, stopped %v, stderr %q", err, res.StdinErr, res.Stopped, res.Stderr)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestAProgramGetsOnlyTheEnvironmentItIsGiven: nothing of this process's
// environment leaks in.
func TestAProgramGetsOnlyTheEnvironmentItIsGiven(t *testing.T) {
	t.Setenv("PROCESS_TEST_SECRET", "s3cret")
	var out bytes.Buffer
	c := sh(`echo "${PROCESS_TEST_SECRET-unset}"`)
	c.Env, c.Stdout = nil, &out
	if _, err := process.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "unset" {
		t.Errorf("the program saw %q", got)
	}
}

func TestAProgramIsNotStartedOnceItsContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := process.Start(ctx, sh("true")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start: %v", err)
	}
}
