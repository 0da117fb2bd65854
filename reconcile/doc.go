// Package reconcile is the core of devopsellence-backup: it derives the desired
// backup service from the spec and the app, diffs it against what it observed
// (devopsellence.yml, stored secrets, nodes, the last deploy) into a Plan, and
// applies a Plan through small interfaces. Diff is pure; Apply touches the
// world only through the interfaces it declares.
package reconcile
