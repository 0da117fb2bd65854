package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/iostreams"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/spec"
)

func newStatusCmd(f *Factory, runF func(*operateOptions) error) *cobra.Command {
	o := new(newOperateOptions(f))
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Report the backup evidence of each environment, read from the repository",
		Long: `status reads, inside the backup service and without taking a lock, this app's
snapshots (by --host and tags; another app's snapshots in a shared repository
are never counted) and the newest evidence that backup, check, prune and drill
stored in the repository, so it works from any machine that can reach the
repository, with nothing kept locally. Per environment it reports the age of
the newest snapshot of the files and of each database, the last check, prune
and drill (time and result), the retention policy, and the repository's type
and location without secrets, and whether the image lacks a tool the spec needs.

Evidence older than the spec's freshness limits (defaults: backup 26h, check
8d, drill 35d), missing or failed is a finding, each with the command that
fixes it.

EXIT STATUS
  0  every environment's evidence is fresh and ok
  1  something is stale, missing or failed (see findings), or error
  2  usage error or invalid input`,
		Example: `  devopsellence-backup status
  devopsellence-backup status --env production --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.bind(f, cmd)
			return runCommand(cmd.Context(), o, promised(o.Output, textOrJSON), runF, runStatus)
		},
	}
	o.addFlags(cmd, operate.OpStatus)
	return cmd
}

func runStatus(ctx context.Context, o *operateOptions) error {
	w, in, envs, err := o.prepare()
	if err != nil {
		return err
	}
	runs, err := o.run(ctx, w, in, envs, func(string) operate.RunRequest { return &operate.StatusRequest{Now: o.Now().UTC()} })
	if err != nil && !errors.Is(err, errStopped) {
		return err
	}
	stopped := err != nil
	now := o.Now().UTC()
	doc := render.StatusDoc{
		Envelope:     render.Envelope{SchemaVersion: render.SchemaVersion, Operation: o.Operation},
		Findings:     []reconcile.Finding{},
		Environments: []*operate.Report{},
	}
	var fresh, bad []string
	for _, r := range runs {
		report := operate.Assess(in.desired.Envs[r.env], in.desired.Service, r.outcome, now)
		// Assess explains what the agent reported; without a report, the
		// run's own findings say why there is none.
		fs := report.Findings
		if r.outcome.Status == nil && len(r.findings) > 0 {
			fs = r.findings
		} else {
			fs = append(fs, r.findings...)
		}
		report.Findings = fs
		doc.Findings = append(doc.Findings, fs...)
		doc.Environments = append(doc.Environments, report)
		if report.OK() {
			fresh = append(fresh, r.env)
		} else {
			bad = append(bad, r.env)
		}
	}
	doc.OK = len(bad) == 0
	doc.Summary = statusSummary(fresh, bad, doc.Findings)
	return o.finish(func(v render.OperateView) error { return v.Status(doc) }, ended(stopped, !doc.OK, false))
}

func statusSummary(fresh, bad []string, fs []reconcile.Finding) string {
	if len(bad) == 0 {
		return fmt.Sprintf("Evidence is fresh and ok in %s.", strings.Join(fresh, ", "))
	}
	var codes []string
	for _, f := range fs {
		if (f.Severity == reconcile.SeverityError || f.Severity == reconcile.SeverityWarning) && !slices.Contains(codes, f.Code) {
			codes = append(codes, f.Code)
		}
	}
	return fmt.Sprintf("Attention needed in %s: %s.", strings.Join(bad, ", "), strings.Join(codes, ", "))
}

type imageOptions struct {
	IO        *iostreams.Streams
	Workspace func() (*workspace, error)

	Envs []string
}

func newImageCmd(f *Factory, runF func(*imageOptions) error) *cobra.Command {
	o := &imageOptions{Workspace: f.Workspace}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Print a Dockerfile for a backup image with restic and exactly the database clients the spec needs",
		Long: `image prints on stdout a small, commented Dockerfile for the backup service's
image: restic copied from its official image at a pinned release, and the
Debian packages of exactly the database clients the spec's databases need
(` + strings.Join(clientPackages(), ", ") + `). Build and push it, then set
spec.image. status reports a deployed image that lacks a needed tool.

EXIT STATUS
  0  printed
  1  error
  2  usage error or invalid input`,
		Example: `  devopsellence-backup image > Dockerfile.backup
  docker build -t registry.example.com/app-backup:1 -f Dockerfile.backup .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.IO = f.IO()
			return runCommand(cmd.Context(), o, "", runF, runImage)
		},
	}
	cmd.Flags().StringSliceVar(&o.Envs, "env", nil, "environments the image serves (default: every environment the spec covers)")
	return cmd
}

// clientPackages are the Debian packages image may install: those of
// every engine's clients.
func clientPackages() []string {
	var out []string
	all := []spec.Database{{Engine: spec.EnginePostgres}, {Engine: spec.EngineMySQL}, {Engine: spec.EngineRedis}, {Engine: spec.EngineSQLite}}
	for _, t := range operate.ToolsFor(all) {
		if t.Package != "restic" && t.Package != "" && !slices.Contains(out, t.Package) {
			out = append(out, t.Package)
		}
	}
	return out
}

func runImage(_ context.Context, o *imageOptions) error {
	w, err := o.Workspace()
	if err != nil {
		return err
	}
	in, err := w.read()
	if err != nil {
		return err
	}
	envs, err := coveredEnvs(w, in, o.Envs)
	if err != nil {
		return err
	}
	var specs []spec.EnvSpec
	for _, e := range envs {
		specs = append(specs, in.desired.Envs[e])
	}
	if len(specs) == 0 {
		return errors.New("image: no environment to serve")
	}
	agentImage := ""
	if v, ok := buildinfo.Release(); ok {
		agentImage = operate.ImageFor(v)
	}
	_, err = fmt.Fprint(o.IO.Out, operate.Dockerfile(in.spec.Metadata.Name, agentImage, specs))
	return err
}
