package prompt

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/ptytest"
)

// questionWatch records, when the question is written, whether the terminal
// echoed input at that moment.
type questionWatch struct {
	t    *testing.T
	p    *ptytest.PTY
	mu   sync.Mutex
	echo []bool
}

func (w *questionWatch) Write(b []byte) (int, error) {
	if strings.Contains(string(b), "input hidden") {
		w.mu.Lock()
		w.echo = append(w.echo, w.p.EchoOn(w.t))
		w.mu.Unlock()
	}
	return w.p.Slave.Write(b)
}

func TestEchoIsOffBeforeTheQuestionShowsAndBackOnAfterTheAnswer(t *testing.T) {
	p := ptytest.Open(t)
	w := &questionWatch{t: t, p: p}
	term := &Terminal{Fd: int(p.Slave.Fd()), Out: w}
	done := make(chan error, 1)
	var got string
	go func() {
		v, err := term.Secret(context.Background(), Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
		if err == nil {
			b := make([]byte, 64)
			n, _ := v.Reader().Read(b)
			got = string(b[:n])
		}
		done <- err
	}()
	p.Expect(t, "Value of RESTIC_PASSWORD for service backup in production (input hidden): ", 1)
	p.Send(t, "hunter2-typed\r")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got != "hunter2-typed" {
		t.Errorf("value = %q", got)
	}
	if len(w.echo) != 1 || w.echo[0] {
		t.Errorf("echo when the question showed: %v, want off", w.echo)
	}
	if !p.EchoOn(t) {
		t.Error("the terminal was left without echo")
	}
	p.Settle(t)
	if strings.Contains(p.Output(), "hunter2") {
		t.Errorf("the value was echoed: %q", p.Output())
	}
}

func TestCtrlCAtAHiddenPromptInterruptsAndRestoresTheTerminal(t *testing.T) {
	p := ptytest.Open(t)
	term := &Terminal{Fd: int(p.Slave.Fd()), Out: p.Slave}
	done := make(chan error, 1)
	go func() {
		_, err := term.Secret(context.Background(), Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
		done <- err
	}()
	p.Expect(t, "(input hidden): ", 1)
	p.Send(t, "half-typed\x03")
	if err := <-done; !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want an interruption", err)
	}
	if !p.EchoOn(t) {
		t.Error("Ctrl-C left the terminal without echo")
	}
}

func TestACancelledRunRestoresTheTerminalWhileTheReadIsBlocked(t *testing.T) {
	p := ptytest.Open(t)
	term := &Terminal{Fd: int(p.Slave.Fd()), Out: p.Slave}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := term.Secret(ctx, Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
		done <- err
	}()
	p.Expect(t, "(input hidden): ", 1)
	if p.EchoOn(t) {
		t.Fatal("echo is on while the question waits")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if !p.EchoOn(t) {
		t.Error("cancelling left the terminal without echo")
	}
}

func TestANewSecretIsTypedTwiceAndMustMatch(t *testing.T) {
	p := ptytest.Open(t)
	term := &Terminal{Fd: int(p.Slave.Fd()), Out: p.Slave}
	done := make(chan error, 1)
	var got string
	go func() {
		v, err := term.NewSecret(context.Background(), Request{Name: "RESTIC_PASSWORD", Service: "backup", Environment: "production"})
		if err == nil {
			b := make([]byte, 64)
			n, _ := v.Reader().Read(b)
			got = string(b[:n])
		}
		done <- err
	}()
	p.Expect(t, "Value of RESTIC_PASSWORD for service backup in production (input hidden): ", 1)
	p.Send(t, "first-try\r")
	p.Expect(t, "Again, to confirm (input hidden): ", 1)
	p.Send(t, "frist-try\r")
	p.Expect(t, "the two values differ; try again", 1)
	p.Expect(t, "Value of RESTIC_PASSWORD for service backup in production (input hidden): ", 2)
	p.Send(t, "second-try\r")
	p.Expect(t, "Again, to confirm (input hidden): ", 2)
	p.Send(t, "second-try\r")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got != "second-try" {
		t.Errorf("value = %q", got)
	}
	if strings.Contains(p.Output(), "try\r\n") || strings.Contains(p.Output(), "second-try") {
		t.Errorf("a typed value was echoed:\n%s", p.Output())
	}
}

func TestConfirmDefaultTakesAnEmptyAnswerAsTheDefault(t *testing.T) {
	for _, tc := range []struct {
		def    bool
		answer string
		want   bool
	}{{true, "", true}, {false, "", false}, {true, "n", false}, {false, "yes", true}} {
		p := ptytest.Open(t)
		term := &Terminal{Fd: int(p.Slave.Fd()), Out: p.Slave}
		type res struct {
			yes bool
			err error
		}
		done := make(chan res, 1)
		go func() {
			yes, err := term.ConfirmDefault(context.Background(), "Generate one?", tc.def)
			done <- res{yes, err}
		}()
		p.Expect(t, map[bool]string{true: "Generate one? [Y/n]: ", false: "Generate one? [y/N]: "}[tc.def], 1)
		p.Send(t, tc.answer+"\r")
		if r := <-done; r.err != nil || r.yes != tc.want {
			t.Errorf("default %v, answer %q: %v %v, want %v", tc.def, tc.answer, r.yes, r.err, tc.want)
		}
	}
}
