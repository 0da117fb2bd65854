package cli

import (
	"context"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
)

type planOptions struct {
	IO        *iostreams.Streams
	LogJSON   bool
	Now       func() time.Time
	Workspace func() (*workspace, error)
	// Operation names the command in the documents it prints.
	Operation string

	Output           string
	DetailedExitcode bool
	Out              string
	ConfigOnly       bool
}

func newPlanCmd(f *Factory, runF func(*planOptions) error) *cobra.Command {
	o := &planOptions{Now: f.Clock.Now, Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, store and deploy, changing nothing",
		Long: `plan compares devopsellence.backup.yml with the app and prints: the unified diff
of devopsellence.yml (only the managed backup service blocks change), the
secrets per environment (stored, or missing and where the value would come
from), whether each environment would be deployed, findings with the command
that fixes each, and a one-line summary. It writes nothing but --out.

--out FILE writes only to a regular file or a new path (a symlink to a
regular file is followed); a device, FIFO, socket, folder, read-only file,
devopsellence.yml, the spec or devopsellence-backup's own state is refused
with exit 2 and left as it is. --out - writes the saved plan to stdout.

--config-only plans from the files alone, for a pull request on a runner
with no devopsellence state (a GitHub-hosted runner): the diff, the spec
checked against the app, and the findings that need no state. devopsellence
is not run; stored secrets, nodes and deploys are "not checked here", and
--detailed-exitcode exits 3 only for a change to devopsellence.yml. When
devopsellence cannot be run, or has no mode for this workspace, plan does the
same by itself and says so.

EXIT STATUS
  0  in sync (with --detailed-exitcode), or the plan was printed
  1  error
  2  invalid input: spec, devopsellence.yml, flags, or an --out path refused
  3  with --detailed-exitcode: changes are pending (from the files alone:
     a change to devopsellence.yml)`,
		Example: `  devopsellence-backup plan
  devopsellence-backup plan --dir fixtures/example
  devopsellence-backup plan --output json
  devopsellence-backup plan --output markdown --detailed-exitcode
  devopsellence-backup plan --config-only --output markdown --detailed-exitcode   # a hosted runner
  devopsellence-backup plan --out backup.plan   # then: devopsellence-backup apply backup.plan`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO, o.LogJSON, o.Operation = f.IO(), f.LogJSON(), cmd.CommandPath()
			return runCommand(cmd.Context(), o, promised(o.Output, planFormats), runF, runPlan)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text, json or markdown")
	cmd.Flags().BoolVar(&o.DetailedExitcode, "detailed-exitcode", false, "exit 3 when changes are pending, 0 when in sync")
	cmd.Flags().StringVar(&o.Out, "out", "", "also save the plan to `FILE`, for devopsellence-backup apply FILE (no secret values are in it); - for stdout (the plan shown goes to stderr)")
	cmd.Flags().BoolVar(&o.ConfigOnly, "config-only", false, "plan from the files alone, without devopsellence: secrets, nodes and deploys are not checked (a runner with no devopsellence state)")
	return cmd
}

func runPlan(ctx context.Context, o *planOptions) error {
	if err := checkOutput(o.Output, planFormats); err != nil {
		return err
	}
	if o.Out == stdoutPath && o.Output != render.Text {
		return usagef("--out - puts the saved plan on stdout, where --output %s would go too: save the plan to a file, or leave out --output", o.Output)
	}
	if o.Out != "" && o.ConfigOnly {
		return usagef("--out saves a plan with the stored secrets it was made against, which --config-only does not check: save the plan on the machine that deploys, without --config-only")
	}
	w, err := o.Workspace()
	if err != nil {
		return err
	}
	if o.Out != "" && o.Out != stdoutPath {
		if err := w.checkOutPath("--out", o.Out); err != nil {
			return err
		}
	}
	p, in, err := w.review(ctx, o.ConfigOnly)
	if err != nil {
		return err
	}
	shown := o.IO.Out
	if o.Out != "" {
		// With --out -, stdout is the saved plan; people read the plan on stderr.
		sp, err := savedPlan(o.Operation, p, reconcile.InputsOf(w.specFile, in.specRaw, in.observed, p.Service), o.Now())
		if err != nil {
			return err
		}
		if o.Out == stdoutPath {
			if _, err := o.IO.Out.Write(sp); err != nil {
				return err
			}
			shown = o.IO.Err
			if o.LogJSON {
				shown = io.Discard // stderr stays JSON log lines
			}
		} else if err := store.WriteFile(o.Out, sp, 0o644); err != nil {
			return err
		}
	}
	switch o.Output {
	case render.JSON:
		err = render.WriteJSON(shown, render.NewPlanDoc(o.Operation, p))
	case render.Markdown:
		err = render.PlanMarkdown(shown, p, render.MaxComment)
	default:
		err = render.PlanText(shown, p)
	}
	if err != nil {
		return err
	}
	if o.DetailedExitcode && !p.InSync() {
		return errPending
	}
	return nil
}

// review plans for people to read: from the files alone with configOnly,
// and also when devopsellence has no state for this app on this machine
// (not installed, or no mode: a hosted CI runner), where every secret would
// look unchecked and every environment undeployed.
func (w *workspace) review(ctx context.Context, configOnly bool) (*reconcile.Plan, *inputs, error) {
	if configOnly {
		in, err := w.read()
		if err != nil {
			return nil, nil, err
		}
		in.observed.ConfigOnly = "--config-only"
		p, err := reconcile.Diff(in.desired, in.observed, nil)
		return p, in, err
	}
	in, err := w.observe(ctx)
	if err != nil {
		return nil, nil, err
	}
	if in.observed.Unchecked != nil {
		// Decided before diffing, so that the file is patched and its
		// patched copy held once.
		in.observed.ConfigOnly = "detected: devopsellence has no state for this app on this machine"
	}
	p, err := reconcile.Diff(in.desired, in.observed, nil)
	return p, in, err
}
