package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/store"
	"github.com/devopsellence/devopsellence-backup/reconcile/yamlpatch"
	"github.com/devopsellence/devopsellence-backup/spec"
)

type initOptions struct {
	apply       applyOptions
	Name        string
	Image       string
	Repository  string
	RepoSecret  bool
	RepoType    string
	RepoVolume  string
	Envs        []string
	Volumes     []string
	Databases   []string
	Scratch     []string
	NoDetect    bool
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	OnePassword []string
	Force       bool
	NoApply     bool
	// changed reports a flag given on the command line.
	changed func(name string) bool
}

func newInitCmd(f *Factory, runF func(*initOptions) error) *cobra.Command {
	o := &initOptions{apply: newApplyOptions(f)}
	// init shows the plan before it applies it.
	o.apply.ShowPlan = true
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Onboard an app: detect what to back up, write the spec, show the plan, apply it",
		Long: `init reads devopsellence.yml, detects the volumes the app's services use in
each environment (an environment whose overlay mounts volumes of its own backs
up those), the database URLs they take as secrets and SQLite files under those
volumes. A backup service already in devopsellence.yml lends its image and
repository. init asks on a terminal for what it cannot detect (repository,
image, retention, with defaults; something to back up when nothing was
found), or takes everything as flags for scripts. It checks the spec against
the app, writes devopsellence.backup.yml (commented), shows the plan, then
runs apply.

A local repository path needs --repository-volume: a path inside the backup
container is lost at the next deploy. --scratch-url-secret NAME=SECRET gives a
database's drills a server to restore into.

init can be run again: when the apply fails before devopsellence.yml changed,
the spec it wrote is removed again; once it exists, the same answers go on
with it, and other answers need --force.

EXIT STATUS
  0    onboarded
  1    error
  2    invalid input, nothing to back up, a different spec already exists (without --force), missing answers off a terminal
  130  interrupted`,
		Example: `  devopsellence-backup init
  devopsellence-backup init --repository s3:s3.amazonaws.com/my-backups --image registry.example.com/app-backup:1 \
    --non-interactive --secret-env RESTIC_PASSWORD=CI_RESTIC_PASSWORD ...
  devopsellence-backup init --repository /srv/restic --repository-volume /mnt/backups/app --image registry.example.com/app-backup:1
  devopsellence-backup init --scratch-url-secret primary=DRILL_DATABASE_URL ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.apply.bind(f, cmd)
			o.changed = cmd.Flags().Changed
			return runCommand(cmd.Context(), o, promised(o.apply.Output, textOrJSON), runF, runInit)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "metadata.name of the spec (default: the app's project)")
	fl.StringVar(&o.Image, "image", "", "backup image (default: the official image of this release, "+operate.OfficialImage+":VERSION)")
	fl.StringVar(&o.Repository, "repository", "", "restic repository URL (without credentials)")
	fl.BoolVar(&o.RepoSecret, "repository-secret", false, "the repository URL carries credentials: keep it in the secret RESTIC_REPOSITORY")
	fl.StringVar(&o.RepoType, "repository-type", "", "backend type when the URL is secret (s3, b2, rest, ...)")
	fl.StringVar(&o.RepoVolume, "repository-volume", "", "for a local repository path: the volume mounted there (a named volume, or a host path such as /srv/backups)")
	fl.StringSliceVar(&o.Envs, "environments", nil, "environments to back up (default: default_environment)")
	fl.StringSliceVar(&o.Volumes, "volume", nil, "app volumes to back up (default: every detected volume)")
	fl.StringArrayVar(&o.Databases, "database", nil, "a database: NAME=ENGINE:URL_SECRET or NAME=sqlite:/path (default: detected)")
	fl.StringArrayVar(&o.Scratch, "scratch-url-secret", nil, "where drills of database NAME restore: NAME=SECRET, the secret holding a server URL on which a scratch database may be created and dropped")
	fl.BoolVar(&o.NoDetect, "no-detect", false, "back up only what the flags name")
	fl.IntVar(&o.KeepDaily, "keep-daily", 7, "retention: daily snapshots to keep")
	fl.IntVar(&o.KeepWeekly, "keep-weekly", 4, "retention: weekly snapshots to keep")
	fl.IntVar(&o.KeepMonthly, "keep-monthly", 6, "retention: monthly snapshots to keep")
	fl.StringArrayVar(&o.OnePassword, "onepassword", nil, "take a secret from 1Password: NAME=op://vault/item/field")
	fl.BoolVar(&o.Force, "force", false, "overwrite an existing spec")
	fl.BoolVar(&o.NoApply, "no-apply", false, "write the spec and show the plan, but do not apply")
	o.apply.addAskFlags(fl)
	o.apply.addFlags(fl)
	return cmd
}

func runInit(ctx context.Context, o *initOptions) error {
	streams := o.apply.IO
	if err := checkOutput(o.apply.Output, textOrJSON); err != nil {
		return err
	}
	w, err := o.apply.Workspace()
	if err != nil {
		return err
	}
	sources, err := prompt.ParseSources(o.apply.SecretEnv, o.apply.SecretFile, o.apply.Environ)
	if err != nil {
		return usageError{err}
	}
	w.client.Env = prompt.Scrub(w.client.Env, sources.Named()...)
	if samePath(w.specPath, w.configPath) {
		return usagef("--spec %s is %s, which devopsellence manages; the backup spec goes in its own file (default %s)", w.specFile, ConfigFile, spec.DefaultFile)
	}
	if err := store.Writable(w.specPath); err != nil {
		return err
	}
	existing, exists, prev, err := o.existingSpec(w)
	if err != nil {
		return err
	}
	app, err := readAppForInit(w)
	if err != nil {
		return err
	}
	if err := o.ensureMode(ctx, w); err != nil {
		return err
	}
	if err := o.checkNodes(ctx, w, app); err != nil {
		return err
	}
	b, out, err := o.spec(ctx, w, app, prev)
	if err != nil {
		return err
	}
	if b, err = o.saveSpec(ctx, w, existing, exists, prev, b, out); err != nil {
		return err
	}
	schedule := b.Spec.Schedule
	if schedule == nil {
		schedule = &spec.Schedule{Every: spec.DefaultBackupEvery}
	}
	fmt.Fprintf(streams.Err, "Scheduled: %s (UTC), run by the backup service itself; spec.schedule changes it, `schedule: manual` turns it off.\n", schedule.Text())

	if o.NoApply {
		p, _, err := w.plan(ctx, nil)
		if err != nil {
			return err
		}
		if o.apply.Output == render.JSON {
			return render.WriteJSON(streams.Out, render.NewPlanDoc(o.apply.Operation, p))
		}
		return render.PlanText(streams.Out, p)
	}
	ps, err := o.apply.applyAndPrint(ctx)
	if err != nil {
		return o.undo(w, exists, ps, err)
	}
	if o.apply.Output != render.JSON {
		env := app.DefaultEnvironment
		if len(b.Spec.Environments) > 0 {
			env = b.Spec.Environments[0]
		}
		_, err = io.WriteString(streams.Out, "\n"+nextSteps(b, env, w.specFile))
	}
	return err
}

// existingSpec reads the spec init starts from, if there is one: with
// --force its content is only compared, never parsed.
func (o *initOptions) existingSpec(w *workspace) (existing []byte, exists bool, prev *spec.Backup, err error) {
	existing, err = os.ReadFile(w.specPath)
	exists = err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil, fmt.Errorf("read %s: %w", w.specFile, err)
	}
	if exists && !o.Force {
		if prev, err = spec.Parse(w.specFile, existing); err != nil {
			return nil, false, nil, fmt.Errorf("%w\ninit starts from the spec that exists: fix it, or pass --force to write a new one from the answers", err)
		}
	}
	return existing, exists, prev, nil
}

// saveSpec writes the answered spec out, after confirming a replacement,
// and returns the spec init goes on with.
func (o *initOptions) saveSpec(ctx context.Context, w *workspace, existing []byte, exists bool, prev, b *spec.Backup, out []byte) (*spec.Backup, error) {
	switch {
	case exists && (bytes.Equal(existing, out) || sameSpec(prev, b)):
		// A rerun with the same answers (after a failure, say) goes on,
		// with the file as it is.
		fmt.Fprintf(o.apply.IO.Err, "%s already says what these answers give; going on with it\n", w.specFile)
		return prev, nil
	case exists && !o.Force:
		if err := o.confirmReplace(ctx, w, existing, out); err != nil {
			return nil, err
		}
		fallthrough
	default:
		if err := w.writeSpec(ctx, out, o.apply.LockTimeout); err != nil {
			return nil, err
		}
		fmt.Fprintf(o.apply.IO.Err, "wrote %s\n", w.specFile)
	}
	return b, nil
}

// nextSteps is what to run after onboarding, in order, to reach a verified
// backup that status reports as fresh: a first backup (the scheduled ones
// never create a repository: a typo would start an empty one), a check, a
// drill; and what the drill will do with each database.
func nextSteps(b *spec.Backup, env, specFile string) string {
	drill := "prove it restores: the files into a scratch folder"
	var dbs, blocked []string
	for _, d := range b.Spec.Databases {
		if needsScratch(d) && d.ScratchURLSecret == "" {
			blocked = append(blocked, d.Name)
		} else {
			dbs = append(dbs, d.Name)
		}
	}
	if len(b.Spec.Volumes) == 0 && len(b.Spec.Paths) == 0 {
		drill = "prove it restores"
	}
	if len(dbs) > 0 {
		drill += ", " + strings.Join(dbs, ", ") + " into a scratch copy"
	}
	lines := [][2]string{
		{"devopsellence-backup backup --env " + env + " --init", "a first backup; --init creates the repository if it does not exist yet"},
		{"devopsellence-backup check --env " + env, "verify the repository; status wants a check, a drill and a backup"},
		{"devopsellence-backup drill --env " + env, drill},
		{"devopsellence-backup status", "the evidence report, with when each run is next due"},
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	var sb strings.Builder
	sb.WriteString("Next:\n")
	for _, l := range lines {
		fmt.Fprintf(&sb, "  %-*s   # %s\n", width, l[0], l[1])
	}
	if len(blocked) > 0 {
		fmt.Fprintf(&sb, "The drill stops at no_scratch for %s: it restores a database dump into a scratch database that it creates and drops, and init was given no server where it may. "+
			"To drill %s too, add `scratchUrlSecret: DRILL_DATABASE_URL` to %s in %s (a secret that will hold a server URL whose user may create and drop databases; never the app's own database), "+
			"then run `devopsellence-backup apply`, which asks for its value.\n",
			quoteDBs(blocked), pronoun(blocked), quoteDBs(blocked), specFile)
	}
	return sb.String()
}

func pronoun(names []string) string {
	if len(names) == 1 {
		return "it"
	}
	return "them"
}

func quoteDBs(names []string) string {
	var q []string
	for _, n := range names {
		q = append(q, "database "+n)
	}
	return strings.Join(q, " and ")
}

// readAppForInit reads devopsellence.yml, every service in detail.
func readAppForInit(w *workspace) (*reconcile.App, error) {
	cfg, err := os.ReadFile(w.configPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("no %s in %s; create the app first with `devopsellence init --mode solo`", ConfigFile, w.dir)
	} else if err != nil {
		return nil, err
	}
	doc, err := yamlpatch.Parse(cfg)
	if err != nil {
		return nil, usagef("%s: %w", ConfigFile, err)
	}
	app, err := reconcile.ReadApp(doc.Root(), "*")
	if err != nil {
		return nil, usageError{err}
	}
	return app, nil
}

// sameSpec reports whether b says what prev says, however prev's file is
// laid out.
func sameSpec(prev, b *spec.Backup) bool {
	if prev == nil {
		return false
	}
	x, err1 := json.Marshal(prev)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// confirmReplace shows how the answers change the spec that exists, then
// asks (on a terminal) whether to write them; elsewhere --force says so.
func (o *initOptions) confirmReplace(ctx context.Context, w *workspace, existing, out []byte) error {
	diff := render.FileDiff(w.specFile, w.specFile+" (these answers)", existing, out)
	if !o.canAsk() {
		return usagef("%s already exists, and these answers change it:\n%s\nrun init again with the answers it holds, edit it and run `devopsellence-backup plan`, or pass --force to write these answers", w.specFile, strings.TrimRight(diff, "\n"))
	}
	fmt.Fprintf(o.apply.IO.Err, "%s already exists, and these answers change it:\n%s", w.specFile, diff)
	t := &prompt.Terminal{Fd: o.apply.IO.InFd(), Out: o.apply.IO.Err}
	yes, err := t.Confirm(ctx, "Write these answers to "+w.specFile+"?")
	if err != nil {
		return err
	}
	if !yes {
		return usagef("%s was left as it is: run `devopsellence-backup plan` to see what it does, or init again with other answers", w.specFile)
	}
	return nil
}

// spec builds the spec and checks it, on its own and against the app,
// before anything is written.
func (o *initOptions) spec(ctx context.Context, w *workspace, app *reconcile.App, prev *spec.Backup) (*spec.Backup, []byte, error) {
	b, err := o.build(ctx, w, app, prev)
	if err != nil {
		return nil, nil, err
	}
	out := spec.Format(b)
	parsed, err := spec.Parse(w.specFile, out)
	if err == nil {
		_, err = reconcile.Desire(parsed, app, w.specFile)
	}
	if err != nil {
		// The file was not written: no line numbers in it, and no "fix the
		// file"; the problems are in the flags or answers.
		return nil, nil, usagef("the answers given to init do not make a valid spec, so %s was not written:\n  %s\nrun init again with other flags or answers",
			w.specFile, strings.Join(problems(err), "\n  "))
	}
	return b, out, nil
}

// undo removes the spec init wrote when the apply after it failed before
// devopsellence.yml changed, so a failed init leaves nothing behind; a rerun
// with the same answers writes it again. Once devopsellence.yml refers to
// it, the spec stays, and the same rerun goes on with it.
func (o *initOptions) undo(w *workspace, existed bool, ps *pass, err error) error {
	if existed || ps != nil && ps.result != nil && ps.result.ConfigWritten {
		return err
	}
	if errors.Is(err, errDeclined) {
		return fmt.Errorf("%w; %s stays as written: edit it if you like, then run `devopsellence-backup apply`", err, w.specFile)
	}
	if rerr := os.Remove(w.specPath); rerr != nil {
		return fmt.Errorf("%w; removing %s, which init wrote, also failed: %v", err, w.specFile, rerr)
	}
	fmt.Fprintf(o.apply.IO.Err, "removed %s again: nothing was applied\n", w.specFile)
	return err
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
	t := &prompt.Terminal{Fd: o.apply.IO.InFd(), Out: o.apply.IO.Err}
	yes, err := t.Confirm(ctx, "devopsellence has no mode for this workspace. Run `"+fix+"` now?")
	if err != nil {
		return err
	}
	if !yes {
		return usagef("devopsellence has no mode for this workspace; run `%s` and run init again", fix)
	}
	return w.client.UseSolo(ctx)
}

// checkNodes stops init before its first question when an environment it
// would deploy has no node attached for this app: the deploy would fail
// after every answer was given.
func (o *initOptions) checkNodes(ctx context.Context, w *workspace, app *reconcile.App) error {
	if o.NoApply || o.apply.NoDeploy {
		return nil
	}
	envs := o.Envs
	if len(envs) == 0 {
		envs = []string{app.DefaultEnvironment}
	}
	var advice []string
	var missing []string
	for _, env := range envs {
		nodes, err := w.client.Nodes(ctx, env)
		if err != nil {
			return err
		}
		if len(nodes) == 0 && !slices.Contains(app.Environments(), env) {
			return usagef("--environments %s: devopsellence.yml does not mention it and no node of this app is attached to it (environments: %s); nothing was written", env, strings.Join(app.Environments(), ", "))
		}
		if len(nodes) == 0 {
			missing = append(missing, env)
			advice = append(advice, env+": "+noNodeAdvice(env))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("no node is attached to %s of this app, so init cannot deploy the backup service there; nothing was written.\n  %s\nthen run init again; or run `devopsellence-backup init --no-apply` to write the spec and see the plan now, and `devopsellence-backup apply` once a node is attached",
		strings.Join(missing, ", "), strings.Join(advice, "\n  "))
}

func (o *initOptions) canAsk() bool {
	return !o.apply.NonInteractive && o.apply.IO.CanPrompt()
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
		{"metadata.name", "--name"}, {"spec.image", "--image"}, {"spec.repository.volume", "--repository-volume"}, {"spec.repository", "--repository"},
		{"spec.environments", "--environments"}, {"spec.volumes", "--volume"}, {"spec.databases", "--database, --scratch-url-secret"},
		{"spec.secrets", "--onepassword"}, {"spec.retention", "--keep-daily, --keep-weekly, --keep-monthly"},
	} {
		if strings.HasPrefix(path, f.prefix) {
			return " (" + f.flag + ")"
		}
	}
	return ""
}
