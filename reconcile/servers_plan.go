package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// ServerVolume is a volume that holds a database server's live files in one
// covered environment. Such a volume is dumped through its server, never
// copied file by file unless the spec gives a reason.
type ServerVolume struct {
	Environment string
	Volume      string // the volume's source
	Target      string // where the server's service mounts it
	Server      Server
}

// serverVolumes lists the live-data volumes of every database server of
// the app in the covered environments, base services in file order.
func serverVolumes(app *App, covered []string, backup string) []ServerVolume {
	var out []ServerVolume
	for _, env := range covered {
		for s := range app.ServicesIn(env) {
			if s.Name == backup {
				continue
			}
			srv, ok := RecogniseServer(s)
			if !ok {
				continue
			}
			for _, v := range srv.DataVolumes {
				out = append(out, ServerVolume{Environment: env, Volume: v.Source, Target: v.Target, Server: srv})
			}
		}
	}
	return out
}

// checkServerVolumes refuses a spec volume (an environment's own ones
// included) that is a server's live data directory and gives no reason
// why copying it is safe.
func checkServerVolumes(b *spec.Backup, live []ServerVolume) []error {
	errs := checkLiveVolumes(b, "spec.volumes", b.Spec.Volumes, live)
	for _, env := range slices.Sorted(maps.Keys(b.Spec.Overrides)) {
		errs = append(errs, checkLiveVolumes(b, "spec.overrides."+env+".volumes", b.Spec.Overrides[env].Volumes, live)...)
	}
	return errs
}

func checkLiveVolumes(b *spec.Backup, path string, volumes []spec.Volume, live []ServerVolume) []error {
	var errs []error
	for i, v := range volumes {
		if v.LiveDatabaseFiles != "" {
			continue
		}
		for _, sv := range live {
			if sv.Volume != v.Name {
				continue
			}
			srv := sv.Server
			errs = append(errs, b.Problem(fmt.Sprintf("%s[%d].name", path, i),
				"%q is the live data directory of service %s (%s, image %s, mounted at %s): a copy of its files taken while the server writes them may not start, or may silently lose committed rows. "+
					"Dump the server instead: remove this volume and add a database {name: %s, engine: %s, service: %s}; or, if the server is stopped while backups run, say so on this volume: liveDatabaseFiles: \"<why copying the files is safe>\"",
				v.Name, srv.Service, srv.Engine, srv.Image, sv.Target, dbNameOf(srv.Service), srv.Engine, srv.Service))
			break
		}
	}
	return errs
}

// resolveServers fills in how the agent reaches each service database of
// es: the port, user and database that the service's image and env in
// es.Environment say, unless the spec says otherwise.
func resolveServers(b *spec.Backup, app *App, backup string, es *spec.EnvSpec) []error {
	var errs []error
	for i := range es.Databases {
		d := &es.Databases[i]
		if d.Service == "" {
			continue
		}
		p := fmt.Sprintf("spec.databases[%d]", i)
		svc, ok := app.ServiceIn(es.Environment, d.Service)
		switch {
		case d.Service == backup:
			errs = append(errs, b.Problem(p+".service", "%q is the backup service itself: name the app service that runs the %s server", d.Service, d.Engine))
			continue
		case !ok:
			var names []string
			for _, s := range app.Services {
				if s.Name != backup {
					names = append(names, s.Name)
				}
			}
			errs = append(errs, b.Problem(p+".service", "%q is not a service of devopsellence.yml (services: %s)", d.Service, listOr(names, "none")))
			continue
		}
		srv, known := RecogniseServer(svc)
		if known && family(srv.Engine) != family(d.Engine) {
			errs = append(errs, b.Problem(p+".engine", "service %s runs %s (image %s), not %s", d.Service, srv.Engine, srv.Image, d.Engine))
			continue
		}
		if !known {
			srv = ServerAs(svc, d.Engine)
		}
		if d.Port == 0 {
			d.Port = srv.Port
		}
		userGiven := d.User != ""
		if !userGiven {
			d.User = srv.User
		}
		if d.Engine != spec.EngineRedis && d.Database == "" {
			if srv.Database == "" {
				errs = append(errs, b.Problem(p+".database", "service %s does not say which database the app uses (%s is not set in its env): set database", d.Service, srv.DatabaseVar))
				continue
			}
			d.Database = srv.Database
		}
		if userGiven || d.PasswordSecret != "" {
			continue
		}
		switch {
		case len(srv.NoLogin) > 0:
			errs = append(errs, b.Problem(p+".user", "service %s sets no root password and no user with a password (%s): set user and passwordSecret", d.Service, strings.Join(srv.NoLogin, ", ")))
		case srv.PasswordVar != "":
			errs = append(errs, b.Problem(p+".passwordSecret", "service %s takes a password (its %s), and the backup service needs its own copy of it, since devopsellence keeps secrets per service: set passwordSecret: %s", d.Service, srv.PasswordVar, PasswordSecretName(d.Service, srv.PasswordVar)))
		}
	}
	return errs
}

func family(engine string) string {
	if engine == spec.EngineMariaDB {
		return spec.EngineMySQL
	}
	return engine
}

// CodeClientTooOld: a database service's image tag names a server newer
// than the official image's client.
const CodeClientTooOld = "client_older_than_server"

