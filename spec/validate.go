package spec

import (
	"cmp"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// checker collects validation problems; every rule reports and carries on so
// the user sees all problems of a file in one run.
type checker struct {
	b        *Backup
	problems []error
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, c.b.Problem(path, format, args...))
}

// validate checks what can be checked without the app's devopsellence.yml.
func validate(b *Backup) []error {
	c := &checker{b: b}
	c.header()
	s := &b.Spec
	if s.Service != "" {
		c.service("spec.service", s.Service)
	}
	if s.Image == "" {
		c.add("spec.image", "required: the backup image, which must carry restic and the database clients")
	} else {
		c.noSpace("spec.image", s.Image)
	}
	c.environments(s.Environments)
	dirs := c.sources("spec.volumes", s.Volumes, s.Paths)
	c.databases(s.Databases, dirs)
	c.repository("spec.repository", s.Repository)
	c.copies(s)
	c.excludes(s)
	c.secrets("spec.secrets", s.Secrets)
	c.retention("spec.retention", s.Retention)
	c.tags("spec.tags", s.Tags)
	if s.Host != "" {
		c.noSpace("spec.host", s.Host)
	}
	if s.CacheDir != "" {
		c.absolute("spec.cacheDir", s.CacheDir)
	}
	c.env(s.Env)
	c.schedule("spec.schedule", s.Schedule)
	c.alerts("spec.alerts", s.Alerts)
	c.limits(s)
	c.overrides(s)
	c.localRepositories(s)
	c.secretsUsed(s)
	return c.problems
}

func (c *checker) header() {
	b := c.b
	switch b.APIVersion {
	case APIVersion:
	case "":
		c.add("apiVersion", "required: want %q", APIVersion)
	default:
		c.add("apiVersion", "want %q, got %q", APIVersion, b.APIVersion)
	}
	switch b.Kind {
	case Kind:
	case "":
		c.add("kind", "required: want %q", Kind)
	default:
		c.add("kind", "want %q, got %q", Kind, b.Kind)
	}
	switch name := b.Metadata.Name; {
	case name == "":
		c.add("metadata.name", "required: a lower-case DNS label such as the app's name")
	case !dnsLabel(name):
		c.add("metadata.name", "%q is not a lower-case DNS label (a-z, 0-9 and -, starting and ending with a letter or digit, at most 63 characters)", name)
	}
}

func (c *checker) service(p, name string) {
	switch {
	case !serviceName(name):
		c.add(p, "%q is not a service name (lower-case a-z, 0-9, _, . and -, starting with a letter or digit)", name)
	case name == "web":
		c.add(p, "\"web\" would make devopsellence treat the service as a web service that needs an http port and a healthcheck: use another name such as %q", DefaultService)
	}
}

func (c *checker) environments(envs []string) {
	seen := map[string]int{}
	for i, env := range envs {
		p := indexPath("spec.environments", i)
		switch first, dup := seen[env]; {
		case env == "":
			c.add(p, "must not be empty")
		case !envName(env):
			c.add(p, "%q is not an environment name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)", env)
		case dup:
			c.add(p, "duplicate of spec.environments[%d]", first)
		default:
			seen[env] = i
		}
	}
}

