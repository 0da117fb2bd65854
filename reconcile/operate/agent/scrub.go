package agent

import (
	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// newScrubber returns a function that replaces every secret value of the
// service with *** in anything the agent prints or stores: each whole
// value, and every fragment of one a tool may quote (a URL's password as
// written, decoded and re-encoded, a password= parameter, and each piece
// of four or more characters between reserved characters, which is what a
// client quotes when a reserved character cut a URL apart).
func newScrubber(cfg spec.AgentConfig, env []string) func(string) string {
	s := dbtool.NewScrubber()
	for _, name := range cfg.Secrets {
		if v := environ.Get(env, name); v != "" {
			s.Add(v)
		}
	}
	if s.Len() == 0 {
		return func(text string) string { return text }
	}
	return s.String
}
