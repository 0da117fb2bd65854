package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Env keys of the backup service that configure the agent running in it.
// They are rendered from the spec into devopsellence.yml, hold no secret
// value, and are what a reviewer reads to see what the service does.
const (
	AgentEnvironment = "BACKUP_ENVIRONMENT"
	AgentService     = "BACKUP_SERVICE"
	AgentHost        = "BACKUP_HOST"
	AgentTags        = "BACKUP_TAGS"
	AgentAppID       = "BACKUP_APP_ID"
	AgentPaths       = "BACKUP_PATHS"
	AgentDatabases   = "BACKUP_DATABASES"
	AgentRetention   = "BACKUP_RETENTION"
	AgentSchedule    = "BACKUP_SCHEDULE"
	AgentCheckParts  = "BACKUP_CHECK_PARTS"
	AgentDrillSample = "BACKUP_DRILL_SAMPLE"
	AgentSecrets     = "BACKUP_SECRETS"
	AgentRepoType    = "BACKUP_REPOSITORY_TYPE"
	AgentAlerts      = "BACKUP_ALERTS"
	AgentExcludes    = "BACKUP_EXCLUDES"
	AgentCaches      = "BACKUP_EXCLUDE_CACHES"
	AgentCopies      = "BACKUP_COPIES"
	// Set only when the spec differs from the default.
	AgentUndoRetention = "BACKUP_UNDO_RETENTION"
	AgentLockWait      = "BACKUP_RESTORE_LOCK_WAIT"
	AgentAllowShrink   = "BACKUP_ALLOW_SHRINK"
	ResticRepository   = "RESTIC_REPOSITORY"
	ResticCacheDir     = "RESTIC_CACHE_DIR"
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

// Env renders the configuration as env entries.
func (a AgentConfig) Env() map[string]string {
	env := map[string]string{
		AgentEnvironment: a.Environment,
		AgentService:     a.Service,
		AgentHost:        a.Host,
		AgentTags:        strings.Join(a.Tags, ","),
		AgentAppID:       a.AppID,
		AgentPaths:       strings.Join(a.Paths, " "),
		AgentSchedule:    a.Schedule.Text(),
		AgentSecrets:     strings.Join(a.Secrets, " "),
		ResticCacheDir:   a.CacheDir,
	}
	if len(a.Databases) > 0 {
		b, _ := json.Marshal(a.Databases)
		env[AgentDatabases] = string(b)
	}
	if len(a.Retention) > 0 {
		env[AgentRetention] = strings.Join(a.Retention, " ")
	}
	if a.CheckParts > 0 {
		env[AgentCheckParts] = strconv.Itoa(a.CheckParts)
	}
	if a.SampleFiles != DefaultSampleFiles {
		env[AgentDrillSample] = strconv.Itoa(a.SampleFiles)
	}
	if a.RepositoryURL != "" {
		env[ResticRepository] = a.RepositoryURL
	} else if a.RepositoryType != "" {
		env[AgentRepoType] = a.RepositoryType
	}
	if a.Alerts != nil {
		env[AgentAlerts] = a.Alerts.text()
	}
	if len(a.Excludes) > 0 {
		b, _ := json.Marshal(a.Excludes)
		env[AgentExcludes] = string(b)
	}
	if a.ExcludeCaches {
		env[AgentCaches] = "true"
	}
	if len(a.Copies) > 0 {
		b, _ := json.Marshal(a.Copies)
		env[AgentCopies] = string(b)
	}
	if u := strings.Join(a.UndoRetention, " "); u != "" && u != strings.Join(DefaultUndoRetention().Flags(), " ") {
		env[AgentUndoRetention] = u
	}
	if a.LockWait > 0 && a.LockWait != DefaultLockWait.Std() {
		env[AgentLockWait] = Duration(a.LockWait).String()
	}
	if a.AllowShrink {
		env[AgentAllowShrink] = "true"
	}
	return env
}

// Text is the schedule as BACKUP_SCHEDULE writes it: "manual", or
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

func (a *Alerts) text() string {
	var parts []string
	if a.PingURLSecret != "" {
		parts = append(parts, "ping="+a.PingURLSecret)
	}
	if a.WebhookURLSecret != "" {
		parts = append(parts, "webhook="+a.WebhookURLSecret, "on="+a.WebhookOn)
	}
	return strings.Join(parts, " ")
}

// ParseAgentEnv reads the configuration back from the service's env. Every
// problem is reported at once, naming the variable; the fix is always a
// deploy of the service from the spec.
func ParseAgentEnv(get func(string) string) (AgentConfig, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	need := func(key string) string {
		v := get(key)
		if v == "" {
			bad(key, "not set")
		}
		return v
	}
	a := AgentConfig{
		Environment: need(AgentEnvironment), Service: need(AgentService), Host: need(AgentHost),
		AppID: get(AgentAppID), CacheDir: get(ResticCacheDir),
		RepositoryURL: get(ResticRepository), RepositoryType: get(AgentRepoType),
		Secrets: fields(get(AgentSecrets)), SampleFiles: DefaultSampleFiles,
	}
	if tags := need(AgentTags); tags != "" {
		a.Tags = strings.Split(tags, ",")
	}
	a.Paths = fields(get(AgentPaths))
	if v := get(AgentDatabases); v != "" {
		if err := json.Unmarshal([]byte(v), &a.Databases); err != nil {
			bad(AgentDatabases, "not a JSON list of databases: %v", err)
		}
	}
	a.Retention = fields(get(AgentRetention))
	a.UndoRetention = fields(get(AgentUndoRetention))
	if a.UndoRetention == nil {
		a.UndoRetention = DefaultUndoRetention().Flags()
	}
	a.LockWait = DefaultLockWait.Std()
	if v := get(AgentLockWait); v != "" {
		d, err := ParseDuration(v)
		if err != nil || d <= 0 {
			bad(AgentLockWait, "%q is not a duration", v)
		}
		a.LockWait = d.Std()
	}
	if v := get(AgentExcludes); v != "" {
		if err := json.Unmarshal([]byte(v), &a.Excludes); err != nil {
			bad(AgentExcludes, "not a JSON list of patterns: %v", err)
		}
	}
	for key, dst := range map[string]*bool{AgentCaches: &a.ExcludeCaches, AgentAllowShrink: &a.AllowShrink} {
		switch v := get(key); v {
		case "", "false":
		case "true":
			*dst = true
		default:
			bad(key, "%q: want true or false", v)
		}
	}
	if v := get(AgentCopies); v != "" {
		if err := json.Unmarshal([]byte(v), &a.Copies); err != nil {
			bad(AgentCopies, "not a JSON list of copies: %v", err)
		}
		for _, c := range a.Copies {
			if c.Name == "" || c.PasswordSecret == "" || (c.URL == "") == (c.URLSecret == "") {
				bad(AgentCopies, "copy %q needs a name, a passwordSecret and one of url and urlSecret", c.Name)
			}
		}
	}
	sc, err := ParseScheduleText(need(AgentSchedule))
	if err != nil {
		bad(AgentSchedule, "%v", err)
	}
	a.Schedule = sc
	for key, dst := range map[string]*int{AgentCheckParts: &a.CheckParts, AgentDrillSample: &a.SampleFiles} {
		if v := get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				bad(key, "%q is not a count", v)
			}
			*dst = n
		}
	}
	if v := get(AgentAlerts); v != "" {
		al, err := parseAlerts(v)
		if err != nil {
			bad(AgentAlerts, "%v", err)
		}
		a.Alerts = al
	}
	switch {
	case slices.Contains(a.Secrets, ResticRepository):
		a.Repository = Repository{URLSecret: ResticRepository, Type: a.RepositoryType}.Display()
	case a.RepositoryURL != "":
		a.Repository = Redact(a.RepositoryURL)
	default:
		bad(ResticRepository, "not set, and not listed as a secret in %s", AgentSecrets)
	}
	if err := errors.Join(errs...); err != nil {
		return a, fmt.Errorf("the backup service's environment is not a valid agent configuration (deploy it again with devopsellence-backup apply):\n%w", err)
	}
	return a, nil
}

