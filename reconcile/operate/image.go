package operate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// ResticImage is the pinned restic release the generated Dockerfile copies
// restic from.
const ResticImage = "restic/restic:0.18.1"

// Tool is a command the backup service needs, with the Debian package that
// provides it.
type Tool struct {
	// Commands are alternatives: any one of them will do.
	Commands []string
	Package  string
	// Why says what needs it.
	Why string
	// Base tools come with the base image (or, for restic, from its own
	// image), so the Dockerfile installs no package for them.
	Base bool
}

// Tools lists what the scripts of es run, beyond a POSIX shell: restic,
// the text tools of every script, and exactly the database clients of the
// spec's databases.
func Tools(es spec.EnvSpec) []Tool {
	tools := []Tool{
		{Commands: []string{"restic"}, Package: "restic (copied from " + ResticImage + ")", Why: "every operation", Base: true},
		{Commands: []string{"awk"}, Package: "mawk", Why: "every operation", Base: true},
		{Commands: []string{"sed"}, Package: "sed", Why: "every operation", Base: true},
		{Commands: []string{"grep"}, Package: "grep", Why: "every operation", Base: true},
		{Commands: []string{"find"}, Package: "findutils", Why: "backup and drill", Base: true},
		{Commands: []string{"mkfifo"}, Package: "coreutils", Why: "every operation", Base: true},
		{Commands: []string{"base64"}, Package: "coreutils", Why: "status", Base: true},
		{Commands: []string{"sha256sum"}, Package: "coreutils", Why: "drill", Base: true},
	}
	engines := map[string]bool{}
	for _, d := range es.Databases {
		engines[d.Engine] = true
	}
	if engines[spec.EnginePostgres] {
		tools = append(tools,
			Tool{Commands: []string{"pg_dump"}, Package: "postgresql-client", Why: "postgres backups and drills"},
			Tool{Commands: []string{"pg_restore"}, Package: "postgresql-client", Why: "postgres backups and drills"},
			Tool{Commands: []string{"psql"}, Package: "postgresql-client", Why: "postgres backups and drills"},
		)
	}
	if engines[spec.EngineMySQL] || engines[spec.EngineMariaDB] {
		tools = append(tools,
			Tool{Commands: []string{"mariadb-dump", "mysqldump"}, Package: "mariadb-client", Why: "mysql/mariadb backups and drills"},
			Tool{Commands: []string{"mariadb", "mysql"}, Package: "mariadb-client", Why: "mysql/mariadb backups and drills"},
		)
	}
	if engines[spec.EngineSQLite] {
		tools = append(tools, Tool{Commands: []string{"sqlite3"}, Package: "sqlite3", Why: "sqlite backups and drills"})
	}
	return tools
}

// Dockerfile is a small Dockerfile for a backup image that serves every
// given environment: restic from its pinned official image, and the Debian
// packages of exactly the database clients the specs need.
func Dockerfile(name string, envs []spec.EnvSpec) string {
	var pkgs []string
	var why []string
	for _, es := range envs {
		for _, t := range Tools(es) {
			p := t.Package
			if t.Base {
				continue
			}
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
				why = append(why, fmt.Sprintf("#   %s: %s", p, t.Why))
			}
		}
	}
	slices.Sort(pkgs)
	slices.Sort(why)
	var b strings.Builder
	fmt.Fprintf(&b, "# Backup image for %s, printed by devopsellence-backup image.\n", name)
	b.WriteString("# It holds restic and exactly the database clients the spec needs; no secret is\n")
	b.WriteString("# baked in (devopsellence injects them as environment variables at run time).\n")
	b.WriteString("#\n# Build and push it, then set spec.image to its name:\n")
	b.WriteString("#   docker build -t registry.example.com/" + name + "-backup:1 -f Dockerfile.backup .\n")
	b.WriteString("#\n# restic comes from its official image at a pinned release (0.18.1 has\n")
	b.WriteString("# --stdin-from-command, exit codes 10-12 and JSON for check).\n")
	fmt.Fprintf(&b, "FROM %s AS restic\n\n", ResticImage)
	b.WriteString("FROM debian:bookworm-slim\n")
	if len(pkgs) > 0 {
		b.WriteString("# Database clients:\n")
		b.WriteString(strings.Join(why, "\n") + "\n")
	}
	if slices.Contains(pkgs, "postgresql-client") {
		b.WriteString("# Debian 12's postgresql-client is 15: pg_dump must be at least the server's major\n")
		b.WriteString("# version, so take postgresql-client-NN from apt.postgresql.org for a newer server.\n")
	}
	all := append([]string{"ca-certificates"}, pkgs...)
	fmt.Fprintf(&b, "RUN apt-get update \\\n && apt-get install -y --no-install-recommends %s \\\n && rm -rf /var/lib/apt/lists/*\n", strings.Join(all, " "))
	b.WriteString("COPY --from=restic /usr/bin/restic /usr/local/bin/restic\n")
	b.WriteString("# restic's cache (spec.cacheDir); mount a volume there to keep it across deploys.\n")
	b.WriteString("RUN mkdir -p /var/cache/restic\n")
	b.WriteString("# devopsellence-backup sets the command (sleep, or the schedule loop).\n")
	b.WriteString("CMD [\"sh\", \"-c\", \"sleep infinity\"]\n")
	return b.String()
}

// MissingTools runs one exec in the service that looks up (command -v)
// every tool es needs and returns those that are missing, each as its
// alternatives joined by "|". It runs the same check as status: the
// script's spec_tools and the library's missing_tools.
func MissingTools(ctx context.Context, ex Executor, env, service string, es spec.EnvSpec) ([]string, error) {
	script := "# devopsellence-backup: which tools the backup needs are missing from the image?\n" +
		config(es, service) + libSH + "spec_tools missing_tools\n"
	out, err := Run(ctx, ex, env, service, Argv(script, Options{}), nil)
	if err != nil {
		return nil, err
	}
	if out.ExitCode != 0 {
		return nil, fmt.Errorf("check tools in service %s (%s): exit status %d", service, env, out.ExitCode)
	}
	return out.MissingTools, nil
}
