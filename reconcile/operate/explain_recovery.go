package operate

import (
	"fmt"
	"strings"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// explainRecovery explains the failed steps of copies (copy, and the
// forget and prune of a copy) and of restores, whose causes and fixes
// differ from a backup's. ok is false for steps it leaves to explainStep.
func explainRecovery(op Op, es spec.EnvSpec, service string, s Step) (Finding, bool) {
	env := es.Environment
	f := Finding{Severity: SeverityError, Code: s.Error, Message: fmt.Sprintf("%s: %s", s.Name, s.Message)}
	if kind, name, ok := strings.Cut(s.Name, ":"); ok && (kind == "copy" || kind == "forget" || kind == "prune") {
		repo := name
		for _, c := range es.Copies {
			if c.Name == name {
				repo = c.Repository.Display()
			}
		}
		again := Action{Label: "copy the snapshots again", Command: Command(OpCopy, env)}
		if kind != "copy" {
			again = Action{Label: "run it again", Command: Command(op, env)}
		}
		f.NextActions = []Action{again}
		switch s.Error {
		case "repository_missing":
			f.Message = fmt.Sprintf("copy %s: there is no repository at %s yet", name, repo)
			f.NextActions = []Action{{Label: "create it and copy the snapshots into it", Command: Command(OpCopy, env, "--init")}}
		case "wrong_password":
			f.Message = fmt.Sprintf("copy %s: the repository at %s does not open with its password secret", name, repo)
			for _, c := range es.Copies {
				if c.Name == name {
					f.NextActions = []Action{{Label: "store the copy's password", Command: setSecret(c.PasswordSecret, service, env)}, Deploy(env), again}
				}
			}
		case "service_env":
			f.NextActions = []Action{ApplyAction("deploy the backup service with the copy's secrets", env)}
		case "copy_is_primary":
			f.Message = fmt.Sprintf("copy %s: %s", name, s.Message)
			f.NextActions = []Action{ApplyAction("point the copy at another repository in spec.copies, then deploy", env)}
		default:
			if f.Code == "" || f.Code == "failed" {
				f.Code = kind + "_failed"
			}
			f.Message = fmt.Sprintf("copy %s (%s): %s: %s", name, repo, kind, s.Message)
		}
		return f, true
	}
	if op != OpRestore {
		return f, false
	}
	see := Action{Label: "see the snapshots, the undo among them", Command: Command(OpSnapshots, env)}
	switch s.Error {
	case "plan_changed":
		f.Message = "restore: " + s.Message
		f.NextActions = []Action{{Label: "run the same restore again: it shows the new plan to approve", Command: Command(OpRestore, env, "SNAPSHOT", "--dry-run")}}
	case "not_approved":
		f.NextActions = []Action{{Label: "review the plan; --dry-run prints the command that approves it by its ID", Command: Command(OpRestore, env, "SNAPSHOT", "--dry-run")}}
	case "pre_restore_failed", "dumper_failed", "dump_incomplete", "partial":
		f.Code = "pre_restore_failed"
		f.Message = "restore: the backup of what would be overwritten was not saved whole, so nothing was overwritten: " + s.Message
		f.NextActions = []Action{{Label: "find out why a backup fails here", Command: Command(OpBackup, env)}}
	case "verify_failed", "restore_failed":
		f.Message = "restore: " + s.Message
		f.NextActions = []Action{see}
	case "db_locked":
		f.Message = "restore: " + s.Message
		f.NextActions = []Action{{Label: "when the app's transaction has ended (or its writes are stopped), run the same restore again, or allow a longer wait", Command: Command(OpRestore, env, "SNAPSHOT", "--lock-wait", "1m", "--dry-run")}}
	case "targets_changed":
		f.Message = "restore: " + s.Message
		f.NextActions = []Action{{Label: "stop the app's writes to the restored paths, then review the plan again", Command: Command(OpRestore, env, "SNAPSHOT", "--dry-run")}}
	case "restore_unfinished":
		f.Message = "restore: " + s.Message
		f.NextActions = []Action{{Label: "finish it now: every run of the agent first finishes an interrupted restore, verifies it and records it", Command: Command(OpBackup, env)}}
	default:
		return f, false
	}
	return f, true
}
