# ---- status: read back this app's snapshots and newest evidence ----

# emit_blob NAME FILE prints FILE base64-encoded, one short line at a time,
# so no output line is cut however long restic's JSON is.
emit_blob() {
  base64 <"$2" | sed -e "s/^/devopsellence-backup: {\"type\":\"blob\",\"name\":\"$1\",\"data\":\"/" -e 's/$/"}/'
}

# op_status lists this app's snapshots (host and tags) and dumps the newest
# evidence document of each kind; devopsellence-backup judges their age. It
# reads without a lock, so a stale lock or a running prune does not stop it.
op_status() {
  op_start status "$@"
  spec_tools missing_tools
  open_repo || op_finish
  STEP=snapshots STEP_KIND=status
  restic_step snapshots --no-lock snapshots --json --host "$BACKUP_HOST" --tag "$BACKUP_TAGS"
  if [ "$CLASS" != ok ]; then
    step snapshots status failed "$RC" "$CLASS" "$(errmsg snapshots)"
    op_finish
  fi
  emit_blob snapshots "$T/snapshots.out"
  snapshots_tsv snapshots >"$T/snapshots.tsv"
  for st_kind in backup check prune drill; do
    st_id=$(awk -F '\t' -v k="evidence:$st_kind" '{ n = split($4, t, ","); for (i = 1; i <= n; i++) if (t[i] == k) id = $1 } END { print id }' "$T/snapshots.tsv")
    [ -n "$st_id" ] || continue
    run "evidence-$st_kind" restic --no-lock dump "$st_id" "/devopsellence-backup/evidence-$st_kind.json"
    classify "evidence-$st_kind"
    if [ "$CLASS" = ok ]; then
      emit_blob "evidence-$st_kind" "$T/evidence-$st_kind.out"
    else
      STEP="evidence:$st_kind"
      step "evidence:$st_kind" status failed "$RC" "$CLASS" "$(errmsg "evidence-$st_kind")"
    fi
  done
  op_finish
}
