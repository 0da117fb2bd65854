package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/devopsellence/devopsellence-backup/cmd/internal/buildinfo"
	"github.com/devopsellence/devopsellence-backup/reconcile/operate"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/devopsellence/devopsellence-backup/cmd/internal/prompt"
	"github.com/devopsellence/devopsellence-backup/reconcile"
	"github.com/devopsellence/devopsellence-backup/spec"
)

// build puts the spec together from detection, flags and answers; or,
// when a spec exists (prev), from it, with the flags given and the answers
// (whose defaults it gives) changing it.
func (o *initOptions) build(ctx context.Context, w *workspace, app *reconcile.App, prev *spec.Backup) (*spec.Backup, error) {
	if prev != nil {
		return o.rebuild(ctx, prev)
	}
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
	if err := o.sources(ctx, w, app, s); err != nil {
		return nil, err
	}
	if o.KeepDaily+o.KeepWeekly+o.KeepMonthly > 0 {
		s.Retention = &spec.Retention{KeepDaily: o.KeepDaily, KeepWeekly: o.KeepWeekly, KeepMonthly: o.KeepMonthly}
	}
	// Backups keep happening after onboarding: init writes the daily
	// schedule rather than leave it implied.
	s.Schedule = &spec.Schedule{Every: spec.DefaultBackupEvery}
	if err := o.onePassword(s); err != nil {
		return nil, err
	}
	a := o.adopted(app)
	if err := o.answer(ctx, s, a); err != nil {
		return nil, err
	}
	return b, nil
}

// rebuild starts from the spec that exists: what a flag names replaces
// its part, and every question defaults to what the spec says, so that
// running init again with the same flags and the defaults gives the same
// spec.
func (o *initOptions) rebuild(ctx context.Context, prev *spec.Backup) (*spec.Backup, error) {
	b, err := cloneSpec(prev)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.apply.IO.Err, "%s exists: its answers are the defaults, and what the flags name replaces its part\n", spec.DefaultFile)
	s := &b.Spec
	if o.changed("name") {
		b.Metadata.Name = o.Name
	}
	if o.changed("environments") {
		s.Environments = o.Envs
	}
	if len(o.Volumes) > 0 {
		s.Volumes = nil
		for _, v := range o.Volumes {
			s.Volumes = append(s.Volumes, spec.Volume{Name: v})
		}
	}
	if len(o.Databases) > 0 {
		s.Databases = nil
		for _, d := range o.Databases {
			db, err := parseDatabaseFlag(d)
			if err != nil {
				return nil, err
			}
			s.Databases = append(s.Databases, db)
		}
	}
	if err := o.scratch(s.Databases); err != nil {
		return nil, err
	}
	if o.changed("keep-daily") || o.changed("keep-weekly") || o.changed("keep-monthly") {
		r := spec.Retention{KeepDaily: o.KeepDaily, KeepWeekly: o.KeepWeekly, KeepMonthly: o.KeepMonthly}
		if s.Retention != nil {
			r = *s.Retention
			for flag, into := range map[string]*int{"keep-daily": &r.KeepDaily, "keep-weekly": &r.KeepWeekly, "keep-monthly": &r.KeepMonthly} {
				if o.changed(flag) {
					*into = map[string]int{"keep-daily": o.KeepDaily, "keep-weekly": o.KeepWeekly, "keep-monthly": o.KeepMonthly}[flag]
				}
			}
		}
		s.Retention = &r
	}
	if err := o.onePassword(s); err != nil {
		return nil, err
	}
	a := adoption{image: s.Image, repo: s.Repository.URL, repoType: s.Repository.Type, repoVolume: s.Repository.Volume,
		repoSecret: s.Repository.URLSecret != "", fromSpec: true}
	keep := s.Repository
	if err := o.answer(ctx, s, a); err != nil {
		return nil, err
	}
	if s.Repository.URL == keep.URL && s.Repository.URLSecret == keep.URLSecret {
		// The same repository: keep what else the spec says of it
		// (credentials), with the answers' type and volume.
		keep.Type, keep.Volume = s.Repository.Type, s.Repository.Volume
		s.Repository = keep
	}
	return b, nil
}

// cloneSpec copies a parsed spec through its JSON form, which holds every
// field the file can set.
func cloneSpec(b *spec.Backup) (*spec.Backup, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	out := &spec.Backup{}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, err
	}
	return out, nil
}