// sources checks volumes (at field path vp) and paths and returns every
// directory that is backed up.
func (c *checker) sources(vp string, volumes []Volume, paths []string) []string {
	var dirs []string
	users := map[string]string{} // directory → field path that backs it up
	claim := func(dir, p string) {
		if prev, dup := users[dir]; dup {
			c.add(p, "%q is also backed up by %s", dir, prev)
			return
		}
		users[dir] = p
		dirs = append(dirs, dir)
	}
	names := map[string]int{}
	for i, v := range volumes {
		p := indexPath(vp, i)
		nameOK := false
		switch first, dup := names[v.Name]; {
		case v.Name == "":
			c.add(p+".name", "required: the volume's source in devopsellence.yml")
		case strings.Contains(v.Name, ":"):
			c.add(p+".name", "%q must not contain \":\" (devopsellence joins source:target into one Docker bind)", v.Name)
		case dup:
			c.add(p+".name", "duplicate of %s", indexPath(vp, first))
		case strings.HasPrefix(v.Name, "/"):
			names[v.Name] = i
			if path.Clean(v.Name) != v.Name {
				c.add(p+".name", "%q is not a clean path (want %q)", v.Name, path.Clean(v.Name))
			} else if v.Target == "" {
				c.add(p+".target", "required when the volume is a host path (%q): there is no default mount point for it", v.Name)
			}
		case !volumeName(v.Name):
			c.add(p+".name", "%q is neither a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]*) nor an absolute host path", v.Name)
		default:
			names[v.Name] = i
			nameOK = true
		}
		c.liveDatabaseFiles(p, v)
		switch {
		case v.Target != "":
			if c.absolute(p+".target", v.Target) {
				claim(v.Target, p+".target")
			}
		case nameOK:
			claim(defaultTarget(v.Name), p+".name")
		}
	}
	for i, dir := range paths {
		p := indexPath("spec.paths", i)
		if c.absolute(p, dir) {
			claim(dir, p)
		}
	}
	return dirs
}

// absolute checks a path inside the backup service and reports whether it is usable.
func (c *checker) absolute(p, dir string) bool {
	switch {
	case dir == "":
		c.add(p, "must not be empty")
	case !strings.HasPrefix(dir, "/"):
		c.add(p, "%q must be an absolute path", dir)
	case path.Clean(dir) != dir:
		c.add(p, "%q is not a clean path (want %q)", dir, path.Clean(dir))
	case dir == "/":
		c.add(p, "must not be /")
	case strings.Contains(dir, ":"):
		c.add(p, "%q must not contain \":\" (devopsellence joins source:target into one Docker bind)", dir)
	case hasSpace(dir):
		c.add(p, "%q must not contain whitespace", dir)
	default:
		return true
	}
	return false
}

func (c *checker) databases(dbs []Database, dirs []string) {
	names := map[string]int{}
	for i, d := range dbs {
		p := indexPath("spec.databases", i)
		switch first, dup := names[d.Name]; {
		case d.Name == "":
			c.add(p+".name", "required: it names the dump in snapshots and tags")
		case !envName(d.Name):
			c.add(p+".name", "%q is not a database name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)", d.Name)
		case dup:
			c.add(p+".name", "duplicate of spec.databases[%d]", first)
		default:
			names[d.Name] = i
		}
		switch d.Engine {
		case EnginePostgres, EngineMySQL, EngineMariaDB, EngineRedis:
			if d.Service != "" {
				c.serviceDatabase(p, d)
			} else {
				c.urlDatabase(p, d)
			}
			if d.Path != "" {
				c.add(p+".path", "only for sqlite: %s is reached through urlSecret or service", d.Engine)
			}
			if d.ScratchURLSecret != "" {
				if d.Engine == EngineRedis {
					c.add(p+".scratchUrlSecret", "not for redis: a drill loads the dump into a throwaway redis-server in the backup service")
				} else {
					c.secretName(p+".scratchUrlSecret", d.ScratchURLSecret)
				}
			}
		case EngineSQLite:
			if d.URLSecret != "" {
				c.add(p+".urlSecret", "not for sqlite: set path to the database file instead")
			}
			if d.ScratchURLSecret != "" {
				c.add(p+".scratchUrlSecret", "not for sqlite: a drill restores sqlite into a scratch file")
			}
			c.serviceFields(p, d, "not for sqlite: the file is read where a backed-up volume holds it")
			if d.Path == "" {
				c.add(p+".path", "required for sqlite: the database file as the backup service sees it")
			} else if c.absolute(p+".path", d.Path) && !under(d.Path, dirs) {
				c.add(p+".path", "%q is not inside a backed-up volume target or path (%s)", d.Path, listOr(dirs, "none is backed up"))
			}
		case EngineCommand:
			c.commandDatabase(p, d)
		case "":
			c.add(p+".engine", "required (want %s)", engines)
		default:
			c.add(p+".engine", "unsupported %q (want %s)", d.Engine, engines)
		}
		switch {
		case d.Format == "" || d.Engine == "":
		case d.Engine != EnginePostgres:
			c.add(p+".format", "only for postgres: %s has one dump format", d.Engine)
		case d.Format != FormatCustom && d.Format != FormatPlain:
			c.add(p+".format", "unsupported %q (want %s or %s)", d.Format, FormatCustom, FormatPlain)
		}
		if d.Check != nil && d.Check.Query != "" && d.Check.Command != "" {
			c.add(p+".check", "set query or command, not both")
		}
		if d.Check != nil && d.Engine == EngineRedis {
			c.add(p+".check", "not for redis: a drill compares the key counts of the restored dump with the live server")
		}
		if d.Engine != EngineCommand {
			c.noCommand(p, d)
		}
		if d.Optional && d.Engine != EngineSQLite && d.Engine != "" {
			c.add(p+".optional", "only for sqlite: a file the app may not have created yet; a %s server is always there to dump", d.Engine)
		}
	}
}

