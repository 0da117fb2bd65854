package reconcile

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// Server is an app service that runs a database server: recognised by its
// image, with what its image and env say about how to reach it.
type Server struct {
	Service string
	Engine  string // spec.EnginePostgres, EngineMySQL, EngineMariaDB or EngineRedis
	Image   string
	// DataDir is the folder the image keeps the server's live files in.
	DataDir string
	// DataVolumes are the service's volumes mounted at, above or inside
	// DataDir: the live files, which a file copy would tear.
	DataVolumes []Volume
	Port        int
	User        string
	// Database is the database the app uses ("" for redis, or when the
	// service's env does not say).
	Database string
	// PasswordVar is the service's own env var or secret that holds User's
	// password; "" when the server takes none.
	PasswordVar string
	// Persistent is false for a redis that keeps nothing on disk (no data
	// volume, or saving turned off): a cache, nothing to back up.
	Persistent bool
	// DatabaseVar is the env var that names the database (MYSQL_DATABASE).
	DatabaseVar string
	// NoLogin lists the variables that would give a login, when the env
	// sets none of them (a random root password and no app user).
	NoLogin []string
}

// flavor is how an image family names its env.
type flavor int

const (
	official flavor = iota
	bitnami
)

type serverKind struct {
	engine  string
	dataDir string
	flavor  flavor
}

// namespaced images are matched on namespace/name, the official ones on
// their name under any namespace or registry (mirrors and own builds keep
// the name).
var namespaced = map[string]serverKind{
	"bitnami/postgresql":        {spec.EnginePostgres, "/bitnami/postgresql", bitnami},
	"bitnami/postgresql-repmgr": {spec.EnginePostgres, "/bitnami/postgresql", bitnami},
	"bitnami/mysql":             {spec.EngineMySQL, "/bitnami/mysql", bitnami},
	"bitnami/mariadb":           {spec.EngineMariaDB, "/bitnami/mariadb", bitnami},
	"bitnami/redis":             {spec.EngineRedis, "/bitnami/redis/data", bitnami},
	"bitnami/valkey":            {spec.EngineRedis, "/bitnami/valkey/data", bitnami},
	"postgis/postgis":           {spec.EnginePostgres, "/var/lib/postgresql", official},
	"pgvector/pgvector":         {spec.EnginePostgres, "/var/lib/postgresql", official},
	"timescale/timescaledb":     {spec.EnginePostgres, "/var/lib/postgresql", official},
	"redis/redis-stack":         {spec.EngineRedis, "/data", official},
	"redis/redis-stack-server":  {spec.EngineRedis, "/data", official},
	"percona/percona-server":    {spec.EngineMySQL, "/var/lib/mysql", official},
	"library/percona":           {spec.EngineMySQL, "/var/lib/mysql", official},
	"mysql/mysql-server":        {spec.EngineMySQL, "/var/lib/mysql", official},
	"valkey/valkey":             {spec.EngineRedis, "/data", official},
	"eqalpha/keydb":             {spec.EngineRedis, "/data", official},
}

var officialNames = map[string]serverKind{
	// PostgreSQL 18 images keep data in /var/lib/postgresql/18/docker, older
	// ones in /var/lib/postgresql/data: both are under /var/lib/postgresql.
	"postgres": {spec.EnginePostgres, "/var/lib/postgresql", official},
	"mysql":    {spec.EngineMySQL, "/var/lib/mysql", official},
	"mariadb":  {spec.EngineMariaDB, "/var/lib/mysql", official},
	"redis":    {spec.EngineRedis, "/data", official},
	"valkey":   {spec.EngineRedis, "/data", official},
}

// serverImage recognises a database server image.
func serverImage(image string) (serverKind, bool) {
	ns, name := imageName(image)
	if name == "" {
		return serverKind{}, false
	}
	if k, ok := namespaced[ns+"/"+name]; ok && k.engine != "" {
		return k, true
	}
	if ns == "bitnami" {
		return serverKind{}, false // bitnami's other images are not these servers
	}
	k, ok := officialNames[name]
	return k, ok
}

