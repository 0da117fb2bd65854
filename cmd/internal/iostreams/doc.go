// Package iostreams holds the three standard streams of one command run and
// answers, in one place, whether they are terminals and whether we may prompt.
package iostreams
