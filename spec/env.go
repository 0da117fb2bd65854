package spec

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Defaults filled in by ForEnvironment.
const (
	DefaultCacheDir    = "/var/cache/restic"
	DefaultSampleFiles = 20
	// DefaultTargetDir is where a named volume is mounted unless it has a target.
	DefaultTargetDir = "/data"

	DefaultCheckEvery = Duration(7 * day)
	DefaultPruneEvery = Duration(day)

	// DefaultLockWait bounds a database restore's wait for a lock.
	DefaultLockWait = Duration(10 * time.Second)

	DefaultBackupFreshness = Duration(26 * time.Hour)
	DefaultCheckFreshness  = Duration(8 * day)
	DefaultDrillFreshness  = Duration(35 * day)
)

// EnvSpec is the spec as one environment sees it: defaults filled in and the
// environment's override applied. It shares no memory with the Backup.
type EnvSpec struct {
	Environment string
	Service     string
	Image       string
	Volumes     []Volume // Target always set
	Paths       []string
	Databases   []Database
	Repository  Repository
	Secrets     map[string]SecretSource
	Retention   *Retention // nil when no policy is set
	Tags        []string
	Host        string
	CacheDir    string
	Env         map[string]string
	Schedule    *Schedule // nil when the schedule is manual
	Alerts      *Alerts
	Check       Check
	Drill       Drill
	Freshness   Freshness
	// Restore has its defaults filled in.
	Restore Restore

	Copies []Copy
	// Rotating names a secret being rotated (rotate-secret; never set from
	// a file): its next value reaches the service as RotationSecret(name),
	// next to the current one.
	Rotating string
	// Exclude are the spec's exclude patterns; ExcludePatterns resolves
	// them together with the volumes' own.
	Exclude       []string
	ExcludeCaches bool
	AllowShrink   bool
}

// DefaultUndoRetention keeps the undo snapshots of restores for two weeks.
func DefaultUndoRetention() Retention { return Retention{KeepWithin: "14d"} }

func defaultTarget(volume string) string { return DefaultTargetDir + "/" + volume }

// ForEnvironment merges the spec with its defaults and with Overrides[env].
// project is the `project` of the app's devopsellence.yml; it names the
// default tags and host. Overrides replace image, volumes, repository,
// retention and tags whole, and merge secrets key by key.
func (b *Backup) ForEnvironment(env, project string) EnvSpec {
	s := b.Spec
	o := s.Overrides[env]
	e := EnvSpec{
		Environment: env,
		Service:     cmp.Or(s.Service, DefaultService),
		Image:       cmp.Or(o.Image, s.Image),
		Paths:       slices.Clone(s.Paths),
		Repository:  s.Repository,
		Host:        cmp.Or(s.Host, project+"-"+env),
		CacheDir:    cmp.Or(s.CacheDir, DefaultCacheDir),
		Env:         maps.Clone(s.Env),
		Tags:        slices.Clone(s.Tags),
		Retention:   s.Retention,

		Exclude:       slices.Clone(s.Exclude),
		ExcludeCaches: s.ExcludeCaches,
		AllowShrink:   s.AllowShrink,
		Volumes:       volumesOf(len(o.Volumes) > 0, s.Volumes, o.Volumes),
		Copies:        copiesOf(s.Copies, s.Retention),
		Databases:     databasesOf(s.Databases),
		Schedule:      scheduleOf(s.Schedule),
		Alerts:        alertsOf(s.Alerts),
	}
	if o.Repository != nil {
		e.Repository = *o.Repository
	}
	e.Repository.Credentials = slices.Clone(e.Repository.Credentials)
	if len(s.Secrets)+len(o.Secrets) > 0 {
		e.Secrets = maps.Clone(s.Secrets)
		if e.Secrets == nil {
			e.Secrets = map[string]SecretSource{}
		}
		maps.Copy(e.Secrets, o.Secrets)
	}
	if o.Retention != nil {
		e.Retention = o.Retention
	}
	e.Retention = cloneRetention(e.Retention)
	if len(o.Tags) > 0 {
		e.Tags = slices.Clone(o.Tags)
	}
	if len(e.Tags) == 0 {
		e.Tags = []string{"app:" + project, "env:" + env}
	}
	e.checkDrillFreshness(s)
	return e
}

// volumesOf is the environment's volumes, the override's when it has any,
// each with its target.
func volumesOf(overridden bool, base, override []Volume) []Volume {
	volumes := base
	if overridden {
		volumes = override
	}
	var out []Volume
	for _, v := range volumes {
		if v.Target == "" {
			v.Target = defaultTarget(v.Name)
		}
		v.Exclude = slices.Clone(v.Exclude)
		out = append(out, v)
	}
	return out
}

// copiesOf is the copies, each with its own retention (the spec's when it
// sets none).
func copiesOf(copies []Copy, retention *Retention) []Copy {
	var out []Copy
	for _, c := range copies {
		c.Repository.Credentials = slices.Clone(c.Repository.Credentials)
		if c.Retention == nil {
			c.Retention = retention
		}
		c.Retention = cloneRetention(c.Retention)
		out = append(out, c)
	}
	return out
}

func databasesOf(dbs []Database) []Database {
	var out []Database
	for _, d := range dbs {
		if d.Check != nil {
			c := *d.Check
			d.Check = &c
		}
		out = append(out, d)
	}
	return out
}

