package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devopsellence/devopsellence-backup/fixtures/restictest"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestFoundSQLiteFilesHaveNamesThatNeverCollide(t *testing.T) {
	seen := map[string]string{}
	for _, p := range []string{"/data/v/uploads/a-b.sqlite3", "/data/v/uploads/a/b.sqlite3", "/data/v/uploads/a_b.sqlite3", "/data/v/uploads/a b.sqlite3",
		"/data/v/uploads/a--b.sqlite3", "/data/v/uploads/a/-b.sqlite3", "/data/v/uploads/a-/b.sqlite3", "/data/v/cache.db"} {
		n := autoName(p)
		if other, dup := seen[n]; dup {
			t.Errorf("%s and %s are both %s", other, p, n)
		}
		seen[n] = p
	}
	if got := autoName("/data/shop_storage/cache.db"); got != "auto-data-shop_storage-cache.db" {
		t.Errorf("a plain path's name changed to %s: its history would split", got)
	}
}

// TestRestoringOneFoundSQLiteFileNeverOverwritesAnother: a-b.sqlite3 and
// a/b.sqlite3 are two databases with two names, and a restore of one
// writes only that one.
func TestRestoringOneFoundSQLiteFileNeverOverwritesAnother(t *testing.T) {
	forEachBin(t, func(t *testing.T, bin restictest.Bin) {
		r := newRig(t, bin, nil)
		dash, nested := filepath.Join(r.vol, "uploads", "a-b.sqlite3"), filepath.Join(r.vol, "uploads", "a", "b.sqlite3")
		must(t, os.MkdirAll(filepath.Dir(nested), 0o755))
		sqlExec(t, dash, "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('dash')")
		sqlExec(t, nested, "CREATE TABLE t(v TEXT); INSERT INTO t VALUES ('nested'); INSERT INTO t VALUES ('nested 2')")
		l := r.run(operate.OpBackup, RunOptions{Init: true})
		var names []string
		for _, s := range l.Evidence.Steps {
			if strings.HasPrefix(s.Name, "db:auto-") {
				names = append(names, strings.TrimPrefix(s.Name, "db:"))
			}
		}
		if len(names) != 2 || names[0] == names[1] {
			t.Fatalf("the two files were dumped as %v", names)
		}
		sqlExec(t, nested, "DELETE FROM t")
		nestedName := autoName(nested)
		res := r.restore(operate.RestoreRequest{Latest: "db:" + nestedName})
		if res.Evidence.Result != operate.ResultOK {
			t.Fatalf("restore of %s: %+v", nestedName, res.Evidence.Steps)
		}
		if got := sqlQuery(t, dash, "SELECT group_concat(v) FROM t"); got != "dash" {
			t.Errorf("a-b.sqlite3 holds %q after the restore of a/b.sqlite3", got)
		}
		if got := sqlQuery(t, nested, "SELECT count(*) FROM t"); got != "2" {
			t.Errorf("a/b.sqlite3 holds %s rows after its restore, want 2", got)
		}
	})
}

func sqlExec(t *testing.T, file, q string) {
	t.Helper()
	sqlQuery(t, file, q)
}

func sqlQuery(t *testing.T, file, q string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", file, q).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", file, q, err, out)
	}
	return strings.TrimSpace(string(out))
}
