package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AgentConfigVersion is the version of the agent's configuration as Env
// writes it. The agent reads this version only: a service configured by
// another release of devopsellence-backup is refused as a whole, never
// half-read.
const AgentConfigVersion = 1

// Env keys of the backup service that configure the agent running in it.
// Every value is JSON, rendered from the spec into devopsellence.yml; none
// holds a secret value. One key per concern, so a plan names the concern
// that changed and an environment's overlay carries only what differs from
// the base (devopsellence merges env key by key).
const (
	AgentVersionKey = "BACKUP_CONFIG_VERSION"
	// AgentIdentity: environment, service, host, tags and app ID, which
	// label every snapshot.
	AgentIdentity  = "BACKUP_IDENTITY"
	AgentFiles     = "BACKUP_FILES"
	AgentDatabases = "BACKUP_DATABASES"
	AgentSchedule  = "BACKUP_SCHEDULE"
	AgentRetention = "BACKUP_RETENTION"
	AgentSecrets   = "BACKUP_SECRETS"
	// AgentRepository: the backend, when the repository URL is a secret.
	AgentRepository = "BACKUP_REPOSITORY"
	AgentAlerts     = "BACKUP_ALERTS"
	AgentCopies     = "BACKUP_COPIES"
	// Set only when the spec differs from the default.
	AgentChecks  = "BACKUP_CHECKS"
	AgentRestore = "BACKUP_RESTORE"
	// restic's own variables, which restic reads itself.
	ResticRepository = "RESTIC_REPOSITORY"
	ResticCacheDir   = "RESTIC_CACHE_DIR"
)

type identityEnv struct {
	Environment string   `json:"environment"`
	Service     string   `json:"service"`
	Host        string   `json:"host"`
	Tags        []string `json:"tags"`
	AppID       string   `json:"appId,omitempty"`
}

type filesEnv struct {
	Paths         []string `json:"paths,omitempty"`
	Excludes      []string `json:"excludes,omitempty"`
	ExcludeCaches bool     `json:"excludeCaches,omitempty"`
	AllowShrink   bool     `json:"allowShrink,omitempty"`
}

type repositoryEnv struct {
	Type string `json:"type"`
}

type checksEnv struct {
	ReadDataParts int `json:"readDataParts"`
	SampleFiles   int `json:"sampleFiles"`
}

type restoreEnv struct {
	UndoRetention []string `json:"undoRetention"`
	LockWait      Duration `json:"lockWait"`
}

// Env renders the configuration as env entries.
func (a AgentConfig) Env() map[string]string {
	env := map[string]string{
		AgentVersionKey: jsonText(AgentConfigVersion),
		AgentIdentity: jsonText(identityEnv{Environment: a.Environment, Service: a.Service, Host: a.Host,
			Tags: nonNil(a.Tags), AppID: a.AppID}),
		AgentSchedule: jsonText(scheduleEnv(a.Schedule)),
		AgentSecrets:  jsonText(nonNil(a.Secrets)),
	}
	if a.CacheDir != "" {
		env[ResticCacheDir] = a.CacheDir
	}
	if f := (filesEnv{Paths: a.Paths, Excludes: a.Excludes, ExcludeCaches: a.ExcludeCaches, AllowShrink: a.AllowShrink}); !f.empty() {
		env[AgentFiles] = jsonText(f)
	}
	if len(a.Databases) > 0 {
		env[AgentDatabases] = jsonText(a.Databases)
	}
	if len(a.Retention) > 0 {
		env[AgentRetention] = jsonText(a.Retention)
	}
	if a.CheckParts > 0 || a.SampleFiles != DefaultSampleFiles {
		env[AgentChecks] = jsonText(checksEnv{ReadDataParts: a.CheckParts, SampleFiles: a.SampleFiles})
	}
	if a.RepositoryURL != "" {
		env[ResticRepository] = a.RepositoryURL
	} else if a.RepositoryType != "" {
		env[AgentRepository] = jsonText(repositoryEnv{Type: a.RepositoryType})
	}
	if a.Alerts != nil {
		env[AgentAlerts] = jsonText(a.Alerts)
	}
	if len(a.Copies) > 0 {
		env[AgentCopies] = jsonText(a.Copies)
	}
	undo, wait := a.UndoRetention, Duration(a.LockWait)
	if len(undo) == 0 {
		undo = DefaultUndoRetention().Flags()
	}
	if wait <= 0 {
		wait = DefaultLockWait
	}
	if !slices.Equal(undo, DefaultUndoRetention().Flags()) || wait != DefaultLockWait {
		env[AgentRestore] = jsonText(restoreEnv{UndoRetention: undo, LockWait: wait})
	}
	return env
}

