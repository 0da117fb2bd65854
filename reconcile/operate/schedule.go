package operate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

// ScheduleScript is the command of a backup service that runs its own
// backups: a sh loop that runs the backup every interval (or daily at HH:MM
// UTC), prune and check at their own intervals, each with the same script
// and evidence as the manual commands and a deadline of its own. Its output
// is the service's log. It is deterministic: nothing depends on when it is
// rendered. es.Schedule must be set, with its defaults filled in (as
// spec.Backup.ForEnvironment does).
func ScheduleScript(es spec.EnvSpec, service string) string {
	sc := es.Schedule
	checkEvery, pruneEvery := sc.CheckEvery, sc.PruneEvery
	at, when := -1, "every "+sc.Every.String()
	if sc.At != "" {
		h, m, _ := strings.Cut(sc.At, ":")
		hh, _ := strconv.Atoi(h)
		mm, _ := strconv.Atoi(m)
		at, when = hh*3600+mm*60, "daily at "+sc.At+" UTC"
	}
	subset, checkText := "", "check every "+checkEvery.String()
	if es.Check.ReadDataParts > 0 {
		subset = "subset=auto"
		checkText += fmt.Sprintf(" (reading 1/%d of the data each time)", es.Check.ReadDataParts)
	}
	prune := "prune every " + pruneEvery.String()
	if es.Retention == nil {
		prune = "no prune (the spec sets no retention)"
	}
	retry := min(sc.Every.Std(), time.Hour)
	if sc.At != "" {
		retry = time.Hour
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# devopsellence-backup schedule for service %s in environment %s, generated from the backup spec:\n", service, es.Environment)
	fmt.Fprintf(&b, "# backup %s, %s, %s. Each run stores its evidence in the repository.\n", when, prune, checkText)
	b.WriteString("# It holds no secret: restic and the dumpers read them from the service's environment.\n")
	b.WriteString(config(es, service))
	fmt.Fprintf(&b, "SCHEDULE_TEXT=%s\n", quote(fmt.Sprintf("backup %s, %s, %s", when, prune, checkText)))
	fmt.Fprintf(&b, "BACKUP_EVERY=%d\nAT_SECONDS=%d\nRETRY_AFTER=%d\n", seconds(sc.Every.Std()), at, seconds(retry))
	fmt.Fprintf(&b, "PRUNE_EVERY=%d\nCHECK_EVERY=%d\nCHECK_SUBSET=%s\n", seconds(pruneEvery.Std()), seconds(checkEvery.Std()), quote(subset))
	fmt.Fprintf(&b, "BACKUP_TIMEOUT=%d\nPRUNE_TIMEOUT=%d\nCHECK_TIMEOUT=%d\n",
		seconds(DefaultTimeout(OpBackup)), seconds(DefaultTimeout(OpPrune)), seconds(DefaultTimeout(OpCheck)))
	b.WriteString(libSH + backupSH + maintSH + scheduleSH)
	b.WriteString("schedule_main\n")
	return b.String()
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }
