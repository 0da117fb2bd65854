# ---- library: helpers every operation shares ----

# say prints a line for people on stderr (the operator's terminal and
# `devopsellence logs` show it).
say() { printf '%s: %s\n' "$KIND" "$*" >&2; }

# emit prints one machine-readable line on stdout for devopsellence-backup.
emit() { printf 'devopsellence-backup: %s\n' "$1"; }

now_s() { date -u +%s; }
now_iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# jstr prints $1 as a JSON string (control characters become spaces, long
# values are cut). The value travels in the environment, never in argv.
jstr() {
  JSTR_VALUE=$1 LC_ALL=C awk 'BEGIN {
    s = ENVIRON["JSTR_VALUE"]; out = ""
    if (length(s) > 600) s = substr(s, 1, 600) "..."
    for (i = 1; i <= length(s); i++) {
      c = substr(s, i, 1)
      if (c == "\\" || c == "\"") out = out "\\" c
      else if (c < " " || c == "\177") out = out " "
      else out = out c
    }
    printf "\"%s\"", out
  }'
}

# jnum prints $1 when it is a whole number, else null.
jnum() { case ${1:-} in '' | *[!0-9]*) printf null ;; *) printf '%s' "$1" ;; esac; }

# fact, factn and factb add a string, number or boolean to the facts of the current step.
fact() { FACTS="$FACTS,\"$1\":$(jstr "$2")"; }
factn() { FACTS="$FACTS,\"$1\":$(jnum "$2")"; }
factb() { FACTS="$FACTS,\"$1\":$2"; }

# begin starts a step: its clock and its facts.
begin() { STEP_T0=$(now_s); FACTS=; say "$1 ..."; }

# step NAME KIND RESULT EXIT ERROR MESSAGE records a step with its facts.
# RESULT is ok, partial, failed or skipped; ERROR classifies a failure.
step() {
  printf '{"name":%s,"kind":"%s","result":"%s","exit_code":%s,"error":"%s","message":%s,"duration_seconds":%s%s}\n' \
    "$(jstr "$1")" "$2" "$3" "$(jnum "$4")" "$5" "$(jstr "$6")" "$(($(now_s) - STEP_T0))" "$FACTS" >>"$T/steps"
  FACTS=
  say "$1: $3${6:+: $6}"
}

stopped() { [ -n "$STOP" ]; }

# AWK_DECODE holds the awk functions that scrub and url_tool share: hex
# (two hex digits to a number) and dec (percent-decoding).
AWK_DECODE='
function hex(h,   v, i, d) {
  v = 0; h = tolower(h)
  for (i = 1; i <= 2; i++) { d = index("0123456789abcdef", substr(h, i, 1)) - 1; if (d < 0) return 63; v = v * 16 + d }
  return v
}
function dec(s,   r, i, c) {
  r = ""
  for (i = 1; i <= length(s); i++) {
    c = substr(s, i, 1)
    if (c == "%" && i + 2 <= length(s)) { r = r sprintf("%c", hex(substr(s, i + 1, 2))); i += 2 } else r = r c
  }
  return r
}
'

