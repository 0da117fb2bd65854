package spec

import (
	"strings"
	"testing"
)

func TestRestorePointRetentionParsesAndReachesTheAgentOnlyWhenNotTheDefault(t *testing.T) {
	b := mustParse(t, base+"  checkpoint:\n    retention:\n      keepLast: 3\n      keepReleases: 2\n      keepWithin: 7d\n")
	es := b.ForEnvironment("production", "shop")
	if es.PointRetention != (PointRetention{KeepLast: 3, KeepReleases: 2, KeepWithin: "7d"}) {
		t.Errorf("PointRetention = %+v", es.PointRetention)
	}
	env := es.Agent("id").Env()
	want := "--keep-last 3 --keep-releases 2 --keep-within 7d"
	if env[AgentPointRetention] != `["--keep-last","3","--keep-releases","2","--keep-within","7d"]` {
		t.Errorf("%s = %q, want %q", AgentPointRetention, env[AgentPointRetention], want)
	}
	got, err := ParseAgentEnv(func(k string) string { return env[k] })
	if err != nil || strings.Join(got.PointRetention, " ") != want {
		t.Errorf("read back %q, %v", got.PointRetention, err)
	}
	// The default renders nothing, so services deployed before restore
	// points had a rule do not change, and reads back as the default.
	plain := mustParse(t, base).ForEnvironment("production", "shop")
	penv := plain.Agent("id").Env()
	if v, ok := penv[AgentPointRetention]; ok {
		t.Errorf("%s rendered for the default: %q", AgentPointRetention, v)
	}
	back, err := ParseAgentEnv(func(k string) string { return penv[k] })
	if err != nil || strings.Join(back.PointRetention, " ") != "--keep-last 10 --keep-releases 5" {
		t.Errorf("default read back as %q, %v", back.PointRetention, err)
	}
}

func TestRestorePointRetentionThatKeepsNothingOrCannotBeReadIsRefused(t *testing.T) {
	checkProblems(t, parseErr(base+"  checkpoint:\n    retention: {}\n"), []string{
		file + "10: spec.checkpoint.retention: set at least one of keepLast, keepReleases and keepWithin",
	})
	checkProblems(t, parseErr(base+"  checkpoint:\n    retention:\n      keepReleases: -1\n      keepWithin: \"7\"\n"), []string{
		file + "11: spec.checkpoint.retention.keepReleases: must not be negative",
		file + "12: spec.checkpoint.retention.keepWithin: \"7\" is not a restic duration (want e.g. 30d, 1y6m or 2y5m7d3h)",
	})
	checkProblems(t, parseErr(base+"  checkpoint:\n    retention:\n      keepDaily: 7\n"), []string{
		file + "10: spec.checkpoint.retention: set at least one of keepLast, keepReleases and keepWithin",
		file + "11: spec.checkpoint.retention.keepDaily: unknown field (want one of keepLast, keepReleases, keepWithin)",
	})
}
