package spec

// APIVersion and Kind identify a devopsellence-backup spec document.
const (
	Group      = "backup.devopsellence.io"
	APIVersion = Group + "/v1alpha1"
	Kind       = "Backup"

	// DefaultFile is the spec's file name in the app root.
	DefaultFile = "devopsellence.backup.yml"
	// DefaultService is the backup service's name in devopsellence.yml.
	DefaultService = "backup"
	// PasswordSecret is the restic repository password; every repository needs it.
	PasswordSecret = "RESTIC_PASSWORD"
	// RepositorySecret is the secret that carries the repository URL when the URL
	// itself holds credentials. restic reads the repository from this variable,
	// and devopsellence injects a secret as an env var named after the ref.
	RepositorySecret = "RESTIC_REPOSITORY"
)

// Backup is the whole spec document, Kubernetes style.
type Backup struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       Spec     `json:"spec"`

	// source maps field paths to line numbers; filled by Parse.
	source *positions
}

// Metadata names the backup.
type Metadata struct {
	Name string `json:"name"`
}

// Spec is the desired state of an app's backups.
type Spec struct {
	// Service is the backup service's name in devopsellence.yml (default "backup").
	Service string `json:"service,omitempty"`
	// Image is the backup image; it must carry restic and the database clients.
	Image string `json:"image"`
	// Environments covered (default: the app's default_environment).
	Environments []string `json:"environments,omitempty"`
	// Volumes are app volumes to back up, by source name.
	Volumes []Volume `json:"volumes,omitempty"`
	// Paths are extra absolute paths inside the backup service to back up.
	Paths []string `json:"paths,omitempty"`
	// Exclude are restic --exclude patterns for every file backup: an
	// absolute pattern is anchored, any other matches at any depth.
	Exclude []string `json:"exclude,omitempty"`
	// ExcludeCaches leaves out the contents of folders that hold a
	// CACHEDIR.TAG (restic --exclude-caches).
	ExcludeCaches bool `json:"excludeCaches,omitempty"`
	// AllowShrink accepts a files backup that holds less than half the
	// bytes of the one before it. Without it such a backup is a finding,
	// and status does not count it as a fresh backup: an exclude or an app
	// bug that hides most files would otherwise pass unnoticed.
	AllowShrink bool `json:"allowShrink,omitempty"`
	// Databases are dumped consistently and backed up as their own snapshots.
	Databases  []Database `json:"databases,omitempty"`
	Repository Repository `json:"repository"`
	// Copies are second repositories (3-2-1), filled with restic copy after
	// each backup and pruned by their own retention.
	Copies []Copy `json:"copies,omitempty"`
	// Secrets says where each secret comes from; a secret not listed is asked for.
	Secrets   map[string]SecretSource `json:"secrets,omitempty"`
	Retention *Retention              `json:"retention,omitempty"`
	// Tags for every snapshot (default app:<project>, env:<environment>).
	Tags []string `json:"tags,omitempty"`
	// Host is restic's --host for every snapshot (default <project>-<environment>).
	Host string `json:"host,omitempty"`
	// CacheDir is RESTIC_CACHE_DIR inside the service (default /var/cache/restic).
	CacheDir string `json:"cacheDir,omitempty"`
	// Env is extra plain (non-secret) env for the service.
	Env map[string]string `json:"env,omitempty"`
	// Schedule is when the service runs its own backups, prune and check
	// (default: a backup every day); "manual" turns it off.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Alerts tell a person when scheduled backups fail or stop.
	Alerts *Alerts `json:"alerts,omitempty"`
	// Check configures `restic check`.
	Check *Check `json:"check,omitempty"`
	// Drill configures restore drills.
	Drill *Drill `json:"drill,omitempty"`
	// Restore configures restores into live data.
	Restore *Restore `json:"restore,omitempty"`
	// Freshness sets when evidence counts as stale in `status`.
	Freshness *Freshness `json:"freshness,omitempty"`
	// Overrides holds per-environment differences, keyed by environment.
	Overrides map[string]Override `json:"overrides,omitempty"`
}

// Volume is an app volume (by its source name in devopsellence.yml) to back up.
type Volume struct {
	Name string `json:"name"`
	// Target is where the volume is mounted in the backup service (default /data/<name>).
	Target string `json:"target,omitempty"`
	// LiveDatabaseFiles says why copying this volume file by file is safe
	// although it is the data directory of a database server (for example
	// "the server is stopped while backups run"). A database's live files
	// copied while it writes them may not start, or may lose committed
	// rows, so plan refuses such a volume without it.
	LiveDatabaseFiles string `json:"liveDatabaseFiles,omitempty"`
	// Exclude are restic --exclude patterns relative to Target.
	Exclude []string `json:"exclude,omitempty"`
}

