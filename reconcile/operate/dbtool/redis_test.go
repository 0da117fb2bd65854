package dbtool

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate/dbtool/dbtest"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	rd := dbtest.StartRedis(t)
	args := []string{"MSET"}
	for i := 0; i < 200; i++ {
		args = append(args, fmt.Sprintf("key:%d", i), fmt.Sprintf("value-%d", i))
	}
	rd.Cmd(t, args...)
	rd.Cmd(t, "-n", "3", "MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
	conn := mustParse(t, Redis, rd.URL())
	source := OnServer(conn)

	t.Run("the summary counts the keys of every database", func(t *testing.T) {
		s, err := Summarize(testCtx(t, time.Minute), source)
		if err != nil {
			t.Fatal(err)
		}
		if s.String() != "205 keys" || s.PerTable["db0"] != 200 || s.PerTable["db3"] != 5 {
			t.Errorf("summary %s %v", s, s.PerTable)
		}
	})

	t.Run("an RDB dump loads into a throwaway redis-server with the same keys", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		file := filepath.Join(t.TempDir(), "redis.rdb")
		if err := DumpToFile(ctx, source, DumpOptions{}, file); err != nil {
			t.Fatal(err)
		}
		got, err := SummarizeRDB(ctx, file, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Summarize(ctx, source)
		if !got.Equal(want) || got.Rows != 205 {
			t.Errorf("loaded %s, source %s: %v", got, want, want.Differences(got))
		}
	})

	t.Run("the dump command for restic passes the password in REDISCLI_AUTH", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		d, err := PrepareDump(ctx, source, DumpOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Cleanup()
		assertArgvClean(t, d.Argv, conn, rd.Password)
		if !slices.Contains(d.Env, "REDISCLI_AUTH="+rd.Password) || strings.Join(d.Argv[len(d.Argv)-2:], " ") != "--rdb -" {
			t.Errorf("argv %q", d.Argv)
		}
		file := filepath.Join(t.TempDir(), "redis.rdb")
		runDump(t, d, file)
		if err := VerifyDump(ctx, Redis, "", file); err != nil {
			t.Fatal(err)
		}
		if err := checkRDB(file, "check"); err != nil {
			t.Errorf("the header check refuses a complete dump: %v", err)
		}
		st, _ := os.Stat(file)
		if err := os.Truncate(file, st.Size()*2/3); err != nil {
			t.Fatal(err)
		}
		if err := VerifyDump(ctx, Redis, "", file); ClassOf(err) != ClassDumpIncomplete || !strings.Contains(err.Error(), "EOF") {
			t.Errorf("a cut RDB: class %q (%v), want dump_incomplete", ClassOf(err), err)
		}
		if err := checkRDB(file, "check"); ClassOf(err) != ClassDumpIncomplete {
			t.Errorf("the header check of a cut RDB: class %q (%v), want dump_incomplete", ClassOf(err), err)
		}
		if _, err := SummarizeRDB(ctx, file, t.TempDir()); ClassOf(err) != ClassVerifyFailed {
			t.Errorf("loading a cut RDB: class %q (%v), want verify_failed", ClassOf(err), err)
		}
	})

	t.Run("a wrong password is auth_failed, and the error shows none of it", func(t *testing.T) {
		ctx := testCtx(t, time.Minute)
		wrong := "Wr0ng/P@ss:w%rd-Zq8"
		u, _ := url.Parse(rd.URL())
		u.User = url.UserPassword("", wrong)
		c := mustParse(t, Redis, u.String())
		err := DumpToFile(ctx, OnServer(c), DumpOptions{}, filepath.Join(t.TempDir(), "x.rdb"))
		if ClassOf(err) != ClassAuthFailed {
			t.Fatalf("dump: class %q (%v), want auth_failed", ClassOf(err), err)
		}
		assertNoSecretIn(t, "the error", err.Error(), c, wrong)
		_, err = Summarize(ctx, OnServer(c))
		if ClassOf(err) != ClassAuthFailed {
			t.Fatalf("summary: class %q (%v), want auth_failed", ClassOf(err), err)
		}
		assertNoSecretIn(t, "the error", err.Error(), c, wrong)
	})
}

func TestRDBHeaderCheckWithoutRedisCheckRDB(t *testing.T) {
	dir := t.TempDir()
	footer := append([]byte{0xff}, "checksum"...)
	mark := []byte(strings.Repeat("0123456789abcdef", 3)[:eofMark])
	tests := map[string]struct {
		body []byte
		ok   bool
	}{
		"complete":                          {append([]byte("REDIS0010\xfa\x00"), footer...), true},
		"complete, with redis-cli's marker": {append(append([]byte("REDIS0010\xfa\x00"), footer...), mark...), true},
		"cut short":                         {[]byte("REDIS0010\xfa\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"), false},
		"not an RDB":                        {[]byte("<html>404</html> and some more text"), false},
		"empty":                             {nil, false},
		"old, no footer":                    {[]byte("REDIS0004\xfe\x00"), true},
	}
	for name, tt := range tests {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, tt.body, 0o600); err != nil {
			t.Fatal(err)
		}
		err := checkRDB(path, "check")
		if (err == nil) != tt.ok || (err != nil && ClassOf(err) != ClassDumpIncomplete) {
			t.Errorf("%s: %v (class %q), want ok=%v", name, err, ClassOf(err), tt.ok)
		}
	}
}
