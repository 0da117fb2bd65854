// Package buildinfo says which build of devopsellence-backup is running: the
// version, commit and build time a release stamps in with -ldflags -X, or
// what the Go toolchain recorded when it was installed with `go install`.
package buildinfo
