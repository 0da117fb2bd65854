package operate

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// The shell sources. Every script is a generated configuration block (what
// this environment backs up; no secret values) followed by these.
var (
	//go:embed sh/lib.sh
	libSH string
	//go:embed sh/backup.sh
	backupSH string
	//go:embed sh/maint.sh
	maintSH string
	//go:embed sh/drill.sh
	drillSH string
	//go:embed sh/status.sh
	statusSH string
	//go:embed sh/schedule.sh
	scheduleSH string
)

// Op is an operation the backup service runs.
type Op string

// Operations.
const (
	OpBackup Op = "backup"
	OpCheck  Op = "check"
	OpPrune  Op = "prune"
	OpDrill  Op = "drill"
	OpStatus Op = "status"
)

// EvidenceKinds are the operations that store evidence, in report order.
func EvidenceKinds() []Op { return []Op{OpBackup, OpCheck, OpPrune, OpDrill} }

// DefaultTimeout is the default deadline of op. restic retries a dead
// backend for up to 15 minutes, so every run needs one of its own.
func DefaultTimeout(op Op) time.Duration {
	switch op {
	case OpBackup:
		return 6 * time.Hour
	case OpStatus:
		return 5 * time.Minute
	}
	return 2 * time.Hour
}

// AutoParts is how many parts `check --read-data-subset auto` rotates
// through when the spec sets no check.readDataParts.
const AutoParts = 10

// Options are the choices of one run, passed to the script as arguments so
// that the script text stays the same from run to run.
type Options struct {
	// Init creates a missing repository (backup --init).
	Init bool
	// UnlockStale runs `restic unlock` (stale locks only) when the
	// repository is locked, then tries once more.
	UnlockStale bool
	// Subset is check's --read-data-subset: "auto", "n/t", "x%" or "".
	Subset string
	// Trigger is recorded in the evidence: "manual" (default) or "schedule".
	Trigger string
}

func (o Options) args() []string {
	var out []string
	if o.Init {
		out = append(out, "init")
	}
	if o.UnlockStale {
		out = append(out, "unlock-stale")
	}
	if o.Subset != "" {
		out = append(out, "subset="+o.Subset)
	}
	if o.Trigger != "" {
		out = append(out, "trigger="+o.Trigger)
	}
	return out
}

// Argv is the exec argv that runs script with the options: sh -c SCRIPT
// devopsellence-backup ARGS..., where the script reads ARGS as "$@".
func Argv(script string, o Options) []string {
	return append([]string{"sh", "-c", script, "devopsellence-backup"}, o.args()...)
}

// Script is the sh script of op for one environment's backup service.
func Script(op Op, es spec.EnvSpec, service string) string {
	parts := []string{libSH}
	switch op {
	case OpBackup:
		parts = append(parts, backupSH)
	case OpCheck, OpPrune:
		parts = append(parts, maintSH)
	case OpDrill:
		parts = append(parts, backupSH, drillSH)
	case OpStatus:
		parts = append(parts, statusSH)
	}
	head := fmt.Sprintf("# devopsellence-backup %s for service %s in environment %s, generated from the backup spec.\n"+
		"# It holds no secret: restic and the dumpers read them from the service's environment.\n", op, service, es.Environment)
	return head + config(es, service) + strings.Join(parts, "") + fmt.Sprintf("op_%s \"$@\"\n", op)
}

// config is the generated part of every script: who runs it, which secret
// names to scrub from output, and what the spec backs up.
func config(es spec.EnvSpec, service string) string {
	var b strings.Builder
	b.WriteString("set -u\numask 077\n")
	fmt.Fprintf(&b, "ENVIRONMENT=%s\n", quote(es.Environment))
	fmt.Fprintf(&b, "SERVICE=%s\n", quote(service))
	fmt.Fprintf(&b, "REPOSITORY=%s\n", quote(es.Repository.Display()))
	fmt.Fprintf(&b, "SECRET_NAMES=%s\n", quote(strings.Join(es.SecretNames(), " ")))
	fmt.Fprintf(&b, "SAMPLE_FILES=%d\n", es.Drill.SampleFiles)
	fmt.Fprintf(&b, "CHECK_PARTS=%d\n", checkParts(es))
	fmt.Fprintf(&b, "EVIDENCE_SCHEMA=%d\n", EvidenceSchema)
	b.WriteString("\n# What this environment backs up: spec_files CMD calls CMD with the folders;\n")
	b.WriteString("# spec_databases CMD calls CMD NAME ENGINE URL_VAR FORMAT PATH SCRATCH_URL_VAR FILE per database.\n")
	paths := make([]string, 0, len(es.BackupPaths()))
	for _, p := range es.BackupPaths() {
		paths = append(paths, quote(p))
	}
	fmt.Fprintf(&b, "spec_files() { \"$@\"%s; }\n", prefixed(paths))
	b.WriteString("spec_databases() {\n  :\n")
	for _, d := range es.Databases {
		fmt.Fprintf(&b, "  \"$@\" %s %s %s %s %s %s %s\n", quote(d.Name), quote(d.Engine), quote(d.URLSecret),
			quote(dumpFormat(d)), quote(d.Path), quote(d.ScratchURLSecret), quote(strings.TrimPrefix(DumpFile(d), "/")))
	}
	b.WriteString("}\n")
	b.WriteString("spec_db_check() {\n  CHECK_QUERY= CHECK_COMMAND=\n  case $1 in\n")
	for _, d := range es.Databases {
		if d.Check == nil || (d.Check.Query == "" && d.Check.Command == "") {
			continue
		}
		fmt.Fprintf(&b, "  %s) CHECK_QUERY=%s CHECK_COMMAND=%s ;;\n", quote(d.Name), quote(d.Check.Query), quote(d.Check.Command))
	}
	b.WriteString("  esac\n}\n")
	var tools []string
	for _, t := range Tools(es) {
		tools = append(tools, quote(strings.Join(t.Commands, "|")))
	}
	fmt.Fprintf(&b, "spec_tools() { \"$@\"%s; }\n\n", prefixed(tools))
	return b.String()
}

func prefixed(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return " " + strings.Join(words, " ")
}

// checkParts is how many parts `check --read-data-subset auto` rotates through.
func checkParts(es spec.EnvSpec) int {
	if es.Check.ReadDataParts > 0 {
		return es.Check.ReadDataParts
	}
	return AutoParts
}

// dumpFormat is a database's dump format: custom (pg_dump -Fc -Z0) by
// default for postgres; "" for the engines that have one format.
func dumpFormat(d spec.Database) string {
	if d.Engine != spec.EnginePostgres {
		return ""
	}
	if d.Format == "" {
		return spec.FormatCustom
	}
	return d.Format
}

// DumpFile is the snapshot path of a database's dump: /<name>.<ext>.
func DumpFile(d spec.Database) string {
	switch {
	case d.Engine == spec.EngineSQLite:
		return "/" + d.Name + ".sqlite3"
	case d.Engine == spec.EnginePostgres && dumpFormat(d) == spec.FormatCustom:
		return "/" + d.Name + ".pgdump"
	}
	return "/" + d.Name + ".sql"
}

// quote makes s one sh word.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:,=@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
