package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// serviceServer reaches a database that an app service runs: over the
// environment's network, by the service's name, as the user the spec
// resolved from the service's env, with the password from the backup
// service's own secret.
func (a *Agent) serviceServer(d spec.Database) (dbtool.Database, error) {
	var password string
	if d.PasswordSecret != "" {
		password = environ.Get(a.Environ, d.PasswordSecret)
		if password == "" {
			return dbtool.Database{}, &stepError{class: "service_env", msg: "secret " + d.PasswordSecret + " (the password of service " + d.Service + ") is not set in the service: store it, then deploy with devopsellence-backup apply"}
		}
	}
	port := d.Port
	if port == 0 {
		port = spec.DefaultPort(d.Engine)
	}
	conn, err := dbtool.ServerConn(dbtool.Engine(d.Engine), d.PasswordSecret, spec.NetworkAlias(d.Service), port, d.User, d.Database, password)
	if err != nil {
		return dbtool.Database{}, err
	}
	return dbtool.OnServer(conn), nil
}

// scratchServer is where a drill creates the scratch database of d: the
// server of scratchUrlSecret, else the service database's own server (its
// user may create databases: the official images' POSTGRES_USER is a
// superuser, and MySQL's root is preferred).
func (a *Agent) scratchServer(d spec.Database) (dbtool.Database, error) {
	switch {
	case d.ScratchURLSecret != "":
		return a.server(d.Engine, d.ScratchURLSecret)
	case d.Service != "":
		return a.serviceServer(d)
	}
	return dbtool.Database{}, &stepError{class: "no_scratch", msg: fmt.Sprintf("a drill restores %s into a scratch database: set scratchUrlSecret for this database in the spec (a server where the drill may create and drop a database), then apply", d.Engine)}
}

// scratchKey says in the ledger how to reach the server a scratch
// database was created on: "ENGINE SECRET", or "ENGINE @NAME" for the
// server of the service database NAME.
func scratchKey(d spec.Database) string {
	if d.ScratchURLSecret == "" && d.Service != "" {
		return d.Engine + " @" + d.Name
	}
	return d.Engine + " " + d.ScratchURLSecret
}

// ledgerServer reads a ledger entry back.
func (a *Agent) ledgerServer(where string) (dbtool.Database, error) {
	engine, secret, _ := strings.Cut(where, " ")
	if name, ok := strings.CutPrefix(secret, "@"); ok {
		for _, d := range a.Config.Databases {
			if d.Name == name && d.Service != "" {
				return a.serviceServer(d)
			}
		}
		return dbtool.Database{}, fmt.Errorf("database %s is no longer in the configuration", name)
	}
	return a.server(engine, secret)
}

// twinOf names the service database that a URL database is the same as:
// a URL whose host is a database service's name, on its port, naming its
// database (any database, for redis, whose dump holds them all). Another
// service's DATABASE_URL pointing at the server is then not dumped twice.
func (a *Agent) twinOf(d spec.Database) string {
	if d.URLSecret == "" || d.Service != "" {
		return ""
	}
	raw := environ.Get(a.Environ, d.URLSecret)
	conn, err := dbtool.ParseSecret(dbtool.Engine(d.Engine), d.URLSecret, raw)
	if err != nil {
		return ""
	}
	for _, s := range a.Config.Databases {
		if s.Service == "" || !sameFamily(s.Engine, d.Engine) {
			continue
		}
		port := s.Port
		if port == 0 {
			port = spec.DefaultPort(s.Engine)
		}
		if strings.EqualFold(conn.Host, spec.NetworkAlias(s.Service)) && conn.Port == port && (s.Engine == spec.EngineRedis || conn.Database == s.Database) {
			return s.Name
		}
	}
	return ""
}

func sameFamily(a, b string) bool {
	mysql := func(e string) bool { return e == spec.EngineMySQL || e == spec.EngineMariaDB }
	return a == b || mysql(a) && mysql(b)
}

// skipTwin records a URL database left out as the twin of a service database.
func skipTwin(rec *recorder, d spec.Database, twin string) {
	s := rec.begin("db:"+d.Name, "db")
	s.fact("engine", d.Engine)
	s.fact("same_as", twin)
	s.done(resultSkipped, nil, "same_database", fmt.Sprintf("%s points at the same server and database as %s, which is dumped once", d.URLSecret, twin))
}

