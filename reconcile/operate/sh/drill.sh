# ---- drill: restore the newest snapshots into a scratch place and verify ----

# op_drill restores the newest files snapshot and the newest dump of each
# database (chosen by host, tags and path from one snapshot listing; never a
# bare "latest") into a scratch folder or scratch database, verifies them,
# and cleans up. Live data is never a restore target.
op_drill() {
  op_start drill "$@"
  open_repo || op_finish
  SCR=$(mktemp -d "${TMPDIR:-/tmp}/devopsellence-drill.XXXXXX") || {
    step drill drill failed "" failed "cannot create a scratch folder under ${TMPDIR:-/tmp}"
    op_finish
  }
  if spec_files inside_any "$SCR"; then
    step drill drill failed "" unsafe_scratch "the scratch folder $SCR lies inside a backed-up folder: set TMPDIR elsewhere"
    op_finish
  fi
  STEP=snapshots STEP_KIND=drill
  begin snapshots
  list_snapshots snaps --tag "$BACKUP_TAGS"
  if [ "$CLASS" != ok ]; then
    step snapshots drill failed "$RC" "$CLASS" "$(errmsg snaps)"
    op_finish
  fi
  : >"$T/excludes"
  : >"$T/declared"
  spec_databases note_sqlite
  spec_files find_sqlite
  spec_files drill_files
  spec_databases drill_database
  while IFS= read -r dr_found <&3; do
    dr_name=$(found_name "$dr_found")
    drill_database "$dr_name" sqlite "" "" "$dr_found" "" "$dr_name.sqlite3"
  done 3<"$T/found"
  op_finish
}

# inside_any DIR PATH... succeeds when DIR is one of the paths or under one.
inside_any() {
  ia_dir=$1
  shift
  for ia_p; do
    case $ia_dir/ in "$ia_p"/*) return 0 ;; esac
  done
  return 1
}

# to_touch turns a restic time (UTC) into touch -t's CCYYMMDDhhmm.SS.
to_touch() { printf '%s' "$1" | sed -n 's/^\([0-9]\{4\}\)-\([0-9]\{2\}\)-\([0-9]\{2\}\)T\([0-9]\{2\}\):\([0-9]\{2\}\):\([0-9]\{2\}\).*/\1\2\3\4\5.\6/p'; }

# drill_files PATH... restores the newest files snapshot of exactly these
# paths, checks that each path came back, and compares a sample of files
# with the live ones that have not changed since the snapshot.
drill_files() {
  stopped && return 0
  [ $# -gt 0 ] || return 0
  STEP=files STEP_KIND=files
  begin files
  printf '%s\n' "$@" >"$T/paths"
  newest_in snaps "$BACKUP_TAGS,kind:files" "$@"
  if [ -z "$SNAP_ID" ]; then
    step files files failed "" no_snapshot "no files snapshot of these paths for this host and tags: run devopsellence-backup backup first"
    return 0
  fi
  fact snapshot_id "$SNAP_ID"
  fact snapshot_time "$SNAP_TIME"
  restic_step restore restore "$SNAP_ID" --target "$SCR/files"
  if [ "$CLASS" != ok ]; then
    step files files failed "$RC" "$CLASS" "restic restore failed: $(errmsg restore)"
    return 0
  fi
  df_absent=
  while IFS= read -r df_p; do [ -e "$SCR/files$df_p" ] || df_absent="$df_absent $df_p"; done <"$T/paths"
  find "$SCR/files" -type f | sort >"$T/restored"
  df_total=$(wc -l <"$T/restored" | tr -d ' ')
  factn files_restored "$df_total"
  TZ=UTC touch -t "$(to_touch "$SNAP_TIME")" "$T/snapshot-time"
  awk -v n="$SAMPLE_FILES" -v t="$df_total" 'n > 0 && c < n && (t <= n || (NR - 1) % int(t / n) == 0) { print; c++ }' "$T/restored" >"$T/sample"
  df_sampled=0 df_same=0 df_changed=0 df_gone=0 df_bad=0 df_bad_list=
  while IFS= read -r df_f; do
    df_sampled=$((df_sampled + 1))
    df_live=${df_f#"$SCR/files"}
    if [ ! -f "$df_live" ]; then
      df_gone=$((df_gone + 1))
    elif [ -n "$(find "$df_live" -newer "$T/snapshot-time" 2>/dev/null)" ]; then
      df_changed=$((df_changed + 1))
    elif [ "$(sha256sum <"$df_f" | cut -d ' ' -f 1)" = "$(sha256sum <"$df_live" | cut -d ' ' -f 1)" ]; then
      df_same=$((df_same + 1))
    else
      df_bad=$((df_bad + 1))
      df_bad_list="$df_bad_list $df_live"
    fi
  done <"$T/sample"
  factn sampled "$df_sampled"
  factn identical "$df_same"
  factn changed_since "$df_changed"
  factn gone_since "$df_gone"
  factn different "$df_bad"
  rm -rf "$SCR/files"
  if [ -n "$df_absent" ]; then
    step files files failed 1 verify_failed "restored snapshot $(printf '%.8s' "$SNAP_ID") lacks:$df_absent"
  elif [ "$df_bad" -gt 0 ]; then
    step files files failed 1 verify_failed "$df_bad sampled file(s) differ from the unchanged live file:$df_bad_list"
  else
    step files files ok 0 "" "restored $df_total file(s) from $(printf '%.8s' "$SNAP_ID"); sample of $df_sampled: $df_same identical to the live file, $df_changed changed and $df_gone deleted since the snapshot"
  fi
}

# drill_database NAME ENGINE URLVAR FORMAT PATH SCRATCHVAR FILE restores the
# newest dump (/FILE) of one database into a scratch copy and verifies it.
drill_database() {
  stopped && return 0
  DB_NAME=$1 DB_ENGINE=$2 DB_VAR=$3 DB_FORMAT=$4 DB_PATH=$5 DB_SCRATCH=$6 DB_FILE=$7
  STEP="db:$DB_NAME" STEP_KIND=db
  begin "$STEP"
  fact engine "$DB_ENGINE"
  newest_in snaps "$BACKUP_TAGS,kind:db,db:$DB_NAME" "/$DB_FILE"
  if [ -z "$SNAP_ID" ]; then
    case $DB_NAME in
    auto-*) step "$STEP" db skipped "" no_snapshot "found in the volumes but not backed up yet" ;;
    *) step "$STEP" db failed "" no_snapshot "no snapshot of /$DB_FILE for this host and tags: run devopsellence-backup backup first" ;;
    esac
    return 0
  fi
  fact snapshot_id "$SNAP_ID"
  fact snapshot_time "$SNAP_TIME"
  restic_step "get-$DB_NAME" dump "$SNAP_ID" "/$DB_FILE"
  if [ "$CLASS" != ok ]; then
    step "$STEP" db failed "$RC" "$CLASS" "restic dump failed: $(errmsg "get-$DB_NAME")"
    return 0
  fi
  mv "$T/get-$DB_NAME.out" "$SCR/$DB_FILE"
  spec_db_check "$DB_NAME"
  case $DB_ENGINE in
  postgres) drill_postgres ;;
  mysql | mariadb) drill_mysql ;;
  sqlite) drill_sqlite ;;
  esac
  rm -f "$SCR/$DB_FILE"
}

