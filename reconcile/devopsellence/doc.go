// Package devopsellence is the only code that runs the devopsellence binary. It
// passes explicit --env/--service flags, sends secret values on stdin only,
// decodes stdout as a stream of JSON values (the CLI prints its error envelope
// there), and turns failures into typed errors.
package devopsellence
