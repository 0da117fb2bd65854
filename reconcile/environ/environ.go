// Package environ reads an explicit environment, a list of KEY=VALUE entries
// as os.Environ returns it, instead of the process's own: every command gets
// the environment it runs with as a value, so tests can give it any.
package environ

import "strings"

// Get returns key's value in env; the last entry wins, as for exec.Cmd.Env.
func Get(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