// ParseScheduleText reads what Schedule.Text writes; nil for manual.
func ParseScheduleText(s string) (*Schedule, error) {
	if s == ScheduleManual {
		return nil, nil
	}
	sc := &Schedule{}
	every := map[string]*Duration{"backup": &sc.Every, "prune": &sc.PruneEvery, "check": &sc.CheckEvery}
	within := map[string]*Duration{"backup": &sc.BackupTimeout, "prune": &sc.PruneTimeout, "check": &sc.CheckTimeout}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ";") {
		f := strings.Fields(part)
		if len(f) < 3 || seen[f[0]] || within[f[0]] == nil {
			return nil, fmt.Errorf("%q: want e.g. \"backup every 1d; prune every 1d; check every 7d\" or %q", s, ScheduleManual)
		}
		seen[f[0]] = true
		if n := len(f); n >= 5 && f[n-2] == "within" {
			d, err := ParseDuration(f[n-1])
			if err != nil || d.Std() < time.Minute {
				return nil, fmt.Errorf("%q: %q is not a deadline of at least 1m", s, f[n-1])
			}
			*within[f[0]], f = d, f[:n-2]
		}
		var err error
		switch {
		case f[0] == "backup" && len(f) == 4 && f[1] == "daily" && f[2] == "at" && timeOfDay(f[3]):
			sc.At = f[3]
		case len(f) == 3 && f[1] == "every":
			*every[f[0]], err = ParseDuration(f[2])
		default:
			return nil, fmt.Errorf("%q: cannot read %q", s, strings.TrimSpace(part))
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
	}
	if !seen["backup"] || !seen["prune"] || !seen["check"] {
		return nil, fmt.Errorf("%q: want backup, prune and check", s)
	}
	for _, d := range []Duration{sc.Every, sc.PruneEvery, sc.CheckEvery} {
		if d != 0 && d.Std() < time.Minute {
			return nil, fmt.Errorf("%q: intervals must be at least 1m", s)
		}
	}
	return sc, nil
}

func parseAlerts(s string) (*Alerts, error) {
	a := &Alerts{}
	for _, kv := range strings.Fields(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("%q: want ping=NAME webhook=NAME on=failure|always", s)
		}
		switch k {
		case "ping":
			a.PingURLSecret = v
		case "webhook":
			a.WebhookURLSecret = v
		case "on":
			a.WebhookOn = v
		default:
			return nil, fmt.Errorf("%q: unknown key %q", s, k)
		}
	}
	if a.WebhookURLSecret != "" && a.WebhookOn == "" {
		a.WebhookOn = WebhookOnFailure
	}
	return a, nil
}

// fields splits a space-separated list; nil when empty.
func fields(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}
