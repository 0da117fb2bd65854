package agentcmd

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
)

// initChild marks the agent that runs under the agent's own init.
const initChild = "DEVOPSELLENCE_BACKUP_INIT_CHILD"

// Init is asInit for main, before anything else is set up: process 1 then
// holds no more memory than forwarding signals and reaping needs. ok is
// false unless args are the service's command (agent run) and this is
// process 1.
func Init(args, env []string) (code int, ok bool) {
	if len(args) < 2 || args[0] != "agent" || args[1] != "run" {
		return 0, false
	}
	return asInit(env)
}

// asInit makes `agent run` a proper init when it is the container's first
// process: devopsellence makes the service's command the container's
// entrypoint, so no init of the image (tini) runs, and process 1 must
// pass SIGTERM on (a redeploy stops the service) and reap the orphans that
// restic's dumpers can leave. It runs the agent again as its only child,
// forwards signals to it, reaps every child, and returns the agent's exit
// status. ok is false when this process is not process 1.
func asInit(env []string) (code int, ok bool) {
	if os.Getpid() != 1 || environ.Get(env, initChild) != "" {
		return 0, false
	}
	self, err := os.Executable()
	if err != nil {
		return 1, true
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD)
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), initChild+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 1, true
	}
	child := cmd.Process.Pid
	// What starting the child took is not needed again.
	debug.FreeOSMemory()
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			// The agent stops cleanly on SIGTERM and SIGINT; a hang-up
			// means the same here.
			if sig == syscall.SIGHUP {
				sig = syscall.SIGTERM
			}
			_ = syscall.Kill(child, sig.(syscall.Signal))
			continue
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child {
				if ws.Signaled() {
					return 128 + int(ws.Signal()), true
				}
				return ws.ExitStatus(), true
			}
		}
	}
	return 1, true
}
