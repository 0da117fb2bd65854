package agent

import (
	"net/url"
	"sort"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// minSecret is the shortest value scrubbed: shorter ones would hide
// ordinary words and numbers.
const minSecret = 4

// newScrubber returns a function that replaces every secret value of the
// service with *** — each whole value, and every fragment of one a tool
// may quote: the password of a URL (as written, percent-decoded and
// re-encoded), and a password= parameter.
func newScrubber(cfg spec.AgentConfig, env []string) func(string) string {
	var secrets []string
	add := func(v string) {
		if len(v) >= minSecret {
			secrets = append(secrets, v)
		}
	}
	for _, name := range cfg.Secrets {
		v := environ.Get(env, name)
		add(v)
		for _, f := range fragments(v) {
			add(f)
		}
	}
	// Longest first, so a value that contains another goes whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	if len(secrets) == 0 {
		return func(s string) string { return s }
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, "***")
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// fragments are the parts of a secret value that tools quote on their own.
func fragments(v string) []string {
	var out []string
	if i := strings.Index(v, "://"); i > 0 {
		rest := v[i+3:]
		if at := strings.LastIndex(cut(rest, "/?#"), "@"); at >= 0 {
			userinfo := rest[:at]
			if _, pw, ok := strings.Cut(userinfo, ":"); ok {
				out = append(out, pw, userinfo)
				if dec, err := url.PathUnescape(pw); err == nil {
					out = append(out, dec, url.QueryEscape(dec), url.PathEscape(dec))
				}
			}
		}
	}
	low := strings.ToLower(v)
	for _, key := range []string{"password=", "sslpassword="} {
		for i := strings.Index(low, key); i >= 0; {
			val := v[i+len(key):]
			if j := strings.IndexAny(val, "&; \t#"); j >= 0 {
				val = val[:j]
			}
			out = append(out, val)
			if dec, err := url.QueryUnescape(val); err == nil {
				out = append(out, dec)
			}
			next := strings.Index(low[i+1:], key)
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	return out
}

// cut is s up to the first of the characters in any.
func cut(s, any string) string {
	if i := strings.IndexAny(s, any); i >= 0 {
		// The authority ends at the first / ? or #, but a password may
		// hold them; take the last @ before the path instead.
		if at := strings.LastIndex(s, "@"); at > i {
			return s[:at+1]
		}
		return s[:i]
	}
	return s
}
