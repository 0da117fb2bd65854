# ---- check and prune: repository upkeep ----

# op_check runs restic check. subset=auto reads the next of CHECK_PARTS
# parts of the data (--read-data-subset n/N), after the newest part that a
# check verified, so successive checks rotate through all the data. A check
# that reads part n/N and passes tags its evidence check-part:n/N; a failed
# one does not, so the rotation never moves past a part that was not verified.
op_check() {
  op_start check "$@"
  open_repo || op_finish
  STEP=check STEP_KIND=check
  ck_subset=$SUBSET
  if [ "$ck_subset" = auto ]; then
    ck_subset="$(($(last_check_part) + 1))/$CHECK_PARTS"
  fi
  begin check
  set -- check
  if [ -n "$ck_subset" ]; then
    set -- "$@" --read-data-subset "$ck_subset"
    fact subset "$ck_subset"
  fi
  if at_least 0 18; then set -- "$@" --json; fi
  restic_step check "$@"
  ck_errors=$(grep '"message_type":"summary"' "$T/check.out" | sed -n 's/.*"num_errors":\([0-9]*\).*/\1/p' | tail -n 1)
  factn num_errors "$ck_errors"
  case $CLASS in
  ok)
    case $ck_subset in */*) EVIDENCE_TAGS="check-part:$ck_subset" ;; esac
    step check check ok "$RC" "" "no errors were found${ck_subset:+ (read data subset $ck_subset)}"
    ;;
  *) step check check failed "$RC" "$CLASS" "$(errmsg check)" ;;
  esac
  op_finish
}

# last_check_part prints n of the newest check-part:n/CHECK_PARTS tag of
# this app's check evidence, or 0 when there is none (or the list cannot be
# read, or the last part was the final one), so the next part is n + 1.
last_check_part() {
  list_snapshots check-parts --tag "$BACKUP_TAGS,devopsellence-backup:evidence,evidence:check"
  awk -F '\t' -v parts="$CHECK_PARTS" '
    { m = split($4, t, ","); for (i = 1; i <= m; i++) if (t[i] ~ "^check-part:[0-9]+/" parts "$") { n = t[i]; sub(/^check-part:/, "", n); sub(/\/.*/, "", n); last = n + 0 } }
    END { if (last >= parts) last = 0; print last + 0 }' "$T/check-parts.tsv"
}

# op_prune forgets this app's snapshots beyond the retention policy, filtered
# by host and tags so another app's snapshots in a shared repository are
# never touched, then prunes unreferenced data as a separate step. The
# counts before and after come from forget's own JSON (keep and remove of
# every group).
op_prune() {
  op_start prune "$@"
  if [ -z "${BACKUP_RETENTION:-}" ]; then
    STEP=forget
    step forget forget failed "" no_retention "the spec sets no retention, so nothing is forgotten: set spec.retention and run devopsellence-backup apply"
    op_finish
  fi
  open_repo || op_finish
  STEP=forget STEP_KIND=forget
  begin forget
  set -f
  # shellcheck disable=SC2086 # BACKUP_RETENTION is a list of flags
  restic_step forget forget --json --host "$BACKUP_HOST" --tag "$BACKUP_TAGS" $BACKUP_RETENTION
  set +f
  if [ "$CLASS" != ok ]; then
    step forget forget failed "$RC" "$CLASS" "$(errmsg forget)"
    op_finish
  fi
  pr_kept=$(forget_count forget keep)
  pr_removed=$(forget_count forget remove)
  fact policy "$BACKUP_RETENTION"
  factn snapshots_before "$((pr_kept + pr_removed))"
  factn snapshots_after "$pr_kept"
  step forget forget ok 0 "" "$pr_removed snapshot(s) forgotten, $pr_kept kept ($BACKUP_RETENTION)"
  STEP=prune STEP_KIND=prune
  begin prune
  restic_step prune prune
  case $CLASS in
  ok) step prune prune ok "$RC" "" "$(grep -i -e 'total prune' -e 'remaining:' -e 'this removes' "$T/prune.out" | head -n 2 | tr '\n' ' ')" ;;
  *) step prune prune failed "$RC" "$CLASS" "$(errmsg prune)" ;;
  esac
  op_finish
}

# forget_count NAME LIST counts the snapshots in the LIST (keep or remove)
# arrays of every group of `restic forget --json` output in $T/NAME.out: each
# snapshot there has one "id" key. The JSON is cut at the group keys, so the
# snapshots listed under "reasons" are not counted.
forget_count() {
  LC_ALL=C awk -v want="$2" '
    { all = all $0 }
    END {
      s = all; c = 0; cur = ""
      while (match(s, /"(keep|remove|reasons)":/)) {
        seg = substr(s, 1, RSTART - 1)
        if (cur == want) c += gsub(/"id":"/, "", seg)
        cur = substr(s, RSTART + 1, RLENGTH - 3)
        s = substr(s, RSTART + RLENGTH)
      }
      if (cur == want) c += gsub(/"id":"/, "", s)
      print c
    }' "$T/$1.out"
}