const engines = "postgres, mysql, mariadb, redis, sqlite, command"

func under(file string, dirs []string) bool {
	for _, d := range dirs {
		if strings.HasPrefix(file, d+"/") {
			return true
		}
	}
	return false
}

func (c *checker) repository(p string, r Repository) {
	c.repositoryFor(p, r, RepositorySecret)
}

// repositoryFor checks a repository whose secret URL must be in the secret
// named secret (the primary's: RESTIC_REPOSITORY), or, when secret is "",
// in any secret of the app's choosing (a copy's).
func (c *checker) repositoryFor(p string, r Repository, secret string) {
	example := cmp.Or(secret, "COPY_REPOSITORY")
	switch {
	case r.URL == "" && r.URLSecret == "":
		c.add(p, "set url, or urlSecret: %s when the URL holds credentials", example)
	case r.URL != "" && r.URLSecret != "":
		c.add(p, "set only one of url and urlSecret")
	}
	switch {
	case r.URLSecret == "":
	case secret == "":
		c.secretName(p+".urlSecret", r.URLSecret)
	case r.URLSecret != secret:
		c.add(p+".urlSecret", "must be %s: restic reads the repository from that variable, and devopsellence injects each secret as the env var its ref is named after", secret)
	}
	typeOK := r.Type == "" || knownBackend(r.Type)
	if !typeOK {
		c.add(p+".type", "unsupported %q (want %s)", r.Type, backendList)
	}
	if r.URLSecret != "" && r.Type == "" {
		c.add(p+".type", "required with urlSecret: it tells which credential secrets the repository needs (want %s)", backendList)
	}
	if r.URL != "" {
		shown := Redact(r.URL)
		backend := backendOf(r.URL)
		switch {
		case backend == "":
			c.add(p+".url", "%q has no known backend (want a %s prefix or an absolute path)", shown, backendPrefixes)
		case EmbedsCredentials(r.URL):
			c.add(p+".url", "%q embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: %s and type: %s, and store the full URL as that secret", shown, example, backend)
		case backend == "local" && !strings.HasPrefix(r.LocalPath(), "/"):
			c.add(p+".url", "local repository %q must be an absolute path inside the backup service", shown)
		case backend == "local" && r.Volume == "" && c.absolute(p+".url", r.LocalPath()):
			c.add(p+".url", "local repository %q is not on a volume the backup service mounts: inside the container it is lost at the next deploy; "+
				"mount one there with %s.volume (a named volume such as restic_repo, or a host path such as /srv/backups), or use a remote repository (%s)", shown, p, remotePrefixes)
		case strings.TrimPrefix(r.URL, backend+":") == "":
			c.add(p+".url", "%q names no location after the backend", shown)
		}
		if backend != "" && r.Type != "" && typeOK && r.Type != backend {
			c.add(p+".type", "%q does not match the url's backend %q", r.Type, backend)
		}
	}
	switch {
	case r.Volume == "":
	case r.URL == "" || backendOf(r.URL) != "local":
		c.add(p+".volume", "only for a local repository (a url that is an absolute path): the backup service mounts it at that path")
	case strings.Contains(r.Volume, ":"):
		c.add(p+".volume", "%q must not contain \":\" (devopsellence joins source:target into one Docker bind)", r.Volume)
	case strings.HasPrefix(r.Volume, "/") && path.Clean(r.Volume) != r.Volume:
		c.add(p+".volume", "%q is not a clean path (want %q)", r.Volume, path.Clean(r.Volume))
	case !strings.HasPrefix(r.Volume, "/") && !volumeName(r.Volume):
		c.add(p+".volume", "%q is neither a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]*) nor an absolute host path", r.Volume)
	}
	seen := map[string]int{}
	for i, name := range r.Credentials {
		q := indexPath(p+".credentials", i)
		if first, dup := seen[name]; dup {
			c.add(q, "duplicate of %s", indexPath(p+".credentials", first))
			continue
		}
		seen[name] = i
		c.secretName(q, name)
	}
}