func cloneRetention(r *Retention) *Retention {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

// scheduleOf is the schedule with its defaults: a daily backup when the
// spec sets none, nil for a manual one.
func scheduleOf(sched *Schedule) *Schedule {
	if sched == nil {
		sched = &Schedule{Every: DefaultBackupEvery}
	}
	if sched.Manual {
		return nil
	}
	sc := *sched
	if sc.CheckEvery == 0 {
		sc.CheckEvery = DefaultCheckEvery
	}
	if sc.PruneEvery == 0 {
		sc.PruneEvery = DefaultPruneEvery
	}
	return &sc
}

// alertsOf is the alerts with their defaults: a webhook hears of failures.
func alertsOf(alerts *Alerts) *Alerts {
	if alerts == nil {
		return nil
	}
	a := *alerts
	if a.WebhookURLSecret != "" && a.WebhookOn == "" {
		a.WebhookOn = WebhookOnFailure
	}
	return &a
}

// checkDrillFreshness sets the check, drill and freshness settings with
// their defaults.
func (e *EnvSpec) checkDrillFreshness(s Spec) {
	if s.Check != nil {
		e.Check = *s.Check
	}
	if s.Drill != nil {
		e.Drill = *s.Drill
	}
	if e.Drill.SampleFiles == 0 {
		e.Drill.SampleFiles = DefaultSampleFiles
	}
	if s.Restore != nil {
		e.Restore.LockWait = s.Restore.LockWait
		if r := s.Restore.UndoRetention; r != nil {
			u := *r
			e.Restore.UndoRetention = &u
		}
	}
	if e.Restore.UndoRetention == nil {
		u := DefaultUndoRetention()
		e.Restore.UndoRetention = &u
	}
	e.Restore.LockWait = cmp.Or(e.Restore.LockWait, DefaultLockWait)
	if s.Freshness != nil {
		e.Freshness = *s.Freshness
	}
	e.Freshness.Backup = cmp.Or(e.Freshness.Backup, DefaultBackupFreshness)
	e.Freshness.Check = cmp.Or(e.Freshness.Check, DefaultCheckFreshness)
	e.Freshness.Drill = cmp.Or(e.Freshness.Drill, DefaultDrillFreshness)
}

// RotationSecret is the secret that carries the next value of name to the
// service while rotate-secret rotates it.
func RotationSecret(name string) string { return name + "_NEXT" }

// SecretNames lists every secret the backup service needs, in a stable order:
// RESTIC_PASSWORD, RESTIC_REPOSITORY when the URL is secret, the repository
// credentials, then each database's urlSecret or passwordSecret, then each
// database's scratchUrlSecret; each name once.
func (e EnvSpec) SecretNames() []string {
	names := []string{PasswordSecret}
	if e.Repository.URLSecret != "" {
		names = append(names, e.Repository.URLSecret)
	}
	names = append(names, e.Repository.CredentialSecrets()...)
	for _, d := range e.Databases {
		if d.URLSecret != "" {
			names = append(names, d.URLSecret)
		}
		if d.PasswordSecret != "" {
			names = append(names, d.PasswordSecret)
		}
	}
	for _, d := range e.Databases {
		if d.ScratchURLSecret != "" {
			names = append(names, d.ScratchURLSecret)
		}
	}
	if a := e.Alerts; a != nil {
		for _, n := range []string{a.PingURLSecret, a.WebhookURLSecret} {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	for _, c := range e.Copies {
		if c.Repository.URLSecret != "" {
			names = append(names, c.Repository.URLSecret)
		}
		if c.PasswordSecret != "" {
			names = append(names, c.PasswordSecret)
		}
		names = append(names, c.Repository.CredentialSecrets()...)
	}
	if e.Rotating != "" {
		names = append(names, RotationSecret(e.Rotating))
	}
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// BackupPaths lists what a file backup covers: volume targets in spec order,
// then the extra paths.
func (e EnvSpec) BackupPaths() []string {
	var out []string
	for _, v := range e.Volumes {
		out = append(out, v.Target)
	}
	return append(out, e.Paths...)
}

// ExcludePatterns are the restic --exclude patterns of a file backup: the
// spec's own, then each volume's, anchored at its target.
func (e EnvSpec) ExcludePatterns() []string {
	out := slices.Clone(e.Exclude)
	for _, v := range e.Volumes {
		for _, p := range v.Exclude {
			out = append(out, v.Target+"/"+p)
		}
	}
	return out
}

// Flags renders the policy as restic forget flags, always in the same order;
// zero values are left out.
func (r Retention) Flags() []string {
	var out []string
	for _, k := range []struct {
		flag string
		n    int
	}{
		{"--keep-last", r.KeepLast},
		{"--keep-hourly", r.KeepHourly},
		{"--keep-daily", r.KeepDaily},
		{"--keep-weekly", r.KeepWeekly},
		{"--keep-monthly", r.KeepMonthly},
		{"--keep-yearly", r.KeepYearly},
	} {
		if k.n != 0 {
			out = append(out, k.flag, strconv.Itoa(k.n))
		}
	}
	if r.KeepWithin != "" {
		out = append(out, "--keep-within", r.KeepWithin)
	}
	return out
}

// ServiceName is the backup service's name in devopsellence.yml.
func (b *Backup) ServiceName() string { return cmp.Or(b.Spec.Service, DefaultService) }
