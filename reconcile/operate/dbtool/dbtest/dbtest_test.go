package dbtest

import (
	"strings"
	"testing"
)

func TestServersListenOnTheAddressAskedFor(t *testing.T) {
	t.Parallel()
	const addr = "127.0.0.2"
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		p := StartPostgres(t, addr)
		got := p.SQL(t, "appdb", "SELECT current_setting('listen_addresses')")
		if got != addr {
			t.Errorf("listen_addresses = %q, want %q", got, addr)
		}
		if !strings.Contains(p.URL("appdb"), "@"+addr+":") {
			t.Errorf("URL does not name %s", addr)
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		t.Parallel()
		m := StartMariaDB(t, addr)
		if got := m.SQL(t, "", "SELECT @@bind_address"); got != addr {
			t.Errorf("bind_address = %q, want %q", got, addr)
		}
		if got := m.SQL(t, "", "SELECT COUNT(*) FROM mysql.user WHERE user = 'app'"); got != "1" {
			t.Errorf("user app: count %q", got)
		}
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		r := StartRedis(t, addr)
		if got := r.Cmd(t, "CONFIG", "GET", "bind"); !strings.Contains(got, addr) {
			t.Errorf("bind = %q, want %s", got, addr)
		}
	})
}
