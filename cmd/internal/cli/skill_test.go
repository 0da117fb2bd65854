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

	"github.com/devopsellence/devopsellence-backup/cmd/internal/cli"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
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
	for _, rule := range []string{"Restoring over live data: never.", "Approving a change: never on your own."} {
		if !strings.Contains(text, rule) {
			t.Errorf("the skill lacks the rule %q", rule)
		}
	}
}

func TestSkillInstallWritesTheSkillInTheAppRootAndKeepsItUpToDate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".agents", "skills", "devopsellence-backup", "SKILL.md")
	install := func() (int, cli.SkillDoc, string) {
		streams, out, errb := iostreams.Test("")
		code := cli.Main(context.Background(), []string{"skill", "install", "--dir", dir, "--output", "json"}, streams, nil)
		var doc cli.SkillDoc
		_ = json.Unmarshal(out.Bytes(), &doc)
		return code, doc, errb.String()
	}
	if code, _, stderr := install(); code != cli.ExitUsage || !strings.Contains(stderr, "no devopsellence.yml") {
		t.Fatalf("without devopsellence.yml: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".agents")); !os.IsNotExist(err) {
		t.Fatal("a failed install wrote .agents")
	}
	if err := os.WriteFile(filepath.Join(dir, "devopsellence.yml"), []byte("schema_version: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"installed", "unchanged", "updated"} {
		if i == 2 {
			if err := os.WriteFile(path, []byte("an older skill\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		code, doc, stderr := install()
		if code != 0 || doc.Action != want || doc.Path != path || !doc.OK || doc.Skill != "devopsellence-backup" {
			t.Fatalf("run %d: exit %d %+v %s", i+1, code, doc, stderr)
		}
		if !bytes.Equal(readFile(t, path), cli.Skill) {
			t.Fatalf("run %d: SKILL.md is not the bundled skill", i+1)
		}
	}
	if !slices.Contains(strings.Split(string(cli.Skill), "\n"), "name: devopsellence-backup") {
		t.Error("the skill's front matter does not name it")
	}
}
