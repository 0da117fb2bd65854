package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
)

var (
	fencedBlock = regexp.MustCompile("(?s)```[a-z]*\n(.*?)```")
	inlineCode  = regexp.MustCompile("`([^`\n]+)`")
	// A command line ends where the shell or the prose takes over.
	commandEnd = regexp.MustCompile(`\s(#|\||;|&&|>)|[)]`)
)

// skillCode returns the code in the skill, fenced and inline, and its prose.
func skillCode() (code []string, prose string) {
	text := string(cli.Skill)
	for _, m := range fencedBlock.FindAllStringSubmatch(text, -1) {
		code = append(code, strings.Split(m[1], "\n")...)
	}
	text = fencedBlock.ReplaceAllString(text, "")
	for _, m := range inlineCode.FindAllStringSubmatch(text, -1) {
		code = append(code, m[1])
	}
	return code, inlineCode.ReplaceAllString(text, "")
}

// everyFlag lists the long flags of every command in the tree.
func everyFlag(cmd *cobra.Command, into map[string]bool) {
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) { into["--"+f.Name] = true })
	cmd.PersistentFlags().VisitAll(func(f *pflag.Flag) { into["--"+f.Name] = true })
	for _, c := range cmd.Commands() {
		everyFlag(c, into)
	}
}

func TestTheSkillNamesOnlyCommandsAndFlagsThatExist(t *testing.T) {
	code, prose := skillCode()
	flags := map[string]bool{}
	everyFlag(cli.Root(), flags)
	commands := 0
	for _, c := range code {
		for _, part := range strings.Split(c, "devopsellence-backup ")[1:] {
			if loc := commandEnd.FindStringIndex(part); loc != nil {
				part = part[:loc[0]]
			}
			args := strings.Fields(part)
			commands++
			if err := cli.CheckArgs(args); err != nil {
				t.Errorf("`devopsellence-backup %s` does not parse: %v", strings.Join(args, " "), err)
			}
		}
		if strings.HasPrefix(c, "--") {
			for _, tok := range strings.Fields(c) {
				name, _, _ := strings.Cut(tok, "=")
				if strings.HasPrefix(name, "--") && !flags[name] {
					t.Errorf("`%s` names %s, which no command has", c, name)
				}
			}
		}
	}
	if commands < 10 {
		t.Errorf("found %d devopsellence-backup commands in the skill; the extraction is broken", commands)
	}
	if m := regexp.MustCompile(`devopsellence-backup [a-z-]+`).FindString(prose); m != "" {
		t.Errorf("the prose names %q outside code, where this test cannot check it", m)
	}
	if err := cli.CheckArgs([]string{"status", "--no-such-flag"}); err == nil {
		t.Error("CheckArgs accepts an unknown flag, so this test proves nothing")
	}
}

// jsonKeys collects the JSON names of t's fields, recursively.
func jsonKeys(t reflect.Type, into map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || into[t.String()] {
		return
	}
	into[t.String()] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			into[name] = true
		}
		jsonKeys(f.Type, into)
	}
}

func TestTheSkillReadsTheFiveEvidenceItemsFromFieldsStatusPrints(t *testing.T) {
	keys := map[string]bool{}
	jsonKeys(reflect.TypeOf(render.StatusDoc{}), keys)
	text := string(cli.Skill)
	for _, field := range []string{
		"environments", "backups", "name", "age_seconds", "stale", "time", // 1. newest snapshot age
		"operations", "kind", "result", // 2. last check, 5. last drill
		"retention",                     // 3. retention policy
		"repository_type", "repository", // 4. repository without secrets
		"summary", "findings", "severity", "code", "message", "next_actions",
	} {
		if !keys[field] {
			t.Errorf("status --output json has no field %q", field)
		}
		if !strings.Contains(text, "`"+field+"`") && !strings.Contains(text, "`"+field+"[].") {
			t.Errorf("the skill does not name the field %q", field)
		}
	}
	for _, item := range []string{"Newest snapshot age", "Last check result", "Retention policy", "Repository type, without secrets", "Last restore drill"} {
		if !strings.Contains(text, "**"+item+"**") {
			t.Errorf("the skill does not name the evidence item %q", item)
		}
	}
	for _, rule := range []string{"Restoring over live data: only with a person's approval.", "Approving a change: never on your own.", "never\n  pass `--approve` with an ID the human did not give you"} {
		if !strings.Contains(text, rule) {
			t.Errorf("the skill lacks the rule %q", rule)
		}
	}
}

// installSkill runs skill install with args, HOME at home, in process.
func installSkill(t *testing.T, home string, args ...string) (int, cli.SkillDoc, string) {
	t.Helper()
	streams, out, errb := iostreams.Test("")
	code := cli.Main(context.Background(), append([]string{"skill", "install", "--output", "json"}, args...), streams, []string{"HOME=" + home})
	var doc cli.SkillDoc
	_ = json.Unmarshal(out.Bytes(), &doc)
	return code, doc, errb.String()
}

