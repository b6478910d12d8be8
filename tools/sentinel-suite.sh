#!/usr/bin/env bash
# Run Redis 7.0.15's own Sentinel test suite (./runtest-sentinel, tests/sentinel/tests/*.tcl) with
# any redis-server-compatible binaries in place of src/redis-server and src/redis-sentinel, one
# test file at a time, and print per-file counts. The sentinel counterpart of tools/cluster-suite.sh.
#
#   REDIS_SRC=/tmp/redis-src tools/sentinel-suite.sh                        # real Redis (baseline)
#   REDIS_SRC=/tmp/redis-src SERVER_BIN=$(command -v redislet-server) \
#       SENTINEL_BIN=$(command -v redislet-server) tools/sentinel-suite.sh  # redislet for both
#   REDIS_SRC=/tmp/redis-src SENTINEL_BIN=$(command -v redislet-server) \
#       tools/sentinel-suite.sh 00-base 05-manual                          # redislet sentinels only
#
# FILE: a name under tests/sentinel/tests/ with or without ".tcl"; none: every file, in
# runtest-sentinel's own order (lsort of tests/sentinel/tests/*).
#
# Output (stdout): one line per file, then a total line:
#   FILE ok=N err=N exception=N timedout=0|1
#   sentinelsuite: P passed, F failed
# P = sum of ok; F = sum of err + exception + timedout (a timed-out file counts 1).
# Per-file logs, a TSV with timings and (on failures) the instances' logs go to $SENTINELSUITE_OUT.
# Baseline of real Redis 7.0.15: tools/sentinel-suite.baseline.txt.
#
# How runtest-sentinel works (tests/sentinel/run.tcl, tests/instances.tcl), and what this script
# does about it:
# - every run spawns 5 sentinels (sentinel_0..4 in tests/sentinel/tmp/, config = a copy of
#   tests/includes/sentinel.conf + port, dir, logfile log.txt, "sentinel deny-scripts-reconfig no",
#   "enable-protected-configs yes", "enable-debug-command yes") from ../../../src/redis-sentinel
#   and 5 servers (redis_0..4) from ../../../src/redis-server, then sources each selected file in
#   the same Tcl process. Every file starts with includes/init-tests.tcl (restart killed instances,
#   SENTINEL REMOVE/MONITOR, replicas...), so one file per run works.
# - src/redis-sentinel here is a wrapper: exec SENTINEL_BIN "$@" --sentinel (Redis's own
#   checkForSentinelMode accepts --sentinel anywhere; Debian's package ships no redis-sentinel
#   binary, redis-server --sentinel is the same program). src/redis-server execs SERVER_BIN. Both
#   keep the PID (exec), so the harness's kill/ps checks work.
# - there is NO base-port option: instances.tcl hardcodes ::sentinel_base_port 20000,
#   ::redis_base_port 30000 and ::redis_port_count 1024 (find_available_port also checks
#   port+10000). The private tree's tests/instances.tcl is patched to read
#   SENTINELSUITE_SENTINEL_BASEPORT / SENTINELSUITE_REDIS_BASEPORT / SENTINELSUITE_PORTCOUNT from
#   the environment (the only change made to the copy). Defaults: sentinels 27000.., servers
#   27500.., 100 ports each (and the same +10000 must be free).
# - the harness sets a notification-script and client-reconfig-script (tests/helpers/
#   check_leaked_fds.tcl) on every sentinel (Linux), so scripts run in every file.
# - output: as tools/cluster-suite.sh: "HH:MM:SS> name: OK", "FAILED: msg" + "(Jumping to next
#   unit after error)" (err), "FAILED: caught an error in the test ..." (exception; the rest of
#   the file is skipped), "WARNING: Aborting the test." (exception). timedout=1 when a file hits
#   SENTINELSUITE_FILE_TIMEOUT (its whole process group is then killed).
set -u

SERVER_BIN=${SERVER_BIN:-/usr/bin/redis-server}
SENTINEL_BIN=${SENTINEL_BIN:-/usr/bin/redis-server}
abspath() { case "$1" in /*) echo "$1" ;; */*) echo "$PWD/$1" ;; *) command -v "$1" || echo "$1" ;; esac; }
SERVER_BIN=$(abspath "$SERVER_BIN"); SENTINEL_BIN=$(abspath "$SENTINEL_BIN")
REDIS_SRC=${REDIS_SRC:?set REDIS_SRC to a redis checkout at tag 7.0.15}
TOOLS_DIR=${SENTINELSUITE_TOOLS_DIR:-/usr/bin}
tagof() { case "$1" in */redis-server) echo redis ;; *) basename "$1" | sed 's/-server$//;s/-sentinel$//' ;; esac; }
TAG=${SENTINELSUITE_TAG:-$(tagof "$SENTINEL_BIN")-over-$(tagof "$SERVER_BIN")}
TREE=${SENTINELSUITE_TREE:-/tmp/sentinelsuite-$TAG}
OUT=${SENTINELSUITE_OUT:-/tmp/sentinelsuite-out-$TAG}
SBASE=${SENTINELSUITE_SENTINEL_BASEPORT:-27000}
RBASE=${SENTINELSUITE_REDIS_BASEPORT:-27500}
PORTCOUNT=${SENTINELSUITE_PORTCOUNT:-100}
FILE_TIMEOUT=${SENTINELSUITE_FILE_TIMEOUT:-600}
KEEP_LOGS=${SENTINELSUITE_KEEP_LOGS:-1}
EXTRA=${SENTINELSUITE_EXTRA_ARGS:-}