# verdict RESTORED SOURCE records the drill step of a database from the
# default summary (tables and rows) and the spec's check, if any.
verdict() {
  fact restored "$1"
  fact source "$2"
  if [ "$1" = "$2" ]; then factb matches_source true; else factb matches_source false; fi
  if [ -n "$DV_FAIL" ]; then
    step "$STEP" db failed 1 verify_failed "$DV_FAIL"
  elif [ "$1" = "$2" ]; then
    step "$STEP" db ok 0 "" "restored $(printf '%.8s' "$SNAP_ID") into a scratch copy: $1, same as the source now"
  else
    step "$STEP" db ok 0 "" "restored $(printf '%.8s' "$SNAP_ID") into a scratch copy: $1; the source has changed since ($2)"
  fi
}

# compare_query RESTORED SOURCE compares the spec's check query outputs.
compare_query() {
  fact check_output "$1"
  if [ "$1" != "$2" ]; then DV_FAIL="check query: the restored copy gives \"$1\", the source \"$2\""; fi
}

# run_check_command runs the spec's check command against the restored copy.
run_check_command() {
  [ -n "$CHECK_COMMAND" ] || return 0
  RUN_SIG=TERM
  run "check-$DB_NAME" sh -c "$CHECK_COMMAND"
  factn check_exit_code "$RC"
  if [ "$RC" != 0 ]; then DV_FAIL="check command exited $RC: $(errmsg "check-$DB_NAME")"; fi
}

# sqlite_summary FILE prints "N tables, M rows", read in one statement
# (scrubbed, like every query output that goes into the evidence).
sqlite_summary() {
  ss_sql=$(sqlite3 -bail -cmd '.timeout 60000' "$1" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name" </dev/null |
    awk '{ gsub(/"/, "\"\""); s = s " + (SELECT count(*) FROM \"" $0 "\")"; n++ } END { printf "SELECT %d || %s || (0%s) || %s;", n, "'"' tables, '"'", s, "'"' rows'"'" }')
  sqlite3 -bail -cmd '.timeout 60000' "$1" "$ss_sql" </dev/null 2>&1 | head -n 1 | scrubbed
}

