package cli_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestCopiesAndRestoresNeverLeakASecretValue(t *testing.T) {
	forEachRestic(t, func(t *testing.T, rb resticBin) {
		// The copy's URL is a secret: its value, a folder here, must not show.
		copyRepo := filepath.Join(t.TempDir(), "leak-offsite-url-"+strings.ReplaceAll(rb.version, ".", "-"))
		secrets := map[string]string{
			"RESTIC_PASSWORD":         "leak-restic-password-" + rb.version,
			"OFFSITE_REPOSITORY":      copyRepo,
			"OFFSITE_RESTIC_PASSWORD": "leak-offsite-password-" + rb.version,
		}
		resticArgv := filepath.Join(t.TempDir(), "restic.argv")
		app := newOpsApp(t, rb, opsConfig{
			extra:   "  copies:\n    - name: offsite\n      repository:\n        urlSecret: OFFSITE_REPOSITORY\n        type: local\n      passwordSecret: OFFSITE_RESTIC_PASSWORD",
			secrets: secrets,
			bin:     map[string]string{"restic": strings.NewReplacer("ARGV", resticArgv, "RESTIC", rb.path).Replace(argvRestic)},
		})
		vol := app.sim.VolumeDir("shop_storage")
		seedShop(t, vol, nil)
		var seen bytes.Buffer
		run := func(want int, args ...string) string {
			t.Helper()
			r := app.cli(t, append(args, "-v", "2", "--log-format", "json")...)
			if r.code != want {
				t.Fatalf("%v: exit %d, want %d\n%s\n%s", args, r.code, want, r.stdout, r.stderr)
			}
			seen.WriteString(r.stdout + r.stderr)
			return r.stdout
		}
		run(1, "backup", "--no-copy") // the primary does not exist yet: restic says so, with its location
		run(1, "copy")                // the copy does not exist yet
		run(0, "backup", "--init")    // creates both
		run(0, "snapshots", "--from-copy", "offsite")
		run(0, "find", "doc-1.txt", "--from-copy", "offsite")
		id := app.newest(t, "kind:files")
		var dry struct{ Plan struct{ ID string } }
		must(t, json.Unmarshal([]byte(run(0, "restore", id[:8], "/data/shop_storage/uploads", "--dry-run", "--output", "json")), &dry))
		run(0, "restore", id[:8], "/data/shop_storage/uploads", "--approve", dry.Plan.ID)
		run(1, "status") // check and drill are missing; the copy is fresh
		if !strings.Contains(seen.String(), "(secret OFFSITE_REPOSITORY, type local)") {
			t.Fatalf("the copy was never shown, so this test could not see a leak:\n%s", seen.String())
		}
		scan := map[string][]byte{
			"stdout and stderr": seen.Bytes(),
			"call log":          readFile(t, app.sim.CallLog),
			"devopsellence.yml": readFile(t, filepath.Join(app.sim.Workspace, "devopsellence.yml")),
			"restic's argv":     readFile(t, resticArgv),
		}
		for _, kind := range []string{"backup", "copy", "restore"} {
			for _, s := range app.snapshots(t, "--tag", "evidence:"+kind) {
				scan["evidence "+s.ID[:8]] = app.restic(t, "--no-lock", "dump", s.ID, "/devopsellence-backup/evidence-"+kind+".json")
			}
		}
		for where, b := range scan {
			for name, v := range secrets {
				if bytes.Contains(b, []byte(v)) {
					t.Errorf("the value of %s leaked into %s", name, where)
				}
			}
		}
	})
}
