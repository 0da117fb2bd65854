package cli

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

// codeUncommitted: devopsellence.yml or the spec has changes git has not
// committed.
const codeUncommitted = "uncommitted_changes"

// uncommitted warns when devopsellence.yml or the spec differs from what git
// has committed (untracked included): devopsellence deploys the working tree
// but labels the release with HEAD, so a teammate deploying a clean checkout
// would deploy the app without the backup service. It says nothing when git
// is not installed or the files are not in a repository.
func uncommitted(ctx context.Context, w *workspace, p *reconcile.Plan) *reconcile.Finding {
	var dirty []string
	for _, f := range []struct{ path, shown string }{{w.configPath, p.ConfigFile}, {w.specPath, w.specFile}} {
		if changed(ctx, w.client.Env, f.path) {
			dirty = append(dirty, f.shown)
		}
	}
	if len(dirty) == 0 {
		return nil
	}
	verb := "has changes"
	if len(dirty) > 1 {
		verb = "have changes"
	}
	return &reconcile.Finding{
		Severity: reconcile.SeverityWarning, Code: codeUncommitted,
		Message: fmt.Sprintf("%s %s that are not committed: devopsellence deploys the working tree but labels the release with HEAD, so a teammate deploying a clean checkout would drop the backup service",
			strings.Join(dirty, " and "), verb),
		NextActions: []reconcile.Action{{Label: "commit them", Command: fmt.Sprintf("git add %s && git commit -m 'Back up with devopsellence-backup'", strings.Join(dirty, " "))}},
	}
}

// changed reports whether git status lists path: modified, added or untracked.
func changed(ctx context.Context, environ []string, path string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "status", "--porcelain", "--", filepath.Base(path))
	cmd.Dir = filepath.Dir(path)
	cmd.Env = environ
	out, err := cmd.Output()
	return err == nil && len(bytes.TrimSpace(out)) > 0
}

// headRevision is the revision devopsellence deploy labels its next release
// with: the first 7 characters of git's HEAD in dir ("" when dir is not in
// a repository or git is not installed).
func headRevision(ctx context.Context, environ []string, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
	cmd.Dir = dir
	cmd.Env = environ
	out, err := cmd.Output()
	sha := strings.TrimSpace(string(out))
	if err != nil || len(sha) < 7 {
		return ""
	}
	return sha[:7]
}
