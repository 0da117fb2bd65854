package dbtool

import (
	"context"
	"net/url"
	"strings"
)

// ServerConn is the connection to a server reached by its host name (the
// service of the app that runs it), as the user whose password is the
// value of the secret named secret. It is what Parse would make of the
// URL, without a URL: the password is never written into one.
func ServerConn(engine Engine, secret, host string, port int, user, database, password string) (Conn, error) {
	op := "connect to " + host
	bad := func(format string, args ...any) (Conn, error) {
		e := errorf(ClassBadURL, op, format, args...)
		e.Secret = secret
		return Conn{}, e
	}
	scheme := map[Engine]string{Postgres: "postgresql", MySQL: "mysql", MariaDB: "mariadb", Redis: "redis"}[engine]
	switch {
	case scheme == "":
		return bad("engine %q is not a server", engine)
	case host == "" || strings.ContainsAny(host, " \t\r\n\x00/@?#"):
		return bad("the host %q is not a host name", host)
	case port < 1 || port > 65535:
		return bad("the port %d is not a number from 1 to 65535", port)
	case strings.ContainsAny(user, "\x00\n") || strings.ContainsAny(database, "\x00\n"):
		return bad("the user or database holds a NUL or newline")
	case strings.ContainsRune(password, 0):
		return bad("the password holds a NUL byte, which no client can be given (its value is not shown)")
	}
	c := Conn{Engine: engine, Secret: secret, Scheme: scheme, User: user, Host: host, Port: port, Database: database, Params: url.Values{}, password: password}
	if password != "" {
		c.secrets = []string{password}
	}
	return c, nil
}

// ListDatabases lists the databases on a PostgreSQL or MySQL server, the
// ones a user of server may see.
func ListDatabases(ctx context.Context, server Conn) ([]string, error) {
	op := "list the databases on " + server.Host
	if err := OnServer(server).validate(op); err != nil {
		return nil, err
	}
	switch {
	case server.Engine == Postgres:
		return pgList(ctx, server, op)
	case server.Engine.mysqlish():
		return myList(ctx, server, op)
	}
	return nil, errorf(ClassFailed, op, "%s has no databases to list", server.Engine)
}
