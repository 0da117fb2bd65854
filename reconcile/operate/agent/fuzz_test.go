package agent

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate/restic"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// The app writes its volumes and anyone with the repository password
// writes snapshots and tags: FuzzTheAgentsReadersTakeNoDirection feeds
// arbitrary journal files (as the app could write them, and sealed, as
// from a buggy agent) and arbitrary snapshot tag sets to what reads them.
// However they read, nothing outside the restore's own folders (its
// scratch folders and the targets a sealed journal names, inside the
// volumes) is touched, a journal the agent cannot open touches nothing at
// all, and no snapshot that is not this app's is ever picked, listed as
// the newest backup or forgotten.
func FuzzTheAgentsReadersTakeNoDirection(f *testing.F) {
	plan := "0123456789ab"
	for _, seed := range []struct {
		journal string
		seal    bool
		tags    string
	}{
		{`{"plan":"x","scratch":["{{REPO}}"],"moves":[]}`, false, "0 5 app:shop,env:production,kind:files"},
		{`{"version":1,"plan":"` + plan + `","targets":["{{VOL}}/uploads"],"scratch":["{{VOL}}/.devopsellence-restore-` + plan + `","{{REPO}}"],"state":"prepared"}`, true, "0 1 app:shop,env:production,app-id:a1b2c3d4e5f6,kind:files\n0 9 app:shop,env:production,kind:files"},
		{`{"version":1,"plan":"` + plan + `","targets":["{{VOL}}/uploads"],"scratch":["{{VOL}}/.devopsellence-restore-` + plan + `"],"state":"moving","moves":[{"from":"{{OUT}}/keep.txt","to":"{{VOL}}/.devopsellence-restore-` + plan + `/x","aside":"{{OUT}}/a"}]}`, true, "1 3 app:shop,env:production,app-id:a1b2c3d4e5f6,kind:db,db:main"},
		{`{"version":1,"plan":"` + plan + `","targets":["{{VOL}}/link"],"scratch":["{{VOL}}/.devopsellence-restore-` + plan + `"],"state":"moving","moves":[{"from":"{{VOL}}/link/keep.txt","to":"{{VOL}}/.devopsellence-restore-` + plan + `/old/k","aside":"{{VOL}}/.devopsellence-restore-` + plan + `/appeared/0"}]}`, true, "0 2 app:shop,env:production,app-id:other,kind:files,pre-restore:x,restore-of:y"},
		{`{"version":1,"plan":"` + plan + `","targets":["{{VOL}}/uploads"],"scratch":["{{VOL}}/.devopsellence-restore-` + plan + `"],"state":"moving","moves":[{"from":"{{VOL}}/uploads","to":"{{VOL}}/.devopsellence-restore-` + plan + `/old/u","aside":"{{VOL}}/.devopsellence-restore-` + plan + `/appeared/0"}],"done":0}`, true, "0 0 app:shop,env:production,app-id:a1b2c3d4e5f6,devopsellence-backup:evidence,evidence:restore,restore-of:zz"},
		{"\x00{not json", false, "\x01\xff,,,"},
	} {
		f.Add([]byte(seed.journal), seed.seal, []byte(seed.tags))
	}
	f.Fuzz(func(t *testing.T, raw []byte, seal bool, tags []byte) {
		base := t.TempDir()
		vol, other, out, repo := filepath.Join(base, "vol"), filepath.Join(base, "other"), filepath.Join(base, "out"), filepath.Join(base, "repo")
		writeFiles(t, vol, map[string]string{"uploads/a.txt": "a", "data.txt": "d"})
		writeFiles(t, other, map[string]string{"b.txt": "b"})
		writeFiles(t, out, map[string]string{"keep.txt": "outside every volume"})
		writeFiles(t, repo, map[string]string{"config": "the repository"})
		must(t, os.Symlink(out, filepath.Join(vol, "link")))
		env := []string{"RESTIC_PASSWORD=pw"}
		a := &Agent{Config: spec.AgentConfig{Paths: []string{vol, other}, AppID: "a1b2c3d4e5f6", Host: "shop-production", Tags: []string{"app:shop", "env:production"}},
			Environ: env, Now: time.Now, Out: &Output{Stderr: io.Discard, Stdout: io.Discard, Now: time.Now},
			restic: &restic.Runner{Bin: "/nonexistent/restic"}, jkey: journalKey(env, "a1b2c3d4e5f6")}
		a.scrub = func(s string) string { return s }
		a.Out.Scrub = a.scrub

		text := strings.NewReplacer("{{VOL}}", vol, "{{OUT}}", out, "{{REPO}}", repo).Replace(string(raw))
		data := []byte(text)
		if seal && json.Valid(data) {
			sealedData, _ := json.Marshal(sealed{Body: json.RawMessage(text), MAC: hex.EncodeToString(a.mac([]byte(text)))})
			data = sealedData
		}
		dir := filepath.Join(vol, scratchPrefix+plan)
		writeFiles(t, dir, map[string]string{"new/n.txt": "restored"})
		must(t, os.WriteFile(filepath.Join(dir, journalName), data, 0o600))

		before := tree(t, base)
		a.restoreFolders()
		if after := tree(t, base); !maps(before, after) {
			t.Fatalf("status, which only reads, changed files: %v", changed(before, after))
		}
		// What a sealed journal that the agent accepts may touch: its
		// scratch folders and targets; anything else, nothing.
		var own []string
		var j journal
		if a.readSealed(filepath.Join(dir, journalName), &j) == nil && a.checkJournal(&j, dir) == nil {
			own = append(slices.Clone(j.Scratch), j.Targets...)
		}
		a.finishSwaps(context.Background(), RunOptions{})
		after := tree(t, base)
		for _, p := range changed(before, after) {
			mayChange := slices.ContainsFunc(own, func(o string) bool { return under(p, o) })
			if !mayChange || !(under(p, vol) || under(p, other)) || under(p, out) || under(p, repo) {
				t.Errorf("%s changed; the journal's own folders are %v", p, own)
			}
		}
		if after[filepath.Join(out, "keep.txt")] != "file outside every volume" || after[filepath.Join(repo, "config")] != "file the repository" {
			t.Fatalf("a folder outside the volumes was touched: %v", changed(before, after))
		}

		// Snapshot tag sets: one snapshot per line, host by its first
		// byte, age by its second, tags after a space.
		var list []restic.Snapshot
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for i, line := range strings.Split(string(tags), "\n") {
			if len(line) < 2 {
				continue
			}
			host := "shop-production"
			if line[0]%2 == 1 {
				host = "other-production"
			}
			_, rest, _ := strings.Cut(line[2:], " ")
			list = append(list, restic.Snapshot{ID: strings.Repeat(string(rune('a'+i%26)), 8) + hex.EncodeToString([]byte{byte(i)}),
				Time: now.Add(-time.Duration(line[1]) * time.Hour), Hostname: host, Paths: []string{vol, other}, Tags: strings.Split(rest, ",")})
		}
		id := a.identity()
		first := time.Time{}
		for _, s := range list {
			if id.Owner(toShared([]restic.Snapshot{s})[0]) == operate.Ours && (first.IsZero() || s.Time.Before(first)) {
				first = s.Time
			}
		}
		ours := func(s operate.Snapshot) bool {
			switch id.Owner(s) {
			case operate.Ours:
				return true
			case operate.Legacy:
				return first.IsZero() || !s.Time.After(first)
			}
			return false
		}
		trusted := a.trusted(list)
		for _, s := range trusted {
			if !ours(toShared([]restic.Snapshot{s})[0]) {
				t.Errorf("snapshot %s (host %s, tags %q) is read as this app's", s.ID, s.Hostname, s.Tags)
			}
		}
		for _, latest := range []string{"files", "db:main"} {
			if i := latestOf(trusted, latest, a.Config.Paths, now); i >= 0 && (!ours(toShared(trusted[i : i+1])[0]) || operate.Suspect(toShared(trusted[i : i+1])[0])) {
				t.Errorf("--latest %s picks %s (tags %q)", latest, trusted[i].ID, trusted[i].Tags)
			}
		}
		backups, _ := operate.ParsePolicy([]string{"--keep-last", "1"})
		undo, _ := operate.ParsePolicy([]string{"--keep-within", "1d"})
		sel := operate.SelectForget(toShared(list), id, map[string]operate.Policy{operate.KindBackups: backups, operate.KindUndo: undo}, now)
		for _, s := range sel.Forget {
			if !ours(s) || operate.InFuture(s.Time, now) {
				t.Errorf("prune would forget %s (host %s, tags %q)", s.ID, s.Hostname, s.Tags)
			}
		}
		st := operate.Summarize(toShared(list), id, now)
		for _, g := range st.Groups {
			if g.Newest == nil {
				continue
			}
			i := slices.IndexFunc(list, func(s restic.Snapshot) bool { return s.ID == g.Newest.ID })
			if i < 0 || !ours(toShared(list[i : i+1])[0]) {
				t.Errorf("status counts %s as the newest backup of %s", g.Newest.ID, g.Kind)
			}
		}
	})
}

// tree maps every entry under root to what it is: a file's content, a
// link's target, or a folder.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[p] = "link " + l
		case d.IsDir():
			out[p] = "dir"
		default:
			b, _ := os.ReadFile(p)
			out[p] = "file " + string(b)
		}
		return nil
	})
	return out
}

func maps(a, b map[string]string) bool { return len(changed(a, b)) == 0 }

// changed lists the paths added, removed or changed from a to b.
func changed(a, b map[string]string) []string {
	var out []string
	for p, v := range b {
		if a[p] != v {
			out = append(out, p)
		}
	}
	for p := range a {
		if _, ok := b[p]; !ok {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
