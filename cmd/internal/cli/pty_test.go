package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// pty is a pseudo-terminal: the program gets the slave, the test the master.
type pty struct {
	master, slave *os.File
	mu            sync.Mutex
	seen          bytes.Buffer
}

func openPTY(t *testing.T) *pty {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := &pty{master: m, slave: s}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.seen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = m.Close(); _ = s.Close() })
	return p
}

func (p *pty) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen.String()
}

// expect waits until the terminal has shown text n times in all.
func (p *pty) expect(t *testing.T, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(p.output(), text) >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the terminal never showed %q %d time(s); it shows:\n%s", text, n, p.output())
}

func (p *pty) send(t *testing.T, s string) {
	t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (p *pty) echoOn(t *testing.T) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// startOnTerminal runs devopsellence-backup with stdin and stderr on the
// pseudo-terminal (its controlling terminal) and stdout on a buffer.
func startOnTerminal(t *testing.T, sim *simtest.Env, p *pty, stdout *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(cliBinary(t), append(args, "--dir", sim.Workspace, "--devopsellence", sim.Bin)...)
	cmd.Env = sim.Environ()
	cmd.Stdin, cmd.Stderr, cmd.Stdout = p.slave, p.slave, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestApplyOnATerminalConfirmsAndAsksForEachSecretWithoutEcho(t *testing.T) {
	sim := newApp(t, "basic")
	p := openPTY(t)
	if !p.echoOn(t) {
		t.Fatal("the new terminal has no echo to begin with")
	}
	secrets := basicSecrets()
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply")
	p.expect(t, "Apply this plan? [y/N]:", 1)
	p.send(t, "y\r")
	order := []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"}
	for i, name := range order {
		p.expect(t, "Value of "+name+" for service backup in production (input hidden):", 1)
		if i == 0 {
			p.send(t, "   \r") // blank: refused, asked again
			p.expect(t, "empty or blank values are refused", 1)
			p.expect(t, "Value of "+name+" for service backup in production (input hidden):", 2)
		}
		p.send(t, secrets[name]+"\r")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v\n%s", err, p.output())
	}
	for name, v := range secrets {
		if strings.Contains(p.output(), v) || strings.Contains(stdout.String(), v) {
			t.Errorf("the value of %s was echoed", name)
		}
		if !strings.Contains(string(readFile(t, sim.StatePath())), v) {
			t.Errorf("the value of %s was not stored", name)
		}
	}
	if !p.echoOn(t) {
		t.Error("the terminal was left without echo")
	}
	if !strings.Contains(stdout.String(), "Applied:") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestCtrlCAtASecretPromptRestoresTheTerminalAndChangesNothing(t *testing.T) {
	sim := newApp(t, "basic")
	original := readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml"))
	sim.ResetCalls(t)
	p := openPTY(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply", "--yes")
	p.expect(t, "Value of RESTIC_PASSWORD for service backup in production (input hidden):", 1)
	p.send(t, "half-typed")
	p.send(t, "\x03")
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, p.output())
	}
	if !p.echoOn(t) {
		t.Error("Ctrl-C left the terminal without echo")
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), original) {
		t.Error("devopsellence.yml changed")
	}
	if n := count(sim.Calls(t), "secret set"); n != 0 {
		t.Errorf("%d secrets stored", n)
	}
}