die() { echo "sentinel-suite: $*" >&2; echo "sentinelsuite: 0 passed, 1 failed"; exit 2; }

[ -x "$SERVER_BIN" ] || die "SERVER_BIN=$SERVER_BIN is not executable"
[ -x "$SENTINEL_BIN" ] || die "SENTINEL_BIN=$SENTINEL_BIN is not executable"
[ -f "$REDIS_SRC/tests/sentinel/run.tcl" ] || die "REDIS_SRC=$REDIS_SRC has no tests/sentinel/run.tcl"
command -v tclsh >/dev/null || die "tclsh not found (Debian package tcl)"
command -v setsid >/dev/null || die "setsid not found (util-linux)"
for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  [ -x "$TOOLS_DIR/$t" ] || die "$TOOLS_DIR/$t missing"
done
case "$SBASE$RBASE$PORTCOUNT$FILE_TIMEOUT" in *[!0-9]*) die "ports/counts/timeouts must be integers" ;; esac
[ $((SBASE + PORTCOUNT + 10000)) -le 65535 ] && [ $((RBASE + PORTCOUNT + 10000)) -le 65535 ] \
  || die "BASEPORT+PORTCOUNT+10000 exceeds 65535"

# ---- private copy of the redis tree (one run at a time per tree) --------------------------
if command -v flock >/dev/null; then
  exec 9>"$TREE.lock" || die "cannot create $TREE.lock"
  flock -n 9 || die "another sentinel-suite run is using $TREE (set SENTINELSUITE_TREE)"
fi
if [ "${SENTINELSUITE_REFRESH:-0}" = 1 ] || [ ! -f "$TREE/.sentinelsuite-tree" ]; then
  rm -rf "$TREE"; mkdir -p "$TREE" || die "cannot create $TREE"
  if git -C "$REDIS_SRC" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$REDIS_SRC" archive HEAD | tar -x -C "$TREE" || die "git archive of $REDIS_SRC failed"
  else
    (cd "$REDIS_SRC" && tar -c --exclude=./.git --exclude=./tests/tmp --exclude=./tests/sentinel/tmp \
       --exclude=./tests/cluster/tmp .) | tar -x -C "$TREE" || die "copy of $REDIS_SRC failed"
  fi
  echo "$REDIS_SRC" > "$TREE/.sentinelsuite-tree"
fi
INST="$TREE/tests/instances.tcl"
sed -i \
  -e 's/^set ::sentinel_base_port 20000$/set ::sentinel_base_port [expr {[info exists ::env(SENTINELSUITE_SENTINEL_BASEPORT)] ? $::env(SENTINELSUITE_SENTINEL_BASEPORT) : 20000}]/' \
  -e 's/^set ::redis_base_port 30000$/set ::redis_base_port [expr {[info exists ::env(SENTINELSUITE_REDIS_BASEPORT)] ? $::env(SENTINELSUITE_REDIS_BASEPORT) : 30000}]/' \
  -e 's/^set ::redis_port_count 1024$/set ::redis_port_count [expr {[info exists ::env(SENTINELSUITE_PORTCOUNT)] ? $::env(SENTINELSUITE_PORTCOUNT) : 1024}]/' \
  "$INST" || die "cannot patch $INST"
for v in SENTINELSUITE_SENTINEL_BASEPORT SENTINELSUITE_REDIS_BASEPORT SENTINELSUITE_PORTCOUNT; do
  grep -q "env($v)" "$INST" || die "could not patch $v into $INST (not a 7.0.15 tree?)"
done
export SENTINELSUITE_SENTINEL_BASEPORT=$SBASE SENTINELSUITE_REDIS_BASEPORT=$RBASE SENTINELSUITE_PORTCOUNT=$PORTCOUNT

wrapper() {  # wrapper FILE BIN [EXTRA-ARG]
  local q; q=$(printf '%s' "$2" | sed "s/'/'\\\\''/g")
  rm -f "$1"
  printf '#!/bin/sh\nexec '"'"'%s'"'"' "$@"%s\n' "$q" "${3:+ $3}" > "$1"
  chmod +x "$1"
}
wrapper "$TREE/src/redis-server" "$SERVER_BIN"
wrapper "$TREE/src/redis-sentinel" "$SENTINEL_BIN" --sentinel
for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  ln -sfn "$TOOLS_DIR/$t" "$TREE/src/$t"
done
STMP="$TREE/tests/sentinel/tmp"
mkdir -p "$OUT" "$STMP" || die "cannot create $OUT"