// onePassword applies --onepassword NAME=op://vault/item/field.
func (o *initOptions) onePassword(s *spec.Spec) error {
	for _, kv := range o.OnePassword {
		name, ref, ok := strings.Cut(kv, "=")
		// Only a valid name is repeated: the value itself may have been
		// typed where the name or the reference belongs.
		if !ok || !spec.IsEnvVarName(name) {
			return usagef("--onepassword: want NAME=op://vault/item/field, NAME in capitals ([A-Z_][A-Z0-9_]*)")
		}
		if !spec.IsOnePasswordRef(ref) {
			return usagef("--onepassword %s=…: the right side must be a 1Password reference (op://vault/item/field), never the value itself", name)
		}
		if s.Secrets == nil {
			s.Secrets = map[string]spec.SecretSource{}
		}
		s.Secrets[name] = spec.SecretSource{OnePassword: ref}
	}
	return nil
}

// sources fills the volumes, per environment, and the databases: from the
// flags, else from detection; with nothing to back up it asks (on a
// terminal) or refuses with the flags that fix it.
func (o *initOptions) sources(ctx context.Context, w *workspace, app *reconcile.App, s *spec.Spec) error {
	var det detected
	if !o.NoDetect {
		det = detect(app, w.dir, spec.DefaultService)
		for _, n := range det.Notes {
			fmt.Fprintf(o.apply.IO.Err, "note: %s\n", n)
		}
	}
	if len(o.Volumes) > 0 {
		for _, v := range o.Volumes {
			s.Volumes = append(s.Volumes, spec.Volume{Name: v})
		}
	} else if !o.NoDetect {
		s.Volumes, s.Overrides = volumesPerEnvironment(app, s.Environments, spec.DefaultService)
	}
	if len(o.Databases) > 0 {
		for _, d := range o.Databases {
			db, err := parseDatabaseFlag(d)
			if err != nil {
				return err
			}
			s.Databases = append(s.Databases, db)
		}
	} else {
		s.Databases = det.Databases
	}
	if err := o.scratch(s.Databases); err != nil {
		return err
	}
	if len(s.Volumes) > 0 || len(s.Databases) > 0 {
		return nil
	}
	const fix = "name what to back up: --volume NAME (a volume an app service mounts) or --database NAME=ENGINE:URL_SECRET (or NAME=sqlite:/path)"
	if !o.canAsk() {
		return usagef("init found nothing to back up: no app service in %s mounts a volume, and no database URL secret or SQLite file was detected; %s", ConfigFile, fix)
	}
	answer, err := o.ask(ctx, "Nothing to back up was detected. A database to back up (NAME=ENGINE:URL_SECRET, or NAME=sqlite:/path; empty to stop)", "")
	if err != nil {
		return err
	}
	if answer == "" {
		return usagef("init found nothing to back up; %s", fix)
	}
	db, err := parseDatabaseFlag(answer)
	if err != nil {
		return err
	}
	s.Databases = append(s.Databases, db)
	return o.scratch(s.Databases)
}

// scratch applies --scratch-url-secret NAME=SECRET: the secret holding a
// server URL where a drill of database NAME may create its scratch copy.
func (o *initOptions) scratch(dbs []spec.Database) error {
	for _, kv := range o.Scratch {
		name, sec, ok := strings.Cut(kv, "=")
		i := slices.IndexFunc(dbs, func(d spec.Database) bool { return d.Name == name })
		switch {
		case !ok || sec == "":
			return usagef("--scratch-url-secret %s=…: want NAME=SECRET, the database's name and the secret that holds its scratch server's URL", flagName(name))
		case i < 0:
			return usagef("--scratch-url-secret %s: no database of that name (databases: %s)", flagName(name), strings.Join(dbNames(dbs), ", "))
		}
		dbs[i].ScratchURLSecret = sec
	}
	return nil
}

// adoption is what an existing backup service in devopsellence.yml already
// says about the image and the repository.
type adoption struct {
	image, repo, repoType, repoVolume string
	repoSecret                        bool
	// fromSpec: this is the spec init wrote before, whose image is kept
	// whatever it is.
	fromSpec bool
}

// adopted reads the hand-written (or earlier managed) backup service, if
// there is one that looks like restic, so init reuses its image and
// repository instead of asking for them.
func (o *initOptions) adopted(app *reconcile.App) adoption {
	svc, ok := app.Service(spec.DefaultService)
	if !ok || !reconcile.Adoptable(svc) {
		return adoption{}
	}
	a := adoption{image: svc.Image}
	if url := svc.Env[spec.RepositorySecret]; url != "" && !spec.EmbedsCredentials(url) {
		a.repo = url
	}
	for _, r := range svc.SecretRefs {
		switch {
		case r.Name == spec.RepositorySecret:
			a.repoSecret = true
		case strings.HasPrefix(r.Name, "AWS_"):
			a.repoType = "s3"
		case strings.HasPrefix(r.Name, "B2_"):
			a.repoType = "b2"
		case strings.HasPrefix(r.Name, "AZURE_"):
			a.repoType = "azure"
		case strings.HasPrefix(r.Name, "GOOGLE_"):
			a.repoType = "gs"
		}
	}
	return a
}

