package cli

import (
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/agentcmd"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/logging"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile/devopsellence"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// newRootCmd builds the command tree. The root parses the global flags into
// f and, before any command runs, starts logging from them.
func newRootCmd(f *Factory) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "devopsellence-backup",
		Short: "Reconcile and operate restic backups of a devopsellence app",
		Long: `devopsellence-backup reads a desired-state backup spec (devopsellence.backup.yml),
compares it with the app's devopsellence.yml and stored secrets, and converges
them: it patches only the managed backup service block, stores missing secrets
through devopsellence, validates and deploys. Then it operates the backups.

EXIT STATUS
  0    success (plan: in sync)
  1    error
  2    usage error or invalid input (spec, devopsellence.yml, flags)
  3    with --detailed-exitcode: changes are pending
  130  interrupted`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          rootArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				return runCommand(cmd.Context(), &versionOptions{IO: f.IO(), Output: render.JSON}, render.JSON, nil, runVersion)
			}
			return own(cmd.Help(), "")
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			dedupeLists(cmd, "env", "environments")
			return f.startLogging(cmd)
		},
	}
	g := &f.globals
	pf := root.PersistentFlags()
	pf.StringVar(&g.Dir, "dir", ".", "the app root (where devopsellence.yml is)")
	pf.StringVar(&g.SpecPath, "spec", "", "the backup spec (default <dir>/"+spec.DefaultFile+")")
	pf.StringVar(&g.Devopsellence, "devopsellence", "devopsellence", "the devopsellence binary (a path, or a name on PATH)")
	pf.IntVarP(&g.Verbosity, "verbosity", "v", 0, "log detail on stderr: 0 operator, 1 decisions and every external command, 2 payload tracing")
	pf.StringVar(&g.LogFormat, "log-format", logging.FormatConsole, "log format on stderr: console, or json (then every stderr line is a JSON log entry)")
	pf.DurationVar(&g.CallTimeout, "call-timeout", devopsellence.DefaultTimeout, "deadline of each bounded devopsellence call (secret, config, node)")
	pf.DurationVar(&g.DeployTimeout, "deploy-timeout", devopsellence.DefaultDeployTimeout, "deadline of each devopsellence deploy")
	root.Flags().BoolVar(&showVersion, "version", false, "print the version as JSON, as the version command does")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newPlanCmd(f, nil), newApplyCmd(f, nil), newInitCmd(f, nil), newRunCmd(f, nil), newVersionCmd(f, nil), newSkillCmd(f, nil), newRotateCmd(f, nil))
	root.AddCommand(operateCommands(f)...)
	root.AddCommand(recoveryCommands(f)...)
	root.AddCommand(agentcmd.New(agentcmd.Deps{IO: f.IO, Environ: f.Environ, Clock: f.Clock}, nil))
	return root
}

// dedupeLists drops repeated values of the named list flags, keeping the
// first of each in order: `--env production --env production` names one
// environment, to operate on once.
func dedupeLists(cmd *cobra.Command, names ...string) {
	for _, name := range names {
		fl := cmd.Flags().Lookup(name)
		if fl == nil || !fl.Changed {
			continue
		}
		list, ok := fl.Value.(pflag.SliceValue)
		if !ok {
			continue
		}
		var uniq []string
		for _, v := range list.GetSlice() {
			if !slices.Contains(uniq, v) {
				uniq = append(uniq, v)
			}
		}
		_ = list.Replace(uniq) // a string list accepts any strings
	}
}
