# ---- schedule: the service runs its own backups ----

# to_epoch turns a restic time (UTC) into seconds since 1970.
to_epoch() { date -u -d "$(printf '%s' "$1" | sed -e 's/T/ /' -e 's/\..*//' -e 's/Z$//')" +%s 2>/dev/null; }

# last_epoch KIND prints when the newest evidence of KIND was stored, or
# nothing when there is none (or the repository cannot be read).
last_epoch() {
  (
    STOP= CHILD= RUN_SIG=INT RUN_IN= UNLOCK=0 FACTS=
    T=$(mktemp -d "${TMPDIR:-/tmp}/devopsellence-backup.XXXXXX") || exit 0
    trap 'rm -rf "$T"' EXIT
    newest_snapshot last --tag "$BACKUP_TAGS,devopsellence-backup:evidence,evidence:$1" || exit 0
    [ -z "$SNAP_TIME" ] || to_epoch "$SNAP_TIME"
  )
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
# from the newest evidence in the repository, so a restarted service keeps
# its rhythm; with no evidence yet, each operation runs right away.
schedule_main() {
  KIND=schedule
  SCHED_STOP= OP= SLEEPER=
  TZ=UTC
  export TZ
  trap 'schedule_stop TERM' TERM
  trap 'schedule_stop INT' INT
  trap 'schedule_stop HUP' HUP
  say "$SCHEDULE_TEXT"
  sm_now=$(now_s)
  sm_last=$(last_epoch backup)
  if [ "$AT_SECONDS" -ge 0 ]; then
    NEXT_BACKUP=$(next_at "$sm_now")
    if [ -z "$sm_last" ] || [ $((sm_now - sm_last)) -ge 90000 ]; then NEXT_BACKUP=$sm_now; fi
  elif [ -n "$sm_last" ]; then
    NEXT_BACKUP=$((sm_last + BACKUP_EVERY))
  else
    NEXT_BACKUP=$sm_now
  fi
  sm_last=$(last_epoch prune)
  NEXT_PRUNE=$((${sm_last:-$sm_now} + PRUNE_EVERY))
  [ -n "$sm_last" ] || NEXT_PRUNE=$sm_now
  sm_last=$(last_epoch check)
  NEXT_CHECK=$((${sm_last:-$sm_now} + CHECK_EVERY))
  [ -n "$sm_last" ] || NEXT_CHECK=$sm_now
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
      schedule_run prune "$PRUNE_TIMEOUT"
      NEXT_PRUNE=$(($(now_s) + PRUNE_EVERY))
    fi
    [ -z "$SCHED_STOP" ] || break
    if [ "$(now_s)" -ge "$NEXT_CHECK" ]; then
      schedule_run check "$CHECK_TIMEOUT" "$CHECK_SUBSET"
      NEXT_CHECK=$(($(now_s) + CHECK_EVERY))
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