# scrub copies stdin to stdout with every secret value of the service
# replaced by ***, and appends the same lines to file $1. Besides each whole
# value, it hides the passwords inside it: the password of a URL's userinfo
# and any password= or sslpassword= parameter (of a URL query or a keyword
# DSN), each as written and decoded. Values are read from the environment by
# name. Values shorter than 4 characters are not scrubbed.
scrub() {
  LC_ALL=C awk -v names="$SECRET_NAMES" -v out="$1" "$AWK_DECODE"'
    function add(v) { if (length(v) >= 4) secret[++n] = v }
    BEGIN {
      k = split(names, nm, " ")
      for (i = 1; i <= k; i++) {
        v = ENVIRON[nm[i]]; add(v)
        if (match(v, /:\/\/[^\/@]*@/)) {
          u = substr(v, RSTART + 3, RLENGTH - 4)
          if ((p = index(u, ":")) > 0) { add(substr(u, p + 1)); add(dec(substr(u, p + 1))) }
        }
        rest = v; low = tolower(v)
        while (match(low, /(^|[?&; \t])(ssl)?password=/)) {
          rest = substr(rest, RSTART + RLENGTH); low = substr(low, RSTART + RLENGTH)
          pv = rest
          if (match(pv, /[&; \t#]/)) pv = substr(pv, 1, RSTART - 1)
          gsub(/^'\''|'\''$/, "", pv)
          add(pv); add(dec(pv))
        }
      }
    }
    {
      line = $0
      gsub(/\033\[[0-9;]*[A-Za-z]/, "", line)
      for (i = 1; i <= n; i++)
        while ((p = index(line, secret[i])) > 0)
          line = substr(line, 1, p - 1) "***" substr(line, p + length(secret[i]))
      print line; fflush()
      print line >> out
    }'
}

# scrubbed copies stdin to stdout through scrub: for command output captured
# into a step's message or facts.
scrubbed() { scrub /dev/null; }

# on_signal forwards an interrupt to the running command (restic gets SIGINT,
# which makes it remove its lock) and marks the run as stopped.
on_signal() {
  STOP=$1
  say "received SIG$1: stopping the running command"
  if [ -n "$CHILD" ]; then kill -"$RUN_SIG" "$CHILD" 2>/dev/null; fi
}

# run NAME CMD [ARG...] runs CMD in the background, so that the trap can
# forward an interrupt to it, with stdin from $RUN_IN (else /dev/null),
# stdout in $T/NAME.out, and stderr scrubbed on our stderr and in $T/NAME.err.
# It sets RC. RUN_SIG (default INT) is the signal an interrupt forwards.
run() {
  run_n=$1
  shift
  rm -f "$T/$run_n.pipe"
  : >"$T/$run_n.err"
  if ! mkfifo "$T/$run_n.pipe"; then
    RC=1
    return
  fi
  scrub "$T/$run_n.err" <"$T/$run_n.pipe" >&2 &
  run_s=$!
  "$@" <"${RUN_IN:-/dev/null}" >"$T/$run_n.out" 2>"$T/$run_n.pipe" &
  CHILD=$!
  wait "$CHILD"
  RC=$?
  while [ -n "$STOP" ] && kill -0 "$CHILD" 2>/dev/null; do
    wait "$CHILD"
    RC=$?
  done
  CHILD=
  wait "$run_s"
  rm -f "$T/$run_n.pipe"
  RUN_IN=
  RUN_SIG=INT
  if stopped; then RC=130; fi
}

# classify NAME sets CLASS from restic's exit code RC and its stderr. Exit
# codes 10-12 exist since 0.17; older versions are recognised by message.
classify() {
  if stopped; then
    CLASS=interrupted
    return
  fi
  case $RC in
  0) CLASS=ok ;;
  3) CLASS=partial ;;
  10) CLASS=repository_missing ;;
  11) CLASS=locked ;;
  12) CLASS=wrong_password ;;
  130) CLASS=interrupted ;;
  *)
    if grep -q 'repository is already locked' "$T/$1.err"; then
      CLASS=locked
    elif grep -q 'wrong password or no key found' "$T/$1.err"; then
      CLASS=wrong_password
    elif grep -q 'Is there a repository at the following location' "$T/$1.err"; then
      CLASS=repository_missing
    else
      CLASS=failed
    fi
    ;;
  esac
}

# errmsg NAME prints the gist of a command's stderr on one line.
errmsg() {
  grep -v -e '"message_type":"status"' -e '"message_type":"verbose_status"' -e '^ *$' "$T/$1.err" 2>/dev/null |
    sed -e 's/^{"message_type":"exit_error","code":[0-9]*,"message":"\(.*\)"}$/\1/' -e 's/\\n/ /g' -e 's/\\t/ /g' |
    tail -n 4 | tr '\n' ' ' | cut -c 1-500
}

