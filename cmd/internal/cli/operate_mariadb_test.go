package cli_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

// TestAMariaDBBackedUpWhileWrittenRestoresConsistentlyInADrill backs up a
// MariaDB database while rows are being inserted, then drills it into a
// scratch database: the restored copy must hold a consistent prefix of the
// rows (every id from 1 to its count, no gap), which a dump outside one
// transaction would not guarantee.
func TestAMariaDBBackedUpWhileWrittenRestoresConsistentlyInADrill(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		my := dbtest.StartMariaDB(t)
		my.SQL(t, "appdb", "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, amount INT NOT NULL, note VARCHAR(64) NOT NULL) ENGINE=InnoDB")
		// Ids are given, so that any consistent state holds ids 1..COUNT(*).
		my.SQL(t, "appdb", "INSERT INTO orders (id, amount, note) SELECT seq, seq % 97, MD5(seq) FROM seq_1_to_5000")
		app := newOpsApp(t, rb, opsConfig{
			databases: `    - name: shop
      engine: mariadb
      urlSecret: SHOP_DATABASE_URL
      scratchUrlSecret: SHOP_SCRATCH_URL
      check:
        query: SELECT COUNT(*) = MAX(id) FROM orders`,
			secrets: map[string]string{"SHOP_DATABASE_URL": my.URL("appdb"), "SHOP_SCRATCH_URL": my.URL("mysql")},
		})
		seedShop(t, app.sim.VolumeDir("shop_storage"), nil)

		// A writer inserts rows, one transaction each, all through the backup.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				my.SQL(t, "appdb", fmt.Sprintf("INSERT INTO orders (id, amount, note) VALUES (%d, %d, 'live %d')", 5001+i, i%97, i))
			}
		}()
		d := app.mustOp(t, 0, "backup", "--init")
		close(stop)
		wg.Wait()
		if s := d.step(t, "db:shop"); s["result"] != "ok" || s["engine"] != "mariadb" {
			t.Fatalf("db:shop step = %v", s)
		}
		final, _ := strconv.Atoi(my.SQL(t, "appdb", "SELECT COUNT(*) FROM orders"))
		if final <= 5000 {
			t.Fatalf("the writer inserted nothing during the backup (%d rows)", final)
		}
		d = app.mustOp(t, 0, "drill")
		s := d.step(t, "db:shop")
		if s["result"] != "ok" || s["check_output"] != "1" {
			t.Fatalf("drill db:shop = %v", s)
		}
		restored := fmt.Sprint(s["restored"])
		var tables, rows int
		if _, err := fmt.Sscanf(restored, "%d tables, %d rows", &tables, &rows); err != nil || tables != 1 || rows < 5000 || rows > final {
			t.Errorf("restored %q: want 1 table and between 5000 and %d rows", restored, final)
		}
		// The scratch database is gone.
		if left := my.Databases(t, "devopsellence_drill_"); len(left) != 0 {
			t.Errorf("scratch databases left: %v", left)
		}
		if strings.Contains(d.Summary, my.Password) {
			t.Error("the database password reached the result")
		}
	})
}
