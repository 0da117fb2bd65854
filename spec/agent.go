package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// AgentConfig is what the agent inside the backup service knows about its
// environment's backups. It is EnvSpec's projection into the service's env:
// Env renders it and ParseAgentEnv reads it back, losslessly.
type AgentConfig struct {
	Environment string
	Service     string
	Host        string
	Tags        []string
	// AppID tags every snapshot, so another app writing to the same
	// repository under the same host and tags is never taken for this one.
	AppID     string
	Paths     []string
	Databases []Database
	// Retention is the forget policy as restic flags; empty: forget nothing.
	Retention []string
	// Schedule is nil when the schedule is manual.
	Schedule    *Schedule
	CheckParts  int
	SampleFiles int
	// Secrets are the names of the env vars that hold secret values: their
	// values are scrubbed from everything the agent prints or stores.
	Secrets []string
	// Repository is the repository as shown to people (no secret in it).
	Repository string
	// RepositoryType is the backend when the repository URL is a secret.
	RepositoryType string
	// RepositoryURL is the plain repository URL, when it is not a secret.
	RepositoryURL string
	CacheDir      string
	Alerts        *Alerts

	// Excludes are the restic --exclude patterns of the file backup, the
	// volumes' already anchored at their targets.
	Excludes      []string
	ExcludeCaches bool
	// Copies are the second repositories.
	Copies []CopyConfig
	// UndoRetention keeps the undo snapshots of restores, as restic
	// forget flags; LockWait bounds a database restore's wait for a lock.
	UndoRetention []string
	LockWait      time.Duration
	// AllowShrink accepts a files backup much smaller than the one before.
	AllowShrink bool
}

// CopyConfig is a second repository as the agent sees it: where its URL,
// password and credentials are in the service's environment.
type CopyConfig struct {
	Name string `json:"name"`
	// Repository is the copy's location as shown to people.
	Repository string `json:"repository"`
	// URL is the plain URL, or URLSecret the variable that holds it.
	URL            string   `json:"url,omitempty"`
	URLSecret      string   `json:"urlSecret,omitempty"`
	PasswordSecret string   `json:"passwordSecret"`
	Credentials    []string `json:"credentials,omitempty"`
	// Retention is the copy's forget policy as restic flags.
	Retention []string `json:"retention,omitempty"`
}

// AppID identifies one app's backups in a repository: a short hash of the
// app's devopsellence project and the spec's name.
func AppID(project, name string) string {
	sum := sha256.Sum256([]byte(project + "\n" + name))
	return hex.EncodeToString(sum[:6])
}

// AgentCommand is the agent's command name inside the backup image.
const AgentCommand = "devopsellence-backup"

// ServiceCommand is the backup service's command: the agent's scheduler,
// which runs the backups the spec schedules (or, with a manual schedule,
// waits to be asked through devopsellence exec).
func ServiceCommand() []string { return []string{AgentCommand, "agent", "run"} }

// Agent is the agent's configuration for this environment.
func (e EnvSpec) Agent(appID string) AgentConfig {
	a := AgentConfig{
		Environment: e.Environment, Service: e.Service, Host: e.Host,
		Tags: slices.Clone(e.Tags), AppID: appID, Paths: e.BackupPaths(),
		Databases: slices.Clone(e.Databases), Schedule: e.Schedule,
		CheckParts: e.Check.ReadDataParts, SampleFiles: e.Drill.SampleFiles,
		Secrets: e.SecretNames(), Repository: e.Repository.Display(),
		RepositoryURL: e.Repository.URL, CacheDir: e.CacheDir, Alerts: e.Alerts,
	}
	if e.Repository.URL == "" {
		a.RepositoryType = e.Repository.Backend()
	}
	if e.Retention != nil {
		a.Retention = e.Retention.Flags()
	}
	a.Excludes, a.ExcludeCaches, a.AllowShrink = e.ExcludePatterns(), e.ExcludeCaches, e.AllowShrink
	a.UndoRetention, a.LockWait = DefaultUndoRetention().Flags(), DefaultLockWait.Std()
	if r := e.Restore.UndoRetention; r != nil {
		a.UndoRetention = r.Flags()
	}
	if e.Restore.LockWait > 0 {
		a.LockWait = e.Restore.LockWait.Std()
	}
	for _, c := range e.Copies {
		cc := CopyConfig{Name: c.Name, Repository: c.Repository.Display(), URL: c.Repository.URL,
			URLSecret: c.Repository.URLSecret, PasswordSecret: c.PasswordSecret, Credentials: c.Repository.CredentialSecrets()}
		if c.Retention != nil {
			cc.Retention = c.Retention.Flags()
		}
		a.Copies = append(a.Copies, cc)
	}
	return a
}

// Text is the schedule as people read it (agent status): "manual", or
// "backup every 1d; prune every 1d; check every 7d" (or "backup daily at
// 03:00"), in UTC; a part whose deadline the spec sets ends with
// "within 12h".
func (s *Schedule) Text() string {
	if s == nil || s.Manual {
		return ScheduleManual
	}
	backup := "backup every " + s.Every.String()
	if s.At != "" {
		backup = "backup daily at " + s.At
	}
	prune, check := s.PruneEvery, s.CheckEvery
	if prune == 0 {
		prune = DefaultPruneEvery
	}
	if check == 0 {
		check = DefaultCheckEvery
	}
	return fmt.Sprintf("%s%s; prune every %s%s; check every %s%s", backup, within(s.BackupTimeout),
		prune, within(s.PruneTimeout), check, within(s.CheckTimeout))
}

// within is a part's deadline as the schedule text writes it, when the
// spec sets one.
func within(d Duration) string {
	if d == 0 {
		return ""
	}
	return " within " + d.String()
}
