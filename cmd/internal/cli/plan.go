package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
)

type planOptions struct {
	*globalOptions
	Output           string
	DetailedExitcode bool
	Out              string
}

func newPlanCmd(g *globalOptions) *cobra.Command {
	o := &planOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, store and deploy, changing nothing",
		Long: `plan compares devopsellence.backup.yml with the app and prints: the unified diff
of devopsellence.yml (only the managed backup service blocks change), the
secrets per environment (stored, or missing and where the value would come
from), whether each environment would be deployed, findings with the command
that fixes each, and a one-line summary. It writes nothing.

Without devopsellence on PATH (or --devopsellence), plan still shows the diff
and says that secrets and nodes were not checked.

EXIT STATUS
  0  in sync (with --detailed-exitcode), or the plan was printed
  1  error
  2  invalid input: spec, devopsellence.yml or flags
  3  with --detailed-exitcode: changes are pending`,
		Example: `  devopsellence-backup plan
  devopsellence-backup plan --dir fixtures/example
  devopsellence-backup plan --output json
  devopsellence-backup plan --output markdown --detailed-exitcode
  devopsellence-backup plan --out backup.plan   # then: devopsellence-backup apply backup.plan`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", render.Text, "result format on stdout: text, json or markdown")
	cmd.Flags().BoolVar(&o.DetailedExitcode, "detailed-exitcode", false, "exit 3 when changes are pending, 0 when in sync")
	cmd.Flags().StringVar(&o.Out, "out", "", "also save the plan to FILE, for `devopsellence-backup apply FILE` (no secret values are in it)")
	return cmd
}

func runPlan(ctx context.Context, o *planOptions) error {
	if err := checkOutput(o.Output, render.Text, render.JSON, render.Markdown); err != nil {
		return err
	}
	o.output = o.Output
	w, err := o.workspace()
	if err != nil {
		return err
	}
	p, in, err := w.plan(ctx, nil)
	if err != nil {
		return err
	}
	if o.Out != "" {
		if err := writeSavedPlan(o.Out, o.operation, p, reconcile.InputsOf(w.specFile, in.specRaw, in.observed, p.Service), o.now()); err != nil {
			return err
		}
	}
	switch o.Output {
	case render.JSON:
		err = render.WriteJSON(o.streams.Out, render.NewPlanDoc(o.operation, p))
	case render.Markdown:
		err = render.PlanMarkdown(o.streams.Out, p, render.MaxComment)
	default:
		err = render.PlanText(o.streams.Out, p)
	}
	if err != nil {
		return err
	}
	if o.DetailedExitcode && !p.InSync() {
		return errPending
	}
	return nil
}

func checkOutput(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usagef("--output %q: want one of %v", got, allowed)
}
