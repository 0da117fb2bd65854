package dbtool

import (
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Engine is a kind of database. The names match the spec's engines, plus
// redis.
type Engine string

// Engines.
const (
	Postgres Engine = "postgres"
	MySQL    Engine = "mysql"
	MariaDB  Engine = "mariadb"
	SQLite   Engine = "sqlite"
	Redis    Engine = "redis"
)

// mysqlish reports whether e speaks the MySQL protocol.
func (e Engine) mysqlish() bool { return e == MySQL || e == MariaDB }

// schemes lists the URL schemes each engine accepts. mysql2 and trilogy are
// what Rails apps put in DATABASE_URL for MySQL.
var schemes = map[Engine][]string{
	Postgres: {"postgres", "postgresql"},
	MySQL:    {"mysql", "mariadb", "mysql2", "trilogy"},
	MariaDB:  {"mysql", "mariadb", "mysql2", "trilogy"},
	Redis:    {"redis", "rediss"},
}

var defaultPorts = map[Engine]int{Postgres: 5432, MySQL: 3306, MariaDB: 3306, Redis: 6379}

// Conn is a parsed connection URL. Its password is kept private: it leaves
// only through the environment or a 0600 file of a client program.
type Conn struct {
	Engine   Engine
	Secret   string // the name of the secret the URL came from, for messages
	Scheme   string // as written, lower case
	User     string
	Host     string // empty: the client's default (a local socket)
	Port     int
	Database string
	Params   url.Values // the query parameters, without password and sslpassword
	password string
	secrets  []string // password and sslpassword values, as written and decoded
}

// HasPassword reports whether the URL carried a password.
func (c Conn) HasPassword() bool { return c.password != "" }

// zero reports whether c came from Parse at all.
func (c Conn) zero() bool { return c.Engine == "" }

// With returns a copy of c that names another database.
func (c Conn) With(database string) Conn {
	c.Database = database
	return c
}

// Redacted is the URL without its password (nor password parameters); it is
// safe to print and to hand to a client that gets the password from its
// environment.
func (c Conn) Redacted() string {
	u := url.URL{Scheme: c.Scheme}
	q := url.Values{}
	for k, v := range c.Params {
		q[k] = v
	}
	switch {
	case strings.HasPrefix(c.Host, "/"):
		// A socket folder (libpq's host parameter) has no place in the authority.
		q.Set("host", c.Host)
		q.Set("port", strconv.Itoa(c.Port))
	case c.Host != "":
		u.Host = hostPort(c.Host, c.Port)
	}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	if c.Database != "" {
		u.Path = "/" + c.Database
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// String is Redacted, so that printing a Conn never shows its password.
func (c Conn) String() string { return c.Redacted() }

// GoString is Redacted too (%#v).
func (c Conn) GoString() string { return "dbtool.Conn(" + c.Redacted() + ")" }

// Fragments lists every form in which the URL's secrets may show up in a
// program's output: the password as written, decoded and re-encoded, the
// user:password pair, and each piece of 4 or more characters between
// reserved characters. Feed them to a Scrubber.
func (c Conn) Fragments() []string {
	var out []string
	for _, s := range c.secrets {
		out = append(out, secretForms(s, true)...)
	}
	if c.password != "" {
		out = append(out, c.User+":"+c.password, url.UserPassword(c.User, c.password).String())
	}
	return uniqueLongest(out)
}

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// encodeHint tells how to fix a URL with reserved characters in it.
const encodeHint = "percent-encode reserved characters in the user and password (@ → %40, : → %3A, / → %2F, ? → %3F, # → %23, % → %25, space → %20)"

// Parse reads a connection URL for engine. A keyword DSN (host=… password=…)
// and a URL that net/url refuses or reads differently from what its author
// meant (an unencoded / ? # or @ in the password moves the host) are refused
// with ClassBadURL; the error never shows any part of raw.
func Parse(engine Engine, raw string) (Conn, error) { return ParseSecret(engine, "", raw) }

// ParseSecret is Parse for the value of the named secret, which its errors
// name.
func ParseSecret(engine Engine, secret, raw string) (Conn, error) {
	what := "the database URL"
	if secret != "" {
		what = "secret " + secret
	}
	accepted, ok := schemes[engine]
	if !ok {
		e := errorf(ClassFailed, "parse "+what, "engine %q takes no connection URL", engine)
		e.Secret = secret
		return Conn{}, e
	}
	c, reason := parseURL(engine, accepted, strings.TrimSpace(raw))
	if reason != "" {
		e := errorf(ClassBadURL, "parse "+what, "%s (its value is not shown); %s", reason, encodeHint)
		e.Secret = secret
		return Conn{}, e
	}
	c.Secret = secret
	return c, nil
}

// parseURL reads raw, a URL of one of the accepted schemes; reason says
// why it is refused ("" when it is not), never quoting it.
func parseURL(engine Engine, accepted []string, raw string) (c Conn, reason string) {
	if raw == "" {
		return c, "it is empty"
	}
	m := schemeRE.FindString(raw)
	if m == "" {
		return c, "it is not a " + accepted[0] + ":// URL; a keyword DSN such as host=… password=… is not supported, since its password would reach a command line"
	}
	scheme := strings.ToLower(strings.TrimSuffix(m, "://"))
	if !slices.Contains(accepted, scheme) {
		return c, "it does not start with " + strings.Join(accepted, "://, ") + "://"
	}
	rest := raw[len(m):]
	authEnd := strings.IndexAny(rest, "/?#")
	if authEnd < 0 {
		authEnd = len(rest)
	}
	if strings.Contains(rest[authEnd:], "@") {
		return c, "an @ follows the host part, so a reserved character (/ ? #) in the user or password cut the URL short"
	}
	u, err := url.Parse(raw)
	if err != nil {
		// err quotes the URL: never show it.
		return c, "it does not parse as a URL"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return c, "it holds a #, which ends a URL"
	}
	c = Conn{Engine: engine, Scheme: scheme, Host: u.Hostname(), Port: defaultPorts[engine]}
	if p := u.Port(); p != "" {
		if c.Port, reason = port(p, "its port is not a number from 1 to 65535"); reason != "" {
			return c, reason
		}
	}
	c.readUser(u.User, rest[:authEnd])
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return c, "its database part holds a /"
	}
	c.Database = db
	if reason := c.readQuery(u.RawQuery); reason != "" {
		return c, reason
	}
	if strings.ContainsAny(c.password, "\x00") || strings.ContainsAny(c.User, "\x00\n") || strings.ContainsAny(c.Database, "\x00\n") {
		return c, "it holds a NUL or newline where none can be passed on"
	}
	return c, ""
}

// port reads a port number; reason is returned when it is not one.
func port(s, reason string) (int, string) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, reason
	}
	return n, ""
}

