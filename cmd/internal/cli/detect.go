package cli

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// detected is what init finds in an app.
type detected struct {
	Volumes   []string
	Databases []spec.Database
}

var (
	sqlitePath  = regexp.MustCompile(`(?:^|[\s:=/])(/?[\w./-]+\.(?:sqlite3|sqlite|db))$`)
	railsSQLite = regexp.MustCompile(`database:\s*["']?storage/([\w.-]+\.sqlite3)`)
)

// detect reads the app's services: the volumes they use, the database URLs
// they take as secrets, and SQLite files that live under a volume.
func detect(app *reconcile.App, dir string, skip string) detected {
	d := detected{Volumes: app.VolumeSources(skip)}
	seen := map[string]bool{}
	add := func(db spec.Database) {
		if !seen[db.Name] {
			seen[db.Name] = true
			d.Databases = append(d.Databases, db)
		}
	}
	for _, s := range app.Services {
		if s.Name == skip {
			continue
		}
		for _, r := range s.SecretRefs {
			if engine, ok := urlEngine(r.Name); ok {
				add(spec.Database{Name: dbName(r.Name), Engine: engine, URLSecret: r.Name})
			}
		}
		for _, v := range s.Env {
			if m := sqlitePath.FindStringSubmatch(v); m != nil && path.IsAbs(m[1]) {
				if p, ok := backupView(s, m[1]); ok {
					add(spec.Database{Name: dbName(strings.TrimSuffix(path.Base(p), path.Ext(p))), Engine: spec.EngineSQLite, Path: p})
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
					add(spec.Database{Name: dbName(strings.TrimSuffix(m[1], path.Ext(m[1]))), Engine: spec.EngineSQLite, Path: p})
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
		if slices.Equal(own, volumes) || len(own) == 0 {
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
// file order: an overlay's volumes replace its service's whole list.
func mountsIn(app *reconcile.App, env, skip string) []mount {
	var out []mount
	for _, s := range app.Services {
		if s.Name == skip {
			continue
		}
		vols := s.Volumes
		for _, o := range app.Overlays {
			if o.Environment != env {
				continue
			}
			for _, os := range o.Services {
				if os.Name == s.Name && os.Volumes != nil {
					vols = os.Volumes
				}
			}
		}
		for _, v := range vols {
			out = append(out, mount{service: s.Name, target: v.Target, source: v.Source})
		}
	}
	return out
}

// urlEngine guesses a database engine from a secret's name.
func urlEngine(name string) (string, bool) {
	n := strings.ToUpper(name)
	if !strings.HasSuffix(n, "DATABASE_URL") && !strings.HasSuffix(n, "DB_URL") && !strings.HasPrefix(n, "POSTGRES") && !strings.HasPrefix(n, "MYSQL") && !strings.HasPrefix(n, "MARIADB") {
		return "", false
	}
	switch {
	case strings.Contains(n, "MARIADB"):
		return spec.EngineMariaDB, true
	case strings.Contains(n, "MYSQL"):
		return spec.EngineMySQL, true
	}
	return spec.EnginePostgres, true
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
