package spec

import (
	"cmp"
	"path"
	"strings"
)

// copies checks the second repositories: each has a unique name, a
// repository of its own (a secret URL in any secret), a password secret
// and, optionally, its own retention.
func (c *checker) copies(s *Spec) {
	names := map[string]int{}
	for i, cp := range s.Copies {
		p := indexPath("spec.copies", i)
		switch first, dup := names[cp.Name]; {
		case cp.Name == "":
			c.add(p+".name", "required: it names the copy in status and in --from-copy")
		case !envName(cp.Name):
			c.add(p+".name", "%q is not a copy name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)", cp.Name)
		case dup:
			c.add(p+".name", "duplicate of spec.copies[%d]", first)
		default:
			names[cp.Name] = i
		}
		c.repositoryFor(p+".repository", cp.Repository, "")
		switch {
		case cp.Repository.URL != "" && sameRepository(cp.Repository.URL, s.Repository.URL):
			c.add(p+".repository.url", "is the primary repository itself: a copy must live somewhere else (another bucket, provider or server)")
		case cp.Repository.Volume != "" && cp.Repository.Volume == s.Repository.Volume:
			c.add(p+".repository.volume", "%s is the primary repository's volume, so the copy would be the primary repository itself: a copy must live somewhere else", cp.Repository.Volume)
		}
		switch {
		case cp.PasswordSecret == "":
			c.add(p+".passwordSecret", "required: the secret holding the copy's repository password (%s to use the primary's)", PasswordSecret)
		case cp.PasswordSecret == PasswordSecret:
		default:
			c.secretName(p+".passwordSecret", cp.PasswordSecret)
		}
		if cp.Repository.URLSecret != "" && cp.Repository.URLSecret == cp.PasswordSecret {
			c.add(p+".passwordSecret", "must differ from repository.urlSecret")
		}
		c.retention(p+".retention", cp.Retention)
	}
}

// sameRepository reports two repository strings that name one place: a
// local path is compared cleaned (./, .., doubled and trailing slashes
// and a local: prefix make no other folder), any other URL without its
// trailing slash. The agent also compares the repositories' own IDs
// before it copies into one.
func sameRepository(a, b string) bool {
	norm := func(u string) string {
		if backendOf(u) == "local" {
			return path.Clean(strings.TrimPrefix(u, "local:"))
		}
		return strings.TrimRight(u, "/")
	}
	return a != "" && b != "" && norm(a) == norm(b)
}

// excludes checks the exclude patterns: the spec's (absolute ones are
// anchored, others match at any depth) and each volume's (relative to its
// target).
func (c *checker) excludes(s *Spec) {
	for i, pat := range s.Exclude {
		c.pattern(indexPath("spec.exclude", i), pat, true)
	}
	for i, v := range s.Volumes {
		for j, pat := range v.Exclude {
			q := indexPath(indexPath("spec.volumes", i)+".exclude", j)
			if c.pattern(q, pat, false) && strings.HasPrefix(pat, "/") {
				c.add(q, "%q: a volume's patterns are relative to its target (write %q); put patterns anchored elsewhere in spec.exclude", pat, strings.TrimLeft(pat, "/"))
			}
		}
	}
}

// pattern checks one restic --exclude pattern and reports whether it is
// usable.
func (c *checker) pattern(p, pat string, global bool) bool {
	switch {
	case strings.TrimSpace(pat) == "":
		c.add(p, "must not be empty")
	case strings.ContainsAny(pat, "\x00\n\r"):
		c.add(p, "must not hold a NUL byte or a line break")
	case strings.HasPrefix(pat, "!"):
		c.add(p, "%q: negated patterns are not supported", pat)
	case global && (pat == "/" || pat == "*" || pat == "**"):
		c.add(p, "%q would exclude everything", pat)
	default:
		if _, err := path.Match(pat, ""); err != nil {
			c.add(p, "%q is not a valid pattern (%v)", pat, err)
			return false
		}
		if strings.Contains("/"+pat+"/", "/../") || strings.Contains("/"+pat+"/", "/./") {
			c.add(p, "%q must not hold . or .. components", pat)
			return false
		}
		return true
	}
	return false
}

// commandDatabase checks a custom dump: a command whose standard output is
// the dump, and an optional restore command for drills.
func (c *checker) commandDatabase(p string, d Database) {
	if len(d.Command) == 0 {
		c.add(p+".command", "required for command: the dumper and its arguments, e.g. [redis-cli, --rdb, -]; its standard output is the dump")
	}
	c.argv(p+".command", d.Command)
	c.argv(p+".restoreCommand", d.RestoreCommand)
	if d.URLSecret != "" {
		c.secretName(p+".urlSecret", d.URLSecret)
	}
	if d.Path != "" {
		c.add(p+".path", "not for command: the command reads what it dumps itself")
	}
	if d.ScratchURLSecret != "" {
		c.add(p+".scratchUrlSecret", "not for command: a drill runs restoreCommand with the dump on its stdin")
	}
	if d.Check != nil && (d.Check.Query != "" || d.Check.Command != "") {
		c.add(p+".check", "not for command: set restoreCommand, which a drill runs with the dump on its stdin")
	}
}

func (c *checker) argv(p string, argv []string) {
	for i, a := range argv {
		switch {
		case i == 0 && strings.TrimSpace(a) == "":
			c.add(indexPath(p, i), "the command name must not be empty")
		case strings.IndexByte(a, 0) >= 0:
			c.add(indexPath(p, i), "must not hold a NUL byte")
		}
	}
}

// noCommand refuses the fields of a custom dump on a built-in engine.
func (c *checker) noCommand(p string, d Database) {
	if len(d.Command) > 0 {
		c.add(p+".command", "only for engine command: %s is dumped by its own client", cmp.Or(d.Engine, "this engine"))
	}
	if len(d.RestoreCommand) > 0 {
		c.add(p+".restoreCommand", "only for engine command")
	}
}
