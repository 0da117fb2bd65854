package render

import (
	"encoding/json"
	"io"
)

// SchemaVersion is the version of every JSON document this tool prints.
const SchemaVersion = 1

// Formats of --output.
const (
	Text     = "text"
	JSON     = "json"
	Markdown = "markdown"
)

// Envelope is devopsellence's result shape: schema_version, operation, ok,
// summary and findings, plus the command's own fields.
type Envelope struct {
	SchemaVersion int    `json:"schema_version"`
	Operation     string `json:"operation"`
	OK            bool   `json:"ok"`
	Summary       string `json:"summary"`
	// Error is set when the command failed.
	Error *ErrorBody `json:"error,omitempty"`
}

// ErrorBody describes a failure in the envelope.
type ErrorBody struct {
	Code     string `json:"code"`
	ExitCode int    `json:"exit_code"`
	Message  string `json:"message"`
}

// WriteJSON prints v as one indented JSON document.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Failure prints the error envelope of a failed command.
func Failure(w io.Writer, operation, code string, exitCode int, msg string) error {
	return WriteJSON(w, Envelope{
		SchemaVersion: SchemaVersion, Operation: operation, OK: false, Summary: msg,
		Error: &ErrorBody{Code: code, ExitCode: exitCode, Message: msg},
	})
}
