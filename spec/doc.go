// Package spec is the desired-state schema of devopsellence-backup: it decodes
// devopsellence.backup.yml strictly, validates it with field paths and lines, and
// resolves defaults and per-environment overrides.
package spec
