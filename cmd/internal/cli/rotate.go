package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/render"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"github.com/devopsellence/devopsellence-backup/reconcile/secret"
	"github.com/devopsellence/devopsellence-backup/spec"
)

type rotateOptions struct {
	apply applyOptions
	// Executor reaches the agent in the backup service of w.
	Executor func(w *workspace, deadline time.Duration) operate.Executor
	Name     string
	Timeout  time.Duration
}

// RotateDoc is rotate-secret's JSON document.
type RotateDoc struct {
	render.Envelope
	Secret       string   `json:"secret"`
	Environments []string `json:"environments"`
	// Password is true for a repository password, rotated key by key.
	Password     bool                  `json:"password"`
	Repositories []operate.RotatedRepo `json:"repositories"`
}

func newRotateCmd(f *Factory, runF func(*rotateOptions) error) *cobra.Command {
	o := &rotateOptions{apply: newApplyOptions(f), Executor: devopsellenceExec}
	cmd := &cobra.Command{
		Use:   "rotate-secret NAME",
		Short: "Change a stored secret of the backup service; a repository password without a moment where none opens the repository",
		Long: `rotate-secret stores a new value for a secret of the backup service that is
already stored, deploys it, and checks that the service works with it. apply
never changes a stored secret: it stores only missing ones.

For a repository password (RESTIC_PASSWORD, or a copy's passwordSecret) it
follows restic's own way, so that at every moment a stored password opens
every repository it is for:
  1. store the new value as NAME_NEXT next to the current one, and deploy;
  2. restic key add in each repository (the current password opens it), and
     open it with the new password;
  3. store the new value as NAME, and deploy (both keys open the repository);
  4. check that the deployed service opens each repository with the new key;
  5. restic key remove the old key, and delete NAME_NEXT.
It stops at the first step that fails, saying what is left; the old key is
removed only after step 4 passed. Environments that share a repository
share its password: they are rotated together.

For any other secret it stores the new value, deploys, and checks that the
service still opens the repository.

The new value comes from --secret-file, --secret-env or the
DEVOPSELLENCE_BACKUP_SECRET_ variables, as for apply; on a terminal a new
repository password is generated (shown once, to keep) or typed twice. Keep
the new password outside the node too: without it no backup can be read.

EXIT STATUS
  0  rotated, and the service works with the new value
  1  a step failed (the message says which, and what is left)
  2  invalid input, a secret not stored yet, changes pending, missing value off a terminal`,
		Example: `  devopsellence-backup rotate-secret RESTIC_PASSWORD
  DEVOPSELLENCE_BACKUP_SECRET_RESTIC_PASSWORD=... devopsellence-backup rotate-secret RESTIC_PASSWORD --non-interactive
  devopsellence-backup rotate-secret AWS_SECRET_ACCESS_KEY --env production --secret-file AWS_SECRET_ACCESS_KEY=new.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.apply.bind(f, cmd)
			o.Name = args[0]
			return runCommand(cmd.Context(), o, promised(o.apply.Output, textOrJSON), runF, runRotate)
		},
	}
	fl := cmd.Flags()
	o.apply.addAskFlags(fl)
	fl.StringSliceVar(&o.apply.Envs, "env", nil, "environments to rotate it in (default: every covered environment that uses it)")
	fl.StringArrayVar(&o.apply.SecretEnv, "secret-env", nil, "take the new value from variable VAR: [ENV:]NAME=VAR")
	fl.StringArrayVar(&o.apply.SecretFile, "secret-file", nil, "take the new value from a file: [ENV:]NAME=PATH")
	fl.DurationVar(&o.apply.LockTimeout, "lock-timeout", time.Minute, "how long to wait for another run on this app")
	fl.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "deadline of each step the agent runs")
	return cmd
}

// rotation is one rotate-secret run: where, and what it found.
type rotation struct {
	o        *rotateOptions
	w        *workspace
	service  string
	envs     []string
	password bool
	value    secret.Value
	ex       operate.Executor
	// added maps each repository to the key its new password opens, old
	// to the keys the old one did.
	added map[string]string
	old   []string
	repos []operate.RotatedRepo
	// envRepos are the repositories the secret opens in each environment.
	envRepos map[string][]string
}

func runRotate(ctx context.Context, o *rotateOptions) error {
	if err := checkOutput(o.apply.Output, textOrJSON); err != nil {
		return err
	}
	if !spec.IsEnvVarName(o.Name) {
		return usagef("rotate-secret: %q is not a secret name ([A-Z_][A-Z0-9_]*)", flagName(o.Name))
	}
	sources, err := prompt.ParseSources(o.apply.SecretEnv, o.apply.SecretFile, o.apply.Environ)
	if err != nil {
		return usageError{err}
	}
	w, err := o.apply.Workspace()
	if err != nil {
		return err
	}
	w.client.Env = prompt.Scrub(w.client.Env, sources.Named()...)
	r := &rotation{o: o, w: w, ex: o.Executor(w, o.Timeout+time.Minute), added: map[string]string{}, envRepos: map[string][]string{}}
	if err := r.check(ctx); err != nil {
		return err
	}
	if r.value, err = r.newValue(ctx, sources); err != nil {
		return err
	}
	if r.password {
		err = r.rotatePassword(ctx)
	} else {
		err = r.rotatePlain(ctx)
	}
	if err != nil {
		return err
	}
	return r.print()
}

// check finds the environments that use the secret, refuses a narrowed
// --env that leaves out one sharing a repository password with it, a
// secret not stored yet, and an app with changes pending.
func (r *rotation) check(ctx context.Context) error {
	p, in, err := r.w.plan(ctx, nil)
	if err != nil {
		return err
	}
	if u := in.observed.Unchecked; u != nil {
		return fmt.Errorf("rotate-secret needs devopsellence: %s; %s", u.Message, nextCommand(*u))
	}
	r.service = p.Service
	groups := map[string][]string{}
	for _, env := range in.desired.Covered {
		es := in.desired.Envs[env]
		if !slices.Contains(es.SecretNames(), r.o.Name) {
			continue
		}
		repos := opens(es, r.o.Name)
		r.envRepos[env] = repos
		r.password = r.password || len(repos) > 0
		key := strings.Join(repos, "\n")
		groups[key] = append(groups[key], env)
		if reconcile.Selected(r.o.apply.Envs, env) {
			r.envs = append(r.envs, env)
		}
	}
	for _, e := range r.o.apply.Envs {
		if !slices.Contains(r.envs, e) {
			return usagef("--env %s: not a covered environment whose backup service uses %s", e, r.o.Name)
		}
	}
	if len(r.envs) == 0 {
		return usagef("%s is not a secret of the backup service in any environment %s covers", r.o.Name, r.w.specFile)
	}
	if r.password {
		for key, envs := range groups {
			if key == "" {
				continue
			}
			for _, e := range envs {
				if !slices.Contains(r.envs, e) && slices.ContainsFunc(envs, func(x string) bool { return slices.Contains(r.envs, x) }) {
					return usagef("%s of %s opens the same repository as in %s: rotate them together (--env %s, or leave out --env)", r.o.Name, strings.Join(envs, ", "), e, strings.Join(envs, ","))
				}
			}
		}
	}
	if p.Pending(r.envs, true) {
		return usagef("%s has changes pending: run `devopsellence-backup apply` first, then rotate-secret", ConfigFile)
	}
	for _, env := range r.envs {
		for _, s := range p.Env(env).Secrets {
			if s.Name == r.o.Name && s.Status != reconcile.StatusPresent {
				return usagef("%s is not stored for service %s in %s yet: `devopsellence-backup apply` stores it", r.o.Name, r.service, env)
			}
			if s.Name == r.o.Name && s.Source == reconcile.SourceOnePassword {
				return usagef("%s comes from 1Password (%s) in %s: change it there, then `devopsellence deploy --env %s`", r.o.Name, s.OnePassword, env, env)
			}
		}
	}
	return nil
}

// opens lists the repositories whose password the secret name is in es.
func opens(es spec.EnvSpec, name string) []string {
	var out []string
	if name == spec.PasswordSecret {
		out = append(out, es.Repository.Display())
	}
	for _, c := range es.Copies {
		if c.PasswordSecret == name {
			out = append(out, c.Repository.Display())
		}
	}
	return out
}

// newValue gets the new value: an explicit source, else on a terminal a
// generated or twice-typed password, or a hidden answer.
func (r *rotation) newValue(ctx context.Context, sources *prompt.Explicit) (secret.Value, error) {
	req := prompt.Request{Name: r.o.Name, Service: r.service, Environment: r.envs[0]}
	v, _, ok, err := sources.Lookup(ctx, req)
	switch {
	case err != nil:
		return secret.Value{}, usageError{err}
	case ok:
		return v, nil
	case r.o.apply.NonInteractive || !r.o.apply.IO.CanPrompt():
		return secret.Value{}, usagef("rotate-secret needs the new value of %s: %s", r.o.Name, prompt.Hint(req))
	}
	t := &prompt.Terminal{Fd: r.o.apply.IO.InFd(), Out: r.o.apply.IO.Err}
	if r.password {
		return askPassword(ctx, t, req)
	}
	return t.NewSecret(ctx, req)
}

// apply runs one apply pass over the rotated environments, deploying;
// rotating says whether the next value rides along.
func (r *rotation) apply(ctx context.Context, rotating bool, preset map[reconcile.SecretKey]secret.Value) error {
	a := r.o.apply
	a.Yes, a.NonInteractive, a.ShowPlan, a.Envs, a.Preset = true, true, false, nil, preset
	a.SecretEnv, a.SecretFile = nil, nil
	a.Environ = prompt.Scrub(a.Environ)
	open := a.Workspace
	a.Workspace = func() (*workspace, error) {
		w, err := open()
		if w != nil && rotating {
			w.rotating = r.o.Name
		}
		return w, err
	}
	ps, err := a.pass(ctx, nil)
	if err == nil && cannotRun(ps) {
		err = errors.New("the backup service cannot run after the deploy: run `devopsellence-backup apply` to see why")
	}
	return err
}

// rotatePassword rotates a repository password: at no step is there a
// stored password that opens none of the repositories.
func (r *rotation) rotatePassword(ctx context.Context) error {
	next := spec.RotationSecret(r.o.Name)
	preset := map[reconcile.SecretKey]secret.Value{}
	for _, env := range r.envs {
		preset[reconcile.SecretKey{Environment: env, Name: next}] = r.value
	}
	r.say("1/5: storing the new value as %s next to %s, and deploying", next, r.o.Name)
	if err := r.apply(ctx, true, preset); err != nil {
		return r.undo(ctx, fmt.Errorf("rotate %s: step 1 (store %s and deploy): %w", r.o.Name, next, err))
	}
	r.say("2/5: adding a key for the new password in each repository")
	done := map[string]bool{}
	for _, env := range r.envs {
		if !slices.ContainsFunc(r.envRepos[env], func(repo string) bool { return !done[repo] }) {
			continue // its repositories are another environment's, done already
		}
		kr, err := r.keys(ctx, env, operate.KeyStepAdd)
		if err != nil {
			return r.undo(ctx, fmt.Errorf("rotate %s: step 2 (restic key add in %s): %w; %s still opens every repository", r.o.Name, env, err, r.o.Name))
		}
		for _, rr := range kr.Repositories {
			if done[rr.Repository] {
				continue
			}
			done[rr.Repository] = true
			r.added[rr.Repository] = rr.AddedKey
			r.old = append(r.old, rr.CurrentKey)
			r.repos = append(r.repos, rr)
		}
	}
	r.say("3/5: storing the new value as %s (both keys open the repositories now), and deploying", r.o.Name)
	for i, env := range r.envs {
		if _, err := r.w.client.SetSecret(ctx, env, r.service, r.o.Name, r.value); err != nil {
			if i == 0 {
				return r.undo(ctx, fmt.Errorf("rotate %s: step 3 (store %s in %s): %w; %s still holds the old password, which opens the repositories; the new key is left unused: %s", r.o.Name, r.o.Name, env, err, r.o.Name, r.removeAdvice(r.addedKeys())))
			}
			return fmt.Errorf("rotate %s: step 3 (store %s in %s): %w; both the old and the new password open the repositories: store the new value there with `devopsellence secret set %s --service %s --env %s --stdin`, run `devopsellence-backup apply`, then %s", r.o.Name, r.o.Name, env, err, r.o.Name, r.service, env, r.removeAdvice(r.old))
		}
	}
	if err := r.apply(ctx, false, nil); err != nil {
		return fmt.Errorf("rotate %s: step 3 (deploy without %s): %w; %s is stored with the new value, which opens the repositories, and so does the old one: run `devopsellence-backup apply`, then %s", r.o.Name, next, err, r.o.Name, r.removeAdvice(r.old))
	}
	r.say("4/5: checking that the deployed service opens each repository with the new key")
	for _, env := range r.envs {
		kr, err := r.keys(ctx, env, operate.KeyStepVerify)
		if err != nil {
			return fmt.Errorf("rotate %s: step 4 (verify in %s): %w; the old key is kept: once `devopsellence-backup status --env %s` reads the repository, %s", r.o.Name, env, err, env, r.removeAdvice(r.old))
		}
		for _, rr := range kr.Repositories {
			if want := r.added[rr.Repository]; !sameKeyID(rr.CurrentKey, want) {
				return fmt.Errorf("rotate %s: step 4: the service in %s opens %s with key %s, not the new key %s; the old key is kept", r.o.Name, env, rr.Repository, rr.CurrentKey, want)
			}
		}
	}
	r.say("5/5: removing the old key, and %s", next)
	kr, err := r.keys(ctx, r.envs[0], operate.KeyStepRemove, r.old...)
	if err != nil {
		return fmt.Errorf("rotate %s: step 5 (restic key remove): %w; the new password is stored and works, and the old key still opens the repository: %s", r.o.Name, err, r.removeAdvice(r.old))
	}
	for i := range r.repos {
		for _, rr := range kr.Repositories {
			if rr.Repository == r.repos[i].Repository {
				r.repos[i].Removed, r.repos[i].Keys = rr.Removed, rr.Keys
			}
		}
	}
	r.forgetNext(ctx)
	return nil
}

// removeAdvice says how to remove keys by hand, in the primary
// repository, through the service (which has the repository's
// environment).
func (r *rotation) removeAdvice(keys []string) string {
	var cmds []string
	for _, k := range keys {
		cmds = append(cmds, fmt.Sprintf("`devopsellence exec %s --env %s -- restic key remove %s`", r.service, r.envs[0], k))
	}
	return "remove the key with " + strings.Join(cmds, ", then ")
}

// addedKeys are the keys step 2 added.
func (r *rotation) addedKeys() []string {
	var out []string
	for _, rr := range r.repos {
		out = append(out, rr.AddedKey)
	}
	return out
}

// undo takes the next value out of the service again after a failed step
// 1 or 2: the current password never stopped opening the repositories.
func (r *rotation) undo(ctx context.Context, err error) error {
	if aerr := r.apply(ctx, false, nil); aerr != nil {
		return fmt.Errorf("%w; taking %s out of the service again also failed (%v): run `devopsellence-backup apply`", err, spec.RotationSecret(r.o.Name), aerr)
	}
	r.forgetNext(ctx)
	return err
}

// forgetNext deletes the stored next value, once no ref names it.
func (r *rotation) forgetNext(ctx context.Context) {
	for _, env := range r.envs {
		if err := r.w.client.DeleteSecret(ctx, env, r.service, spec.RotationSecret(r.o.Name)); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "nextSecretNotDeleted", "environment", env, "secret", spec.RotationSecret(r.o.Name))
		}
	}
}

// keys asks the agent in env for one step of the key rotation.
func (r *rotation) keys(ctx context.Context, env, step string, ids ...string) (*operate.KeyRotation, error) {
	out, err := operate.Ask(ctx, r.ex, env, r.service, &operate.RotateKeyRequest{Secret: r.o.Name, Step: step, Keys: ids})
	switch {
	case err != nil:
		return nil, err
	case out.NotAnAgent:
		return nil, fmt.Errorf("the image of service %s has no devopsellence-backup agent", r.service)
	case out.Keys == nil:
		return nil, fmt.Errorf("the agent gave no answer (exit %d): %s", out.ExitCode, strings.Join(out.Tail, " "))
	case out.Keys.Error != nil:
		return nil, fmt.Errorf("%s: %s (%s)", out.Keys.Error.Repository, out.Keys.Error.Message, out.Keys.Error.Class)
	}
	return out.Keys, nil
}

// rotatePlain rotates any other secret: store it, deploy, and check that
// the service still opens the repository.
func (r *rotation) rotatePlain(ctx context.Context) error {
	for _, env := range r.envs {
		if _, err := r.w.client.SetSecret(ctx, env, r.service, r.o.Name, r.value); err != nil {
			return fmt.Errorf("rotate %s: store it in %s: %w", r.o.Name, env, err)
		}
	}
	for _, env := range r.envs {
		r.say("deploying %s", env)
		show := r.o.apply.progress(logr.FromContextOrDiscard(ctx))
		if _, err := r.w.client.Deploy(ctx, env, false, func(ev reconcile.DeployEvent) { show(env, ev) }); err != nil {
			return fmt.Errorf("rotate %s: deploy %s: %w; the new value is stored: run `devopsellence deploy --env %s`", r.o.Name, env, err, env)
		}
		kr, err := r.keys(ctx, env, operate.KeyStepVerify)
		if err != nil {
			return fmt.Errorf("rotate %s: after the deploy, the service in %s does not open the repository: %w", r.o.Name, env, err)
		}
		r.repos = append(r.repos, kr.Repositories...)
	}
	return nil
}

func (r *rotation) say(format string, args ...any) {
	if r.o.apply.LogJSON {
		logr.FromContextOrDiscard(context.Background()).Info("rotateStep", "message", fmt.Sprintf(format, args...))
		return
	}
	fmt.Fprintf(r.o.apply.IO.Err, "rotate-secret: "+format+"\n", args...)
}

func (r *rotation) print() error {
	summary := fmt.Sprintf("Rotated %s in %s: the service opens the repository with the new value.", r.o.Name, strings.Join(r.envs, ", "))
	if r.password {
		summary = fmt.Sprintf("Rotated %s in %s: each repository opens with the new key only (old key removed). Keep the new password outside the node.", r.o.Name, strings.Join(r.envs, ", "))
	}
	if r.o.apply.Output == render.JSON {
		repos := r.repos
		if repos == nil {
			repos = []operate.RotatedRepo{}
		}
		return render.WriteJSON(r.o.apply.IO.Out, RotateDoc{
			Envelope: render.Envelope{SchemaVersion: render.SchemaVersion, Operation: r.o.apply.Operation, OK: true, Summary: summary},
			Secret:   r.o.Name, Environments: r.envs, Password: r.password, Repositories: repos,
		})
	}
	for _, rr := range r.repos {
		line := fmt.Sprintf("  %s: opens with key %s", rr.Repository, operate.ShortID(rr.CurrentKey))
		if rr.AddedKey != "" {
			line = fmt.Sprintf("  %s: new key %s; removed %s", rr.Repository, operate.ShortID(rr.AddedKey), strings.Join(shortIDs(rr.Removed), ", "))
		}
		fmt.Fprintln(r.o.apply.IO.Out, line)
	}
	_, err := fmt.Fprintln(r.o.apply.IO.Out, summary)
	return err
}

func sameKeyID(a, b string) bool {
	n := min(len(a), len(b))
	return n > 0 && a[:n] == b[:n]
}

func shortIDs(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, operate.ShortID(id))
	}
	return out
}
