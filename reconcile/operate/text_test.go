package operate_test

import (
	"testing"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestSizesAndIDsReadTheSameEverywhere(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 40: "3.0 TiB"} {
		if got := operate.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	for id, want := range map[string]string{"": "", "abc": "abc", "0123456789abcdef": "01234567"} {
		if got := operate.ShortID(id); got != want {
			t.Errorf("ShortID(%q) = %q, want %q", id, got, want)
		}
	}
}
