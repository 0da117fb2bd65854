package cli

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile/environ"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
)

// SkillName is the agent skill's name and its folder under .agents/skills.
const SkillName = "devopsellence-backup"

// Skill is the agent skill `skill install` writes: how an AI agent onboards
// an app, reads status and knows when to ask a human. Its source is
// skill/SKILL.md, reviewed like code; a test checks every command it names.
//
//go:embed skill/SKILL.md
var Skill []byte

// SkillDoc is the JSON result of `skill install`, in the shape of
// devopsellence's own: the first path, then every place it went.
type SkillDoc struct {
	render.Envelope
	// Action is installed, updated or unchanged: the first path's.
	Action  string      `json:"action"`
	Skill   string      `json:"skill"`
	Path    string      `json:"path"`
	Paths   []SkillPath `json:"paths"`
	Version string      `json:"version"`
	Source  string      `json:"source"`
}

// SkillPath is one place the skill was installed, for one kind of agent.
type SkillPath struct {
	Agent  string `json:"agent"`
	Scope  string `json:"scope"`
	Path   string `json:"path"`
	Action string `json:"action"`
}

type skillInstallOptions struct {
	IO *iostreams.Streams
	// Environ gives HOME, for --global.
	Environ []string
	// Getwd is where the project is looked for (the working directory).
	Getwd func() (string, error)
	// Operation names the command in the document it prints.
	Operation string

	// SkillsDir is --dir: a skills folder; Global is --global.
	SkillsDir string
	Global    bool
	Output    string
}

func newSkillCmd(f *Factory, runF func(*skillInstallOptions) error) *cobra.Command {
	skill := &cobra.Command{
		Use:   "skill",
		Short: "Manage the bundled AI agent skill",
		Args:  cobra.NoArgs,
	}
	o := &skillInstallOptions{Getwd: os.Getwd}
	install := &cobra.Command{
		Use:   "install",
		Short: "Install the bundled agent skill for coding agents (project, --global, or --dir SKILLS_DIR)",
		Long: `skill install writes the bundled agent skill, devopsellence-backup/SKILL.md, where
coding agents look for skills, as devopsellence skill install does for its own:

  (default)   the project of the working directory (the nearest folder up with
              devopsellence.yml): .agents/skills/, and .claude/skills/ when
              .claude exists there
  --global    the user's: ~/.agents/skills/, and ~/.claude/skills/ when
              ~/.claude exists
  --dir DIR   one skills folder, DIR/devopsellence-backup/SKILL.md

The skill tells an agent how to onboard the app, read status --output json,
report the evidence, recover data, and when to stop and ask a human. Running
it again brings the files up to date with this version of devopsellence-backup.

EXIT STATUS
  0  installed, updated or already up to date
  1  error
  2  no devopsellence.yml here or above (without --global or --dir), or bad flags`,
		Example: `  devopsellence-backup skill install
  devopsellence-backup skill install --global
  devopsellence-backup skill install --dir ~/work/skills --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO, o.Environ, o.Operation = f.IO(), f.Environ, cmd.CommandPath()
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runSkillInstall)
		},
	}
	fl := install.Flags()
	// --dir is the skills folder here, as for devopsellence skill install;
	// it hides the global --dir (the app root), which this command does not use.
	fl.StringVar(&o.SkillsDir, "dir", "", "install into this skills folder (DIR/devopsellence-backup/SKILL.md)")
	fl.BoolVar(&o.Global, "global", false, "install for the user: ~/.agents/skills, and ~/.claude/skills when ~/.claude exists")
	fl.StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text or json")
	skill.AddCommand(install)
	return skill
}

// skillTarget is one skills folder to install into.
type skillTarget struct{ agent, scope, dir string }

// targets decides where the skill goes.
func (o *skillInstallOptions) targets() ([]skillTarget, error) {
	switch {
	case o.SkillsDir != "" && o.Global:
		return nil, usagef("--dir and --global name different places: give one")
	case o.SkillsDir != "":
		dir, err := filepath.Abs(o.SkillsDir)
		return []skillTarget{{"agents", "custom", dir}}, err
	case o.Global:
		home := environ.Get(o.Environ, "HOME")
		if home == "" {
			return nil, usagef("--global: HOME is not set")
		}
		return withClaude(home, "global"), nil
	}
	wd, err := o.Getwd()
	if err != nil {
		return nil, err
	}
	root, ok := projectRoot(wd)
	if !ok {
		return nil, usagef("no %s in %s or above: run skill install in the app, or pass --global or --dir SKILLS_DIR", ConfigFile, wd)
	}
	return withClaude(root, "project"), nil
}

// withClaude is base/.agents/skills, and base/.claude/skills when
// base/.claude exists (Claude Code reads its own folder).
func withClaude(base, scope string) []skillTarget {
	out := []skillTarget{{"agents", scope, filepath.Join(base, ".agents", "skills")}}
	if fi, err := os.Stat(filepath.Join(base, ".claude")); err == nil && fi.IsDir() {
		out = append(out, skillTarget{"claude", scope, filepath.Join(base, ".claude", "skills")})
	}
	return out
}

// projectRoot is the nearest folder from dir up that holds devopsellence.yml.
func projectRoot(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func runSkillInstall(_ context.Context, o *skillInstallOptions) error {
	if err := checkOutput(o.Output, textOrJSON); err != nil {
		return err
	}
	targets, err := o.targets()
	if err != nil {
		return err
	}
	doc := SkillDoc{Skill: SkillName, Version: buildinfo.Version(), Source: "embedded"}
	for _, t := range targets {
		path := filepath.Join(t.dir, SkillName, "SKILL.md")
		action := "installed"
		if old, err := os.ReadFile(path); err == nil {
			action = "updated"
			if bytes.Equal(old, Skill) {
				action = "unchanged"
			}
		}
		if action != "unchanged" {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return fmt.Errorf("skill install: %w", err)
			}
			if err := store.WriteFile(path, Skill, 0o644); err != nil {
				return fmt.Errorf("skill install: %w", err)
			}
		}
		doc.Paths = append(doc.Paths, SkillPath{Agent: t.agent, Scope: t.scope, Path: path, Action: action})
	}
	doc.Action, doc.Path = doc.Paths[0].Action, doc.Paths[0].Path
	var lines []string
	for _, p := range doc.Paths {
		lines = append(lines, fmt.Sprintf("Skill %s %s at %s.", SkillName, p.Action, p.Path))
	}
	summary := strings.Join(lines, " ")
	if o.Output == render.JSON {
		doc.Envelope = render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.Operation, OK: true, Summary: summary}
		return render.WriteJSON(o.IO.Out, doc)
	}
	_, err = fmt.Fprintln(o.IO.Out, strings.Join(lines, "\n"))
	return err
}