// secretName checks the name of a secret other than the repository's own two.
func (c *checker) secretName(p, name string) {
	switch {
	case !envVarName(name):
		c.add(p, "%q is not an env var name ([A-Z_][A-Z0-9_]*)", name)
	case name == PasswordSecret || name == RepositorySecret:
		c.add(p, "%s is always added by devopsellence-backup: leave it out here", name)
	case managed(name):
		c.add(p, "%s is managed by devopsellence-backup", name)
	}
}

func (c *checker) secrets(p string, m map[string]SecretSource) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		q := childPath(p, name)
		if !envVarName(name) {
			c.add(q, "%q is not an env var name ([A-Z_][A-Z0-9_]*)", name)
		}
		switch ref := m[name].OnePassword; {
		case ref == "":
			c.add(q+".onePassword", "required: an op://vault/item/field reference")
		case !opRef(ref):
			c.add(q+".onePassword", "%q is not a 1Password reference (want op://vault/item/field)", ref)
		}
	}
}

func (c *checker) retention(p string, r *Retention) {
	if r == nil {
		return
	}
	keeps := []struct {
		name string
		n    int
	}{{"keepLast", r.KeepLast}, {"keepHourly", r.KeepHourly}, {"keepDaily", r.KeepDaily}, {"keepWeekly", r.KeepWeekly}, {"keepMonthly", r.KeepMonthly}, {"keepYearly", r.KeepYearly}}
	kept := r.KeepWithin != ""
	for _, k := range keeps {
		if k.n < 0 {
			c.add(p+"."+k.name, "must not be negative")
		}
		kept = kept || k.n > 0
	}
	if !kept {
		c.add(p, "set at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly and keepWithin")
	}
	if r.KeepWithin != "" && !resticDuration(r.KeepWithin) {
		c.add(p+".keepWithin", "%q is not a restic duration (want e.g. 30d, 1y6m or 2y5m7d3h)", r.KeepWithin)
	}
}

func (c *checker) tags(p string, tags []string) {
	seen := map[string]int{}
	for i, tag := range tags {
		q := indexPath(p, i)
		switch first, dup := seen[tag]; {
		case tag == "":
			c.add(q, "must not be empty")
		case strings.ContainsAny(tag, ",") || hasSpace(tag):
			c.add(q, "%q must not contain \",\" or whitespace (restic splits tag lists on \",\")", tag)
		case dup:
			c.add(q, "duplicate of %s", indexPath(p, first))
		default:
			seen[tag] = i
		}
	}
}

