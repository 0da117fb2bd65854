package spec

import "strings"

// NetworkAlias is the host name under which the other services of an
// environment reach the app service named service: devopsellence's node
// agent lower-cases the name and turns anything outside [a-z0-9_.-] into
// "-" to make the container's network alias.
func NetworkAlias(service string) string {
	b := []byte(strings.ToLower(service))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

// PostgresClientMajor is the major version of pg_dump in the official
// backup image (the Dockerfile at the repository's root; a test holds them
// equal): it dumps servers of its major and older, down to 9.2.
const PostgresClientMajor = 18

// DefaultPort is the port the official image of engine listens on.
func DefaultPort(engine string) int {
	switch engine {
	case EnginePostgres:
		return 5432
	case EngineMySQL, EngineMariaDB:
		return 3306
	case EngineRedis:
		return 6379
	}
	return 0
}
