# ---- backup: dump every database, then back up the files, one tagged run ----

# op_backup runs one backup of this environment: each database of the spec,
# each SQLite file found in the backed-up folders, then the folders.
op_backup() {
  op_start backup "$@"
  open_repo || op_finish
  if at_least 0 17; then STDIN_CMD=1; else STDIN_CMD=0; fi
  : >"$T/excludes"
  : >"$T/declared"
  spec_databases note_sqlite
  spec_files find_sqlite
  spec_databases dump_database
  while IFS= read -r bk_found <&3; do
    bk_name=$(found_name "$bk_found")
    dump_database "$bk_name" sqlite "" "" "$bk_found" "" "$bk_name.sqlite3"
  done 3<"$T/found"
  spec_files backup_files
  op_finish
}

# note_sqlite NAME ENGINE URLVAR FORMAT PATH SCRATCHVAR FILE remembers a declared
# SQLite file, and keeps the live file (and its -wal/-shm/-journal) out of
# the files snapshot: a copy of a live database file can be torn.
note_sqlite() {
  [ "$2" = sqlite ] || return 0
  printf '%s\n' "$5" >>"$T/declared"
  exclude_sqlite "$5"
}

exclude_sqlite() { printf '%s\n%s-wal\n%s-shm\n%s-journal\n' "$1" "$1" "$1" "$1" >>"$T/excludes"; }

# find_sqlite PATH... lists in $T/found the SQLite files under the backed-up
# folders that the spec does not declare (by name, then by their header).
find_sqlite() {
  for fs_p; do
    [ -d "$fs_p" ] || continue
    find "$fs_p" -xdev -type f \( -name '*.sqlite' -o -name '*.sqlite3' -o -name '*.db' -o -name '*.db3' \) 2>/dev/null
  done | sort | while IFS= read -r fs_f; do
    grep -Fxq -e "$fs_f" "$T/declared" && continue
    [ "$(dd if="$fs_f" bs=15 count=1 2>/dev/null)" = "SQLite format 3" ] || continue
    printf '%s\n' "$fs_f"
  done >"$T/found"
  while IFS= read -r fs_f; do exclude_sqlite "$fs_f"; done <"$T/found"
}

# found_name PATH names a found SQLite file's dump: auto-<path with / as ->;
# its dump file is NAME.sqlite3, as for a declared SQLite database.
found_name() { printf 'auto-%s' "$(printf '%s' "$1" | sed -e 's#^/##' -e 's#/#-#g' -e 's#[^A-Za-z0-9_.-]#_#g')"; }

# dump_database NAME ENGINE URLVAR FORMAT PATH SCRATCHVAR FILE dumps one
# database consistently into its own snapshot (path /FILE, tags kind:db,
# db:NAME, engine:ENGINE). A dumper that fails leaves no snapshot.
dump_database() {
  stopped && return 0
  DB_NAME=$1 DB_ENGINE=$2 DB_VAR=$3 DB_FORMAT=$4 DB_PATH=$5 DB_FILE=$7
  STEP="db:$DB_NAME" STEP_KIND=db
  begin "$STEP"
  fact engine "$DB_ENGINE"
  case $DB_ENGINE in
  postgres) dump_postgres ;;
  mysql | mariadb) dump_mysql ;;
  sqlite) dump_sqlite ;;
  *) step "$STEP" db failed "" failed "unsupported engine $DB_ENGINE" ;;
  esac
}

# db_backup runs restic backup for the current database's snapshot.
db_backup() {
  restic_step "db-$DB_NAME" backup --json --quiet --host "$BACKUP_HOST" --tag "$BACKUP_TAGS" \
    --tag "kind:db,db:$DB_NAME,engine:$DB_ENGINE" --stdin-filename "$DB_FILE" "$@"
  # With --stdin-from-command, a dumper that fails makes restic fail without
  # saving a snapshot.
  if [ "$CLASS" = failed ] && grep -q 'command failed' "$T/db-$DB_NAME.err"; then CLASS=dumper_failed; fi
}

# dumped_file backs up a finished, checked dump file through --stdin from the
# file (not a pipe from the dumper), so the snapshot path is /<dump file> on
# every restic version.
dumped_file() {
  RUN_IN=$T/$DB_FILE
  db_backup --stdin
  rm -f "$T/$DB_FILE"
}

# dump_failed NAME records a dumper that failed: no snapshot was made.
dump_failed() {
  step "$STEP" db failed "$RC" dumper_failed "$1 failed (exit $RC), so no snapshot was made: $(errmsg "dump-$DB_NAME")"
}

dump_postgres() {
  need pg_dump || return 0
  db_url "$DB_VAR" || return 0
  PG_DSN=$(url_tool nopass "$DB_VAR")
  PGPASSWORD=$(url_tool password "$DB_VAR")
  export PGPASSWORD
  if [ "$DB_FORMAT" = plain ]; then
    set -- --format=plain
  else
    set -- --format=custom --compress=0
  fi
  fact file "/$DB_FILE"
  if [ "$STDIN_CMD" = 1 ]; then
    db_backup --stdin-from-command -- pg_dump --dbname="$PG_DSN" "$@"
  else
    RUN_SIG=TERM
    run "dump-$DB_NAME" pg_dump --dbname="$PG_DSN" --file="$T/$DB_FILE" "$@"
    if [ "$RC" != 0 ]; then
      unset PGPASSWORD
      dump_failed pg_dump
      return 0
    fi
    if [ "$DB_FORMAT" != plain ] && ! pg_restore --list "$T/$DB_FILE" >/dev/null 2>&1; then
      unset PGPASSWORD
      step "$STEP" db failed "" dump_incomplete "pg_restore --list cannot read the dump, so no snapshot was made"
      return 0
    fi
    dumped_file
  fi
  unset PGPASSWORD
  record_backup "db-$DB_NAME"
}

