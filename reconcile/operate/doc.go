// Package operate is the operator's side of the conversation with the agent
// in the backup service: the protocol both sides speak (operations, argv,
// the JSON lines the agent prints), running a request through devopsellence
// exec and stopping it with `agent cancel`, and reading the evidence the
// agent stores in the repository into results, status and findings with the
// command that fixes each.
package operate