# sqlite_query FILE SQL prints what SQL gives on FILE, scrubbed.
sqlite_query() { sqlite3 -bail -cmd '.timeout 60000' "$1" "$2" </dev/null 2>&1 | scrubbed; }

drill_sqlite() {
  DV_FAIL=
  need sqlite3 || return 0
  dq_f=$SCR/$DB_FILE
  dq_ic=$(sqlite3 "$dq_f" 'PRAGMA integrity_check' </dev/null 2>&1 | head -n 3 | scrubbed | tr '\n' ' ')
  dq_ic=${dq_ic% }
  fact integrity_check "$dq_ic"
  [ "$dq_ic" = ok ] || DV_FAIL="PRAGMA integrity_check: $dq_ic"
  dq_r=$(sqlite_summary "$dq_f")
  dq_s="source missing"
  [ -f "$DB_PATH" ] && dq_s=$(sqlite_summary "$DB_PATH")
  if [ -n "$CHECK_QUERY" ]; then
    compare_query "$(sqlite_query "$dq_f" "$CHECK_QUERY")" "$(sqlite_query "$DB_PATH" "$CHECK_QUERY")"
  fi
  BACKUP_RESTORED_PATH=$dq_f
  export BACKUP_RESTORED_PATH
  run_check_command
  unset BACKUP_RESTORED_PATH
  verdict "$dq_r" "$dq_s"
}

PG_SUMMARY_SQL=$(
  cat <<'SQL'
SELECT count(*) || ' tables, ' || coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::bigint), 0) || ' rows'
FROM information_schema.tables
WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
SQL
)

# pg_query VAR URL SQL runs SQL on URL with the password of the URL in
# variable VAR, prints the result (scrubbed), and fails when psql does.
pg_query() {
  PGPASSWORD=$(url_tool password "$1")
  export PGPASSWORD
  pq_out=$(psql -X -A -t -q -v ON_ERROR_STOP=1 --dbname="$2" -c "$3" </dev/null 2>&1)
  pq_rc=$?
  unset PGPASSWORD
  printf '%s\n' "$pq_out" | head -n 20 | scrubbed
  return $pq_rc
}

# scratch_name names the scratch database: drill_<name>_<time>_<pid>.
scratch_name() { printf 'drill_%s_%s_%s' "$(printf '%s' "$DB_NAME" | tr -c 'a-z0-9_' '_')" "$(now_s)" "$$"; }

# scratch_url checks the scratch server secret of the database.
scratch_url() {
  if [ -z "$DB_SCRATCH" ]; then
    step "$STEP" db failed "" no_scratch "a drill restores $DB_ENGINE into a scratch database: set scratchUrlSecret for this database in the spec (a server where the drill may create and drop a database), then apply"
    return 1
  fi
  db_url "$DB_SCRATCH"
}

drill_postgres() {
  DV_FAIL=
  need psql pg_restore || return 0
  scratch_url || return 0
  db_url "$DB_VAR" || return 0
  DRILL_DB=$(scratch_name)
  DP_ADMIN=$(url_tool nopass "$DB_SCRATCH")
  if ! dp_out=$(pg_query "$DB_SCRATCH" "$DP_ADMIN" "CREATE DATABASE \"$DRILL_DB\""); then
    step "$STEP" db failed 1 scratch_failed "cannot create scratch database $DRILL_DB: $dp_out"
    return 0
  fi
  DROP_DB=postgres
  fact scratch_database "$DRILL_DB"
  DP_TARGET=$(url_tool withdb "$DB_SCRATCH" "$DRILL_DB")
  PGPASSWORD=$(url_tool password "$DB_SCRATCH")
  export PGPASSWORD
  RUN_SIG=TERM
  if [ "$DB_FORMAT" = plain ]; then
    run "load-$DB_NAME" psql -X -q -v ON_ERROR_STOP=1 --dbname="$DP_TARGET" -f "$SCR/$DB_FILE"
  else
    run "load-$DB_NAME" pg_restore --exit-on-error --no-owner --no-privileges --dbname="$DP_TARGET" "$SCR/$DB_FILE"
  fi
  unset PGPASSWORD
  if [ "$RC" != 0 ]; then
    step "$STEP" db failed "$RC" restore_failed "loading the dump stopped at the first error: $(errmsg "load-$DB_NAME")"
    drop_scratch_db
    return 0
  fi
  dp_src=$(url_tool nopass "$DB_VAR")
  dp_r=$(pg_query "$DB_SCRATCH" "$DP_TARGET" "$PG_SUMMARY_SQL")
  dp_s=$(pg_query "$DB_VAR" "$dp_src" "$PG_SUMMARY_SQL")
  if [ -n "$CHECK_QUERY" ]; then
    compare_query "$(pg_query "$DB_SCRATCH" "$DP_TARGET" "$CHECK_QUERY")" "$(pg_query "$DB_VAR" "$dp_src" "$CHECK_QUERY")"
  fi
  BACKUP_RESTORED_URL=$DP_TARGET
  PGPASSWORD=$(url_tool password "$DB_SCRATCH")
  export BACKUP_RESTORED_URL PGPASSWORD
  run_check_command
  unset BACKUP_RESTORED_URL PGPASSWORD
  drop_scratch_db
  verdict "$dp_r" "$dp_s"
}

