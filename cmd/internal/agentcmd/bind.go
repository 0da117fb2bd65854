package agentcmd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// flagBinder binds a request's fields to the agent's flags, each defaulting
// to the value the request holds, and names its positional arguments for
// the command's use line.
type flagBinder struct {
	fs  *pflag.FlagSet
	use string
}

func (b *flagBinder) String(p *string, flag, usage string) { b.fs.StringVar(p, flag, *p, usage) }
func (b *flagBinder) Bool(p *bool, flag, usage string)     { b.fs.BoolVar(p, flag, *p, usage) }
func (b *flagBinder) Int(p *int, flag, usage string)       { b.fs.IntVar(p, flag, *p, usage) }
func (b *flagBinder) Duration(p *time.Duration, flag, usage string) {
	b.fs.DurationVar(p, flag, *p, usage)
}
func (b *flagBinder) Time(p *time.Time, flag, usage string) { b.fs.Var((*timeFlag)(p), flag, usage) }
func (b *flagBinder) Strings(p *[]string, flag, usage string) {
	b.fs.StringArrayVar(p, flag, *p, usage)
}
func (b *flagBinder) Arg(_ *string, name string)    { b.use += " " + name }
func (b *flagBinder) OptArg(_ *string, name string) { b.use += " [" + name + "]" }
func (b *flagBinder) Rest(_ *[]string, name string) { b.use += " [" + name + "...]" }

// timeFlag is a time given in RFC 3339.
type timeFlag time.Time

func (t *timeFlag) String() string {
	if time.Time(*t).IsZero() {
		return ""
	}
	return time.Time(*t).UTC().Format(time.RFC3339)
}

func (t *timeFlag) Set(s string) error {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time")
	}
	*t = timeFlag(v.UTC())
	return nil
}

func (t *timeFlag) Type() string { return "time" }

// bindArgs puts the positional arguments into req, once its flags are
// parsed (a restore with --latest takes no snapshot).
func bindArgs(req operate.Request, args []string) error {
	b := &argBinder{args: args}
	req.Fields(b)
	switch {
	case b.missing != "":
		return fmt.Errorf("%s: missing %s", req.Operation(), b.missing)
	case len(b.args) > 0:
		return fmt.Errorf("%s: unexpected argument %q", req.Operation(), b.args[0])
	}
	return nil
}

// argBinder takes the positional arguments in the order the request
// declares them; it leaves the flags to the flag set.
type argBinder struct {
	args    []string
	missing string
}

func (*argBinder) String(*string, string, string)          {}
func (*argBinder) Bool(*bool, string, string)              {}
func (*argBinder) Int(*int, string, string)                {}
func (*argBinder) Duration(*time.Duration, string, string) {}
func (*argBinder) Time(*time.Time, string, string)         {}
func (*argBinder) Strings(*[]string, string, string)       {}
func (b *argBinder) OptArg(p *string, _ string)            { b.take(p) }
func (b *argBinder) Arg(p *string, name string) {
	if !b.take(p) && b.missing == "" {
		b.missing = name
	}
}

func (b *argBinder) Rest(p *[]string, _ string) {
	if len(b.args) > 0 {
		*p, b.args = b.args, nil
	}
}

func (b *argBinder) take(p *string) bool {
	if len(b.args) == 0 {
		return false
	}
	*p, b.args = b.args[0], b.args[1:]
	return true
}
