package cli

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
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

// SkillDoc is the JSON result of `skill install`.
type SkillDoc struct {
	render.Envelope
	// Action is installed, updated or unchanged.
	Action  string `json:"action"`
	Skill   string `json:"skill"`
	Path    string `json:"path"`
	Version string `json:"version"`
}

type skillInstallOptions struct {
	IO *iostreams.Streams
	// Dir is the app root, where the skill goes.
	Dir string
	// Operation names the command in the document it prints.
	Operation string

	Output string
}

func newSkillCmd(f *Factory, runF func(*skillInstallOptions) error) *cobra.Command {
	skill := &cobra.Command{
		Use:   "skill",
		Short: "Manage the bundled AI agent skill",
		Args:  cobra.NoArgs,
	}
	o := &skillInstallOptions{}
	install := &cobra.Command{
		Use:   "install",
		Short: "Write the agent skill to .agents/skills/devopsellence-backup/SKILL.md in the app root",
		Long: `skill install writes the bundled agent skill into the app root (--dir), at
.agents/skills/devopsellence-backup/SKILL.md, where coding agents look for
project skills, next to the one devopsellence skill install writes. The skill
tells an agent how to onboard the app, read status --output json, report the
evidence, and when to stop and ask a human. Running it again brings the file
up to date with this version of devopsellence-backup.

EXIT STATUS
  0  installed, updated or already up to date
  1  error
  2  the app root has no devopsellence.yml, or bad flags`,
		Example: `  devopsellence-backup skill install
  devopsellence-backup skill install --dir ../shop --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO, o.Dir, o.Operation = f.IO(), f.globals.Dir, cmd.CommandPath()
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runSkillInstall)
		},
	}
	install.Flags().StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text or json")
	skill.AddCommand(install)
	return skill
}

func runSkillInstall(_ context.Context, o *skillInstallOptions) error {
	if err := checkOutput(o.Output, textOrJSON); err != nil {
		return err
	}
	root, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, ConfigFile)); errors.Is(err, fs.ErrNotExist) {
		return usagef("no %s in %s: run skill install in the app root, or pass --dir", ConfigFile, root)
	}
	path := filepath.Join(root, ".agents", "skills", SkillName, "SKILL.md")
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
	summary := fmt.Sprintf("Skill %s %s at %s.", SkillName, action, path)
	if o.Output == render.JSON {
		return render.WriteJSON(o.IO.Out, SkillDoc{
			Envelope: render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.Operation, OK: true, Summary: summary},
			Action:   action, Skill: SkillName, Path: path, Version: buildinfo.Version(),
		})
	}
	_, err = fmt.Fprintln(o.IO.Out, summary)
	return err
}