// Database engines.
const (
	EnginePostgres = "postgres"
	EngineMySQL    = "mysql"
	EngineMariaDB  = "mariadb"
	EngineSQLite   = "sqlite"
	EngineRedis    = "redis"
	// EngineCommand is a custom dump: Command writes the dump on stdout.
	EngineCommand = "command"
)

// Postgres dump formats.
const (
	FormatCustom = "custom"
	FormatPlain  = "plain"
)

// Database is one database to dump.
type Database struct {
	Name   string `json:"name"`
	Engine string `json:"engine"`
	// Service names the app service that runs the server (postgres, mysql,
	// mariadb, redis): the backup service reaches it over the environment's
	// network by that name, as the app's own services do.
	Service string `json:"service,omitempty"`
	// Port, User and Database (service databases only) default to what the
	// service's image and env say: the image's port, POSTGRES_USER and
	// POSTGRES_DB, MYSQL_*/MARIADB_*.
	Port     int    `json:"port,omitempty"`
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	// PasswordSecret names the backup service's own secret holding the
	// password of User (service databases only); devopsellence keeps
	// secrets per service, so the database service's own is not visible.
	PasswordSecret string `json:"passwordSecret,omitempty"`
	// URLSecret names the secret holding the connection URL (postgres, mysql, mariadb).
	URLSecret string `json:"urlSecret,omitempty"`
	// Path is the sqlite file inside a backed-up volume, as the backup service sees it.
	Path string `json:"path,omitempty"`
	// Optional (sqlite only) says the file may not exist yet: the app
	// creates it when it first needs it (Rails' production_cache). Until
	// a backup of it exists, a missing file is a note, not a failure.
	Optional bool `json:"optional,omitempty"`
	// Format is the postgres dump format: custom (pg_dump -Fc -Z0, the
	// default) or plain SQL. Both stay uncompressed so restic can dedup them.
	Format string `json:"format,omitempty"`
	// ScratchURLSecret names the secret holding a connection URL of a server
	// where a restore drill may create, fill and drop a scratch database
	// (postgres, mysql, mariadb). The drill never writes to the URL's own database.
	ScratchURLSecret string `json:"scratchUrlSecret,omitempty"`
	// Check is what a restore drill runs against the restored copy.
	Check *DatabaseCheck `json:"check,omitempty"`
	// Command is the dumper of a custom dump (engine command): its standard
	// output is the dump, and it must exit 0 for a snapshot to be saved.
	Command []string `json:"command,omitempty"`
	// RestoreCommand verifies a custom dump in a drill: it reads the dump
	// on stdin (and BACKUP_DUMP_FILE names it) and must exit 0.
	RestoreCommand []string `json:"restoreCommand,omitempty"`
}

// DatabaseCheck verifies a restored database in a drill.
type DatabaseCheck struct {
	// Query is SQL whose output must be equal on the source and the restored copy.
	Query string `json:"query,omitempty"`
	// Command is a shell command run against the restored copy; exit 0 passes.
	Command string `json:"command,omitempty"`
}

// Repository is where restic stores snapshots.
type Repository struct {
	// URL is the repository string (s3:..., b2:..., rest:..., /path, ...).
	URL string `json:"url,omitempty"`
	// URLSecret names the secret holding the URL, for URLs that carry credentials.
	// It must be RESTIC_REPOSITORY.
	URLSecret string `json:"urlSecret,omitempty"`
	// Type is the backend type when the URL is secret (s3, b2, rest, ...);
	// it decides which credential secrets are needed.
	Type string `json:"type,omitempty"`
	// Credentials replaces the credential secrets derived from the backend type.
	Credentials []string `json:"credentials,omitempty"`
	// Volume is, for a local repository, what the backup service mounts at
	// the repository's path: a named volume, or an absolute host path. A
	// local path without one is inside the container and lost at the next
	// deploy.
	Volume string `json:"volume,omitempty"`
}

// Copy is a second repository that holds a copy of every snapshot of this
// app (restic copy), with its own password, credentials and retention.
type Copy struct {
	// Name names the copy in commands (--from-copy NAME) and status.
	Name       string     `json:"name"`
	Repository Repository `json:"repository"`
	// PasswordSecret names the secret holding the copy's repository
	// password (RESTIC_PASSWORD: the same as the primary's).
	PasswordSecret string `json:"passwordSecret"`
	// Retention is the copy's forget policy (default: the primary's).
	Retention *Retention `json:"retention,omitempty"`
}

