package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

// The agent's tree is a package of its own; Main still decides its exit
// status and says why on stderr, which the operator's side reads.
func TestMainReportsTheAgentsUsageErrorsWithTheirExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		said string
	}{
		{[]string{"agent", "ls"}, "ls: missing SNAPSHOT"},
		{[]string{"agent", "backup", "--protocol", "99"}, "speaks protocol 1, but was asked for 99"},
		{[]string{"agent", "version", "--json"}, "not a valid agent configuration"},
		{[]string{"agent", "cancel"}, "--run-id is required"},
	} {
		streams, out, errb := iostreams.Test("")
		code := cli.Main(context.Background(), tc.args, streams, []string{"PATH=/usr/bin:/bin"})
		if code != operate.ExitUsage || out.Len() != 0 || !strings.Contains(errb.String(), "Error: ") || !strings.Contains(errb.String(), tc.said) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, out, errb)
		}
	}
}
