package cli

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// detected is what init finds in an app.
type detected struct {
	Databases []spec.Database
	// Notes say what was left out, or taken for something else, and why.
	Notes []string
}

var (
	sqlitePath  = regexp.MustCompile(`(?:^|[\s:=/])(/?[\w./-]+\.(?:sqlite3|sqlite|db))$`)
	railsSQLite = regexp.MustCompile(`database:\s*["']?storage/([\w.-]+\.sqlite3)`)
)

// detect reads the app's services for databases: the database servers
// among them (by image), dumped over the network (their data volumes are
// never copied: see mountsIn); the database URLs the services take as
// secrets; and SQLite files that live under a volume.
func detect(app *reconcile.App, dir string, skip string) detected {
	var d detected
	seen := map[string]bool{}
	add := func(db spec.Database) {
		if !seen[db.Name] {
			seen[db.Name] = true
			d.Databases = append(d.Databases, db)
		}
	}
	var servers []reconcile.Server
	for _, base := range app.Services {
		if base.Name == skip {
			continue
		}
		srv, ok := reconcile.RecogniseServer(base)
		if !ok {
			continue
		}
		servers = append(servers, srv)
		if db, ok := serverDatabase(srv, &d.Notes); ok {
			add(db)
		}
	}
	for _, s := range app.Services {
		if s.Name == skip || slices.ContainsFunc(servers, func(srv reconcile.Server) bool { return srv.Service == s.Name }) {
			continue
		}
		for _, r := range s.SecretRefs {
			if engine, ok := urlEngine(r.Name); ok {
				if db, ok := urlDatabase(s.Name, r.Name, engine, "", servers, &d.Notes); ok {
					add(db)
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(s.Env)) {
			if engine, ok := urlEngine(k); ok {
				// A URL in plain env is not a secret the backup could get;
				// it only tells which server a service uses.
				_, _ = urlDatabase(s.Name, k, engine, s.Env[k], servers, &d.Notes)
			}
		}
		for _, v := range s.Env {
			if m := sqlitePath.FindStringSubmatch(v); m != nil && path.IsAbs(m[1]) {
				if p, ok := backupView(s, m[1]); ok {
					add(spec.Database{Name: dbName(strings.TrimSuffix(path.Base(p), path.Ext(p))), Engine: spec.EngineSQLite, Path: p, Optional: true})
				}
			}
		}
	}
	// Rails keeps SQLite under storage/, which apps mount as a volume.
	if b, err := os.ReadFile(filepath.Join(dir, "config", "database.yml")); err == nil {
		for _, m := range railsSQLite.FindAllStringSubmatch(string(b), -1) {
			if !strings.Contains(m[1], app.DefaultEnvironment) {
				continue
			}
			for _, s := range app.Services {
				if s.Name == skip {
					continue
				}
				if p, ok := backupView(s, "/rails/storage/"+m[1]); ok {
					add(spec.Database{Name: dbName(strings.TrimSuffix(m[1], path.Ext(m[1]))), Engine: spec.EngineSQLite, Path: p, Optional: true})
				}
			}
		}
	}
	sort.SliceStable(d.Databases, func(i, j int) bool { return d.Databases[i].Name < d.Databases[j].Name })
	return d
}

// volumesPerEnvironment lists the volumes init backs up: those the app's
// services mount in the first of envs (default_environment when covered),
// and, for each other environment whose services mount other volumes
// (overlays replace a service's volumes), an override with its own. A volume
// that takes another's place at the same mount point of the same service
// keeps that one's target in the backup service, so the paths backed up (and
// SQLite files under them) stay the same in every environment.
func volumesPerEnvironment(app *reconcile.App, envs []string, skip string) ([]spec.Volume, map[string]spec.Override) {
	base := envs[0]
	if slices.Contains(envs, app.DefaultEnvironment) {
		base = app.DefaultEnvironment
	}
	baseMounts := mountsIn(app, base, skip)
	var volumes []spec.Volume
	for _, m := range baseMounts {
		if !slices.ContainsFunc(volumes, func(v spec.Volume) bool { return v.Name == m.source }) {
			volumes = append(volumes, spec.Volume{Name: m.source})
		}
	}
	byName := func(a, b spec.Volume) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(volumes, byName)
	var overrides map[string]spec.Override
	for _, env := range envs {
		if env == base {
			continue
		}
		var own []spec.Volume
		for _, m := range mountsIn(app, env, skip) {
			if slices.ContainsFunc(own, func(v spec.Volume) bool { return v.Name == m.source }) {
				continue
			}
			v := spec.Volume{Name: m.source}
			for _, b := range baseMounts {
				if b.service == m.service && b.target == m.target && b.source != m.source && !strings.HasPrefix(b.source, "/") {
					v.Target = spec.DefaultTargetDir + "/" + b.source
				}
			}
			own = append(own, v)
		}
		slices.SortFunc(own, byName)
		if slices.EqualFunc(own, volumes, func(a, b spec.Volume) bool { return reflect.DeepEqual(a, b) }) || len(own) == 0 {
			continue
		}
		if overrides == nil {
			overrides = map[string]spec.Override{}
		}
		overrides[env] = spec.Override{Volumes: own}
	}
	return volumes, overrides
}

// mount is one volume an app service mounts in one environment.
type mount struct{ service, target, source string }

// mountsIn lists the volumes the app's services (but skip) mount in env, in
// file order: an overlay's volumes replace its service's whole list. The
// data directory of a database service is left out: a copy of a running
// server's files may not start or may lose committed rows, so the server
// is dumped instead (and the plan says so for each such volume).
func mountsIn(app *reconcile.App, env, skip string) []mount {
	var out []mount
	for s := range app.ServicesIn(env) {
		if s.Name == skip {
			continue
		}
		srv, _ := reconcile.RecogniseServer(s)
		for _, v := range s.Volumes {
			if !slices.Contains(srv.DataVolumes, v) {
				out = append(out, mount{service: s.Name, target: v.Target, source: v.Source})
			}
		}
	}
	return out
}

// serverDatabase is the spec database that dumps a database service, or a
// note saying why there is none.
func serverDatabase(srv reconcile.Server, notes *[]string) (spec.Database, bool) {
	what := fmt.Sprintf("service %s (%s, image %s)", srv.Service, srv.Engine, srv.Image)
	switch {
	case srv.Engine == spec.EngineRedis && !srv.Persistent:
		*notes = append(*notes, what+" keeps nothing on disk (no data volume, or saving turned off): a cache, not backed up")
		return spec.Database{}, false
	case srv.Engine != spec.EngineRedis && srv.Database == "":
		*notes = append(*notes, fmt.Sprintf("%s does not say which database the app uses (%s): add {name: %s, engine: %s, service: %s, database: NAME} to spec.databases", what, srv.DatabaseVar, dbName(srv.Service), srv.Engine, srv.Service))
		return spec.Database{}, false
	case len(srv.NoLogin) > 0:
		*notes = append(*notes, fmt.Sprintf("%s sets no password to log in with (%s): add {name: %s, engine: %s, service: %s, user: USER, passwordSecret: NAME} to spec.databases", what, strings.Join(srv.NoLogin, ", "), dbName(srv.Service), srv.Engine, srv.Service))
		return spec.Database{}, false
	}
	db := spec.Database{Name: dbName(srv.Service), Engine: srv.Engine, Service: srv.Service}
	if srv.PasswordVar != "" {
		db.PasswordSecret = reconcile.PasswordSecretName(srv.Service, srv.PasswordVar)
	}
	return db, true
}

// urlDatabase is the spec database of a URL that service takes in
// variable name, unless the URL is a database service's own: when value
// (a plain env URL) names that service's host and database, or, for a
// secret whose value init cannot read, when the app runs exactly one
// server of the engine. A redis URL without a redis service of the app
// is a cache or a queue elsewhere, and is left out.
func urlDatabase(service, name, engine, value string, servers []reconcile.Server, notes *[]string) (spec.Database, bool) {
	var same []reconcile.Server
	for _, srv := range servers {
		if sameEngine(srv.Engine, engine) {
			same = append(same, srv)
		}
	}
	if value != "" {
		u, err := url.Parse(value)
		if err != nil {
			return spec.Database{}, false
		}
		for _, srv := range same {
			if strings.EqualFold(u.Hostname(), spec.NetworkAlias(srv.Service)) && (engine == spec.EngineRedis || strings.TrimPrefix(u.Path, "/") == srv.Database) {
				*notes = append(*notes, fmt.Sprintf("%s of service %s points at service %s's database: dumped once, as %s", name, service, srv.Service, dbName(srv.Service)))
			}
		}
		return spec.Database{}, false
	}
	switch {
	case len(same) == 1:
		srv := same[0]
		*notes = append(*notes, fmt.Sprintf("%s of service %s is taken to be service %s's database (the app's only %s server), dumped once as %s; if it points elsewhere, add it: --database NAME=%s:%s",
			name, service, srv.Service, srv.Engine, dbName(srv.Service), engine, name))
		return spec.Database{}, false
	case engine == spec.EngineRedis && len(same) == 0:
		*notes = append(*notes, fmt.Sprintf("%s of service %s points at a redis outside the app: not backed up (caches and queues are usually rebuilt); to dump it, add --database NAME=redis:%s", name, service, name))
		return spec.Database{}, false
	}
	return spec.Database{Name: dbName(name), Engine: engine, URLSecret: name}, true
}

func sameEngine(a, b string) bool {
	mysql := func(e string) bool { return e == spec.EngineMySQL || e == spec.EngineMariaDB }
	return a == b || mysql(a) && mysql(b)
}

// urlEngine tells from a variable's name whether it holds a connection URL
// by convention (DATABASE_URL, *_DATABASE_URL, *_DB_URL, REDIS_URL,
// POSTGRES_URL, ...) and of which engine (PostgreSQL unless the name says
// MySQL, MariaDB or Redis). Passwords, users and hosts (POSTGRES_PASSWORD,
// MYSQL_ROOT_PASSWORD, PGHOST, ...) are never URLs.
func urlEngine(name string) (string, bool) {
	n := strings.ToUpper(name)
	if !strings.HasSuffix(n, "_URL") {
		return "", false
	}
	words := strings.Split(strings.TrimSuffix(n, "_URL"), "_")
	has := func(ws ...string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return slices.Contains(ws, w) })
	}
	switch {
	case has("PASSWORD", "PASS", "PASSWD", "USER", "USERNAME", "HOST", "PORT", "SCRATCH", "DRILL"):
		return "", false
	case has("MARIADB"):
		return spec.EngineMariaDB, true
	case has("MYSQL", "MYSQL2", "TRILOGY"):
		return spec.EngineMySQL, true
	case has("REDIS", "VALKEY"):
		return spec.EngineRedis, true
	case has("DATABASE", "DB", "POSTGRES", "POSTGRESQL", "PG"):
		return spec.EnginePostgres, true
	}
	return "", false
}

// backupView maps a file path inside app service s to where the backup
// service sees it: /data/<volume>/<rest>.
func backupView(s reconcile.AppService, p string) (string, bool) {
	for _, v := range s.Volumes {
		t := strings.TrimSuffix(v.Target, "/")
		if strings.HasPrefix(p, t+"/") && !strings.HasPrefix(v.Source, "/") {
			return spec.DefaultTargetDir + "/" + v.Source + strings.TrimPrefix(p, t), true
		}
	}
	return "", false
}

var nonName = regexp.MustCompile(`[^a-z0-9_-]+`)

func dbName(s string) string {
	n := strings.Trim(nonName.ReplaceAllString(strings.ToLower(s), "-"), "-_")
	n = strings.TrimSuffix(strings.TrimSuffix(n, "_url"), "-url")
	if n == "" || n == "database" {
		return "primary"
	}
	return n
}
