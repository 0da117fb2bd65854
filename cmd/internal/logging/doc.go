// Package logging builds the logr.Logger every command logs through: zap with
// zapr on stderr, console lines on a terminal or JSON on request, -v 0..2.
package logging
