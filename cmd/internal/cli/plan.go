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

Without devopsellence on PATH (or --devopsellence), plan still shows the diff
and says that secrets and nodes were not checked.

EXIT STATUS
  0  in sync (with --detailed-exitcode), or the plan was printed
  1  error
  2  invalid input: spec, devopsellence.yml, flags, or an --out path refused
  3  with --detailed-exitcode: changes are pending`,
		Example: `  devopsellence-backup plan
  devopsellence-backup plan --dir fixtures/example
  devopsellence-backup plan --output json
  devopsellence-backup plan --output markdown --detailed-exitcode
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
	return cmd
}

func runPlan(ctx context.Context, o *planOptions) error {
	if err := checkOutput(o.Output, planFormats); err != nil {
		return err
	}
	if o.Out == stdoutPath && o.Output != render.Text {
		return usagef("--out - puts the saved plan on stdout, where --output %s would go too: save the plan to a file, or leave out --output", o.Output)
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
	p, in, err := w.plan(ctx, nil)
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
