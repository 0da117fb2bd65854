# ---- schedule: the service runs its own backups ----

# to_epoch turns a restic time (UTC) into seconds since 1970.
to_epoch() {
  [ -n "$1" ] || return 0
  date -u -d "$(printf '%s' "$1" | sed -e 's/T/ /' -e 's/\..*//' -e 's/Z$//')" +%s 2>/dev/null
}

# schedule_evidence lists this app's evidence once (one `restic snapshots`)
# into $T/evidence.tsv: empty when there is none or the repository cannot be
# read.
schedule_evidence() {
  (
    STOP= CHILD= RUN_SIG=INT RUN_IN= UNLOCK=0 FACTS=
    list_snapshots evidence --tag "$BACKUP_TAGS,devopsellence-backup:evidence"
  )
}

# last_runs KIND prints, from $T/evidence.tsv, the time of the newest good
# run of KIND (result:ok or result:partial, or evidence older than the
# result tags), "|", and the time of the newest run when it failed
# (result:failed); either may be empty.
last_runs() {
  awk -F '\t' -v k="evidence:$1" '
    {
      m = split($4, t, ","); is = 0; res = ""
      for (i = 1; i <= m; i++) { if (t[i] == k) is = 1; if (t[i] ~ /^result:/) res = substr(t[i], 8) }
      if (!is) next
      if (res == "failed") failed = $2; else { good = $2; failed = "" }
    }
    END { printf "%s|%s\n", good, failed }' "$T/evidence.tsv"
}

# due KIND EVERY prints when KIND is next due after a (re)start at SM_NOW:
# EVERY after its newest good run (now, when there is none), but no later
# than RETRY_AFTER after a failed run that came after it. With AT_SECONDS, a
# backup is due at the next daily time, or now when the newest good one is
# older than 25 hours.
due() {
  du_runs=$(last_runs "$1")
  du_good=$(to_epoch "${du_runs%%|*}")
  du_failed=$(to_epoch "${du_runs#*|}")
  if [ -z "$du_good" ]; then
    du_next=$SM_NOW
  elif [ "$1" = backup ] && [ "$AT_SECONDS" -ge 0 ]; then
    du_next=$(next_at "$SM_NOW")
    [ $((SM_NOW - du_good)) -lt 90000 ] || du_next=$SM_NOW
  else
    du_next=$((du_good + $2))
  fi
  if [ -n "$du_failed" ] && [ $((du_failed + RETRY_AFTER)) -lt "$du_next" ]; then du_next=$((du_failed + RETRY_AFTER)); fi
  printf '%s' "$du_next"
}

# next_at NOW prints the next daily run time after NOW.
next_at() {
  na=$(($1 - $1 % 86400 + AT_SECONDS))
  [ "$na" -gt "$1" ] || na=$((na + 86400))
  printf '%s' "$na"
}

# schedule_run KIND DEADLINE [ARG] runs op_KIND in its own process, with a
# watchdog that interrupts it at the deadline (seconds). It returns the
# operation's exit status.
schedule_run() {
  say "running $1"
  ("op_$1" trigger=schedule ${3:+"$3"}) &
  OP=$!
  (
    ws=
    trap 'if [ -n "$ws" ]; then kill "$ws" 2>/dev/null; fi; exit 0' TERM
    sleep "$2" &
    ws=$!
    wait "$ws"
    say "$1 ran past its deadline of $2s: interrupting it"
    kill -TERM "$OP" 2>/dev/null
  ) &
  WATCH=$!
  wait "$OP"
  SR=$?
  while kill -0 "$OP" 2>/dev/null; do
    wait "$OP"
    SR=$?
  done
  kill -TERM "$WATCH" 2>/dev/null
  wait "$WATCH" 2>/dev/null
  OP=
  say "$1 finished with exit status $SR"
  return "$SR"
}

schedule_stop() {
  SCHED_STOP=$1
  say "received SIG$1: stopping"
  if [ -n "$OP" ]; then kill -TERM "$OP" 2>/dev/null; fi
  if [ -n "$SLEEPER" ]; then kill "$SLEEPER" 2>/dev/null; fi
}

# schedule_main never returns until the service is stopped. Due times come
# from the evidence in the repository, so a restarted service keeps its
# rhythm; with no good evidence yet, each operation runs right away. A run
# that failed (exit status other than 0, or 3 for a partial backup) is tried
# again after RETRY_AFTER, after a restart too.
schedule_main() {
  KIND=schedule
  SCHED_STOP= OP= SLEEPER=
  TZ=UTC
  export TZ
  trap 'schedule_stop TERM' TERM
  trap 'schedule_stop INT' INT
  trap 'schedule_stop HUP' HUP
  say "$SCHEDULE_TEXT"
  T=$(mktemp -d "${TMPDIR:-/tmp}/devopsellence-backup.XXXXXX") || {
    say "cannot create a scratch folder under ${TMPDIR:-/tmp}"
    exit 1
  }
  SM_NOW=$(now_s)
  schedule_evidence
  NEXT_BACKUP=$(due backup "$BACKUP_EVERY")
  NEXT_PRUNE=$(due prune "$PRUNE_EVERY")
  NEXT_CHECK=$(due check "$CHECK_EVERY")
  rm -rf "$T"
  while [ -z "$SCHED_STOP" ]; do
    sm_now=$(now_s)
    if [ "$sm_now" -ge "$NEXT_BACKUP" ]; then
      if schedule_run backup "$BACKUP_TIMEOUT" || [ "$SR" = 3 ]; then
        if [ "$AT_SECONDS" -ge 0 ]; then NEXT_BACKUP=$(next_at "$(now_s)"); else NEXT_BACKUP=$((sm_now + BACKUP_EVERY)); fi
      else
        NEXT_BACKUP=$(($(now_s) + RETRY_AFTER))
      fi
    fi
    [ -z "$SCHED_STOP" ] || break
    if [ -n "${BACKUP_RETENTION:-}" ] && [ "$(now_s)" -ge "$NEXT_PRUNE" ]; then
      if schedule_run prune "$PRUNE_TIMEOUT"; then NEXT_PRUNE=$(($(now_s) + PRUNE_EVERY)); else NEXT_PRUNE=$(($(now_s) + RETRY_AFTER)); fi
    fi
    [ -z "$SCHED_STOP" ] || break
    if [ "$(now_s)" -ge "$NEXT_CHECK" ]; then
      if schedule_run check "$CHECK_TIMEOUT" "$CHECK_SUBSET"; then NEXT_CHECK=$(($(now_s) + CHECK_EVERY)); else NEXT_CHECK=$(($(now_s) + RETRY_AFTER)); fi
    fi
    [ -z "$SCHED_STOP" ] || break
    sm_wake=$NEXT_BACKUP
    [ "$NEXT_CHECK" -ge "$sm_wake" ] || sm_wake=$NEXT_CHECK
    if [ -n "${BACKUP_RETENTION:-}" ] && [ "$NEXT_PRUNE" -lt "$sm_wake" ]; then sm_wake=$NEXT_PRUNE; fi
    sm_sleep=$((sm_wake - $(now_s)))
    [ "$sm_sleep" -ge 1 ] || sm_sleep=1
    [ "$sm_sleep" -le 3600 ] || sm_sleep=3600
    sleep "$sm_sleep" &
    SLEEPER=$!
    wait "$SLEEPER"
    SLEEPER=
  done
  say "stopped"
  exit 0
}