func (f filesEnv) empty() bool {
	return len(f.Paths) == 0 && len(f.Excludes) == 0 && !f.ExcludeCaches && !f.AllowShrink
}

// scheduleEnv is the schedule as the agent runs it: "manual", or every
// interval spelled out with its default, so the block says when each
// part runs.
func scheduleEnv(s *Schedule) Schedule {
	if s == nil || s.Manual {
		return Schedule{Manual: true}
	}
	sc := *s
	if sc.PruneEvery == 0 {
		sc.PruneEvery = DefaultPruneEvery
	}
	if sc.CheckEvery == 0 {
		sc.CheckEvery = DefaultCheckEvery
	}
	return sc
}

// jsonText is v as compact JSON. The values rendered here are plain data
// (strings, numbers, lists and the spec's own types), which always marshal.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "&" and "<" readable in devopsellence.yml
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("render agent configuration: %v", err))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ParseAgentEnv reads the configuration back from the service's env. A
// configuration of another version is refused before anything else is read;
// otherwise every problem is reported at once, naming the variable, and the
// fix is a deploy of the service from the spec.
func ParseAgentEnv(get func(string) string) (AgentConfig, error) {
	if err := checkAgentVersion(get); err != nil {
		return AgentConfig{}, fmt.Errorf("the backup service's environment is not a valid agent configuration for this agent:\n%w", err)
	}
	r := &envReader{get: get}
	a := AgentConfig{CacheDir: get(ResticCacheDir), RepositoryURL: get(ResticRepository)}
	var id identityEnv
	if r.read(AgentIdentity, true, &id) {
		a.Environment, a.Service, a.Host, a.Tags, a.AppID = id.Environment, id.Service, id.Host, id.Tags, id.AppID
		if a.Environment == "" || a.Service == "" || a.Host == "" || len(a.Tags) == 0 {
			r.bad(AgentIdentity, "needs an environment, a service, a host and tags")
		}
	}
	var files filesEnv
	r.read(AgentFiles, false, &files)
	a.Paths, a.Excludes, a.ExcludeCaches, a.AllowShrink = files.Paths, files.Excludes, files.ExcludeCaches, files.AllowShrink
	r.read(AgentDatabases, false, &a.Databases)
	r.read(AgentRetention, false, &a.Retention)
	if r.read(AgentSecrets, true, &a.Secrets) && len(a.Secrets) == 0 {
		a.Secrets = nil
	}
	a.Schedule = r.schedule()
	checks := checksEnv{SampleFiles: DefaultSampleFiles}
	if r.read(AgentChecks, false, &checks) && (checks.ReadDataParts < 0 || checks.SampleFiles < 0) {
		r.bad(AgentChecks, "counts must not be negative")
	}
	a.CheckParts, a.SampleFiles = checks.ReadDataParts, checks.SampleFiles
	var repo repositoryEnv
	if r.read(AgentRepository, false, &repo) && repo.Type == "" {
		r.bad(AgentRepository, "needs a type")
	}
	a.RepositoryType = repo.Type
	if r.read(AgentAlerts, false, &a.Alerts) && a.Alerts != nil && a.Alerts.WebhookURLSecret != "" && a.Alerts.WebhookOn == "" {
		a.Alerts.WebhookOn = WebhookOnFailure
	}
	if r.read(AgentCopies, false, &a.Copies) {
		for _, c := range a.Copies {
			if c.Name == "" || c.PasswordSecret == "" || (c.URL == "") == (c.URLSecret == "") {
				r.bad(AgentCopies, "copy %q needs a name, a passwordSecret and one of url and urlSecret", c.Name)
			}
		}
	}
	restore := restoreEnv{UndoRetention: DefaultUndoRetention().Flags(), LockWait: DefaultLockWait}
	if r.read(AgentRestore, false, &restore) && (len(restore.UndoRetention) == 0 || restore.LockWait <= 0) {
		r.bad(AgentRestore, "needs an undoRetention and a lockWait above 0")
	}
	a.UndoRetention, a.LockWait = restore.UndoRetention, restore.LockWait.Std()
	switch {
	case slices.Contains(a.Secrets, ResticRepository):
		a.Repository = Repository{URLSecret: ResticRepository, Type: a.RepositoryType}.Display()
	case a.RepositoryURL != "":
		a.Repository = Redact(a.RepositoryURL)
	default:
		r.bad(ResticRepository, "not set, and not listed as a secret in %s", AgentSecrets)
	}
	if err := errors.Join(r.errs...); err != nil {
		return a, fmt.Errorf("the backup service's environment is not a valid agent configuration (deploy it again with devopsellence-backup apply):\n%w", err)
	}
	return a, nil
}

