package restic

import "syscall"

// RunAs makes r run restic as another user, for tests of unreadable files
// (root reads everything).
func RunAs(r *Runner, uid, gid uint32) {
	r.credential = &syscall.Credential{Uid: uid, Gid: gid}
}