// answer settles the image, the repository and where drills restore:
// flags first, then what an adopted service or the existing spec says,
// then (on a terminal) questions with those as defaults.
func (o *initOptions) answer(ctx context.Context, s *spec.Spec, a adoption) error {
	v := o.defaults(a)
	if o.canAsk() {
		if err := o.askAnswers(ctx, s, &v); err != nil {
			return err
		}
	}
	v.image = cmpOr(v.image, defaultImage(), v.lent)
	if (spec.Repository{URL: v.repo}).LocalPath() == "" {
		v.volume = ""
	}
	if missing := v.missing(); len(missing) > 0 {
		return usagef("init needs: %s", strings.Join(missing, "; "))
	}
	s.Image = v.image
	if v.repoSecret {
		s.Repository = spec.Repository{URLSecret: spec.RepositorySecret, Type: v.repoType}
	} else {
		s.Repository = spec.Repository{URL: v.repo, Volume: v.volume}
	}
	return nil
}

// initAnswers are the image and repository answers as init settles them.
type initAnswers struct {
	image, repo, repoType, volume string
	// repoSecret keeps the repository URL in the secret RESTIC_REPOSITORY.
	repoSecret bool
	// lent is the adopted service's image, the last default for image.
	lent string
}

// defaults are the answers the flags give, else an adopted service or the
// existing spec.
func (o *initOptions) defaults(a adoption) initAnswers {
	v := initAnswers{image: o.Image, repo: o.Repository, repoSecret: o.RepoSecret, lent: a.image}
	if v.image == "" {
		v.image = agentImage(a.image)
		if a.fromSpec {
			v.image = a.image
		}
	}
	if v.repo == "" && !v.repoSecret {
		v.repo, v.repoSecret = a.repo, a.repoSecret && a.repo == ""
	}
	v.repoType = cmpOr(o.RepoType, a.repoType)
	v.volume = cmpOr(o.RepoVolume, a.repoVolume)
	// restic's own image (the backup guide's) lacks the agent: it is never
	// a default.
	if reconcile.ResticImage(v.lent) && o.Image == "" {
		fmt.Fprintf(o.apply.IO.Err, "note: the backup service in %s runs %s, restic's own image, which has no devopsellence-backup agent: init needs another image\n", ConfigFile, v.lent)
		v.lent = ""
		if v.image == a.image {
			v.image = ""
		}
	}
	return v
}

// askAnswers asks on a terminal for what no flag gave, with v's answers
// as the defaults, and for retention and the drills' scratch databases.
func (o *initOptions) askAnswers(ctx context.Context, s *spec.Spec, v *initAnswers) error {
	var err error
	fmt.Fprintf(o.apply.IO.Err, "Detected: volumes %v, databases %v\n", volumeNames(s), dbNames(s.Databases))
	if v.repo == "" && !v.repoSecret {
		if v.repo, err = o.ask(ctx, "restic repository URL (e.g. s3:s3.amazonaws.com/bucket/app; a URL with credentials: leave empty to keep it in the secret RESTIC_REPOSITORY)", ""); err != nil {
			return err
		}
		v.repoSecret = v.repo == ""
	}
	if v.repoSecret && o.RepoType == "" {
		if v.repoType, err = o.askType(ctx, v.repoType); err != nil {
			return err
		}
	}
	if (spec.Repository{URL: v.repo}).LocalPath() != "" && o.RepoVolume == "" {
		if v.volume, err = o.ask(ctx, "volume to mount at "+v.repo+" for the repository (a named volume, or a host path such as /srv/backups)", cmpOr(v.volume, "restic_repo")); err != nil {
			return err
		}
	}
	if v.image == "" && defaultImage() == "" {
		fmt.Fprintln(o.apply.IO.Err, "No default image: "+noImageHelp+".")
	}
	if o.Image == "" {
		if v.image, err = o.ask(ctx, "backup image (the devopsellence-backup agent, restic and the database clients)", cmpOr(v.image, defaultImage(), v.lent)); err != nil {
			return err
		}
	}
	if s.Retention != nil && !o.changed("keep-daily") {
		d, err := o.askInt(ctx, "daily snapshots to keep", s.Retention.KeepDaily)
		if err != nil {
			return err
		}
		s.Retention.KeepDaily = d
	}
	return o.askScratch(ctx, s.Databases)
}