// imageName splits an image reference into its namespace (library for the
// official images) and name, lower case, without registry, tag or digest.
func imageName(image string) (ns, name string) {
	ref := strings.ToLower(strings.TrimSpace(image))
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		parts = parts[1:]
	}
	switch len(parts) {
	case 0:
		return "", ""
	case 1:
		return "library", parts[0]
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

// RecogniseServer reports whether s runs a database server, and what its
// image and env say about it.
func RecogniseServer(s AppService) (Server, bool) {
	k, ok := serverImage(s.Image)
	if !ok {
		return Server{}, false
	}
	return describeServer(s, k), true
}

// ServerAs describes s as a server of engine by the conventions of that
// engine's official image: for a service whose image is not recognised.
func ServerAs(s AppService, engine string) Server {
	k, ok := officialNames[engine]
	if !ok {
		k = serverKind{engine: engine}
	}
	return describeServer(s, k)
}

func describeServer(s AppService, k serverKind) Server {
	srv := Server{Service: s.Name, Engine: k.engine, Image: s.Image, DataDir: k.dataDir, Port: spec.DefaultPort(k.engine)}
	e := serviceEnv{s}
	if k.engine == spec.EnginePostgres && k.flavor == official {
		if d := e.get("PGDATA"); strings.HasPrefix(d, "/") {
			srv.DataDir = d
		}
	}
	if srv.DataDir != "" {
		for _, v := range s.Volumes {
			if overlaps(strings.TrimSuffix(v.Target, "/"), srv.DataDir) {
				srv.DataVolumes = append(srv.DataVolumes, v)
			}
		}
	}
	switch {
	case k.engine == spec.EnginePostgres && k.flavor == bitnami:
		srv.Port = e.port("POSTGRESQL_PORT_NUMBER", srv.Port)
		srv.Database = e.or("POSTGRESQL_DATABASE", "postgres")
		if v, ok := e.password("POSTGRESQL_POSTGRES_PASSWORD"); ok {
			srv.User, srv.PasswordVar = "postgres", v
		} else {
			srv.User = e.or("POSTGRESQL_USERNAME", "postgres")
			srv.PasswordVar, _ = e.password("POSTGRESQL_PASSWORD")
		}
	case k.engine == spec.EnginePostgres:
		srv.Port = e.port("PGPORT", srv.Port)
		srv.User = e.or("POSTGRES_USER", "postgres")
		srv.Database = e.or("POSTGRES_DB", srv.User)
		srv.PasswordVar, _ = e.password("POSTGRES_PASSWORD")
	case k.engine == spec.EngineMySQL || k.engine == spec.EngineMariaDB:
		mysqlCredentials(&srv, e, k)
	case k.engine == spec.EngineRedis:
		redisSettings(&srv, e, k)
	}
	return srv
}

// mysqlCredentials prefers root, which can also create the scratch
// database of a drill on the same server; the app's user otherwise.
func mysqlCredentials(srv *Server, e serviceEnv, k serverKind) {
	prefixes := []string{"MYSQL_"}
	if k.engine == spec.EngineMariaDB {
		prefixes = []string{"MARIADB_", "MYSQL_"}
	}
	get := func(key string) string {
		for _, p := range prefixes {
			if v := e.get(p + key); v != "" {
				return v
			}
		}
		return ""
	}
	password := func(keys ...string) (string, bool) {
		for _, p := range prefixes {
			for _, key := range keys {
				if v, ok := e.password(p + key); ok {
					return v, true
				}
			}
		}
		return "", false
	}
	if k.flavor == bitnami {
		srv.Port = e.port(prefixes[0]+"PORT_NUMBER", srv.Port)
	} else {
		srv.Port = e.port("MYSQL_TCP_PORT", srv.Port)
	}
	srv.Database, srv.DatabaseVar = get("DATABASE"), prefixes[0]+"DATABASE"
	root := "root"
	if k.flavor == bitnami && get("ROOT_USER") != "" {
		root = get("ROOT_USER")
	}
	switch v, ok := password("ROOT_PASSWORD", "ROOT_PASSWORD_HASH"); {
	case ok:
		srv.User, srv.PasswordVar = root, strings.TrimSuffix(v, "_HASH")
	case get("USER") != "":
		srv.User = get("USER")
		srv.PasswordVar, _ = password("PASSWORD")
	case get("ALLOW_EMPTY_PASSWORD") != "" || get("ALLOW_EMPTY_ROOT_PASSWORD") != "":
		srv.User = root
	default:
		// A random root password and no app user: nobody to log in as.
		srv.User, srv.NoLogin = root, []string{prefixes[0] + "ROOT_PASSWORD", prefixes[0] + "USER"}
	}
}

// redisSettings reads redis' port, password and persistence from its env
// and its command line (`redis-server --port N --requirepass … --save ""`).
func redisSettings(srv *Server, e serviceEnv, k serverKind) {
	args := append(append([]string(nil), e.s.Command...), e.s.Args...)
	args = append(args, strings.Fields(e.get("REDIS_ARGS"))...)
	flag := func(name string) (string, bool) {
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--"+name {
				return args[i+1], true
			}
		}
		return "", false
	}
	if p, ok := flag("port"); ok {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			srv.Port = n
		}
	} else {
		srv.Port = e.port("REDIS_PORT_NUMBER", e.port("VALKEY_PORT_NUMBER", srv.Port))
	}
	for _, key := range []string{"REDIS_PASSWORD", "VALKEY_PASSWORD"} {
		if v, ok := e.password(key); ok {
			srv.PasswordVar = v
			break
		}
	}
	if _, ok := flag("requirepass"); ok && srv.PasswordVar == "" {
		srv.PasswordVar = "REDIS_PASSWORD"
	}
	save, saveSet := flag("save")
	aof, _ := flag("appendonly")
	if k.flavor == bitnami && e.get("REDIS_AOF_ENABLED") != "no" {
		aof = "yes"
	}
	srv.Persistent = len(srv.DataVolumes) > 0 && (!saveSet || strings.Trim(save, `"' `) != "" || aof == "yes")
}

