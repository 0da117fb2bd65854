package prompt

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
)

// EnvPrefix names variables that carry secret values explicitly:
// DEVOPSELLENCE_BACKUP_SECRET_<NAME> for every environment, and
// DEVOPSELLENCE_BACKUP_SECRET_<ENV>__<NAME> for one (ENV upper-cased, other
// characters than letters and digits as "_"). Nothing else in the
// environment is read: the operator's own AWS_ACCESS_KEY_ID is never picked up.
const EnvPrefix = "DEVOPSELLENCE_BACKUP_SECRET_"

// Request identifies one secret value.
type Request struct {
	Name        string
	Service     string
	Environment string
	// About says what the value is, when the name alone may not.
	About string
}

// Explicit holds the sources the user named.
type Explicit struct {
	environ map[string]string
	vars    map[scope]string // --secret-env
	files   map[scope]string // --secret-file
}

type scope struct{ env, name string }

var (
	nameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	envSafe = regexp.MustCompile(`[^A-Za-z0-9]`)
)

// ParseSources reads --secret-env [ENV:]NAME=VAR and --secret-file
// [ENV:]NAME=PATH flags. environ is the run's environment.
func ParseSources(secretEnv, secretFile, environ []string) (*Explicit, error) {
	e := &Explicit{environ: map[string]string{}, vars: map[scope]string{}, files: map[scope]string{}}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.environ[k] = v
		}
	}
	var errs []error
	for _, f := range []struct {
		flag  string
		items []string
		into  map[scope]string
	}{{"--secret-env", secretEnv, e.vars}, {"--secret-file", secretFile, e.files}} {
		for _, item := range f.items {
			lhs, rhs, ok := strings.Cut(item, "=")
			env, name, scoped := strings.Cut(lhs, ":")
			if !scoped {
				env, name = "", lhs
			}
			// Never quote the flag back: someone may have put the value
			// itself where a variable name or a path belongs.
			if !ok || rhs == "" || !nameRe.MatchString(name) || (scoped && env == "") {
				shown := "a malformed entry"
				if ok && nameRe.MatchString(name) {
					shown = name
				}
				errs = append(errs, fmt.Errorf("%s for %s: want [ENV:]NAME=%s", f.flag, shown, map[bool]string{true: "VAR", false: "PATH"}[f.flag == "--secret-env"]))
				continue
			}
			if f.flag == "--secret-env" && !nameRe.MatchString(rhs) {
				errs = append(errs, fmt.Errorf("--secret-env %s=…: the right side must name an environment variable that holds the value, not be the value", name))
				continue
			}
			f.into[scope{env, name}] = rhs
		}
	}
	return e, errors.Join(errs...)
}

// Named lists the variables --secret-env names.
func (e *Explicit) Named() []string {
	names := make([]string, 0, len(e.vars))
	for _, v := range e.vars {
		names = append(names, v)
	}
	return names
}

// Scrub returns environ without the variables that carry secret values for
// this tool: every DEVOPSELLENCE_BACKUP_SECRET_* one, and the names given.
// What is left is safe to hand to devopsellence, whose children (deploy,
// exec) inherit it; values travel only on the stdin of secret set.
func Scrub(environ []string, names ...string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, EnvPrefix) || slices.Contains(names, k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// EnvVarFor is the prefixed variable that carries name in env.
func EnvVarFor(env, name string) string {
	return EnvPrefix + strings.ToUpper(envSafe.ReplaceAllString(env, "_")) + "__" + name
}

// Lookup returns the value for r from the explicit sources, most specific
// first: --secret-file, --secret-env, then the prefixed variables; each
// scoped to r's environment before unscoped. ok is false when no source names it.
// A file is read only when it is a regular file of at most MaxFileSize
// bytes, and not past ctx's end. Errors name the flag and the secret, never
// what the flag points at: that may be the value typed in the wrong place.
func (e *Explicit) Lookup(ctx context.Context, r Request) (v secret.Value, from string, ok bool, err error) {
	for _, s := range []scope{{r.Environment, r.Name}, {"", r.Name}} {
		if path, ok := e.files[s]; ok {
			b, err := readFile(ctx, path)
			if err != nil {
				if ctx.Err() != nil {
					return v, "", true, err
				}
				return v, "", true, fmt.Errorf("secret %s: --secret-file %s=…: %w", r.Name, flagName(s), err)
			}
			v := secret.New(string(b))
			clear(b)
			return checked(v, r, "file "+path)
		}
		if name, ok := e.vars[s]; ok {
			val, set := e.environ[name]
			if !set {
				return v, "", true, fmt.Errorf("secret %s: the variable that --secret-env %s=… names is not set", r.Name, flagName(s))
			}
			return checked(secret.New(val), r, "env "+name)
		}
	}
	for _, name := range []string{EnvVarFor(r.Environment, r.Name), EnvPrefix + r.Name} {
		if val, set := e.environ[name]; set {
			return checked(secret.New(val), r, "env "+name)
		}
	}
	return v, "", false, nil
}

// Gives names the explicit source that would give r's value ("" when none
// does), without reading it.
func (e *Explicit) Gives(r Request) string {
	for _, s := range []scope{{r.Environment, r.Name}, {"", r.Name}} {
		if _, ok := e.files[s]; ok {
			return "--secret-file " + flagName(s)
		}
		if _, ok := e.vars[s]; ok {
			return "--secret-env " + flagName(s)
		}
	}
	for _, name := range []string{EnvVarFor(r.Environment, r.Name), EnvPrefix + r.Name} {
		if _, set := e.environ[name]; set {
			return name
		}
	}
	return ""
}

// flagName is the left side of the flag that named s: [ENV:]NAME.
func flagName(s scope) string {
	if s.env == "" {
		return s.name
	}
	return s.env + ":" + s.name
}

func checked(v secret.Value, r Request, from string) (secret.Value, string, bool, error) {
	if v.Empty() {
		return v, from, true, fmt.Errorf("secret %s for service %s in %s: %s is empty; devopsellence refuses empty values", r.Name, r.Service, r.Environment, from)
	}
	if v.HasNUL() {
		return secret.Value{}, from, true, fmt.Errorf("secret %s for service %s in %s: %s holds a NUL byte, which no environment variable can carry", r.Name, r.Service, r.Environment, from)
	}
	return v, from, true, nil
}

// Hint says how to provide r without a terminal.
func Hint(r Request) string {
	return fmt.Sprintf("set %s (or %s), or pass --secret-env %s:%s=VAR or --secret-file %s:%s=PATH",
		EnvPrefix+r.Name, EnvVarFor(r.Environment, r.Name), r.Environment, r.Name, r.Environment, r.Name)
}