// drillRedis loads the newest RDB dump of d into a throwaway redis-server
// inside the backup service and compares its key counts with the live
// server's: a redis has no scratch databases to restore into.
func (a *Agent) drillRedis(ctx context.Context, rec *recorder, o RunOptions, scr string, s *stepRun, snap *operate.Snapshot, d spec.Database) {
	source, err := a.database(d)
	if err != nil {
		failStep(s, err)
		return
	}
	file := operate.DumpFile(d)
	dump := filepath.Join(scr, strings.TrimPrefix(file, "/"))
	err = a.call(ctx, rec, o, func() error { return a.dumpTo(ctx, snap.ID, file, dump) })
	if err != nil {
		s.fail(exitOf(err), class(err), "restic dump failed: "+message(err))
		return
	}
	defer os.Remove(dump)
	rs, err := dbtool.SummarizeRDB(ctx, dump, a.tempDir())
	if err != nil {
		failStep(s, err)
		return
	}
	s.fact("restored", rs.String())
	srcText, match := "source unreachable", false
	if ss, err := dbtool.Summarize(ctx, source); err == nil {
		srcText, match = ss.String(), rs.Equal(ss)
	} else {
		srcText += ": " + message(err)
	}
	s.fact("source", srcText)
	s.fact("matches_source", match)
	if match {
		s.ok(0, fmt.Sprintf("loaded %s into a throwaway redis-server: %s, same as the live server now", short(snap.ID), rs))
		return
	}
	s.ok(0, fmt.Sprintf("loaded %s into a throwaway redis-server: %s; the live server has changed since (%s)", short(snap.ID), rs, srcText))
}

// systemDatabases are the databases every server has: never the app's.
var systemDatabases = map[string]bool{
	"postgres": true, "template0": true, "template1": true,
	"information_schema": true, "mysql": true, "performance_schema": true, "sys": true,
}

// checkServers lists the databases on each PostgreSQL and MySQL server
// that a service database reaches, and makes the backup partial when one
// of them is dumped by no database of the spec: the app may use another
// database than the one its service's env names (POSTGRES_DB unset, and
// the app created its own), which would otherwise never be backed up.
func (a *Agent) checkServers(ctx context.Context, rec *recorder) {
	dumped := map[string]map[string]bool{} // service → databases dumped on its server
	var order []spec.Database
	for _, d := range a.Config.Databases {
		if d.Service == "" || d.Engine == spec.EngineRedis || d.Engine == spec.EngineSQLite {
			continue
		}
		if dumped[d.Service] == nil {
			dumped[d.Service] = map[string]bool{}
			order = append(order, d)
		}
		dumped[d.Service][d.Database] = true
	}
	for _, d := range a.Config.Databases {
		if d.URLSecret == "" {
			continue
		}
		if conn, err := dbtool.ParseSecret(dbtool.Engine(d.Engine), d.URLSecret, environ.Get(a.Environ, d.URLSecret)); err == nil {
			for svc := range dumped {
				if strings.EqualFold(conn.Host, spec.NetworkAlias(svc)) {
					dumped[svc][conn.Database] = true
				}
			}
		}
	}
	for _, d := range order {
		if ctx.Err() != nil {
			return
		}
		s := rec.begin("server:"+d.Service, "db")
		s.fact("engine", d.Engine)
		server, err := a.serviceServer(d)
		if err != nil {
			s.done(resultSkipped, nil, "", "cannot list the server's databases: "+err.Error())
			continue
		}
		names, err := dbtool.ListDatabases(ctx, server.Conn)
		if err != nil {
			s.done(resultSkipped, nil, "", "cannot list the server's databases: "+message(err))
			continue
		}
		var left []string
		for _, n := range names {
			if !dumped[d.Service][n] && !systemDatabases[n] && !strings.HasPrefix(n, dbtool.ScratchBase) && !strings.HasPrefix(n, dbtool.RestoreBase) {
				left = append(left, n)
			}
		}
		s.fact("databases", strings.Join(names, " "))
		if len(left) == 0 {
			s.ok(0, "every database of the app on service "+d.Service+" is dumped")
			continue
		}
		s.fact("not_dumped", strings.Join(left, " "))
		s.done(operate.ResultPartial, nil, "databases_left_out", fmt.Sprintf("service %s also holds %s, which no database of the spec dumps: add {name: NAME, engine: %s, service: %s, database: %s} to spec.databases for each, then apply",
			d.Service, strings.Join(left, ", "), d.Engine, d.Service, left[0]))
	}
}
