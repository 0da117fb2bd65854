package prompt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/term"

	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// Terminal asks for values on a terminal without echo. The terminal state is
// saved first and restored on every path, Ctrl-C included. Yes/no questions
// and plain lines are read in the terminal's own (canonical, echoed) mode.
type Terminal struct {
	// Fd is the terminal to read from; Out is where questions go (stderr).
	Fd  int
	Out io.Writer
}

// ErrEmpty is returned after repeated empty answers.
var ErrEmpty = errors.New("no value given")

// Secret asks for r's value, refusing empty or whitespace-only answers.
func (t *Terminal) Secret(ctx context.Context, r Request) (secret.Value, error) {
	for attempt := 0; attempt < 3; attempt++ {
		what := r.Name
		if r.About != "" {
			what += " (" + r.About + ")"
		}
		b, err := t.readHidden(ctx, fmt.Sprintf("Value of %s for service %s in %s (input hidden): ", what, r.Service, r.Environment))
		fmt.Fprintln(t.Out)
		if err != nil {
			return secret.Value{}, err
		}
		v := secret.New(string(b))
		clear(b)
		switch {
		case v.HasNUL():
			fmt.Fprintln(t.Out, "  a NUL byte cannot be part of a secret value; try again")
		case !v.Empty():
			return v, nil
		default:
			fmt.Fprintln(t.Out, "  empty or blank values are refused by devopsellence; try again")
		}
	}
	return secret.Value{}, fmt.Errorf("secret %s for service %s in %s: %w", r.Name, r.Service, r.Environment, ErrEmpty)
}

// NewSecret asks for a new value of r twice, without echo, and returns it
// once both answers are the same: a typo in a password that nobody can
// read back would make every backup unreadable.
func (t *Terminal) NewSecret(ctx context.Context, r Request) (secret.Value, error) {
	for attempt := 0; attempt < 3; attempt++ {
		v, err := t.Secret(ctx, r)
		if err != nil {
			return secret.Value{}, err
		}
		b, err := t.readHidden(ctx, "Again, to confirm (input hidden): ")
		fmt.Fprintln(t.Out)
		if err != nil {
			return secret.Value{}, err
		}
		again := secret.New(string(b))
		clear(b)
		if v.Equal(again) {
			return v, nil
		}
		fmt.Fprintln(t.Out, "  the two values differ; try again")
	}
	return secret.Value{}, fmt.Errorf("secret %s for service %s in %s: the two values typed never matched", r.Name, r.Service, r.Environment)
}

// Show writes v on the terminal, once, for a person to copy (a password
// generated for them), and waits for Enter: the only place a value is
// ever written by this tool besides devopsellence's stdin.
func (t *Terminal) Show(ctx context.Context, intro string, v secret.Value) error {
	fmt.Fprintf(t.Out, "%s\n\n    ", intro)
	if _, err := io.Copy(t.Out, v.Reader()); err != nil {
		return err
	}
	fmt.Fprint(t.Out, "\n\nPress Enter once you have a copy: ")
	_, err := t.readLine(ctx)
	return err
}

// ConfirmDefault asks a yes/no question whose empty answer is def.
func (t *Terminal) ConfirmDefault(ctx context.Context, question string, def bool) (bool, error) {
	hint := "[y/N]"
	if def {
		hint = "[Y/n]"
	}
	fmt.Fprintf(t.Out, "%s %s: ", question, hint)
	line, err := t.readLine(ctx)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def, nil
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// Confirm asks a yes/no question; only "y" or "yes" is yes.
func (t *Terminal) Confirm(ctx context.Context, question string) (bool, error) {
	fmt.Fprintf(t.Out, "%s [y/N]: ", question)
	line, err := t.readLine(ctx)
	if err != nil {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

// readHidden puts the terminal in raw mode, then shows question and reads a
// line. Echo goes off (with the rest of raw mode) before the question
// appears, so input typed or pasted the moment it shows is never echoed.
// golang.org/x/term knows each platform's terminal calls (TCGETS on Linux,
// TIOCGETA on macOS), so this is the same code everywhere.
func (t *Terminal) readHidden(ctx context.Context, question string) ([]byte, error) {
	state, err := term.MakeRaw(t.Fd)
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	// Restored on every path: when ctx ends (SIGTERM), the read below is
	// still blocked, and the shell must get its terminal back anyway.
	defer func() { _ = term.Restore(t.Fd, state) }()
	fmt.Fprint(t.Out, question)
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := readSecretLine(fdReader(t.Fd))
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *Terminal) readLine(ctx context.Context) (string, error) {
	ch := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		var b []byte
		buf := make([]byte, 1)
		r := fdReader(t.Fd)
		for {
			n, err := r.Read(buf)
			if n == 1 {
				if buf[0] == '\n' {
					ch <- string(b)
					return
				}
				b = append(b, buf[0])
			}
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case s := <-ch:
		return s, nil
	case err := <-errc:
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Line asks a question and returns the answer as typed (echoed).
func (t *Terminal) Line(ctx context.Context, question string) (string, error) {
	fmt.Fprintf(t.Out, "%s: ", question)
	return t.readLine(ctx)
}
