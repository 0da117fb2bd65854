# ---- check and prune: repository upkeep ----

# op_check runs restic check. subset=auto reads the next of CHECK_PARTS
# parts of the data (--read-data-subset n/N), after the part named in the
# newest check evidence, so successive checks rotate through all the data.
op_check() {
  op_start check "$@"
  open_repo || op_finish
  STEP=check STEP_KIND=check
  ck_subset=$SUBSET
  if [ "$ck_subset" = auto ]; then
    ck_last=$(evidence_field check subset)
    ck_n=${ck_last%/*}
    ck_t=${ck_last#*/}
    case "$ck_n/$ck_t" in
    *[!0-9/]* | /* | */) ck_n=0 ;;
    esac
    if [ "$ck_t" != "$CHECK_PARTS" ] || [ "$ck_n" -ge "$CHECK_PARTS" ] 2>/dev/null; then ck_n=0; fi
    ck_subset="$((ck_n + 1))/$CHECK_PARTS"
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
  ok) step check check ok "$RC" "" "no errors were found${ck_subset:+ (read data subset $ck_subset)}" ;;
  *) step check check failed "$RC" "$CLASS" "$(errmsg check)" ;;
  esac
  op_finish
}

# op_prune forgets this app's snapshots beyond the retention policy, filtered
# by host and tags so another app's snapshots in a shared repository are
# never touched, then prunes unreferenced data as a separate step.
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
  restic_step count-before snapshots --json --host "$BACKUP_HOST" --tag "$BACKUP_TAGS"
  pr_before=$(snapshots_tsv count-before | wc -l | tr -d ' ')
  set -f
  # shellcheck disable=SC2086 # BACKUP_RETENTION is a list of flags
  restic_step forget forget --json --host "$BACKUP_HOST" --tag "$BACKUP_TAGS" $BACKUP_RETENTION
  set +f
  if [ "$CLASS" != ok ]; then
    step forget forget failed "$RC" "$CLASS" "$(errmsg forget)"
    op_finish
  fi
  restic_step count-after snapshots --json --host "$BACKUP_HOST" --tag "$BACKUP_TAGS"
  pr_after=$(snapshots_tsv count-after | wc -l | tr -d ' ')
  fact policy "$BACKUP_RETENTION"
  factn snapshots_before "$pr_before"
  factn snapshots_after "$pr_after"
  step forget forget ok 0 "" "$((pr_before - pr_after)) snapshot(s) forgotten, $pr_after kept ($BACKUP_RETENTION)"
  STEP=prune STEP_KIND=prune
  begin prune
  restic_step prune prune
  case $CLASS in
  ok) step prune prune ok "$RC" "" "$(grep -i -e 'total prune' -e 'remaining:' -e 'this removes' "$T/prune.out" | head -n 2 | tr '\n' ' ')" ;;
  *) step prune prune failed "$RC" "$CLASS" "$(errmsg prune)" ;;
  esac
  op_finish
}
