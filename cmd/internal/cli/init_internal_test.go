package cli

import (
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/spec"
)

func TestNextSaysWhichDatabasesTheDrillCannotRestoreAndOnlyThose(t *testing.T) {
	b := &spec.Backup{Spec: spec.Spec{
		Volumes: []spec.Volume{{Name: "app_storage"}},
		Databases: []spec.Database{
			{Name: "db", Engine: spec.EnginePostgres, Service: "db"}, // its own server takes the scratch copy
			{Name: "cache", Engine: spec.EngineSQLite, Path: "/data/app_storage/cache.sqlite3"},
			{Name: "orders", Engine: spec.EngineMySQL, URLSecret: "ORDERS_URL"},
			{Name: "primary", Engine: spec.EnginePostgres, URLSecret: "DATABASE_URL", ScratchURLSecret: "DRILL_DATABASE_URL"},
		},
	}}
	next := nextSteps(b, "production", spec.DefaultFile)
	for _, want := range []string{
		"devopsellence-backup check --env production",
		"prove it restores: the files into a scratch folder, db, cache, primary into a scratch copy",
		"The drill stops at no_scratch for database orders:",
	} {
		if !strings.Contains(next, want) {
			t.Errorf("Next lacks %q:\n%s", want, next)
		}
	}
	for _, db := range []string{"database db", "database primary", "database cache"} {
		if strings.Contains(next, "no_scratch for "+db) {
			t.Errorf("Next says %s cannot be drilled:\n%s", db, next)
		}
	}
}
