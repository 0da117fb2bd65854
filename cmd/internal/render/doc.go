// Package render turns one plan or result value into what a person, a CI job
// or an AI operator reads: text, the devopsellence JSON envelope, or Markdown
// for a pull request comment.
package render