# summary_str and summary_num read a field of restic's JSON summary in
# $T/NAME.out.
summary_str() {
  grep '"message_type":"summary"' "$T/$1.out" 2>/dev/null | tail -n 1 | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"
}
summary_num() {
  grep '"message_type":"summary"' "$T/$1.out" 2>/dev/null | tail -n 1 | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# restic_step NAME ARGS... runs restic and classifies the outcome. A stale
# lock is explained, unless --unlock-stale was given: then `restic unlock`
# (which only removes locks whose process is gone or that are older than 30
# minutes; never --remove-all) runs and the command is tried once more.
restic_step() {
  rs_n=$1
  shift
  rs_in=${RUN_IN:-}
  run "$rs_n" restic "$@"
  classify "$rs_n"
  if [ "$CLASS" = locked ] && [ "$UNLOCK" = 1 ]; then
    rs_facts=$FACTS
    FACTS=
    say "the repository is locked; --unlock-stale: running restic unlock, then trying again"
    run unlock restic unlock
    classify unlock
    if [ "$CLASS" = ok ]; then
      step unlock unlock ok "$RC" "" "$(grep -i 'removed' "$T/unlock.out" | head -n 1)"
    else
      step unlock unlock failed "$RC" "$CLASS" "$(errmsg unlock)"
    fi
    FACTS=$rs_facts
    RUN_IN=$rs_in
    run "$rs_n" restic "$@"
    classify "$rs_n"
  fi
}

# restic_version sets RESTIC_VERSION (x.y.z) and RV_MAJOR/RV_MINOR from
# `restic version`, whose first line has the same shape in every release.
restic_version() {
  RESTIC_VERSION=$(restic version 2>/dev/null </dev/null | sed -n 's/^restic \([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
  [ -n "$RESTIC_VERSION" ] || return 1
  RV_MAJOR=${RESTIC_VERSION%%.*}
  RV_MINOR=${RESTIC_VERSION#*.}
  RV_MINOR=${RV_MINOR%%.*}
}

# at_least MAJOR MINOR: is this restic at least that version?
at_least() { [ "$RV_MAJOR" -gt "$1" ] || { [ "$RV_MAJOR" -eq "$1" ] && [ "$RV_MINOR" -ge "$2" ]; }; }

# url_tool MODE VAR [DB] reads the database URL in variable VAR (never argv)
# and prints: nopass (the URL without its password), password (decoded),
# db (the decoded database name), withdb (nopass with database DB), or
# mycnf (a MySQL option file); check prints nothing. The password is the
# userinfo's, else a password= query parameter; nopass and withdb drop the
# password and sslpassword query parameters (any case), so what they print
# may go into argv. Anything but a scheme://... URL (a keyword DSN such as
# "host=db password=...") is refused with exit status 2 and no output.
url_tool() {
  LC_ALL=C awk -v mode="$1" -v var="$2" -v newdb="${3:-}" "$AWK_DECODE"'
    function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    BEGIN {
      u = ENVIRON[var]
      if (u !~ /^[A-Za-z][A-Za-z0-9+.-]*:\/\//) exit 2
      i = index(u, "://")
      scheme = substr(u, 1, i + 2); rest = substr(u, i + 3)
      if (match(rest, /[\/?]/)) { auth = substr(rest, 1, RSTART - 1); path = substr(rest, RSTART) } else { auth = rest; path = "" }
      user = ""; pass = ""; hostport = auth; hasuser = 0
      for (k = length(auth); k > 0; k--) if (substr(auth, k, 1) == "@") break
      if (k > 0) {
        hasuser = 1; userinfo = substr(auth, 1, k - 1); hostport = substr(auth, k + 1)
        c = index(userinfo, ":"); if (c > 0) { user = substr(userinfo, 1, c - 1); pass = substr(userinfo, c + 1) } else user = userinfo
      }
      query = ""; qpass = ""
      if ((qi = index(path, "?")) > 0) {
        np = split(substr(path, qi + 1), params, "&"); path = substr(path, 1, qi - 1)
        for (p = 1; p <= np; p++) {
          key = params[p]; sub(/=.*/, "", key); key = tolower(dec(key))
          if (key == "password") { qpass = params[p]; sub(/^[^=]*=?/, "", qpass); continue }
          if (key == "sslpassword") continue
          query = query (query == "" ? "?" : "&") params[p]
        }
      }
      if (pass == "") pass = qpass
      db = substr(path, 2)
      base = scheme (hasuser ? user "@" : "") hostport
      if (mode == "nopass") print base path query
      else if (mode == "withdb") print base "/" newdb query
      else if (mode == "password") printf "%s", dec(pass)
      else if (mode == "db") print dec(db)
      else if (mode == "mycnf") {
        host = hostport; port = ""
        if (host ~ /:[0-9]+$/) { port = host; sub(/.*:/, "", port); sub(/:[0-9]+$/, "", host) }
        print "[client]"
        if (user != "") print "user=" q(dec(user))
        if (pass != "") print "password=" q(dec(pass))
        if (host != "") print "host=" q(dec(host))
        if (port != "") print "port=" port
      }
    }'
}

# db_url sets DB_URL from the variable named in $1, or records why it cannot:
# unset, or not a URL (a keyword DSN would put its password in argv). The
# value itself is never printed.
db_url() {
  DB_URL=
  if [ -z "$1" ]; then
    step "$STEP" db failed "" service_env "no URL secret is set for this database in the spec"
    return 1
  fi
  eval "DB_URL=\${$1:-}"
  if [ -z "$DB_URL" ]; then
    step "$STEP" db failed "" service_env "secret $1 is not set in the service: store it and deploy with devopsellence-backup apply"
    return 1
  fi
  if ! url_tool check "$1"; then
    fact secret "$1"
    step "$STEP" db failed "" bad_url "the secret $1 must be a postgres://… or mysql://… URL (its value is not shown; a keyword DSN such as host=… password=… is not supported, since the password would reach the command line)"
    return 1
  fi
}

# need TOOL... records a failed step when a tool is missing from the image.
need() {
  for need_t; do
    if ! command -v "$need_t" >/dev/null 2>&1; then
      fact tool "$need_t"
      step "$STEP" "$STEP_KIND" failed 127 tool_missing "$need_t is not on the service's PATH: add it to the image (see devopsellence-backup image)"
      return 1
    fi
  done
}

# first_tool NAME... prints the first command that exists.
first_tool() {
  for ft; do
    if command -v "$ft" >/dev/null 2>&1; then
      printf '%s' "$ft"
      return 0
    fi
  done
  return 1
}

# snapshots_tsv NAME prints one line per snapshot of restic's JSON list in
# $T/NAME.out: id, time, paths and tags (comma-joined), tab-separated, oldest
# first as restic sorts them.
snapshots_tsv() {
  LC_ALL=C awk '
    function field(s, key,   r) {
      if (!match(s, "\"" key "\":\"[^\"]*\"")) return ""
      r = substr(s, RSTART, RLENGTH); sub("^\"" key "\":\"", "", r); sub("\"$", "", r); return r
    }
    function list(s, key,   r) {
      if (!match(s, "\"" key "\":\\[[^]]*\\]")) return ""
      r = substr(s, RSTART, RLENGTH); sub("^\"" key "\":\\[", "", r); sub("\\]$", "", r); gsub("\"", "", r); return r
    }
    { all = all $0 }
    END {
      n = split(all, parts, "[{]\"time\":")
      for (i = 2; i <= n; i++) {
        p = "\"time\":" parts[i]
        id = field(p, "id"); if (id == "") continue
        printf "%s\t%s\t%s\t%s\n", id, field(p, "time"), list(p, "paths"), list(p, "tags")
      }
    }' "$T/$1.out"
}

# list_snapshots NAME FILTER... runs `restic snapshots --json` for this host
# and the filters, and writes snapshots_tsv's lines to $T/NAME.tsv (oldest
# first). CLASS says whether the listing worked.
list_snapshots() {
  ls_n=$1
  shift
  restic_step "$ls_n" snapshots --json --host "$BACKUP_HOST" "$@"
  if [ "$CLASS" = ok ]; then snapshots_tsv "$ls_n" >"$T/$ls_n.tsv"; else : >"$T/$ls_n.tsv"; fi
}

# newest_in LIST TAGS [PATH...] sets SNAP_ID and SNAP_TIME to the newest
# snapshot in $T/LIST.tsv that carries every tag of TAGS (comma-separated)
# and every PATH; empty when there is none.
newest_in() {
  ni_list=$1 ni_tags=$2
  shift 2
  ni_line=$(NI_PATHS=$(printf '%s\n' "$@") awk -F '\t' -v tags="$ni_tags" '
    function all(n, w, have,   h, m, i, j, found) {
      m = split(have, h, ",")
      for (i = 1; i <= n; i++) {
        if (w[i] == "") continue
        found = 0
        for (j = 1; j <= m; j++) if (h[j] == w[i]) { found = 1; break }
        if (!found) return 0
      }
      return 1
    }
    BEGIN { nt = split(tags, wt, ","); np = split(ENVIRON["NI_PATHS"], wp, "\n") }
    all(nt, wt, $4) && all(np, wp, $3) { line = $0 }
    END { print line }' "$T/$ni_list.tsv")
  SNAP_ID=$(printf '%s' "$ni_line" | cut -f 1)
  SNAP_TIME=$(printf '%s' "$ni_line" | cut -f 2)
}

# open_repo checks that the repository exists and opens with the password
# (`restic cat config` takes no lock). A missing repository is created only
# with --init.
open_repo() {
  begin repository
  STEP=repository
  or_init=
  run probe restic cat config
  classify probe
  if [ "$CLASS" = repository_missing ] && [ "$INIT" = 1 ]; then
    say "no repository at $REPOSITORY: initialising it (--init)"
    run init restic init
    classify init
    if [ "$CLASS" != ok ]; then
      step repository repository failed "$RC" "$CLASS" "restic init failed: $(errmsg init)"
      return 1
    fi
    or_init=1
    run probe restic cat config
    classify probe
  fi
  if [ "$CLASS" != ok ]; then
    step repository repository failed "$RC" "$CLASS" "$(errmsg probe)"
    return 1
  fi
  REPO_ID=$(sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p' "$T/probe.out" | head -n 1)
  REPO_OK=1
  if [ -n "$or_init" ]; then step repository repository ok 0 "" "initialised a new repository at $REPOSITORY"; fi
}

# missing_tools TOOL... emits each tool (or set of alternatives a|b) that is
# not on the service's PATH. It needs nothing but the shell.
missing_tools() {
  for mt; do
    mt_ok=0
    mt_ifs=$IFS
    IFS='|'
    for mt_alt in $mt; do
      if command -v "$mt_alt" >/dev/null 2>&1; then mt_ok=1; fi
    done
    IFS=$mt_ifs
    [ "$mt_ok" = 1 ] || emit "{\"type\":\"missing_tool\",\"name\":\"$mt\"}"
  done
}

# preflight checks what every operation needs from the service.
preflight() {
  STEP=service
  pf_missing=
  [ -n "${BACKUP_HOST:-}" ] || pf_missing="$pf_missing BACKUP_HOST"
  [ -n "${BACKUP_TAGS:-}" ] || pf_missing="$pf_missing BACKUP_TAGS"
  [ -n "${RESTIC_REPOSITORY:-}${RESTIC_REPOSITORY_FILE:-}" ] || pf_missing="$pf_missing RESTIC_REPOSITORY"
  [ -n "${RESTIC_PASSWORD:-}${RESTIC_PASSWORD_FILE:-}${RESTIC_PASSWORD_COMMAND:-}" ] || pf_missing="$pf_missing RESTIC_PASSWORD"
  if [ -n "$pf_missing" ]; then
    step service service failed "" service_env "the service's environment lacks$pf_missing: deploy it with devopsellence-backup apply"
    return 1
  fi
  STEP_KIND=service
  need restic awk sed grep mkfifo || return 1
  if ! restic_version; then
    step service service failed "" failed "restic version printed no version"
    return 1
  fi
  say "restic $RESTIC_VERSION; repository $REPOSITORY; host $BACKUP_HOST; tags $BACKUP_TAGS"
}

# op_start KIND ARG... prepares a run: options, traps, scratch folder,
# preflight. Options: init, unlock-stale, subset=S, trigger=T.
op_start() {
  KIND=$1
  shift
  INIT=0 UNLOCK=0 SUBSET= TRIGGER=manual
  for op_arg; do
    case $op_arg in
    init) INIT=1 ;;
    unlock-stale) UNLOCK=1 ;;
    subset=*) SUBSET=${op_arg#subset=} ;;
    trigger=*) TRIGGER=${op_arg#trigger=} ;;
    esac
  done
  STOP= CHILD= RUN_SIG=INT RUN_IN= FACTS= REPO_OK=0 REPO_ID= RESTIC_VERSION= SCR= DROP_DB= EVIDENCE_TAGS=
  STEP=$KIND STEP_KIND=$KIND
  TZ=UTC
  export TZ
  STARTED_AT=$(now_iso)
  T0=$(now_s)
  STEP_T0=$T0
  T=$(mktemp -d "${TMPDIR:-/tmp}/devopsellence-backup.XXXXXX") || {
    say "cannot create a scratch folder under ${TMPDIR:-/tmp}"
    exit 1
  }
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  trap 'on_signal HUP' HUP
  trap 'op_cleanup' EXIT
  : >"$T/steps"
  cd "$T" || exit 1
  preflight || op_finish
}

op_cleanup() {
  if [ -n "$DROP_DB" ]; then drop_scratch_db; fi
  if [ -n "$SCR" ]; then rm -rf "$SCR"; fi
  cd / && rm -rf "$T"
}

# op_finish writes the result: one JSON document that is printed for
# devopsellence-backup and, for backup, check, prune and drill, stored in the
# repository as evidence. Exit status: 0 ok, 3 partial, 1 failed, 130
# interrupted.
op_finish() {
  if grep -q '"result":"failed"' "$T/steps"; then
    RESULT=failed CODE=1
  elif grep -q '"result":"partial"' "$T/steps"; then
    RESULT=partial CODE=3
  else
    RESULT=ok CODE=0
  fi
  if stopped; then RESULT=failed CODE=130; fi
  of_tags=$(printf '%s\n' "${BACKUP_TAGS:-}" | tr ',' '\n' | while IFS= read -r t; do [ -n "$t" ] && printf ',%s' "$(jstr "$t")"; done)
  {
    printf '{"schema_version":%s,"kind":"%s","environment":%s,"service":%s,"host":%s,"tags":[%s],' \
      "$EVIDENCE_SCHEMA" "$KIND" "$(jstr "$ENVIRONMENT")" "$(jstr "$SERVICE")" "$(jstr "${BACKUP_HOST:-}")" "${of_tags#,}"
    printf '"repository":%s,"repository_id":%s,"restic_version":%s,"trigger":%s,' \
      "$(jstr "$REPOSITORY")" "$(jstr "$REPO_ID")" "$(jstr "$RESTIC_VERSION")" "$(jstr "$TRIGGER")"
    printf '"started_at":"%s","finished_at":"%s","duration_seconds":%s,"result":"%s","exit_code":%s,"interrupted":%s,"steps":[' \
      "$STARTED_AT" "$(now_iso)" "$(($(now_s) - T0))" "$RESULT" "$CODE" "$(if stopped; then echo true; else echo false; fi)"
    awk 'NR > 1 { printf "," } { printf "%s", $0 }' "$T/steps"
    printf ']}'
  } | tr -d '\n' >"$T/evidence.json"
  if [ "$KIND" != status ]; then store_evidence; fi
  emit "{\"type\":\"result\",\"evidence\":$(cat "$T/evidence.json")}"
  exit "$CODE"
}

# store_evidence saves the result document as its own snapshot: fixed path
# per kind, tagged for this app, so retention keeps the newest of each kind
# and `devopsellence-backup status` finds it from any machine. Besides
# evidence:KIND it is tagged result:RESULT (ok, partial or failed), so the
# schedule can tell a failed run from a good one without reading it, and
# with the tags an operation added to EVIDENCE_TAGS (comma-separated).
store_evidence() {
  if [ "$REPO_OK" != 1 ] || stopped; then
    emit "{\"type\":\"stored\",\"kind\":\"$KIND\",\"stored\":false}"
    return 0
  fi
  RUN_IN=$T/evidence.json
  run evidence restic backup --json --quiet --host "$BACKUP_HOST" --tag "$BACKUP_TAGS" \
    --tag "devopsellence-backup:evidence,evidence:$KIND,result:$RESULT${EVIDENCE_TAGS:+,$EVIDENCE_TAGS}" \
    --stdin --stdin-filename "devopsellence-backup/evidence-$KIND.json"
  classify evidence
  if [ "$CLASS" = ok ]; then
    emit "{\"type\":\"stored\",\"kind\":\"$KIND\",\"stored\":true,\"snapshot_id\":\"$(summary_str evidence snapshot_id)\"}"
  else
    emit "{\"type\":\"stored\",\"kind\":\"$KIND\",\"stored\":false,\"error\":\"$CLASS\",\"message\":$(jstr "$(errmsg evidence)")}"
  fi
}
