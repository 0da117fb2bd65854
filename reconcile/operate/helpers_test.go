package operate

import (
	"slices"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/spec"
)

const sampleSpec = `apiVersion: backup.devopsellence.io/v1alpha1
kind: Backup
metadata: {name: shop}
spec:
  image: img:1
  volumes: [{name: app_storage}]
  paths: [/etc/shop, /srv/x]
  databases:
    - {name: main, engine: postgres, urlSecret: DATABASE_URL, scratchUrlSecret: DRILL_URL, format: plain, check: {query: "select 'x', count(*) from orders"}}
    - {name: analytics, engine: mariadb, urlSecret: ANALYTICS_URL}
    - {name: cache, engine: sqlite, path: /data/app_storage/cache.sqlite3, check: {command: "test -s \"$BACKUP_RESTORED_PATH\""}}
  repository: {urlSecret: RESTIC_REPOSITORY, type: rest}
  retention: {keepDaily: 7}
  schedule: {at: "02:30"}
`

func sampleEnv(t *testing.T) spec.EnvSpec {
	t.Helper()
	b, err := spec.Parse("spec.yml", []byte(sampleSpec))
	if err != nil {
		t.Fatal(err)
	}
	return b.ForEnvironment("production", "shop")
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var us = Identity{Host: "shop-production", Tags: []string{"app:shop", "env:production"}, AppID: "a1"}

func snap(id string, at time.Time, host string, paths []string, tags ...string) Snapshot {
	return Snapshot{ID: id, Time: at, Hostname: host, Paths: paths, Tags: tags}
}

// ours is one of this app's snapshots with extra tags.
func ours(id string, at time.Time, paths []string, extra ...string) Snapshot {
	return snap(id, at, us.Host, paths, append(append(slices.Clone(us.Tags), TagAppID+us.AppID), extra...)...)
}

func evidenceSnap(id string, kind Op, result string, at time.Time, extra ...string) Snapshot {
	ev := &Evidence{Kind: string(kind), Result: result, Trigger: TriggerSchedule}
	tags := append(EvidenceTags(ev, us.AppID, "run-"+id, ""), extra...)
	return snap(id, at, us.Host, []string{EvidencePath(kind)}, append(slices.Clone(us.Tags), tags...)...)
}

func findingCodes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	slices.Sort(out)
	return out
}
