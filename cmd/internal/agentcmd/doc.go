// Package agentcmd holds the agent's command tree: the commands that run
// inside the backup service, one per operate.Request, their flags bound
// from the request's own fields. The operator's commands are in package
// cli, which mounts this tree under "agent".
package agentcmd