dump_mysql() {
  DUMPER=$(first_tool mariadb-dump mysqldump) || {
    fact tool "mariadb-dump|mysqldump"
    step "$STEP" db failed 127 tool_missing "neither mariadb-dump nor mysqldump is on the service's PATH: add a MySQL/MariaDB client to the image"
    return 0
  }
  db_url "$DB_VAR" || return 0
  url_tool mycnf "$DB_VAR" >"$T/$DB_NAME.cnf"
  MY_DB=$(url_tool db "$DB_VAR")
  fact file "/$DB_FILE"
  set -- "$DUMPER" --defaults-extra-file="$T/$DB_NAME.cnf" --single-transaction --quick --routines --triggers --hex-blob --no-tablespaces
  if [ "$STDIN_CMD" = 1 ]; then
    db_backup --stdin-from-command -- "$@" "$MY_DB"
  else
    RUN_SIG=TERM
    run "dump-$DB_NAME" "$@" --result-file="$T/$DB_FILE" "$MY_DB"
    if [ "$RC" != 0 ]; then
      dump_failed "$DUMPER"
      return 0
    fi
    if ! tail -n 1 "$T/$DB_FILE" | grep -q '^-- Dump completed'; then
      step "$STEP" db failed "" dump_incomplete "the dump lacks its completion line, so no snapshot was made"
      return 0
    fi
    dumped_file
  fi
  record_backup "db-$DB_NAME"
}

# dump_sqlite copies the database with SQLite's online backup API (.backup),
# which is consistent while the app writes (WAL included), checks the copy,
# and backs the copy up.
dump_sqlite() {
  need sqlite3 || return 0
  if [ ! -f "$DB_PATH" ]; then
    step "$STEP" db failed "" source_missing "$DB_PATH does not exist in the service"
    return 0
  fi
  fact path "$DB_PATH"
  fact file "/$DB_FILE"
  RUN_SIG=TERM
  run "dump-$DB_NAME" sqlite3 -bail -cmd '.timeout 60000' "$DB_PATH" ".backup '$T/$DB_FILE'"
  if [ "$RC" != 0 ]; then
    dump_failed "sqlite3 .backup"
    return 0
  fi
  ds_check=$(sqlite3 "$T/$DB_FILE" 'PRAGMA quick_check' </dev/null 2>&1 | head -n 1 | scrubbed)
  if [ "$ds_check" != ok ]; then
    step "$STEP" db failed "" dump_incomplete "the copy fails PRAGMA quick_check ($ds_check), so no snapshot was made"
    return 0
  fi
  dumped_file
  record_backup "db-$DB_NAME"
}

# backup_files PATH... backs up the folders as one snapshot (tag kind:files),
# leaving out live SQLite files, which were dumped consistently.
backup_files() {
  stopped && return 0
  [ $# -gt 0 ] || return 0
  STEP=files STEP_KIND=files
  begin files
  bf_missing=
  for bf_p; do [ -e "$bf_p" ] || bf_missing="$bf_missing $bf_p"; done
  fact paths "$*"
  restic_step files backup --json --quiet --host "$BACKUP_HOST" --tag "$BACKUP_TAGS" --tag kind:files \
    --exclude-file "$T/excludes" "$@"
  if [ "$CLASS" = ok ] && [ -n "$bf_missing" ]; then
    CLASS=partial
    BF_NOTE="missing in the service:$bf_missing"
  else
    BF_NOTE=
  fi
  record_backup files
}

# record_backup NAME records the step of restic backup run NAME: ok, partial
# (exit 3: a snapshot was saved without some unreadable source data) or failed.
record_backup() {
  rb_id=$(summary_str "$1" snapshot_id)
  fact snapshot_id "$rb_id"
  factn files "$(summary_num "$1" total_files_processed)"
  factn bytes "$(summary_num "$1" total_bytes_processed)"
  factn bytes_added "$(summary_num "$1" data_added)"
  case $CLASS in
  ok) step "$STEP" "$STEP_KIND" ok "$RC" "" "snapshot $(printf '%.8s' "$rb_id")" ;;
  partial)
    rb_items=$(sed -n 's/.*"message_type":"error".*"item":"\([^"]*\)".*/\1/p' "$T/$1.err" | sort -u | head -n 5 | tr '\n' ' ')
    factn unreadable "$(grep -c '"message_type":"error"' "$T/$1.err")"
    step "$STEP" "$STEP_KIND" partial "$RC" partial "snapshot $(printf '%.8s' "$rb_id") saved without some source data${rb_items:+ (unreadable: $rb_items)}${BF_NOTE:-}"
    ;;
  dumper_failed) step "$STEP" "$STEP_KIND" failed "$RC" "$CLASS" "the dumper failed, so no snapshot was made: $(errmsg "$1")" ;;
  *) step "$STEP" "$STEP_KIND" failed "$RC" "$CLASS" "$(errmsg "$1")" ;;
  esac
  BF_NOTE=
}