// clientFindings warn before the first dump fails: a PostgreSQL service
// whose image tag names a major version newer than the backup image's
// pg_dump, which refuses a newer server outright. The agent checks the
// real versions before each dump.
func clientFindings(d *Desired, app *App) []Finding {
	var out []Finding
	seen := map[string]bool{}
	for _, env := range d.Covered {
		es := d.Envs[env]
		for _, db := range es.Databases {
			if db.Service == "" || app == nil {
				continue
			}
			svc, ok := app.ServiceIn(env, db.Service)
			if !ok {
				continue
			}
			major, ok := tagMajor(svc.Image)
			if !ok {
				continue
			}
			// Only pg_dump refuses a newer server; mariadb-dump dumps newer
			// servers, and the agent names both versions if a dump fails.
			client, tool, pkg := spec.PostgresClientMajor, "pg_dump", fmt.Sprintf("postgresql-client-%d", major)
			if db.Engine != spec.EnginePostgres || major <= client || seen[svc.Image+db.Name] {
				continue
			}
			seen[svc.Image+db.Name] = true
			out = append(out, Finding{
				Severity: SeverityWarning, Code: CodeClientTooOld, Environment: env,
				Message: fmt.Sprintf("db:%s: service %s runs %s (%s %d), newer than the backup image's %s (%d in the official image): "+
					"pg_dump refuses to dump a newer server, so every backup of it would fail. The agent checks the versions before each dump", db.Name, db.Service, svc.Image, db.Engine, major, tool, client),
				NextActions: []Action{{Label: "build a backup image with " + pkg + " and set spec.image to it", Command: "devopsellence-backup image --env " + env}},
			})
		}
	}
	return out
}

// tagMajor reads the major version an image's tag names: postgres:18,
// postgres:18.1-alpine, postgis/postgis:17-3.5 (not latest, nor a digest).
func tagMajor(image string) (int, bool) {
	ref, _, _ := strings.Cut(image, "@")
	i := strings.LastIndex(ref, ":")
	if i < 0 || i < strings.LastIndex(ref, "/") {
		return 0, false
	}
	tag := ref[i+1:]
	end := 0
	for end < len(tag) && tag[end] >= '0' && tag[end] <= '9' {
		end++
	}
	if end == 0 || end > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(tag[:end])
	return n, err == nil
}

// serverFindings says, for each live-data volume, why it is not backed up
// as files (or that it is, on the spec's word), once for every covered
// environment when all of them agree.
func serverFindings(d *Desired) []Finding {
	type key struct{ code, message string }
	var order []key
	envs := map[key][]string{}
	byKey := map[key]Finding{}
	for _, sv := range d.ServerVolumes {
		f := serverFinding(d, sv)
		k := key{f.Code, f.Message}
		if _, seen := byKey[k]; !seen {
			order = append(order, k)
			byKey[k] = f
		}
		if !slices.Contains(envs[k], sv.Environment) {
			envs[k] = append(envs[k], sv.Environment)
		}
	}
	var out []Finding
	for _, k := range order {
		f := byKey[k]
		if len(envs[k]) == len(d.Covered) {
			out = append(out, f)
			continue
		}
		for _, env := range envs[k] {
			f.Environment = env
			out = append(out, f)
		}
	}
	return out
}

func serverFinding(d *Desired, sv ServerVolume) Finding {
	srv := sv.Server
	what := fmt.Sprintf("volume %s is the live data directory of service %s (%s, mounted at %s)", sv.Volume, srv.Service, srv.Engine, sv.Target)
	for _, v := range d.Envs[sv.Environment].Volumes {
		if v.Name == sv.Volume && v.LiveDatabaseFiles != "" {
			return Finding{Severity: SeverityWarning, Code: "live_database_files",
				Message: fmt.Sprintf("%s; it is copied file by file because %s says: %q", what, d.SpecFile, v.LiveDatabaseFiles)}
		}
	}
	var dumps []string
	for _, db := range d.Envs[sv.Environment].Databases {
		if db.Service == srv.Service {
			dumps = append(dumps, db.Name)
		}
	}
	if len(dumps) > 0 {
		return Finding{Severity: SeverityInfo, Code: "database_volume_dumped",
			Message: fmt.Sprintf("%s; it is not backed up as files, since a copy of live database files may not start or may lose committed rows: database %s dumps the server over the network instead", what, strings.Join(dumps, ", "))}
	}
	if srv.Engine == spec.EngineRedis && !srv.Persistent {
		return Finding{Severity: SeverityInfo, Code: "database_volume_cache",
			Message: fmt.Sprintf("%s; redis saves nothing there (saving is off), so it is a cache and is not backed up", what)}
	}
	return Finding{Severity: SeverityWarning, Code: "database_not_backed_up",
		Message:     fmt.Sprintf("%s; it is not backed up as files, since a copy of live database files may not start or may lose committed rows, and no database of %s dumps the server", what, d.SpecFile),
		NextActions: []Action{{Label: fmt.Sprintf("dump it: add {name: %s, engine: %s, service: %s} to spec.databases in %s", dbNameOf(srv.Service), srv.Engine, srv.Service, d.SpecFile), Command: "devopsellence-backup plan"}}}
}

// dbNameOf suggests a spec database name for a service.
func dbNameOf(service string) string {
	b := []byte(strings.ToLower(service))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	n := strings.Trim(string(b), "-_")
	if n == "" {
		return "db"
	}
	return n
}

func listOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}

// aboutSecret says what a database service's password secret holds: the
// service has its own copy, which the backup service cannot read.
func aboutSecret(es spec.EnvSpec, name string) string {
	for _, d := range es.Databases {
		if d.PasswordSecret == name {
			if d.User != "" {
				return fmt.Sprintf("the password of user %s of service %s", d.User, d.Service)
			}
			return "the password of service " + d.Service
		}
	}
	return ""
}
