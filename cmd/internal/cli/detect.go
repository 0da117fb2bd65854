package cli

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
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