// SecretSource says where a secret's value comes from.
type SecretSource struct {
	// OnePassword is an op://vault/item/field reference; no value is asked for.
	OnePassword string `json:"onePassword,omitempty"`
}

// Retention is restic's forget policy.
type Retention struct {
	KeepLast    int `json:"keepLast,omitempty"`
	KeepHourly  int `json:"keepHourly,omitempty"`
	KeepDaily   int `json:"keepDaily,omitempty"`
	KeepWeekly  int `json:"keepWeekly,omitempty"`
	KeepMonthly int `json:"keepMonthly,omitempty"`
	KeepYearly  int `json:"keepYearly,omitempty"`
	// KeepWithin is a restic duration such as 30d or 1y6m.
	KeepWithin string `json:"keepWithin,omitempty"`
}

// Schedule runs backups inside the service. Exactly one of Every and At is
// set, unless Manual (written `schedule: manual`) turns scheduling off.
type Schedule struct {
	// Manual means no backup runs unless someone runs one.
	Manual bool `json:"-"`
	// Every is an interval such as 6h or 1d.
	Every Duration `json:"every,omitempty"`
	// At is a daily UTC time, HH:MM.
	At string `json:"at,omitempty"`
	// CheckEvery and PruneEvery run check and prune at their own intervals
	// (defaults 7d and 1d).
	CheckEvery Duration `json:"checkEvery,omitempty"`
	PruneEvery Duration `json:"pruneEvery,omitempty"`
	// BackupTimeout, PruneTimeout and CheckTimeout are the deadlines of
	// the scheduled runs (defaults 6h, 2h and 2h): a prune of years of
	// history may need more.
	BackupTimeout Duration `json:"backupTimeout,omitempty"`
	PruneTimeout  Duration `json:"pruneTimeout,omitempty"`
	CheckTimeout  Duration `json:"checkTimeout,omitempty"`
}

// Alerts are the dead-man's switch and failure notices of unattended runs.
// Both URLs are secrets: a ping URL is as good as a password to whoever
// wants to silence the alarm.
type Alerts struct {
	// PingURLSecret names the secret holding a healthchecks.io-style ping
	// URL: <url>/start when a backup starts, <url> on success, <url>/fail
	// on failure.
	PingURLSecret string `json:"pingUrlSecret,omitempty"`
	// WebhookURLSecret names the secret holding a URL that receives the
	// evidence document as JSON (POST).
	WebhookURLSecret string `json:"webhookUrlSecret,omitempty"`
	// WebhookOn is failure (default) or always.
	WebhookOn string `json:"webhookOn,omitempty"`
}

// Webhook triggers.
const (
	WebhookOnFailure = "failure"
	WebhookOnAlways  = "always"
)

// Check configures repository checks.
type Check struct {
	// ReadDataParts > 0 makes each check read one of N parts of the data
	// (--read-data-subset n/N), rotating over successive runs.
	ReadDataParts int `json:"readDataParts,omitempty"`
}

// Drill configures restore drills.
type Drill struct {
	// SampleFiles is how many restored files are hashed and compared (default 20).
	SampleFiles int `json:"sampleFiles,omitempty"`
}

// Restore configures restores into live data.
type Restore struct {
	// UndoRetention keeps the undo snapshots that restores save of what
	// they overwrite (default keepWithin 14d). They never count in
	// spec.retention, so they cannot push out the backups.
	UndoRetention *Retention `json:"undoRetention,omitempty"`
	// LockWait is how long a database restore waits for a lock the app
	// holds before it gives up, changing nothing (default 10s): while it
	// waits, the app's own queries on those tables wait behind it.
	LockWait Duration `json:"lockWait,omitempty"`
}

// Freshness sets the age beyond which evidence is stale.
type Freshness struct {
	Backup Duration `json:"backup,omitempty"` // default 26h
	Check  Duration `json:"check,omitempty"`  // default 8d
	Drill  Duration `json:"drill,omitempty"`  // default 35d
}

// Override is what one environment changes.
type Override struct {
	Image string `json:"image,omitempty"`
	// Volumes replaces spec.volumes in this environment, whose app services
	// mount volumes of their own.
	Volumes    []Volume                `json:"volumes,omitempty"`
	Repository *Repository             `json:"repository,omitempty"`
	Retention  *Retention              `json:"retention,omitempty"`
	Tags       []string                `json:"tags,omitempty"`
	Secrets    map[string]SecretSource `json:"secrets,omitempty"`
}