# my_query CNF DB SQL runs SQL through the MySQL/MariaDB client and prints
# the result (scrubbed).
my_query() {
  mq_out=$("$MY_CLIENT" --defaults-extra-file="$1" -N -B -e "$3" ${2:+"$2"} </dev/null 2>&1)
  mq_rc=$?
  printf '%s\n' "$mq_out" | head -n 20 | scrubbed
  return $mq_rc
}

# my_summary CNF DB prints "N tables, M rows".
my_summary() {
  ms_sql=$(my_query "$1" "$2" "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name" |
    awk '{ gsub(/`/, "``"); s = s " + (SELECT COUNT(*) FROM `" $0 "`)"; n++ } END { printf "SELECT CONCAT(%d, %s, 0%s, %s)", n, "'"' tables, '"'", s, "'"' rows'"'" }')
  my_query "$1" "$2" "$ms_sql"
}

drill_mysql() {
  DV_FAIL=
  MY_CLIENT=$(first_tool mariadb mysql) || {
    fact tool "mariadb|mysql"
    step "$STEP" db failed 127 tool_missing "neither mariadb nor mysql is on the service's PATH: add a MySQL/MariaDB client to the image"
    return 0
  }
  scratch_url || return 0
  db_url "$DB_VAR" || return 0
  url_tool mycnf "$DB_SCRATCH" >"$T/scratch.cnf"
  url_tool mycnf "$DB_VAR" >"$T/source.cnf"
  DRILL_DB=$(scratch_name)
  if ! dm_out=$(my_query "$T/scratch.cnf" "" "CREATE DATABASE \`$DRILL_DB\`"); then
    step "$STEP" db failed 1 scratch_failed "cannot create scratch database $DRILL_DB: $dm_out"
    return 0
  fi
  DROP_DB=mysql
  fact scratch_database "$DRILL_DB"
  RUN_SIG=TERM
  RUN_IN=$SCR/$DB_FILE
  run "load-$DB_NAME" "$MY_CLIENT" --defaults-extra-file="$T/scratch.cnf" "$DRILL_DB"
  if [ "$RC" != 0 ]; then
    step "$STEP" db failed "$RC" restore_failed "loading the dump stopped at the first error: $(errmsg "load-$DB_NAME")"
    drop_scratch_db
    return 0
  fi
  dm_src=$(url_tool db "$DB_VAR")
  dm_r=$(my_summary "$T/scratch.cnf" "$DRILL_DB")
  dm_s=$(my_summary "$T/source.cnf" "$dm_src")
  if [ -n "$CHECK_QUERY" ]; then
    compare_query "$(my_query "$T/scratch.cnf" "$DRILL_DB" "$CHECK_QUERY")" "$(my_query "$T/source.cnf" "$dm_src" "$CHECK_QUERY")"
  fi
  BACKUP_RESTORED_DATABASE=$DRILL_DB
  BACKUP_RESTORED_DEFAULTS_FILE=$T/scratch.cnf
  export BACKUP_RESTORED_DATABASE BACKUP_RESTORED_DEFAULTS_FILE
  run_check_command
  unset BACKUP_RESTORED_DATABASE BACKUP_RESTORED_DEFAULTS_FILE
  drop_scratch_db
  verdict "$dm_r" "$dm_s"
}

# drop_scratch_db drops the drill's scratch database (also on exit, so an
# interrupted drill leaves none behind).
drop_scratch_db() {
  case $DROP_DB in
  postgres)
    ds_out=$(pg_query "$DB_SCRATCH" "$DP_ADMIN" "DROP DATABASE IF EXISTS \"$DRILL_DB\" WITH (FORCE)") ||
      ds_out=$(pg_query "$DB_SCRATCH" "$DP_ADMIN" "DROP DATABASE IF EXISTS \"$DRILL_DB\"")
    ;;
  mysql) ds_out=$(my_query "$T/scratch.cnf" "" "DROP DATABASE IF EXISTS \`$DRILL_DB\`") ;;
  *) ds_out= ;;
  esac
  if [ -n "$ds_out" ]; then
    say "could not drop scratch database $DRILL_DB: $ds_out"
    DV_FAIL="${DV_FAIL:+$DV_FAIL; }the scratch database $DRILL_DB could not be dropped: $ds_out"
  fi
  DROP_DB=
}
