package operate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// OfficialImage is the repository of the official backup image: the agent,
// a pinned restic, and the database clients (see the Dockerfile at the
// repository's root). Its tags are the tool's release versions.
const OfficialImage = "ghcr.io/devopsellence/devopsellence-backup"

// ResticVersion is the restic release the official image carries.
const ResticVersion = "0.18.1"

// AgentPath is where the official image installs the agent; the service's
// command finds it on PATH.
const AgentPath = "/usr/local/bin/devopsellence-backup"

// ImageFor is the official image of a release version.
func ImageFor(version string) string { return OfficialImage + ":" + version }

// Tool is a command the agent needs, with the Debian package that provides it.
type Tool struct {
	// Commands are alternatives: any one of them will do.
	Commands []string
	Package  string
	// Why says what needs it.
	Why string
}

// Tools lists what the agent runs for es: restic, and exactly the database
// clients of the spec's databases.
func Tools(es spec.EnvSpec) []Tool {
	return ToolsFor(es.Databases)
}

// ToolsFor lists what the agent runs for these databases.
func ToolsFor(dbs []spec.Database) []Tool {
	tools := []Tool{{Commands: []string{"restic"}, Package: "restic", Why: "every operation"}}
	engines := map[string]bool{}
	for _, d := range dbs {
		engines[d.Engine] = true
	}
	if engines[spec.EnginePostgres] {
		for _, c := range []string{"pg_dump", "pg_restore", "psql"} {
			tools = append(tools, Tool{Commands: []string{c}, Package: "postgresql-client", Why: "postgres backups and drills"})
		}
	}
	if engines[spec.EngineMySQL] || engines[spec.EngineMariaDB] {
		tools = append(tools,
			Tool{Commands: []string{"mariadb-dump", "mysqldump"}, Package: "mariadb-client", Why: "mysql/mariadb backups and drills"},
			Tool{Commands: []string{"mariadb", "mysql"}, Package: "mariadb-client", Why: "mysql/mariadb backups and drills"},
		)
	}
	if engines[spec.EngineRedis] {
		tools = append(tools,
			Tool{Commands: []string{"redis-cli"}, Package: "redis-tools", Why: "redis backups (redis-cli --rdb)"},
			Tool{Commands: []string{"redis-server"}, Package: "redis-server", Why: "redis drills (a throwaway server loads the dump)"},
		)
	}
	if engines[spec.EngineSQLite] {
		tools = append(tools, Tool{Commands: []string{"sqlite3"}, Package: "sqlite3", Why: "sqlite backups and drills"})
	}
	return append(tools, commandTools(dbs)...)
}

// Dockerfile is a Dockerfile for a custom backup image serving every given
// environment. With agentImage (an official image of a release), the
// agent comes from it; restic from its official image at the pinned
// release; and the Debian packages of exactly the database clients the
// specs need. Most apps need no custom image: the official one carries
// every client.
func Dockerfile(name, agentImage string, envs []spec.EnvSpec) string {
	var pkgs, why []string
	for _, es := range envs {
		for _, t := range Tools(es) {
			if t.Package == "restic" || t.Package == "" || slices.Contains(pkgs, t.Package) {
				continue
			}
			pkgs = append(pkgs, t.Package)
			why = append(why, fmt.Sprintf("#   %s: %s", t.Package, t.Why))
		}
	}
	slices.Sort(pkgs)
	slices.Sort(why)
	var b strings.Builder
	fmt.Fprintf(&b, "# Backup image for %s, printed by devopsellence-backup image.\n", name)
	b.WriteString("# It holds the devopsellence-backup agent, restic and exactly the database\n")
	b.WriteString("# clients the spec needs; no secret is baked in (devopsellence injects them as\n")
	b.WriteString("# environment variables at run time). The official image already has all of\n")
	fmt.Fprintf(&b, "# this (%s:<version>); build your own only to add something.\n", OfficialImage)
	b.WriteString("#\n# Build and push it, then set spec.image to its name:\n")
	b.WriteString("#   docker build -t registry.example.com/" + name + "-backup:1 -f Dockerfile.backup .\n")
	if agentImage != "" {
		fmt.Fprintf(&b, "FROM %s AS agent\n", agentImage)
	} else {
		b.WriteString("# This devopsellence-backup is not a release build, so the agent is built from\n")
		b.WriteString("# source here; with a release, COPY it from the official image instead.\n")
		b.WriteString("FROM golang:1.26-bookworm AS agent\n")
		b.WriteString("RUN CGO_ENABLED=0 GOBIN=/usr/local/bin go install github.com/devopsellence/devopsellence-backup/cmd/devopsellence-backup@latest\n")
	}
	fmt.Fprintf(&b, "FROM restic/restic:%s AS restic\n\n", ResticVersion)
	b.WriteString("FROM debian:bookworm-slim\n")
	if len(pkgs) > 0 {
		b.WriteString("# Database clients:\n")
		b.WriteString(strings.Join(why, "\n") + "\n")
	}
	if slices.Contains(pkgs, "postgresql-client") {
		b.WriteString("# Debian 12's postgresql-client is 15: pg_dump must be at least the server's major\n")
		b.WriteString("# version, so take postgresql-client-NN from apt.postgresql.org for a newer server.\n")
	}
	all := append([]string{"ca-certificates", "tini"}, pkgs...)
	fmt.Fprintf(&b, "RUN apt-get update \\\n && apt-get install -y --no-install-recommends %s \\\n && rm -rf /var/lib/apt/lists/*\n", strings.Join(all, " "))
	fmt.Fprintf(&b, "COPY --from=restic /usr/bin/restic /usr/local/bin/restic\n")
	fmt.Fprintf(&b, "COPY --from=agent %s %s\n", AgentPath, AgentPath)
	b.WriteString("# restic's cache (spec.cacheDir); mount a volume there to keep it across deploys.\n")
	b.WriteString("RUN mkdir -p /var/cache/restic\n")
	b.WriteString("# devopsellence makes the service's command the entrypoint, and the agent is then\n")
	b.WriteString("# process 1 itself (it forwards signals and reaps); tini serves `docker run` as is.\n")
	b.WriteString("ENTRYPOINT [\"/usr/bin/tini\", \"--\"]\n")
	fmt.Fprintf(&b, "CMD [%q, \"agent\", \"run\"]\n", AgentCommand)
	return b.String()
}
