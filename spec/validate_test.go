package spec

import (
	"strings"
	"testing"
)

// TestParseRejects covers every decoding and validation rule with the exact
// message the user sees. base ends on line 8; a case's own lines start at 9.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		// The document as a whole.
		{"an empty document", "", []string{file + " empty document: want apiVersion, kind, metadata and spec"}},
		{"a document of comments only", "# nothing yet\n", []string{file + " empty document: want apiVersion, kind, metadata and spec"}},
		{"a null document", "---\n~\n", []string{file + "1: empty document: want apiVersion, kind, metadata and spec"}},
		{"two documents", base + "---\n" + base, []string{file + "10: more than one YAML document: keep a single spec in the file"}},
		{"invalid YAML", base + "  image: [\n", []string{file + "9: invalid YAML: did not find expected node content"}},
		{"a list at the top", "- a\n", []string{file + "1: want a mapping with apiVersion, kind, metadata and spec, got a list"}},

		// Decoding: unknown fields, duplicates, types.
		{"an unknown top-level field with another case", strings.Replace(base, "apiVersion", "apiversion", 1), []string{
			file + `1: apiversion: unknown field (did you mean "apiVersion"?)`,
			file + `1: apiVersion: required: want "backup.devopsellence.io/v1alpha1"`,
		}},
		{"an unknown nested field", base + "  volumes:\n    - name: app_storage\n      mountPath: /data\n", []string{
			file + "11: spec.volumes[0].mountPath: unknown field (want one of exclude, liveDatabaseFiles, name, target)",
		}},
		{"an unknown field in an override", base + "  overrides:\n    production:\n      paths: []\n", []string{
			file + "11: spec.overrides.production.paths: unknown field (want one of image, repository, retention, secrets, tags, volumes)",
		}},
		{"a duplicate key", base + "  image: img:2\n", []string{file + "9: spec.image: duplicate key (first at line 6)"}},
		{"a duplicate map key", base + "  env:\n    TZ: UTC\n    TZ: CET\n", []string{file + "11: spec.env.TZ: duplicate key (first at line 10)"}},
		{"a mapping where a list belongs", base + "  volumes:\n    name: app_storage\n", []string{file + "10: spec.volumes: want a list, got a mapping"}},
		{"a list where a mapping belongs", base + "  retention: [7]\n", []string{file + "9: spec.retention: want a mapping, got a list"}},
		{"a string where an integer belongs", base + "  retention:\n    keepDaily: seven\n", []string{file + "10: spec.retention.keepDaily: want an integer, got a string"}},
		{"a fraction where an integer belongs", base + "  drill:\n    sampleFiles: 7.5\n", []string{file + "10: spec.drill.sampleFiles: want an integer, got a floating-point number"}},
		{"a hexadecimal integer", base + "  drill:\n    sampleFiles: 0x10\n", []string{file + "10: spec.drill.sampleFiles: want a decimal integer such as 7"}},
		{"an integer out of range", base + "  drill:\n    sampleFiles: 99999999999999999999\n", []string{file + "10: spec.drill.sampleFiles: integer out of range"}},
		{"a boolean where a string belongs", head + "  image: true\n  repository:\n    url: /srv/repo\n    volume: restic_repo\n", []string{file + "6: spec.image: want a string, got a boolean: put it in quotes"}},
		{"a number where a string belongs", base + "  env:\n    WORKERS: 4\n", []string{file + "10: spec.env.WORKERS: want a string, got an integer: put it in quotes"}},
		{"a YAML 1.1 boolean left unquoted", base + "  host: on\n", []string{file + "9: spec.host: ambiguous unquoted value: put it in quotes"}},
		{"a NUL byte in an env value", base + "  env:\n    TZ: \"U\\0TC\"\n", []string{file + `10: spec.env.TZ: the value holds a NUL byte (\0), which no environment variable can carry: the service could not start`}},
		{"a YAML 1.1 boolean as a key", base + "  env:\n    Y: x\n", []string{file + "10: spec.env.Y: ambiguous unquoted key: put it in quotes"}},
		{"a key that is not a string", base + "  env:\n    1: x\n", []string{file + "10: spec.env: keys must be strings"}},
		{"an alias", base + "  paths: &p [/srv]\n  tags: *p\n", []string{file + "10: spec.tags: anchors and aliases are not supported: write the value out"}},
		{"a merge key", base + "  env:\n    <<: {TZ: UTC}\n", []string{file + "10: spec.env: merge keys (<<) are not supported: write the values out"}},
		{"a duration that is a number", base + "  freshness:\n    backup: 26\n", []string{file + `10: spec.freshness.backup: want a duration string such as "26h" or "8d", got an integer`}},
		{"an invalid duration", base + "  freshness:\n    backup: soon\n", []string{file + `10: spec.freshness.backup: invalid duration "soon" (want e.g. 90m, 26h, 8d or 1d12h)`}},
		{"a type problem hides what it causes", base + "  retention:\n    keepDaily: [7]\n  image: [x]\n", []string{
			file + "10: spec.retention.keepDaily: want an integer, got a list",
			file + "11: spec.image: duplicate key (first at line 6)",
		}},

		// Header.
		{"another apiVersion", strings.Replace(base, "v1alpha1", "v2", 1), []string{file + `1: apiVersion: want "backup.devopsellence.io/v1alpha1", got "backup.devopsellence.io/v2"`}},
		{"another kind", strings.Replace(base, "Backup", "Restore", 1), []string{file + `2: kind: want "Backup", got "Restore"`}},
		{"no kind", strings.Replace(base, "kind: Backup\n", "", 1), []string{file + `1: kind: required: want "Backup"`}},
		{"no metadata name", strings.Replace(base, "  name: app\n", "", 1), []string{file + "3: metadata.name: required: a lower-case DNS label such as the app's name"}},
		{"a metadata name that is not a DNS label", strings.Replace(base, "name: app", "name: app-", 1), []string{file + `4: metadata.name: "app-" is not a lower-case DNS label (a-z, 0-9 and -, starting and ending with a letter or digit, at most 63 characters)`}},

		// Service and image.
		{"a service name with capitals", base + "  service: Backup\n", []string{file + `9: spec.service: "Backup" is not a service name (lower-case a-z, 0-9, _, . and -, starting with a letter or digit)`}},
		{"the service name web", base + "  service: web\n", []string{file + `9: spec.service: "web" would make devopsellence treat the service as a web service that needs an http port and a healthcheck: use another name such as "backup"`}},
		{"no image", head + "  repository:\n    url: /srv/repo\n    volume: restic_repo\n", []string{file + "5: spec.image: required: the backup image, which must carry restic and the database clients"}},
		{"an image with whitespace", head + "  image: \"img :1\"\n  repository:\n    url: /srv/repo\n    volume: restic_repo\n", []string{file + `6: spec.image: "img :1" must not contain whitespace`}},

		// Environments.
		{"bad environment names", base + "  environments: [production, \"\", Staging, production]\n", []string{
			file + "9: spec.environments[1]: must not be empty",
			file + `9: spec.environments[2]: "Staging" is not an environment name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)`,
			file + "9: spec.environments[3]: duplicate of spec.environments[0]",
		}},

		// Volumes and paths.
		{"volume names", base + "  volumes:\n    - target: /x\n    - name: \"a:b\"\n    - name: app\n    - name: app\n    - name: -x\n    - name: /srv/media\n    - name: /srv/../media\n      target: /m\n", []string{
			file + "10: spec.volumes[0].name: required: the volume's source in devopsellence.yml",
			file + `11: spec.volumes[1].name: "a:b" must not contain ":" (devopsellence joins source:target into one Docker bind)`,
			file + "13: spec.volumes[3].name: duplicate of spec.volumes[2]",
			file + `14: spec.volumes[4].name: "-x" is neither a Docker volume name ([A-Za-z0-9][A-Za-z0-9_.-]*) nor an absolute host path`,
			file + `15: spec.volumes[5].target: required when the volume is a host path ("/srv/media"): there is no default mount point for it`,
			file + `16: spec.volumes[6].name: "/srv/../media" is not a clean path (want "/media")`,
		}},
		{"volume targets", base + "  volumes:\n    - name: a\n      target: data/a\n    - name: b\n      target: /data//b\n    - name: c\n      target: /c:ro\n    - name: d\n      target: /\n    - name: e\n      target: \"\"\n", []string{
			file + `11: spec.volumes[0].target: "data/a" must be an absolute path`,
			file + `13: spec.volumes[1].target: "/data//b" is not a clean path (want "/data/b")`,
			file + `15: spec.volumes[2].target: "/c:ro" must not contain ":" (devopsellence joins source:target into one Docker bind)`,
			file + "17: spec.volumes[3].target: must not be /",
		}},
		{"a directory backed up twice", base + "  volumes:\n    - name: app\n    - name: other\n      target: /data/app\n  paths: [/srv, /srv, /data/app]\n", []string{
			file + `12: spec.volumes[1].target: "/data/app" is also backed up by spec.volumes[0].name`,
			file + `13: spec.paths[1]: "/srv" is also backed up by spec.paths[0]`,
			file + `13: spec.paths[2]: "/data/app" is also backed up by spec.volumes[0].name`,
		}},
		{"paths that are not absolute and clean", base + "  paths: [srv, /srv/, \"/a:b\", \"\"]\n", []string{
			file + `9: spec.paths[0]: "srv" must be an absolute path`,
			file + `9: spec.paths[1]: "/srv/" is not a clean path (want "/srv")`,
			file + `9: spec.paths[2]: "/a:b" must not contain ":" (devopsellence joins source:target into one Docker bind)`,
			file + "9: spec.paths[3]: must not be empty",
		}},

		// Databases.
		{"database names", base + "  databases:\n    - engine: sqlite\n      path: /srv/a.db\n    - name: Main\n      engine: sqlite\n      path: /srv/b.db\n    - name: c\n      engine: sqlite\n      path: /srv/c.db\n    - name: c\n      engine: sqlite\n      path: /srv/d.db\n  paths: [/srv]\n", []string{
			file + "10: spec.databases[0].name: required: it names the dump in snapshots and tags",
			file + `12: spec.databases[1].name: "Main" is not a database name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)`,
			file + "18: spec.databases[3].name: duplicate of spec.databases[2]",
		}},
		{"database engines", base + "  databases:\n    - name: a\n    - name: b\n      engine: mongo\n", []string{
			file + "10: spec.databases[0].engine: required (want postgres, mysql, mariadb, redis, sqlite, command)",
			file + `12: spec.databases[1].engine: unsupported "mongo" (want postgres, mysql, mariadb, redis, sqlite, command)`,
		}},
		{"server databases without a usable urlSecret", base + "  databases:\n    - name: a\n      engine: postgres\n    - name: b\n      engine: mysql\n      urlSecret: database_url\n      path: /srv/b\n    - name: c\n      engine: mariadb\n      urlSecret: RESTIC_PASSWORD\n    - name: d\n      engine: postgres\n      urlSecret: BACKUP_DB\n", []string{
			file + "10: spec.databases[0].urlSecret: required for postgres: the secret that holds the connection URL, such as DATABASE_URL; or set service to the app service that runs the server",
			file + `14: spec.databases[1].urlSecret: "database_url" is not an env var name ([A-Z_][A-Z0-9_]*)`,
			file + "15: spec.databases[1].path: only for sqlite: mysql is reached through urlSecret or service",
			file + "18: spec.databases[2].urlSecret: RESTIC_PASSWORD is always added by devopsellence-backup: leave it out here",
			file + "21: spec.databases[3].urlSecret: BACKUP_DB is managed by devopsellence-backup",
		}},
		{"optional on a server database", base + "  databases:\n    - name: a\n      engine: postgres\n      urlSecret: DATABASE_URL\n      optional: true\n", []string{
			file + "13: spec.databases[0].optional: only for sqlite: a file the app may not have created yet; a postgres server is always there to dump",
		}},
		{"sqlite databases", base + "  paths: [/srv]\n  databases:\n    - name: a\n      engine: sqlite\n    - name: b\n      engine: sqlite\n      urlSecret: DB_URL\n      path: srv/b.db\n    - name: c\n      engine: sqlite\n      path: /var/c.db\n    - name: d\n      engine: sqlite\n      path: /srv\n", []string{
			file + "11: spec.databases[0].path: required for sqlite: the database file as the backup service sees it",
			file + "15: spec.databases[1].urlSecret: not for sqlite: set path to the database file instead",
			file + `16: spec.databases[1].path: "srv/b.db" must be an absolute path`,
			file + `19: spec.databases[2].path: "/var/c.db" is not inside a backed-up volume target or path (/srv)`,
			file + `22: spec.databases[3].path: "/srv" is not inside a backed-up volume target or path (/srv)`,
		}},
		{"a sqlite database when nothing is backed up", base + "  databases:\n    - name: a\n      engine: sqlite\n      path: /srv/a.db\n", []string{
			file + `12: spec.databases[0].path: "/srv/a.db" is not inside a backed-up volume target or path (none is backed up)`,
		}},
		{"a database check with query and command", base + "  databases:\n    - name: a\n      engine: postgres\n      urlSecret: DATABASE_URL\n      check:\n        query: select 1\n        command: exit 0\n", []string{
			file + "13: spec.databases[0].check: set query or command, not both",
		}},

		// Repository.
		{"no repository", head + "  image: img:1\n", []string{file + "5: spec.repository: set url, or urlSecret: RESTIC_REPOSITORY when the URL holds credentials"}},
		{"url and urlSecret", head + "  image: img:1\n  repository:\n    url: /srv/repo\n    urlSecret: RESTIC_REPOSITORY\n    type: local\n    volume: restic_repo\n", []string{file + "7: spec.repository: set only one of url and urlSecret"}},
		{"a urlSecret other than RESTIC_REPOSITORY", head + "  image: img:1\n  repository:\n    urlSecret: REPO_URL\n    type: s3\n", []string{
			file + "8: spec.repository.urlSecret: must be RESTIC_REPOSITORY: restic reads the repository from that variable, and devopsellence injects each secret as the env var its ref is named after",
		}},
		{"a urlSecret without type", head + "  image: img:1\n  repository:\n    urlSecret: RESTIC_REPOSITORY\n", []string{
			file + "7: spec.repository.type: required with urlSecret: it tells which credential secrets the repository needs (want azure, b2, gs, local, rclone, rest, s3, sftp, swift)",
		}},
		{"an unknown type", head + "  image: img:1\n  repository:\n    urlSecret: RESTIC_REPOSITORY\n    type: ftp\n", []string{
			file + `9: spec.repository.type: unsupported "ftp" (want azure, b2, gs, local, rclone, rest, s3, sftp, swift)`,
		}},
		{"a type that contradicts the url", head + "  image: img:1\n  repository:\n    url: b2:bucket:/app\n    type: s3\n", []string{
			file + `9: spec.repository.type: "s3" does not match the url's backend "b2"`,
		}},
		{"a url with an unknown backend", head + "  image: img:1\n  repository:\n    url: ftp://user:secret@host/repo\n", []string{
			file + `8: spec.repository.url: "ftp://host/repo" has no known backend (want a azure:, b2:, gs:, local:, rclone:, rest:, s3:, sftp:, swift: prefix or an absolute path)`,
		}},
		{"a relative local repository", head + "  image: img:1\n  repository:\n    url: local:repo\n", []string{
			file + `8: spec.repository.url: local repository "local:repo" must be an absolute path inside the backup service`,
		}},
		{"a url without location", head + "  image: img:1\n  repository:\n    url: \"s3:\"\n", []string{
			file + `8: spec.repository.url: "s3:" names no location after the backend`,
		}},
		{"a rest url with user and password", head + "  image: img:1\n  repository:\n    url: rest:https://user:hunter2@host:8000/app/\n", []string{
			file + `8: spec.repository.url: "rest:https://host:8000/app/" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: RESTIC_REPOSITORY and type: rest, and store the full URL as that secret`,
		}},
		{"an sftp url with a password", head + "  image: img:1\n  repository:\n    url: sftp://user:hunter2@host:2222//srv/repo\n", []string{
			file + `8: spec.repository.url: "sftp://host:2222//srv/repo" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: RESTIC_REPOSITORY and type: sftp, and store the full URL as that secret`,
		}},
		{"an rclone connection string", head + "  image: img:1\n  repository:\n    url: rclone::s3,access_key_id=AKIA,secret_access_key=hunter2:bucket/app\n", []string{
			file + `8: spec.repository.url: "rclone::s3" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: RESTIC_REPOSITORY and type: rclone, and store the full URL as that secret`,
		}},
		{"an s3 url with userinfo", head + "  image: img:1\n  repository:\n    url: s3:http://AKIA:hunter2@minio:9000/bucket\n", []string{
			file + `8: spec.repository.url: "s3:http://minio:9000/bucket" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: RESTIC_REPOSITORY and type: s3, and store the full URL as that secret`,
		}},
		{"bad credentials", head + "  image: img:1\n  repository:\n    url: s3:host/bucket\n    credentials: [aws_key, AWS_KEY, AWS_KEY, RESTIC_REPOSITORY]\n", []string{
			file + `9: spec.repository.credentials[0]: "aws_key" is not an env var name ([A-Z_][A-Z0-9_]*)`,
			file + "9: spec.repository.credentials[2]: duplicate of spec.repository.credentials[1]",
			file + "9: spec.repository.credentials[3]: RESTIC_REPOSITORY is always added by devopsellence-backup: leave it out here",
		}},

		// Secrets.
		{"bad secret sources", head + "  image: img:1\n  repository:\n    url: s3:host/bucket\n  secrets:\n    RESTIC_PASSWORD: {}\n    db_url:\n      onePassword: op://v/i/f\n    AWS_ACCESS_KEY_ID:\n      onePassword: op://vault/item\n    AWS_SECRET_ACCESS_KEY:\n      onePassword: op://vault//field\n", []string{
			file + "10: spec.secrets.RESTIC_PASSWORD.onePassword: required: an op://vault/item/field reference",
			file + "11: spec.secrets.db_url: \"db_url\" is not an env var name ([A-Z_][A-Z0-9_]*)",
			file + `14: spec.secrets.AWS_ACCESS_KEY_ID.onePassword: "op://vault/item" is not a 1Password reference (want op://vault/item/field)`,
			file + `16: spec.secrets.AWS_SECRET_ACCESS_KEY.onePassword: "op://vault//field" is not a 1Password reference (want op://vault/item/field)`,
		}},
		{"a secret source nobody needs", base + "  secrets:\n    AWS_SECRET_ACCESS_KEY:\n      onePassword: op://v/i/f\n", []string{
			file + "10: spec.secrets.AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY is not a secret of this backup (it uses RESTIC_PASSWORD)",
		}},

		// Retention, tags, host, cacheDir.
		{"retention without a keep", base + "  retention:\n    keepDaily: 0\n", []string{
			file + "9: spec.retention: set at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly and keepWithin",
		}},
		{"negative keeps and a bad keepWithin", base + "  retention:\n    keepLast: -1\n    keepYearly: 2\n    keepWithin: 30 days\n", []string{
			file + "10: spec.retention.keepLast: must not be negative",
			file + `12: spec.retention.keepWithin: "30 days" is not a restic duration (want e.g. 30d, 1y6m or 2y5m7d3h)`,
		}},
		{"bad tags", base + "  tags: [\"\", \"a,b\", \"a b\", ok, ok]\n", []string{
			file + "9: spec.tags[0]: must not be empty",
			file + `9: spec.tags[1]: "a,b" must not contain "," or whitespace (restic splits tag lists on ",")`,
			file + `9: spec.tags[2]: "a b" must not contain "," or whitespace (restic splits tag lists on ",")`,
			file + "9: spec.tags[4]: duplicate of spec.tags[3]",
		}},
		{"a host with whitespace", base + "  host: my host\n", []string{file + `9: spec.host: "my host" must not contain whitespace`}},
		{"a relative cacheDir", base + "  cacheDir: cache\n", []string{file + `9: spec.cacheDir: "cache" must be an absolute path`}},
		{"an unclean cacheDir", base + "  cacheDir: /cache/\n", []string{file + `9: spec.cacheDir: "/cache/" is not a clean path (want "/cache")`}},

		// Env.
		{"env names the tool owns", base + "  databases:\n    - name: a\n      engine: postgres\n      urlSecret: DATABASE_URL\n  env:\n    tz: x\n    BACKUP_MODE: x\n    RESTIC_PASSWORD_FILE: x\n    RESTIC_CACHE_DIR: x\n    RESTIC_HOST: x\n    DATABASE_URL: x\n    RESTIC_COMPRESSION: max\n", []string{
			file + `14: spec.env.tz: "tz" is not an env var name ([A-Z_][A-Z0-9_]*)`,
			file + "15: spec.env.BACKUP_MODE: BACKUP_MODE is managed by devopsellence-backup",
			file + "16: spec.env.RESTIC_PASSWORD_FILE: RESTIC_PASSWORD_FILE is managed by devopsellence-backup",
			file + "17: spec.env.RESTIC_CACHE_DIR: RESTIC_CACHE_DIR is managed by devopsellence-backup",
			file + "18: spec.env.RESTIC_HOST: RESTIC_HOST is managed by devopsellence-backup",
			file + "19: spec.env.DATABASE_URL: DATABASE_URL is a secret of this backup: keep it out of env (values in env are written to devopsellence.yml)",
		}},

		// Schedule, check, drill, freshness.
		{"a schedule with neither every nor at", base + "  schedule:\n    checkEvery: 7d\n", []string{
			file + "9: spec.schedule: set every (an interval such as 6h) or at (a daily UTC time such as 02:30)",
		}},
		{"a schedule with every and at", base + "  schedule:\n    every: 6h\n    at: \"02:00\"\n", []string{file + "9: spec.schedule: set every or at, not both"}},
		{"a schedule too frequent", base + "  schedule:\n    every: 1m\n    checkEvery: 30m\n    pruneEvery: 0s\n", []string{
			file + "10: spec.schedule.every: must be at least 5m",
			file + "11: spec.schedule.checkEvery: must be at least 1h",
			file + "12: spec.schedule.pruneEvery: must be at least 1h",
		}},
		{"a zero every", base + "  schedule:\n    every: 0s\n", []string{file + "10: spec.schedule.every: must be at least 5m"}},
		{"times of day out of range", base + "  schedule:\n    at: \"24:00\"\n", []string{file + `10: spec.schedule.at: "24:00" is not a time of day (want HH:MM in UTC, 00:00 to 23:59)`}},
		{"a time of day without a leading zero", base + "  schedule:\n    at: \"2:30\"\n", []string{file + `10: spec.schedule.at: "2:30" is not a time of day (want HH:MM in UTC, 00:00 to 23:59)`}},
		{"limits out of range", base + "  check:\n    readDataParts: 1001\n  drill:\n    sampleFiles: -1\n", []string{
			file + "10: spec.check.readDataParts: must be between 0 and 1000",
			file + "12: spec.drill.sampleFiles: must be between 0 and 10000",
		}},
		{"freshness not positive", base + "  freshness:\n    backup: 0s\n    drill: -1d\n", []string{
			file + "10: spec.freshness.backup: must be greater than 0",
			file + "11: spec.freshness.drill: must be greater than 0",
		}},

		// Overrides.
		{"override environments", base + "  environments: [production]\n  overrides:\n    staging: {}\n    Prod: {}\n", []string{
			file + `11: spec.overrides.staging: environment "staging" is not listed in spec.environments (production)`,
			file + `12: spec.overrides.Prod: "Prod" is not an environment name (lower-case a-z, 0-9, _ and -, starting with a letter or digit)`,
		}},
		{"override contents", base + "  overrides:\n    staging:\n      image: \"a b\"\n      repository:\n        url: rest:http://u:p@h/\n      retention: {}\n      tags: [\"x,y\"]\n      secrets:\n        RESTIC_PASSWORD:\n          onePassword: 1password\n", []string{
			file + `11: spec.overrides.staging.image: "a b" must not contain whitespace`,
			file + `13: spec.overrides.staging.repository.url: "rest:http://h/" embeds credentials, which would be written to devopsellence.yml in plain text: replace url with urlSecret: RESTIC_REPOSITORY and type: rest, and store the full URL as that secret`,
			file + "14: spec.overrides.staging.retention: set at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly and keepWithin",
			file + `15: spec.overrides.staging.tags[0]: "x,y" must not contain "," or whitespace (restic splits tag lists on ",")`,
			file + `18: spec.overrides.staging.secrets.RESTIC_PASSWORD.onePassword: "1password" is not a 1Password reference (want op://vault/item/field)`,
		}},
		{"an override repository without url", base + "  overrides:\n    staging:\n      repository:\n        urlSecret: RESTIC_REPOSITORY\n", []string{
			file + "11: spec.overrides.staging.repository.type: required with urlSecret: it tells which credential secrets the repository needs (want azure, b2, gs, local, rclone, rest, s3, sftp, swift)",
		}},
		{"an override secret its environment does not use", base + "  overrides:\n    staging:\n      secrets:\n        AWS_SECRET_ACCESS_KEY:\n          onePassword: op://v/i/f\n", []string{
			file + "12: spec.overrides.staging.secrets.AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY is not a secret of the staging environment (it uses RESTIC_PASSWORD)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse(DefaultFile, []byte(tt.doc))
			if b != nil {
				t.Errorf("Parse returned a spec with the error")
			}
			checkProblems(t, err, tt.want)
		})
	}
}

func TestParseNeverEchoesCredentialsFromAnyField(t *testing.T) {
	const url = "rest:https://user:hunter2@host/repo/"
	docs := []string{
		head + "  image: img:1\n  repository:\n    urlSecret: RESTIC_REPOSITORY\n    type: " + url + "\n",
		base + "  host: \"" + url + " x\"\n",
		base + "  repository:\n    " + url + ": x\n",
		base + "  freshness:\n    backup: " + url + "\n",
		base + "  retention:\n    keepWithin: " + url + "\n",
	}
	for _, doc := range docs {
		_, err := Parse(DefaultFile, []byte(doc))
		if err == nil {
			t.Fatalf("Parse accepted\n%s", doc)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password:\n%v", err)
		}
	}
}
