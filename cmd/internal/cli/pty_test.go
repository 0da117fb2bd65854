package cli_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
	"github.com/devopsellence/devopsellence-backup/fixtures/simtest"
)

// terminalCmd is a command running on a pseudo-terminal. Its Wait returns
// once the terminal has shown everything the command wrote, so that the
// terminal's Output can be checked right after it (the reader of the
// terminal may lag behind the exit on a busy machine).
type terminalCmd struct {
	*exec.Cmd
	t *testing.T
	p *ptytest.PTY
}

func (c terminalCmd) Wait() error {
	err := c.Cmd.Wait()
	c.p.Settle(c.t)
	return err
}

// startOnTerminal runs devopsellence-backup with stdin and stderr on the
// pseudo-terminal (its controlling terminal) and stdout on a buffer.
func startOnTerminal(t *testing.T, sim *simtest.Env, p *ptytest.PTY, stdout *bytes.Buffer, args ...string) terminalCmd {
	t.Helper()
	cmd := exec.Command(cliBinary(t), append(args, "--dir", sim.Workspace, "--devopsellence", sim.Bin)...)
	cmd.Env = sim.Environ()
	cmd.Stdin, cmd.Stderr, cmd.Stdout = p.Slave, p.Slave, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return terminalCmd{Cmd: cmd, t: t, p: p}
}

func TestApplyOnATerminalConfirmsAndAsksForEachSecretWithoutEcho(t *testing.T) {
	sim := newApp(t, "basic")
	p := ptytest.Open(t)
	if !p.EchoOn(t) {
		t.Fatal("the new terminal has no echo to begin with")
	}
	secrets := basicSecrets()
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply")
	p.Expect(t, "Apply this plan? [y/N]:", 1)
	p.Send(t, "y\r")
	order := []string{"RESTIC_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"}
	for i, name := range order {
		if i == 0 {
			// The repository password: typed, not generated, and twice.
			p.Expect(t, "Generate a strong one? [Y/n]:", 1)
			p.Send(t, "n\r")
		}
		p.Expect(t, "Value of "+name+" for service backup in production (input hidden):", 1)
		if i == 0 {
			p.Send(t, "   \r") // blank: refused, asked again
			p.Expect(t, "empty or blank values are refused", 1)
			p.Expect(t, "Value of "+name+" for service backup in production (input hidden):", 2)
		}
		p.Send(t, secrets[name]+"\r")
		if i == 0 {
			p.Expect(t, "Again, to confirm (input hidden):", 1)
			p.Send(t, secrets[name]+"\r")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("apply: %v\n%s", err, p.Output())
	}
	for name, v := range secrets {
		if strings.Contains(p.Output(), v) || strings.Contains(stdout.String(), v) {
			t.Errorf("the value of %s was echoed", name)
		}
		if !strings.Contains(string(readFile(t, sim.StatePath())), v) {
			t.Errorf("the value of %s was not stored", name)
		}
	}
	if !p.EchoOn(t) {
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
	p := ptytest.Open(t)
	var stdout bytes.Buffer
	cmd := startOnTerminal(t, sim, p, &stdout, "apply", "--yes")
	p.Expect(t, "Generate a strong one? [Y/n]:", 1)
	p.Send(t, "n\r")
	p.Expect(t, "Value of RESTIC_PASSWORD for service backup in production (input hidden):", 1)
	p.Send(t, "half-typed")
	p.Send(t, "\x03")
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130\n%s", code, p.Output())
	}
	if !p.EchoOn(t) {
		t.Error("Ctrl-C left the terminal without echo")
	}
	if !bytes.Equal(readFile(t, filepath.Join(sim.Workspace, "devopsellence.yml")), original) {
		t.Error("devopsellence.yml changed")
	}
	if n := count(sim.Calls(t), "secret set"); n != 0 {
		t.Errorf("%d secrets stored", n)
	}
}
