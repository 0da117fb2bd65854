// Package restic is the one typed wrapper of the restic CLI: it runs restic
// with an explicit environment, decodes its --json output into structs, and
// turns exit codes and messages into typed errors, across restic 0.14 to 0.19.
package restic
