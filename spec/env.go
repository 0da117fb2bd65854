package spec

import (
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

	Copies []Copy
	// Rotating names a secret being rotated (rotate-secret; never set from
	// a file): its next value reaches the service as RotationSecret(name),
	// next to the current one.
	Rotating string
	// Exclude are the spec's exclude patterns; ExcludePatterns resolves
	// them together with the volumes' own.
	Exclude       []string
	ExcludeCaches bool
}

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
		Service:     or(s.Service, DefaultService),
		Image:       or(o.Image, s.Image),
		Paths:       slices.Clone(s.Paths),
		Repository:  s.Repository,
		Host:        or(s.Host, project+"-"+env),
		CacheDir:    or(s.CacheDir, DefaultCacheDir),
		Env:         maps.Clone(s.Env),
		Tags:        slices.Clone(s.Tags),
		Retention:   s.Retention,

		Exclude:       slices.Clone(s.Exclude),
		ExcludeCaches: s.ExcludeCaches,
	}
	volumes := s.Volumes
	if len(o.Volumes) > 0 {
		volumes = o.Volumes
	}
	for _, v := range volumes {
		if v.Target == "" {
			v.Target = defaultTarget(v.Name)
		}
		v.Exclude = slices.Clone(v.Exclude)
		e.Volumes = append(e.Volumes, v)
	}
	for _, c := range s.Copies {
		c.Repository.Credentials = slices.Clone(c.Repository.Credentials)
		if c.Retention == nil {
			c.Retention = s.Retention
		}
		if c.Retention != nil {
			r := *c.Retention
			c.Retention = &r
		}
		e.Copies = append(e.Copies, c)
	}
	for _, d := range s.Databases {
		if d.Check != nil {
			c := *d.Check
			d.Check = &c
		}
		e.Databases = append(e.Databases, d)
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
	if e.Retention != nil {
		r := *e.Retention
		e.Retention = &r
	}
	if len(o.Tags) > 0 {
		e.Tags = slices.Clone(o.Tags)
	}
	if len(e.Tags) == 0 {
		e.Tags = []string{"app:" + project, "env:" + env}
	}
	sched := s.Schedule
	if sched == nil {
		sched = &Schedule{Every: DefaultBackupEvery}
	}
	if !sched.Manual {
		sc := *sched
		if sc.CheckEvery == 0 {
			sc.CheckEvery = DefaultCheckEvery
		}
		if sc.PruneEvery == 0 {
			sc.PruneEvery = DefaultPruneEvery
		}
		e.Schedule = &sc
	}
	if s.Alerts != nil {
		a := *s.Alerts
		if a.WebhookURLSecret != "" && a.WebhookOn == "" {
			a.WebhookOn = WebhookOnFailure
		}
		e.Alerts = &a
	}
	if s.Check != nil {
		e.Check = *s.Check
	}
	if s.Drill != nil {
		e.Drill = *s.Drill
	}
	if e.Drill.SampleFiles == 0 {
		e.Drill.SampleFiles = DefaultSampleFiles
	}
	if s.Freshness != nil {
		e.Freshness = *s.Freshness
	}
	e.Freshness.Backup = orDuration(e.Freshness.Backup, DefaultBackupFreshness)
	e.Freshness.Check = orDuration(e.Freshness.Check, DefaultCheckFreshness)
	e.Freshness.Drill = orDuration(e.Freshness.Drill, DefaultDrillFreshness)
	return e
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

func or(s, fallback string) string {
	if s != "" {
		return s
	}
	return fallback
}

func orDuration(d, fallback Duration) Duration {
	if d != 0 {
		return d
	}
	return fallback
}

// ServiceName is the backup service's name in devopsellence.yml.
func (b *Backup) ServiceName() string { return or(b.Spec.Service, DefaultService) }
