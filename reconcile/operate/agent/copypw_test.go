package agent

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// TestACopysWrongPasswordNamesTheCopysOwnSecret: status must send the
// person to the copy's passwordSecret, never to RESTIC_PASSWORD, the
// primary's.
func TestACopysWrongPasswordNamesTheCopysOwnSecret(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		var copyRepo string
		r := newRig(t, bin, func(c *spec.AgentConfig) {
			copyRepo = c.RepositoryURL + "-offsite"
			c.Secrets = append(c.Secrets, "OFFSITE_PW")
			c.Copies = []spec.CopyConfig{{Name: "offsite", Repository: copyRepo, URL: copyRepo, PasswordSecret: "OFFSITE_PW"}}
		})
		init := exec.Command(bin.Path, "init")
		init.Env = []string{"RESTIC_REPOSITORY=" + copyRepo, "RESTIC_PASSWORD=the-right-one", "HOME=" + t.TempDir()}
		if out, err := init.CombinedOutput(); err != nil {
			t.Fatalf("init the copy: %v\n%s", err, out)
		}
		r.env = append(r.env, "OFFSITE_PW=a-wrong-one")
		a, err := New(r.env, "test", r.a.Out, time.Now)
		must(t, err)
		a.runner.Bin = bin.Path
		r.a = a
		writeFiles(t, r.vol, map[string]string{"a.txt": "a"})
		r.backup(RunOptions{Init: true})
		r.stdout.Reset()
		r.a.Status(context.Background(), RunOptions{}, time.Now())
		st := r.result().Status
		es := spec.EnvSpec{Environment: "production", Service: "backup", Copies: []spec.Copy{{Name: "offsite", Repository: spec.Repository{URL: copyRepo}, PasswordSecret: "OFFSITE_PW"}}}
		rep := operate.Assess(es, "backup", &operate.Outcome{Status: st}, time.Now())
		var f *operate.Finding
		for i := range rep.Findings {
			if rep.Findings[i].Code == "copy_unreachable" {
				f = &rep.Findings[i]
			}
		}
		if f == nil {
			t.Fatalf("no finding for the copy: %+v", rep.Findings)
		}
		text := f.Message
		for _, a := range f.NextActions {
			text += " " + a.Label + " " + a.Command
		}
		if strings.Contains(text, "RESTIC_PASSWORD") || !strings.Contains(text, "OFFSITE_PW") {
			t.Errorf("the finding for the copy's wrong password: %s", text)
		}
	})
}