# ---- file list ---------------------------------------------------------------------------
cd "$TREE" || die "cannot cd $TREE"
FILES=()
for f in "$@"; do f=${f##*/}; FILES+=("${f%.tcl}"); done
if [ ${#FILES[@]} -eq 0 ] && [ -n "${SENTINELSUITE_FILES:-}" ]; then read -r -a FILES <<< "$SENTINELSUITE_FILES"; fi
if [ ${#FILES[@]} -eq 0 ]; then
  mapfile -t FILES < <(cd tests/sentinel/tests && LC_ALL=C ls -1 *.tcl | LC_ALL=C sort | sed 's/\.tcl$//')
  [ ${#FILES[@]} -gt 0 ] || die "could not list tests/sentinel/tests/*.tcl"
fi
for f in "${FILES[@]}"; do
  [ -f "tests/sentinel/tests/$f.tcl" ] || die "no such file: tests/sentinel/tests/$f.tcl"
done

ARGS=()
[ "$KEEP_LOGS" = 1 ] && ARGS+=(--dont-clean)
# shellcheck disable=SC2206
[ -n "$EXTRA" ] && ARGS+=($EXTRA)

TSV="$OUT/files.tsv"
printf 'file\tok\terr\texception\ttimedout\tseconds\trc\n' > "$TSV"
{
  echo "server_bin=$SERVER_BIN"; "$SERVER_BIN" --version 2>&1 | head -1
  echo "sentinel_bin=$SENTINEL_BIN (--sentinel)"; "$SENTINEL_BIN" --version 2>&1 | head -1
  echo "tree=$TREE redis_src=$REDIS_SRC ($(git -C "$REDIS_SRC" describe --tags 2>/dev/null))"
  echo "runtest-sentinel args: ${ARGS[*]}  sentinel base=$SBASE redis base=$RBASE portcount=$PORTCOUNT file_timeout=$FILE_TIMEOUT"
  echo "started $(date -u +%FT%TZ) on $(nproc) cpus"
} > "$OUT/run-info.txt"

count_log() {
  awk '
    function endtest() { pending = 0 }
    /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]> / { pending = 1 }
    /^\(Jumping to next unit after error\)/ { err++; jumped = 1; endtest(); next }
    /FAILED: caught an error in the test/ {
      if (!jumped) exc++
      jumped = 0; endtest(); next }
    /WARNING: Aborting the test\./ { exc++; endtest(); next }
    pending && /FAILED: / { endtest(); next }
    pending && /OK$/ { ok++; endtest(); next }
    { if ($0 != "") jumped = 0 }
    END { printf "%d %d %d\n", ok, err, exc }
  ' "$1"
}

tot_ok=0; tot_bad=0; t_all=$(date +%s)
for f in "${FILES[@]}"; do
  log="$OUT/$f.log"
  rm -rf "${STMP:?}"/redis_* "$STMP"/sentinel_* "$STMP"/leaked_fds.txt "$STMP"/sentinel.conf_tmp 2>/dev/null
  t0=$(date +%s)
  TERM=dumb setsid ./runtest-sentinel --single "$f.tcl" "${ARGS[@]}" > "$log" 2>&1 < /dev/null 9>&- &
  pid=$!
  walltimeout=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ $(( $(date +%s) - t0 )) -ge "$FILE_TIMEOUT" ]; then
      walltimeout=1
      echo "[sentinel-suite] file wall-clock cap ${FILE_TIMEOUT}s reached: killing process group $pid" >> "$log"
      kill -TERM -- "-$pid" 2>/dev/null; sleep 5; kill -KILL -- "-$pid" 2>/dev/null
      break
    fi
    sleep 1
  done
  wait "$pid" 2>/dev/null; rc=$?
  kill -KILL -- "-$pid" 2>/dev/null
  secs=$(( $(date +%s) - t0 ))
  read -r ok err exc < <(count_log "$log")
  to=$walltimeout
  if [ "$rc" != 0 ] && [ "$to" = 0 ] && [ $((err + exc)) -eq 0 ]; then exc=1; fi
  printf '%s ok=%s err=%s exception=%s timedout=%s\n' "$f" "$ok" "$err" "$exc" "$to"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$ok" "$err" "$exc" "$to" "$secs" "$rc" >> "$TSV"
  if [ "$KEEP_LOGS" = 1 ] && [ $((err + exc + to)) -gt 0 ]; then
    (cd "$STMP" && find . -maxdepth 2 -type f \( -name 'log.txt' -o -name 'err.txt' -o -name '*.conf' \) \
       -size -50M -print0 | tar -czf "$OUT/$f.instances.tgz" --null -T - ) 2>/dev/null
  fi
  tot_ok=$((tot_ok + ok)); tot_bad=$((tot_bad + err + exc + to))
done
rm -rf "${STMP:?}"/redis_* "$STMP"/sentinel_* 2>/dev/null
echo "finished $(date -u +%FT%TZ), $(( $(date +%s) - t_all )) s" >> "$OUT/run-info.txt"
echo "sentinelsuite: $tot_ok passed, $tot_bad failed"