// readUser takes the user and password of the URL's userinfo; auth is the
// URL's authority as written, whose password (still percent-encoded) is a
// secret too.
func (c *Conn) readUser(user *url.Userinfo, auth string) {
	if user == nil {
		return
	}
	c.User = user.Username()
	if pw, ok := user.Password(); ok && pw != "" {
		c.password = pw
		userinfo := auth[:strings.LastIndex(auth, "@")]
		if i := strings.Index(userinfo, ":"); i >= 0 {
			c.secrets = append(c.secrets, userinfo[i+1:])
		}
		c.secrets = append(c.secrets, pw)
	}
}

// readQuery keeps the query's parameters but the passwords, which are
// secrets (as written and decoded); for PostgreSQL, the parameters libpq
// reads over the URL's own parts take their place.
func (c *Conn) readQuery(rawQuery string) (reason string) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "its query part does not parse"
	}
	c.Params = url.Values{}
	for key, vals := range q {
		switch strings.ToLower(key) {
		case "password", "sslpassword":
			for _, v := range vals {
				c.secrets = append(c.secrets, v)
				if strings.EqualFold(key, "password") && c.password == "" {
					c.password = v
				}
			}
			continue
		}
		c.Params[key] = vals
	}
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if lk := strings.ToLower(k); lk == "password" || lk == "sslpassword" {
			c.secrets = append(c.secrets, v)
		}
	}
	if c.Engine != Postgres {
		return ""
	}
	for key, field := range map[string]*string{"host": &c.Host, "user": &c.User, "dbname": &c.Database} {
		if v := c.Params.Get(key); v != "" {
			*field = v
		}
		c.Params.Del(key)
	}
	if v := c.Params.Get("port"); v != "" {
		if c.Port, reason = port(v, "its port parameter is not a number from 1 to 65535"); reason != "" {
			return reason
		}
	}
	c.Params.Del("port")
	return ""
}

func hostPort(host string, port int) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// uniqueLongest drops duplicates and strings shorter than minFragment, and
// sorts the rest longest first.
func uniqueLongest(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if len(s) < minFragment || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