// envReader decodes the agent's variables, gathering every problem.
type envReader struct {
	get  func(string) string
	errs []error
}

func (r *envReader) bad(key, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// read decodes one variable strictly into dst and reports whether it was
// there and valid; a missing one leaves dst as it is (the default), and is
// a problem when required.
func (r *envReader) read(key string, required bool, dst any) bool {
	v := r.get(key)
	if v == "" {
		if required {
			r.bad(key, "not set")
		}
		return false
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		r.bad(key, "not valid: %v", err)
		return false
	}
	if dec.More() {
		r.bad(key, "not valid: more than one JSON value")
		return false
	}
	return true
}

// schedule reads BACKUP_SCHEDULE; nil for a manual one.
func (r *envReader) schedule() *Schedule {
	var sc Schedule
	if !r.read(AgentSchedule, true, &sc) {
		return nil
	}
	if err := sc.runnable(); err != nil {
		r.bad(AgentSchedule, "%v", err)
		return nil
	}
	if sc.Manual {
		return nil
	}
	return &sc
}

// checkAgentVersion refuses a configuration this agent does not know: one
// written before versions, or by another release. Which side to move
// depends on which is newer: the image, or the devopsellence-backup that
// rendered the service.
func checkAgentVersion(get func(string) string) error {
	const older = "run devopsellence-backup apply with the release that matches spec.image: it renders the service's configuration again and deploys it"
	v := get(AgentVersionKey)
	if v == "" {
		// Variables only a configuration written before versions had:
		// they tell an old service from one deployed by hand.
		for _, k := range []string{"BACKUP_ENVIRONMENT", "BACKUP_HOST", "BACKUP_TAGS"} {
			if get(k) != "" {
				return fmt.Errorf("%s: not set: the service was configured by a devopsellence-backup older than this agent (%s is from before configuration versions; this agent reads version %d): %s",
					AgentVersionKey, k, AgentConfigVersion, older)
			}
		}
		return fmt.Errorf("%s: not set (this agent reads version %d): the service was not configured by devopsellence-backup apply; run it", AgentVersionKey, AgentConfigVersion)
	}
	var n int
	if err := json.Unmarshal([]byte(v), &n); err != nil || n < 1 {
		return fmt.Errorf("%s: %q is not a version (this agent reads version %d): deploy the service again with devopsellence-backup apply", AgentVersionKey, v, AgentConfigVersion)
	}
	switch {
	case n > AgentConfigVersion:
		return fmt.Errorf("%s: version %d, but this agent reads version %d: the service was configured by a newer devopsellence-backup than its image; set spec.image to the image of that release and run devopsellence-backup apply",
			AgentVersionKey, n, AgentConfigVersion)
	case n < AgentConfigVersion:
		return fmt.Errorf("%s: version %d, but this agent reads version %d: the service was configured by an older devopsellence-backup than its image; %s",
			AgentVersionKey, n, AgentConfigVersion, older)
	}
	return nil
}

// runnable checks a schedule as the agent runs it: manual, or a backup
// every interval or at a time of day, with prune and check intervals, none
// of them (nor a deadline) under a minute.
func (s Schedule) runnable() error {
	if s.Manual {
		return nil
	}
	switch {
	case (s.Every == 0) == (s.At == ""):
		return errors.New("needs one of every and at")
	case s.At != "" && !timeOfDay(s.At):
		return fmt.Errorf("at %q is not a time of day (HH:MM)", s.At)
	case s.PruneEvery == 0 || s.CheckEvery == 0:
		return errors.New("needs pruneEvery and checkEvery")
	}
	for _, d := range []Duration{s.Every, s.PruneEvery, s.CheckEvery} {
		if d != 0 && d.Std() < time.Minute {
			return fmt.Errorf("interval %s is under 1m", d)
		}
	}
	for _, d := range []Duration{s.BackupTimeout, s.PruneTimeout, s.CheckTimeout} {
		if d != 0 && d.Std() < time.Minute {
			return fmt.Errorf("deadline %s is under 1m", d)
		}
	}
	return nil
}