// serviceEnv reads a service's env and secret names.
type serviceEnv struct{ s AppService }

func (e serviceEnv) get(key string) string { return e.s.Env[key] }

func (e serviceEnv) or(key, fallback string) string {
	if v := e.get(key); v != "" {
		return v
	}
	return fallback
}

func (e serviceEnv) port(key string, fallback int) int {
	if n, err := strconv.Atoi(e.get(key)); err == nil && n > 0 && n < 65536 {
		return n
	}
	return fallback
}

// password reports whether the service sets key (or key_FILE) in env or as
// a secret, and returns key.
func (e serviceEnv) password(key string) (string, bool) {
	for _, k := range []string{key, key + "_FILE"} {
		if e.get(k) != "" {
			return key, true
		}
		for _, r := range e.s.SecretRefs {
			if r.Name == k {
				return key, true
			}
		}
	}
	return "", false
}

// overlaps reports whether one folder is the other or inside it.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

var envWord = regexp.MustCompile(`[^A-Z0-9_]+`)

// PasswordSecretName names the backup service's copy of a server's
// password after what it is: the service and the variable that holds it
// there (db + POSTGRES_PASSWORD → DB_POSTGRES_PASSWORD), without repeating
// the service (redis + REDIS_PASSWORD → REDIS_PASSWORD), and never a name
// devopsellence-backup reserves (BACKUP_*, RESTIC_*).
func PasswordSecretName(service, variable string) string {
	svc := strings.Trim(envWord.ReplaceAllString(strings.ToUpper(service), "_"), "_")
	name := variable
	if svc != "" && !strings.HasPrefix(variable, svc+"_") {
		name = svc + "_" + variable
	}
	if name[0] >= '0' && name[0] <= '9' {
		name = "DB_" + name
	}
	if strings.HasPrefix(name, "BACKUP_") || strings.HasPrefix(name, "RESTIC_") {
		name = "DB_" + name
	}
	return name
}
