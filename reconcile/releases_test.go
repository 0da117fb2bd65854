package reconcile_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile"
)

var r0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func rel(id, rev string, minutes int) reconcile.Release {
	return reconcile.Release{ID: id, Revision: rev, CreatedAt: r0.Add(time.Duration(minutes) * time.Minute)}
}

func TestDeploysOfARevisionDeployedTwiceStartAtItsFirstDeploy(t *testing.T) {
	// Newest first, as release list gives them: aaa, then bbb, a rollback
	// to aaa (no new release), then bbb again, then ccc.
	history := []reconcile.Release{rel("r4", "ccc1111", 40), rel("r3", "bbb2222", 30), rel("r2", "bbb2222", 20), rel("r1", "aaa3333", 10)}
	d, err := reconcile.DeploysOf(history, "bbb")
	if err != nil {
		t.Fatal(err)
	}
	if d.Revision != "bbb2222" || len(d.Releases) != 2 || d.First().ID != "r2" || d.Before == nil || d.Before.ID != "r1" || len(d.Also) != 0 {
		t.Errorf("bbb: %+v", d)
	}
	// The second deploy by its ID: that one, with the first one named.
	d, err = reconcile.DeploysOf(history, "r3")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Releases) != 1 || d.First().ID != "r3" || len(d.Also) != 1 || d.Also[0].ID != "r2" || d.Before.ID != "r2" {
		t.Errorf("r3: %+v", d)
	}
	// The very first release has none before it.
	if d, err := reconcile.DeploysOf(history, "aaa3333"); err != nil || d.Before != nil {
		t.Errorf("aaa: %+v %v", d, err)
	}
}

func TestDeploysOfAnUnknownOrAmbiguousReleaseSayWhy(t *testing.T) {
	history := []reconcile.Release{rel("r2", "abc2222", 20), rel("r1", "abd1111", 10)}
	for _, asked := range []string{"", "zzz", "ab"} {
		if _, err := reconcile.DeploysOf(history, asked); !errors.Is(err, reconcile.ErrUnknownRelease) {
			t.Errorf("%q: %v", asked, err)
		}
	}
	if _, err := reconcile.DeploysOf(history, "ab"); err == nil || !strings.Contains(err.Error(), "abc2222, abd1111") {
		t.Errorf("ambiguous does not name the revisions: %v", err)
	}
}

func TestUnderAtIsTheNewestReleaseThen(t *testing.T) {
	history := []reconcile.Release{rel("r2", "b", 20), rel("r1", "a", 10)}
	if u := reconcile.UnderAt(history, r0.Add(15*time.Minute)); u == nil || u.ID != "r1" {
		t.Errorf("under %+v", u)
	}
	if u := reconcile.UnderAt(history, r0); u != nil {
		t.Errorf("before any release: %+v", u)
	}
}
