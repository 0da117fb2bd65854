package agent

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

func TestARestoreRecordedInACopyShowsWhenItIsNewerThanThePrimarysOwn(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	backup := operate.EvidenceRef{Kind: "backup", Time: t0}
	own := operate.EvidenceRef{Kind: "restore", Time: t0.Add(time.Hour), RunID: "own"}
	older := operate.EvidenceRef{Kind: "restore", Time: t0, RunID: "older", Copy: "nas"}
	newer := operate.EvidenceRef{Kind: "restore", Time: t0.Add(2 * time.Hour), RunID: "newer", Copy: "offsite"}
	runIDs := func(ev []operate.EvidenceRef) (ids []string) {
		for _, e := range ev {
			ids = append(ids, e.Kind+":"+e.RunID)
		}
		return ids
	}
	for _, tc := range []struct {
		name     string
		evidence []operate.EvidenceRef
		copies   []operate.EvidenceRef
		want     string
	}{
		{"no restore in the primary", []operate.EvidenceRef{backup}, []operate.EvidenceRef{older}, "backup: restore:older"},
		{"a newer one in a copy", []operate.EvidenceRef{backup, own}, []operate.EvidenceRef{older, newer}, "backup: restore:newer"},
		{"only older ones in copies", []operate.EvidenceRef{backup, own}, []operate.EvidenceRef{older}, "backup: restore:own"},
		{"no copy", []operate.EvidenceRef{backup, own}, nil, "backup: restore:own"},
	} {
		got := strings.Join(runIDs(newestRestore(slices.Clone(tc.evidence), tc.copies)), " ")
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