func (c *checker) env(env map[string]string) {
	secrets := map[string]bool{}
	for _, e := range c.b.environments() {
		for _, name := range c.b.ForEnvironment(e, "").SecretNames() {
			secrets[name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		p := childPath("spec.env", name)
		switch {
		case !envVarName(name):
			c.add(p, "%q is not an env var name ([A-Z_][A-Z0-9_]*)", name)
		case managed(name):
			c.add(p, "%s is managed by devopsellence-backup", name)
		case secrets[name]:
			c.add(p, "%s is a secret of this backup: keep it out of env (values in env are written to devopsellence.yml)", name)
		}
		if strings.IndexByte(env[name], 0) >= 0 {
			c.add(p, "the value holds a NUL byte (\\0), which no environment variable can carry: the service could not start")
		}
	}
}

func (c *checker) schedule(p string, s *Schedule) {
	if s == nil || s.Manual {
		return
	}
	every := s.Every != 0 || c.b.written(p+".every")
	switch {
	case every && s.At != "":
		c.add(p, "set every or at, not both")
	case !every && s.At == "":
		c.add(p, "set every (an interval such as 6h) or at (a daily UTC time such as 02:30)")
	}
	if every && s.Every.Std() < 5*time.Minute {
		c.add(p+".every", "must be at least 5m")
	}
	if s.At != "" && !timeOfDay(s.At) {
		c.add(p+".at", "%q is not a time of day (want HH:MM in UTC, 00:00 to 23:59)", s.At)
	}
	for _, f := range []struct {
		name string
		d    Duration
	}{{"checkEvery", s.CheckEvery}, {"pruneEvery", s.PruneEvery}} {
		if (f.d != 0 || c.b.written(p+"."+f.name)) && f.d.Std() < time.Hour {
			c.add(p+"."+f.name, "must be at least 1h")
		}
	}
	for _, f := range []struct {
		name string
		d    Duration
	}{{"backupTimeout", s.BackupTimeout}, {"pruneTimeout", s.PruneTimeout}, {"checkTimeout", s.CheckTimeout}} {
		if (f.d != 0 || c.b.written(p+"."+f.name)) && f.d.Std() < time.Minute {
			c.add(p+"."+f.name, "must be at least 1m (a deadline such as 6h or 2d)")
		}
	}
}

func (c *checker) alerts(p string, a *Alerts) {
	if a == nil {
		return
	}
	if a.PingURLSecret == "" && a.WebhookURLSecret == "" {
		c.add(p, "set pingUrlSecret, webhookUrlSecret or both (names of secrets holding the URLs), or remove alerts")
	}
	if a.PingURLSecret != "" {
		c.secretName(p+".pingUrlSecret", a.PingURLSecret)
	}
	if a.WebhookURLSecret != "" {
		c.secretName(p+".webhookUrlSecret", a.WebhookURLSecret)
		if a.WebhookURLSecret == a.PingURLSecret {
			c.add(p+".webhookUrlSecret", "must differ from pingUrlSecret")
		}
	}
	switch a.WebhookOn {
	case "", WebhookOnFailure, WebhookOnAlways:
		if a.WebhookOn != "" && a.WebhookURLSecret == "" {
			c.add(p+".webhookOn", "needs webhookUrlSecret")
		}
	default:
		c.add(p+".webhookOn", "%q: want %s or %s", a.WebhookOn, WebhookOnFailure, WebhookOnAlways)
	}
}

// limits checks check, drill, restore and freshness.
func (c *checker) limits(s *Spec) {
	if s.Check != nil && (s.Check.ReadDataParts < 0 || s.Check.ReadDataParts > 1000) {
		c.add("spec.check.readDataParts", "must be between 0 and 1000")
	}
	if s.Drill != nil && (s.Drill.SampleFiles < 0 || s.Drill.SampleFiles > 10000) {
		c.add("spec.drill.sampleFiles", "must be between 0 and 10000")
	}
	if r := s.Restore; r != nil {
		c.retention("spec.restore.undoRetention", r.UndoRetention)
		if (r.LockWait != 0 || c.b.written("spec.restore.lockWait")) && (r.LockWait.Std() < time.Second || r.LockWait.Std() > time.Hour) {
			c.add("spec.restore.lockWait", "must be between 1s and 1h")
		}
	}
	if f := s.Freshness; f != nil {
		for _, x := range []struct {
			name string
			d    Duration
		}{{"backup", f.Backup}, {"check", f.Check}, {"drill", f.Drill}} {
			p := "spec.freshness." + x.name
			if (x.d != 0 || c.b.written(p)) && x.d <= 0 {
				c.add(p, "must be greater than 0")
			}
		}
	}
}

func (c *checker) overrides(s *Spec) {
	for _, env := range slices.Sorted(maps.Keys(s.Overrides)) {
		p := childPath("spec.overrides", env)
		switch {
		case !envName(env):
			c.add(p, "%q is not an environment name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)", env)
		case len(s.Environments) > 0 && !slices.Contains(s.Environments, env):
			c.add(p, "environment %q is not listed in spec.environments (%s)", env, strings.Join(s.Environments, ", "))
		}
		o := s.Overrides[env]
		if o.Image != "" {
			c.noSpace(p+".image", o.Image)
		}
		if len(o.Volumes) > 0 {
			dirs := append(c.sources(p+".volumes", o.Volumes, nil), s.Paths...)
			for i, d := range s.Databases {
				if d.Engine == EngineSQLite && d.Path != "" && !under(d.Path, dirs) {
					c.add(p+".volumes", "spec.databases[%d] (%s) is not inside any of these volumes: mount the volume that holds it in %s at the same target as in spec.volumes", i, d.Path, env)
				}
			}
		}
		if o.Repository != nil {
			c.repository(p+".repository", *o.Repository)
		}
		c.retention(p+".retention", o.Retention)
		c.tags(p+".tags", o.Tags)
		c.secrets(p+".secrets", o.Secrets)
	}
}

// localRepositories refuses a local repository inside what is backed up:
// restic would back the repository up into itself, growing it every run.
func (c *checker) localRepositories(s *Spec) {
	reported := map[string]bool{}
	for _, env := range c.b.environments() {
		e := c.b.ForEnvironment(env, "")
		repo := e.Repository.LocalPath()
		if repo == "" || !strings.HasPrefix(repo, "/") {
			continue
		}
		p := "spec.repository.url"
		if o, ok := s.Overrides[env]; ok && env != "" && o.Repository != nil {
			p = childPath("spec.overrides", env) + ".repository.url"
		}
		for _, dir := range e.BackupPaths() {
			if !strings.HasPrefix(dir, "/") || path.Clean(dir) != dir {
				continue // reported as such
			}
			if repo == dir || strings.HasPrefix(repo, dir+"/") || strings.HasPrefix(dir, repo+"/") {
				if !reported[p+dir] {
					reported[p+dir] = true
					c.add(p, "local repository %q overlaps %q, which is backed up: restic would back the repository up into itself; put it on a volume of its own (repository.volume) outside what is backed up", repo, dir)
				}
				break
			}
		}
	}
}

// secretsUsed reports secret sources for names no environment needs, which
// are typos more often than not. It stays quiet while the repository or the
// databases are themselves invalid, since the needed names then are unknown.
func (c *checker) secretsUsed(s *Spec) {
	for _, err := range c.problems {
		if fe, ok := err.(*FieldError); ok && (strings.HasPrefix(fe.Path, "spec.databases") || strings.Contains(fe.Path, "repository")) {
			return
		}
	}
	all := map[string]bool{}
	for _, env := range c.b.environments() {
		names := c.b.ForEnvironment(env, "").SecretNames()
		for _, n := range names {
			all[n] = true
		}
		if o, ok := s.Overrides[env]; ok && env != "" {
			for _, name := range slices.Sorted(maps.Keys(o.Secrets)) {
				if envVarName(name) && !slices.Contains(names, name) {
					c.add(childPath(childPath("spec.overrides", env)+".secrets", name), "%s is not a secret of the %s environment (it uses %s)", name, env, strings.Join(names, ", "))
				}
			}
		}
	}
	var used []string
	for n := range all {
		used = append(used, n)
	}
	sort.Strings(used)
	for _, name := range slices.Sorted(maps.Keys(s.Secrets)) {
		if envVarName(name) && !all[name] {
			c.add(childPath("spec.secrets", name), "%s is not a secret of this backup (it uses %s)", name, strings.Join(used, ", "))
		}
	}
}

// environments lists "" (the base) and every environment the spec names.
func (b *Backup) environments() []string {
	envs := []string{""}
	envs = append(envs, b.Spec.Environments...)
	for _, env := range slices.Sorted(maps.Keys(b.Spec.Overrides)) {
		if !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	return envs
}

func (c *checker) noSpace(p, s string) {
	if hasSpace(s) {
		c.add(p, "%q must not contain whitespace", s)
	}
}
