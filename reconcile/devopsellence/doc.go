// Package devopsellence is the only code that runs the devopsellence binary. It
// passes explicit --env/--service flags, sends secret values on stdin only,
// decodes stdout as a stream of JSON values (the CLI prints its error envelope
// there), converts what it decodes into the core's types (package reconcile),
// and turns failures into typed errors that match the core's.
package devopsellence