// missing names the flags still needed once the answers are settled.
func (v initAnswers) missing() []string {
	var missing []string
	if v.repo == "" && !v.repoSecret {
		missing = append(missing, "--repository URL (or --repository-secret with --repository-type)")
	}
	if v.repoSecret && v.repoType == "" {
		missing = append(missing, "--repository-type (s3, b2, rest, ...) for the secret repository URL")
	}
	if local := (spec.Repository{URL: v.repo}).LocalPath(); local != "" && v.volume == "" {
		missing = append(missing, fmt.Sprintf("--repository-volume NAME: %s is a path inside the backup container and is lost at the next deploy; mount a volume there (a named volume, or a host path such as /srv/backups), or use a remote repository (s3:, b2:, rest:, sftp:, ...)", local))
	}
	if v.image == "" {
		missing = append(missing, "--image ("+noImageHelp+")")
	}
	return missing
}

// askType asks for the backend of a repository whose URL is a secret: it
// decides which credentials the service needs.
func (o *initOptions) askType(ctx context.Context, def string) (string, error) {
	for {
		t, err := o.ask(ctx, "backend type of the repository URL kept in RESTIC_REPOSITORY ("+strings.Join(repositoryTypes, ", ")+")", def)
		if err != nil {
			return "", err
		}
		if slices.Contains(repositoryTypes, t) {
			return t, nil
		}
		fmt.Fprintf(o.apply.IO.Err, "  want one of %s\n", strings.Join(repositoryTypes, ", "))
	}
}

// repositoryTypes are the backends a secret repository URL may name.
var repositoryTypes = []string{"s3", "b2", "rest", "sftp", "azure", "gs", "swift", "rclone"}

// askScratch asks, for each database that a drill can restore only into a
// scratch database on a server init cannot guess (one reached by a URL),
// for the secret that holds such a server's URL. A database run by an app
// service needs none: the drill uses its own server.
func (o *initOptions) askScratch(ctx context.Context, dbs []spec.Database) error {
	for i := range dbs {
		d := &dbs[i]
		if !needsScratch(*d) || slices.ContainsFunc(o.Scratch, func(kv string) bool { return strings.HasPrefix(kv, d.Name+"=") }) {
			continue
		}
		for {
			answer, err := o.ask(ctx, fmt.Sprintf("restore drills of database %s (%s) create a scratch database, then drop it: the secret to hold the URL of a server where they may (e.g. DRILL_DATABASE_URL; empty: drills of %s stop at no_scratch)", d.Name, d.Engine, d.Name), d.ScratchURLSecret)
			if err != nil {
				return err
			}
			if answer == "" || spec.IsEnvVarName(answer) {
				d.ScratchURLSecret = answer
				break
			}
			fmt.Fprintln(o.apply.IO.Err, "  want a secret name in capitals ([A-Z_][A-Z0-9_]*), not the URL itself")
		}
	}
	return nil
}

// needsScratch reports a database whose drills need scratchUrlSecret: a
// PostgreSQL or MySQL/MariaDB server reached by a URL.
func needsScratch(d spec.Database) bool {
	switch d.Engine {
	case spec.EnginePostgres, spec.EngineMySQL, spec.EngineMariaDB:
		return d.Service == "" && d.URLSecret != ""
	}
	return false
}

var flagNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// flagName is the NAME part of a NAME=... flag as it may be shown: a value
// typed where the name belongs is never echoed.
func flagName(name string) string {
	if flagNameRe.MatchString(name) {
		return name
	}
	return "NAME"
}

// defaultImage is the official backup image of this release, so that the
// agent in the service matches this tool; "" for a build that is not a
// release (init then asks for an image).
func defaultImage() string {
	if v, ok := buildinfo.Release(); ok {
		return operate.ImageFor(v)
	}
	return ""
}

// agentImage keeps an adopted service's image when it is an agent image
// (the official one, any tag); a hand-written service from the backup
// guide runs plain restic, which has no agent, and gets the default.
func agentImage(image string) string {
	if strings.HasPrefix(image, operate.OfficialImage+":") {
		return image
	}
	return ""
}

// noImageHelp says where an image comes from when there is no default.
const noImageHelp = "this devopsellence-backup is not a release build, so there is no official image of its version: " +
	"build one from the repository's Dockerfile (or `devopsellence-backup image` for a custom one), push it, and pass --image"

func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func volumeNames(s *spec.Spec) []string {
	out := []string{}
	for _, v := range s.Volumes {
		out = append(out, v.Name)
	}
	for _, env := range slices.Sorted(maps.Keys(s.Overrides)) {
		for _, v := range s.Overrides[env].Volumes {
			out = append(out, v.Name+" ("+env+")")
		}
	}
	return out
}

func (o *initOptions) ask(ctx context.Context, question, def string) (string, error) {
	t := &prompt.Terminal{Fd: o.apply.IO.InFd(), Out: o.apply.IO.Err}
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
		fmt.Fprintln(o.apply.IO.Err, "  want a whole number")
	}
}
