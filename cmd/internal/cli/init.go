package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// defaultImage is the official backup image of this release, so that the
// agent in the service matches this tool; "" for a build that is not a
// release (init then asks for an image).
func defaultImage() string {
	if v, ok := buildinfo.Release(); ok {
		return operate.ImageFor(v)
	}
	return ""
}

// noImageHelp says where an image comes from when there is no default.
const noImageHelp = "this devopsellence-backup is not a release build, so there is no official image of its version: " +
	"build one from the repository's Dockerfile (or `devopsellence-backup image` for a custom one), push it, and pass --image"

type initOptions struct {
	apply       applyOptions
	Name        string
	Image       string
	Repository  string
	RepoSecret  bool
	RepoType    string
	Envs        []string
	Volumes     []string
	Databases   []string
	NoDetect    bool
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	OnePassword []string
	Force       bool
	NoApply     bool
}

func newInitCmd(g *globalOptions) *cobra.Command {
	o := &initOptions{apply: applyOptions{globalOptions: g}}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Onboard an app: detect what to back up, write the spec, show the plan, apply it",
		Long: `init reads devopsellence.yml, detects the volumes the app's services use, the
database URLs they take as secrets and SQLite files under those volumes, asks
on a terminal for what it cannot detect (repository, image, retention, with
defaults), or takes everything as flags for scripts. It writes
devopsellence.backup.yml (commented), shows the plan, then runs apply.

EXIT STATUS
  0    onboarded
  1    error
  2    invalid input, a spec already exists (without --force), missing answers off a terminal
  130  interrupted`,
		Example: `  devopsellence-backup init
  devopsellence-backup init --repository s3:s3.amazonaws.com/my-backups --image registry.example.com/app-backup:1 \
    --non-interactive --secret-env RESTIC_PASSWORD=CI_RESTIC_PASSWORD ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "metadata.name of the spec (default: the app's project)")
	f.StringVar(&o.Image, "image", "", "backup image (default: the official image of this release, "+operate.OfficialImage+":VERSION)")
	f.StringVar(&o.Repository, "repository", "", "restic repository URL (without credentials)")
	f.BoolVar(&o.RepoSecret, "repository-secret", false, "the repository URL carries credentials: keep it in the secret RESTIC_REPOSITORY")
	f.StringVar(&o.RepoType, "repository-type", "", "backend type when the URL is secret (s3, b2, rest, ...)")
	f.StringSliceVar(&o.Envs, "environments", nil, "environments to back up (default: default_environment)")
	f.StringSliceVar(&o.Volumes, "volume", nil, "app volumes to back up (default: every detected volume)")
	f.StringArrayVar(&o.Databases, "database", nil, "a database: NAME=ENGINE:URL_SECRET or NAME=sqlite:/path (default: detected)")
	f.BoolVar(&o.NoDetect, "no-detect", false, "back up only what the flags name")
	f.IntVar(&o.KeepDaily, "keep-daily", 7, "retention: daily snapshots to keep")
	f.IntVar(&o.KeepWeekly, "keep-weekly", 4, "retention: weekly snapshots to keep")
	f.IntVar(&o.KeepMonthly, "keep-monthly", 6, "retention: monthly snapshots to keep")
	f.StringArrayVar(&o.OnePassword, "onepassword", nil, "take a secret from 1Password: NAME=op://vault/item/field")
	f.BoolVar(&o.Force, "force", false, "overwrite an existing spec")
	f.BoolVar(&o.NoApply, "no-apply", false, "write the spec and show the plan, but do not apply")
	af := &o.apply
	f.BoolVarP(&af.Yes, "yes", "y", false, "apply without asking for confirmation")
	f.BoolVar(&af.NonInteractive, "non-interactive", false, "never prompt (implies --yes); every answer comes from flags")
	f.BoolVar(&af.NoDeploy, "no-deploy", false, "do not deploy")
	f.BoolVar(&af.LabelNodes, "label-nodes", false, "label attached nodes worker when none is")
	f.StringArrayVar(&af.SecretEnv, "secret-env", nil, "take secret NAME from variable VAR: [ENV:]NAME=VAR")
	f.StringArrayVar(&af.SecretFile, "secret-file", nil, "take secret NAME from a file: [ENV:]NAME=PATH")
	f.StringVarP(&af.Output, "output", "o", render.Text, "result format on stdout: text or json")
	f.DurationVar(&af.LockTimeout, "lock-timeout", time.Minute, "how long to wait for another run on this app")
	return cmd
}

func runInit(ctx context.Context, o *initOptions) error {
	g := o.apply.globalOptions
	if err := checkOutput(o.apply.Output, render.Text, render.JSON); err != nil {
		return err
	}
	g.output = o.apply.Output
	w, err := g.workspace()
	if err != nil {
		return err
	}
	sources, err := prompt.ParseSources(o.apply.SecretEnv, o.apply.SecretFile, g.environ)
	if err != nil {
		return usageError{err}
	}
	w.client.Env = prompt.Scrub(w.client.Env, sources.Named()...)
	if _, err := os.Stat(w.specPath); err == nil && !o.Force {
		return usagef("%s already exists; edit it and run `devopsellence-backup plan`, or pass --force to write it again", w.specFile)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if samePath(w.specPath, w.configPath) {
		return usagef("--spec %s is %s, which devopsellence manages; the backup spec goes in its own file (default %s)", w.specFile, ConfigFile, spec.DefaultFile)
	}
	if err := store.Writable(w.specPath); err != nil {
		return err
	}
	cfg, err := os.ReadFile(w.configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return usagef("no %s in %s; create the app first with `devopsellence init --mode solo`", ConfigFile, w.dir)
	} else if err != nil {
		return err
	}
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		return usagef("%s: %w", ConfigFile, err)
	}
	app, err := reconcile.ReadApp(doc.Root(), "*")
	if err != nil {
		return usageError{err}
	}
	if err := o.ensureMode(ctx, w); err != nil {
		return err
	}

	b, err := o.build(ctx, w, app)
	if err != nil {
		return err
	}
	out := spec.Format(b)
	if _, err := spec.Parse(w.specFile, out); err != nil {
		// The file was not written: no line numbers in it, and no "fix the
		// file"; the problems are in the flags or answers.
		return usagef("the answers given to init do not make a valid spec, so %s was not written:\n  %s\nrun init again with other flags or answers",
			w.specFile, strings.Join(problems(err), "\n  "))
	}
	if err := w.writeSpec(ctx, out, o.apply.LockTimeout); err != nil {
		return err
	}
	fmt.Fprintf(g.streams.Err, "wrote %s\n", w.specFile)
	fmt.Fprintf(g.streams.Err, "Scheduled: %s (UTC), run by the backup service itself; spec.schedule changes it, `schedule: manual` turns it off.\n", b.Spec.Schedule.Text())

	if o.NoApply {
		p, _, err := w.plan(ctx)
		if err != nil {
			return err
		}
		if o.apply.Output == render.JSON {
			return render.WriteJSON(g.streams.Out, render.NewPlanDoc(g.operation, p))
		}
		return render.PlanText(g.streams.Out, p)
	}
	o.apply.ShowPlan = true
	if err := runApply(ctx, &o.apply); err != nil {
		return err
	}
	if o.apply.Output != render.JSON {
		env := b.Spec.Environments[0]
		fmt.Fprintf(g.streams.Out, "\nNext:\n  devopsellence-backup backup --env %s   # a first backup\n  devopsellence-backup drill --env %s    # prove it restores\n  devopsellence-backup status            # the evidence report\n", env, env)
	}
	return nil
}

// writeSpec writes the spec under the app's lock, so that a temp file left
// by an init killed while writing it is known to be stale and removed.
func (w *workspace) writeSpec(ctx context.Context, b []byte, wait time.Duration) error {
	unlock, err := w.lock(ctx, wait, w.specPath)
	if err != nil {
		return err
	}
	defer unlock()
	return store.WriteFile(w.specPath, b, 0o644)
}

// ensureMode makes sure devopsellence has a mode for the workspace, offering
// to set solo mode on a terminal.
func (o *initOptions) ensureMode(ctx context.Context, w *workspace) error {
	set, err := w.client.ModeSet(ctx)
	if err != nil || set {
		return err
	}
	const fix = "devopsellence mode use solo"
	if !o.canAsk() {
		return usagef("devopsellence has no mode for this workspace; run `%s` and run init again", fix)
	}
	t := &prompt.Terminal{Fd: o.apply.streams.InFd(), Out: o.apply.streams.Err}
	yes, err := t.Confirm(ctx, "devopsellence has no mode for this workspace. Run `"+fix+"` now?")
	if err != nil {
		return err
	}
	if !yes {
		return usagef("devopsellence has no mode for this workspace; run `%s` and run init again", fix)
	}
	return w.client.UseSolo(ctx)
}

func (o *initOptions) canAsk() bool {
	s := o.apply.streams
	return !o.apply.NonInteractive && s.CanPrompt()
}

// build puts the spec together from detection, flags and answers.
func (o *initOptions) build(ctx context.Context, w *workspace, app *reconcile.App) (*spec.Backup, error) {
	b := &spec.Backup{APIVersion: spec.APIVersion, Kind: spec.Kind}
	b.Metadata.Name = o.Name
	if b.Metadata.Name == "" {
		b.Metadata.Name = dbName(app.Project)
	}
	s := &b.Spec
	s.Environments = o.Envs
	if len(s.Environments) == 0 {
		s.Environments = []string{app.DefaultEnvironment}
	}
	var det detected
	if !o.NoDetect {
		det = detect(app, w.dir, spec.DefaultService)
		for _, n := range det.Notes {
			fmt.Fprintf(o.apply.streams.Err, "note: %s\n", n)
		}
	}
	vols := o.Volumes
	if len(vols) == 0 {
		vols = det.Volumes
	}
	for _, v := range vols {
		s.Volumes = append(s.Volumes, spec.Volume{Name: v})
	}
	if len(o.Databases) > 0 {
		for _, d := range o.Databases {
			db, err := parseDatabaseFlag(d)
			if err != nil {
				return nil, err
			}
			s.Databases = append(s.Databases, db)
		}
	} else {
		s.Databases = det.Databases
	}
	if o.KeepDaily+o.KeepWeekly+o.KeepMonthly > 0 {
		s.Retention = &spec.Retention{KeepDaily: o.KeepDaily, KeepWeekly: o.KeepWeekly, KeepMonthly: o.KeepMonthly}
	}
	for _, kv := range o.OnePassword {
		// Only a valid name is repeated: the value itself may have been
		// typed where the name or the reference belongs.
		name, ref, ok := strings.Cut(kv, "=")
		if !ok || !spec.IsEnvVarName(name) {
			return nil, usagef("--onepassword: want NAME=op://vault/item/field, NAME in capitals ([A-Z_][A-Z0-9_]*)")
		}
		if !spec.IsOnePasswordRef(ref) {
			return nil, usagef("--onepassword %s=…: the right side must be a 1Password reference (op://vault/item/field), never the value itself", name)
		}
		if s.Secrets == nil {
			s.Secrets = map[string]spec.SecretSource{}
		}
		s.Secrets[name] = spec.SecretSource{OnePassword: ref}
	}

	image := o.Image
	if image == "" {
		image = defaultImage()
	}
	// Backups keep happening after onboarding: init writes the daily
	// schedule rather than leave it implied.
	s.Schedule = &spec.Schedule{Every: spec.DefaultBackupEvery}
	repo := o.Repository
	var err error
	if o.canAsk() {
		fmt.Fprintf(o.apply.streams.Err, "Detected: volumes %v, databases %v\n", vols, dbNames(s.Databases))
		if repo == "" && !o.RepoSecret {
			if repo, err = o.ask(ctx, "restic repository URL (e.g. s3:s3.amazonaws.com/bucket/app; a URL with credentials: leave empty to keep it in the secret RESTIC_REPOSITORY)", ""); err != nil {
				return nil, err
			}
			o.RepoSecret = repo == ""
		}
		if image == "" {
			fmt.Fprintln(o.apply.streams.Err, "No default image: "+noImageHelp+".")
		}
		if image, err = o.ask(ctx, "backup image (the devopsellence-backup agent, restic and the database clients)", image); err != nil {
			return nil, err
		}
		if s.Retention != nil {
			d, err := o.askInt(ctx, "daily snapshots to keep", s.Retention.KeepDaily)
			if err != nil {
				return nil, err
			}
			s.Retention.KeepDaily = d
		}
	}
	var missing []string
	if repo == "" && !o.RepoSecret {
		missing = append(missing, "--repository URL (or --repository-secret with --repository-type)")
	}
	if image == "" {
		missing = append(missing, "--image ("+noImageHelp+")")
	}
	if len(missing) > 0 {
		return nil, usagef("init needs: %s", strings.Join(missing, "; "))
	}
	s.Image = image
	if o.RepoSecret {
		s.Repository = spec.Repository{URLSecret: spec.RepositorySecret, Type: o.RepoType}
	} else {
		s.Repository = spec.Repository{URL: repo}
	}
	return b, nil
}

func (o *initOptions) ask(ctx context.Context, question, def string) (string, error) {
	t := &prompt.Terminal{Fd: o.apply.streams.InFd(), Out: o.apply.streams.Err}
	q := question
	if def != "" {
		q += " [" + def + "]"
	}
	a, err := t.Line(ctx, q)
	if err != nil {
		return "", err
	}
	if a = strings.TrimSpace(a); a == "" {
		return def, nil
	}
	return a, nil
}

func (o *initOptions) askInt(ctx context.Context, question string, def int) (int, error) {
	for {
		a, err := o.ask(ctx, question, strconv.Itoa(def))
		if err != nil {
			return 0, err
		}
		if n, err := strconv.Atoi(a); err == nil && n >= 0 {
			return n, nil
		}
		fmt.Fprintln(o.apply.streams.Err, "  want a whole number")
	}
}

func parseDatabaseFlag(s string) (spec.Database, error) {
	name, rest, ok := strings.Cut(s, "=")
	engine, where, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || name == "" || where == "" || !dbNameRe.MatchString(name) {
		if !dbNameRe.MatchString(name) {
			name = "NAME"
		}
		// Only the name goes back: a URL with its password may be in s.
		return spec.Database{}, usagef("--database %s=…: want NAME=ENGINE:URL_SECRET or NAME=sqlite:/path (the URL itself goes in the secret, not on the command line)", name)
	}
	if engine == spec.EngineSQLite {
		return spec.Database{Name: name, Engine: engine, Path: where}, nil
	}
	return spec.Database{Name: name, Engine: engine, URLSecret: where}, nil
}

var dbNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func dbNames(dbs []spec.Database) []string {
	out := make([]string, 0, len(dbs))
	for _, d := range dbs {
		out = append(out, d.Name+" ("+d.Engine+")")
	}
	return out
}

// problems lists an invalid spec's problems as "field: message", without the
// file, lines and next step that belong to a spec on disk.
func problems(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		switch u := e.(type) {
		case *spec.FieldError:
			out = append(out, u.Path+": "+u.Message+answerFlag(u.Path))
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		default:
			if e == spec.ErrInvalid {
				return
			}
			if inner := errors.Unwrap(e); inner != nil {
				walk(inner)
				return
			}
			out = append(out, e.Error())
		}
	}
	walk(err)
	return out
}

// answerFlag names the init flag that sets the spec field at path.
func answerFlag(path string) string {
	for _, f := range []struct{ prefix, flag string }{
		{"metadata.name", "--name"}, {"spec.image", "--image"}, {"spec.repository", "--repository"},
		{"spec.environments", "--environments"}, {"spec.volumes", "--volume"}, {"spec.databases", "--database"},
		{"spec.secrets", "--onepassword"}, {"spec.retention", "--keep-daily, --keep-weekly, --keep-monthly"},
	} {
		if strings.HasPrefix(path, f.prefix) {
			return " (" + f.flag + ")"
		}
	}
	return ""
}
