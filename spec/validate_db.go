package spec

import (
	"strings"
)

// urlDatabase checks a database reached through a connection URL secret.
func (c *checker) urlDatabase(p string, d Database) {
	if d.URLSecret == "" {
		example := "DATABASE_URL"
		if d.Engine == EngineRedis {
			example = "REDIS_URL"
		}
		c.add(p+".urlSecret", "required for %s: the secret that holds the connection URL, such as %s; or set service to the app service that runs the server", d.Engine, example)
	} else {
		c.secretName(p+".urlSecret", d.URLSecret)
	}
	c.serviceFields(p, d, "only with service: the URL in urlSecret says it")
}

// serviceFields reports the fields that only a service database has.
func (c *checker) serviceFields(p string, d Database, why string) {
	for _, f := range []struct {
		name string
		set  bool
	}{{"port", d.Port != 0 || c.b.written(p+".port")}, {"user", d.User != ""}, {"database", d.Database != ""}, {"passwordSecret", d.PasswordSecret != ""}} {
		if f.set {
			c.add(p+"."+f.name, "%s", why)
		}
	}
}

// serviceDatabase checks a database run by an app service and reached over
// the environment's network by the service's name. That the service exists
// and runs this engine is checked by plan, which has devopsellence.yml.
func (c *checker) serviceDatabase(p string, d Database) {
	if strings.TrimSpace(d.Service) == "" || hasSpace(d.Service) || strings.ContainsAny(d.Service, ":/") {
		c.add(p+".service", "%q is not a service name of devopsellence.yml", d.Service)
	}
	if d.URLSecret != "" {
		c.add(p+".urlSecret", "set service or urlSecret, not both: with service the backup reaches the server by the service's name")
	}
	if d.Port != 0 || c.b.written(p+".port") {
		if d.Port < 1 || d.Port > 65535 {
			c.add(p+".port", "must be between 1 and 65535")
		}
	}
	if d.User != "" && (hasSpace(d.User) || strings.ContainsAny(d.User, "\x00")) {
		c.add(p+".user", "%q must not contain whitespace", d.User)
	}
	switch {
	case d.Database == "":
	case d.Engine == EngineRedis:
		c.add(p+".database", "not for redis: the dump holds every database of the server")
	case hasSpace(d.Database) || strings.HasPrefix(d.Database, "-"):
		c.add(p+".database", "%q must not contain whitespace nor start with -", d.Database)
	}
	if d.PasswordSecret != "" {
		c.secretName(p+".passwordSecret", d.PasswordSecret)
	}
}

// liveDatabaseFiles checks the reason a volume gives for being copied file
// by file although it holds a database's data directory.
func (c *checker) liveDatabaseFiles(p string, v Volume) {
	if v.LiveDatabaseFiles != "" && strings.TrimSpace(v.LiveDatabaseFiles) == "" {
		c.add(p+".liveDatabaseFiles", "must say why copying the live database files is safe, e.g. \"the server is stopped while backups run\"")
	}
}