func TestSkillInstallGoesWhereDevopsellencePutsItsOwnSkill(t *testing.T) {
	home, app := t.TempDir(), t.TempDir()
	must(t, os.WriteFile(filepath.Join(app, "devopsellence.yml"), []byte("schema_version: 1\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(app, "config"), 0o755))
	skillAt := func(dir string) string { return filepath.Join(dir, "devopsellence-backup", "SKILL.md") }

	// Outside any app, without --global or --dir: refused, nothing written.
	t.Chdir(home)
	if code, _, stderr := installSkill(t, home); code != operate.ExitUsage || !strings.Contains(stderr, "no devopsellence.yml in "+home+" or above") || !strings.Contains(stderr, "--global or --dir") {
		t.Fatalf("outside an app: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(home, ".agents")); !os.IsNotExist(err) {
		t.Fatal("a refused install wrote .agents")
	}

	// In the app (a folder below its root too): the project's folders,
	// .claude/skills only once .claude exists.
	t.Chdir(filepath.Join(app, "config"))
	projectAgents := filepath.Join(app, ".agents", "skills")
	for i, want := range []string{"installed", "unchanged", "updated"} {
		if i == 2 {
			must(t, os.WriteFile(skillAt(projectAgents), []byte("an older skill\n"), 0o644))
		}
		code, doc, stderr := installSkill(t, home)
		if code != 0 || doc.Action != want || doc.Path != skillAt(projectAgents) || !doc.OK || doc.Skill != "devopsellence-backup" || doc.Source != "embedded" || len(doc.Paths) != 1 {
			t.Fatalf("run %d: exit %d %+v %s", i+1, code, doc, stderr)
		}
		if p := doc.Paths[0]; p.Agent != "agents" || p.Scope != "project" {
			t.Errorf("run %d: %+v", i+1, p)
		}
		if !bytes.Equal(readFile(t, skillAt(projectAgents)), cli.Skill) {
			t.Fatalf("run %d: SKILL.md is not the bundled skill", i+1)
		}
	}
	must(t, os.Mkdir(filepath.Join(app, ".claude"), 0o755))
	code, doc, _ := installSkill(t, home)
	if code != 0 || len(doc.Paths) != 2 || doc.Paths[1].Agent != "claude" || doc.Paths[1].Path != skillAt(filepath.Join(app, ".claude", "skills")) || doc.Paths[1].Action != "installed" {
		t.Fatalf("with .claude: exit %d %+v", code, doc)
	}

	// --global: the user's folders, whatever the working directory.
	must(t, os.Mkdir(filepath.Join(home, ".claude"), 0o755))
	code, doc, _ = installSkill(t, home, "--global")
	if code != 0 || len(doc.Paths) != 2 || doc.Paths[0].Path != skillAt(filepath.Join(home, ".agents", "skills")) || doc.Paths[0].Scope != "global" ||
		doc.Paths[1].Path != skillAt(filepath.Join(home, ".claude", "skills")) {
		t.Fatalf("--global: exit %d %+v", code, doc)
	}

	// --dir is a skills folder, as for devopsellence skill install.
	custom := filepath.Join(t.TempDir(), "skills")
	code, doc, _ = installSkill(t, home, "--dir", custom)
	if code != 0 || len(doc.Paths) != 1 || doc.Path != skillAt(custom) || doc.Paths[0].Scope != "custom" {
		t.Fatalf("--dir: exit %d %+v", code, doc)
	}
	if !bytes.Equal(readFile(t, skillAt(custom)), cli.Skill) {
		t.Error("--dir: SKILL.md is not the bundled skill")
	}
	if code, _, stderr := installSkill(t, home, "--dir", custom, "--global"); code != operate.ExitUsage || !strings.Contains(stderr, "--dir and --global") {
		t.Errorf("--dir with --global: exit %d %s", code, stderr)
	}
}

func TestTheSkillsFrontMatterHasTheFieldsOfDevopsellencesOwnSkill(t *testing.T) {
	text := string(cli.Skill)
	if !strings.HasPrefix(text, "---\n") {
		t.Fatal("the skill does not start with front matter")
	}
	front, _, ok := strings.Cut(strings.TrimPrefix(text, "---\n"), "\n---\n")
	if !ok {
		t.Fatal("the front matter is not closed")
	}
	var fm struct {
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
		Version     string `yaml:"version"`
		Metadata    struct {
			OpenClaw struct {
				Requires struct {
					Bins []string `yaml:"bins"`
				} `yaml:"requires"`
				Homepage string `yaml:"homepage"`
			} `yaml:"openclaw"`
		} `yaml:"metadata"`
	}
	dec := yaml.NewDecoder(strings.NewReader(front))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil {
		t.Fatalf("front matter: %v", err)
	}
	if fm.Name != cli.SkillName || len(fm.Description) < 80 || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(fm.Version) ||
		!slices.Contains(fm.Metadata.OpenClaw.Requires.Bins, "devopsellence-backup") || !slices.Contains(fm.Metadata.OpenClaw.Requires.Bins, "devopsellence") ||
		!strings.HasPrefix(fm.Metadata.OpenClaw.Homepage, "https://") {
		t.Errorf("front matter = %+v", fm)
	}
}

func TestTheSkillTeachesRecoveryAndTheEscapeHatch(t *testing.T) {
	code, _ := skillCode()
	used := map[string]bool{}
	for _, c := range code {
		for _, part := range strings.Split(c, "devopsellence-backup ")[1:] {
			if f := strings.Fields(part); len(f) > 0 {
				used[f[0]] = true
			}
		}
	}
	for _, cmd := range []string{"snapshots", "ls", "find", "restore", "dump", "status", "drill", "check", "rotate-secret", "skill"} {
		if !used[cmd] {
			t.Errorf("the skill never runs devopsellence-backup %s", cmd)
		}
	}
	text := string(cli.Skill)
	for _, want := range []string{"devopsellence exec backup --env production -- restic snapshots", "has no command that writes backups over live data"} {
		if got := strings.Contains(text, want); got != (want != "has no command that writes backups over live data") {
			t.Errorf("the skill contains %q: %v", want, got)
		}
	}
}
