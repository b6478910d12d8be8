#!/usr/bin/env bash
# Run Redis 7.0.15's own Redis Cluster test suite (./runtest-cluster, tests/cluster/tests/*.tcl)
# with any redis-server-compatible binary in place of src/redis-server, one test file at a time,
# and print per-file counts. The cluster counterpart of ../shared/tools/redis-suite-full.
#
#   REDIS_SRC=/tmp/redis-src SERVER_BIN=$(command -v redislet-server) tools/cluster-suite.sh [FILE ...]
#   REDIS_SRC=/tmp/redis-src tools/cluster-suite.sh 00-base 10-manual-failover   # real redis-server
#
# FILE: a name under tests/cluster/tests/ with or without ".tcl" (00-base, 04-resharding.tcl ...);
# none: every file, in runtest-cluster's own order (lsort of tests/cluster/tests/*).
#
# Output (stdout): one line per file, then a total line:
#   FILE ok=N err=N exception=N timedout=0|1
#   clustersuite: P passed, F failed
# P = sum of ok; F = sum of err + exception + timedout (a timed-out file counts 1).
# Per-file logs, a TSV with timings, and (on failures) the spawned instances' log.txt/err.txt go to
# $CLUSTERSUITE_OUT. Baseline of real Redis 7.0.15: tools/cluster-suite.baseline.txt.
#
# How runtest-cluster works (tests/cluster/run.tcl, tests/instances.tcl), and what this script does
# about it:
# - every run spawns 20 instances (redis_0..redis_19, in tests/cluster/tmp/redis_N/, config
#   redis.conf there + "cluster-enabled yes", "appendonly yes", "enable-protected-configs yes",
#   "enable-debug-command yes", logfile log.txt, stderr to err.txt) from ../../../src/redis-server,
#   then sources each selected test file in the same Tcl process. Test files start with
#   includes/init-tests.tcl (CLUSTER RESET HARD, config set, MEET ...), so one file per run works.
# - `--single PATTERN` selects files by glob "*PATTERN*" against "../tests/NN-name.tcl"; this
#   script passes "NN-name.tcl" so that exactly one file matches. Other options: --dont-clean,
#   --pause-on-error, --valgrind, --tls, --host, --config K V (appended to every instance's config).
# - there is NO base-port option: instances.tcl hardcodes ::redis_base_port 30000 and
#   ::redis_port_count 1024, and each instance's cluster bus is port+10000 (find_available_port
#   checks both). The private tree's tests/instances.tcl is therefore patched to read
#   CLUSTERSUITE_BASEPORT / CLUSTERSUITE_PORTCOUNT from the environment (the only change made to
#   the copy). Ports used: BASEPORT..BASEPORT+PORTCOUNT-1 and the same +10000.
# - output: each test prints "HH:MM:SS> name: " then "OK", or "FAILED: msg" + "(Jumping to next
#   unit after error)" on an assertion (the rest of the file is skipped: the harness then also
#   prints "FAILED: caught an error in the test" with an empty message, not counted again), or,
#   on a Tcl error (e.g. an unexpected error reply), "FAILED: caught an error in the test ERR..."
#   (the rest of the file is skipped too). Counted here as ok / err / exception respectively;
#   "WARNING: Aborting the test." (instances could not start) counts as an exception, and so does
#   a non-zero exit of a run that printed no failure (e.g. an error while spawning instances).
#   There is no per-test timeout in this harness (wait_for_condition loops are bounded), so
#   timedout=1 only when a file hits CLUSTERSUITE_FILE_TIMEOUT; its whole process group
#   (runtest-cluster's tclsh, every instance, redis-cli) is then killed.
set -u

SERVER_BIN=${SERVER_BIN:-/usr/bin/redis-server}
case "$SERVER_BIN" in /*) ;; */*) SERVER_BIN=$PWD/$SERVER_BIN ;; *) SERVER_BIN=$(command -v "$SERVER_BIN" || echo "$SERVER_BIN") ;; esac
REDIS_SRC=${REDIS_SRC:?set REDIS_SRC to a redis checkout at tag 7.0.15}
TOOLS_DIR=${CLUSTERSUITE_TOOLS_DIR:-/usr/bin}              # where redis-cli, redis-benchmark, redis-check-* live
TAG=${CLUSTERSUITE_TAG:-$(basename "$SERVER_BIN")}
TREE=${CLUSTERSUITE_TREE:-/tmp/clustersuite-$TAG}          # private copy of the redis tree
OUT=${CLUSTERSUITE_OUT:-/tmp/clustersuite-out-$TAG}        # logs
BASEPORT=${CLUSTERSUITE_BASEPORT:-30000}                   # clients BASEPORT.., bus ports +10000
PORTCOUNT=${CLUSTERSUITE_PORTCOUNT:-1024}
FILE_TIMEOUT=${CLUSTERSUITE_FILE_TIMEOUT:-900}             # wall-clock cap per test file (s)
KEEP_LOGS=${CLUSTERSUITE_KEEP_LOGS:-1}                     # 1: keep the instances' logs of failing files
EXTRA=${CLUSTERSUITE_EXTRA_ARGS:-}                         # more runtest-cluster args (word-split)

die() { echo "cluster-suite: $*" >&2; echo "clustersuite: 0 passed, 1 failed"; exit 2; }

[ -x "$SERVER_BIN" ] || die "SERVER_BIN=$SERVER_BIN is not executable"
[ -f "$REDIS_SRC/tests/cluster/run.tcl" ] || die "REDIS_SRC=$REDIS_SRC has no tests/cluster/run.tcl"
command -v tclsh >/dev/null || die "tclsh not found (Debian package tcl)"
command -v setsid >/dev/null || die "setsid not found (util-linux)"
for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  [ -x "$TOOLS_DIR/$t" ] || die "$TOOLS_DIR/$t missing"
done
case "$BASEPORT$PORTCOUNT$FILE_TIMEOUT" in *[!0-9]*) die "CLUSTERSUITE_BASEPORT/PORTCOUNT/FILE_TIMEOUT must be integers" ;; esac
[ $((BASEPORT + PORTCOUNT + 10000)) -le 65535 ] || die "BASEPORT+PORTCOUNT+10000 exceeds 65535"

# ---- private copy of the redis tree -------------------------------------------------------
# One run at a time per tree (runs share tests/cluster/tmp): concurrent runs need distinct
# CLUSTERSUITE_TREE (the default differs per SERVER_BIN basename) and distinct base ports.
if command -v flock >/dev/null; then
  exec 9>"$TREE.lock" || die "cannot create $TREE.lock"
  flock -n 9 || die "another cluster-suite run is using $TREE (set CLUSTERSUITE_TREE)"
fi
# Only tracked files (git archive) when REDIS_SRC is a git checkout, else a plain copy; reused by
# later runs with the same TREE (CLUSTERSUITE_REFRESH=1 remakes it). REDIS_SRC is only read.
if [ "${CLUSTERSUITE_REFRESH:-0}" = 1 ] || [ ! -f "$TREE/.clustersuite-tree" ]; then
  rm -rf "$TREE"; mkdir -p "$TREE" || die "cannot create $TREE"
  if git -C "$REDIS_SRC" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$REDIS_SRC" archive HEAD | tar -x -C "$TREE" || die "git archive of $REDIS_SRC failed"
  else
    (cd "$REDIS_SRC" && tar -c --exclude=./.git --exclude=./tests/tmp --exclude=./tests/cluster/tmp .) \
      | tar -x -C "$TREE" || die "copy of $REDIS_SRC failed"
  fi
  echo "$REDIS_SRC" > "$TREE/.clustersuite-tree"
fi
# Base port from the environment (instances.tcl has no option for it). Idempotent.
INST="$TREE/tests/instances.tcl"
sed -i \
  -e 's/^set ::redis_base_port 30000$/set ::redis_base_port [expr {[info exists ::env(CLUSTERSUITE_BASEPORT)] ? $::env(CLUSTERSUITE_BASEPORT) : 30000}]/' \
  -e 's/^set ::redis_port_count 1024$/set ::redis_port_count [expr {[info exists ::env(CLUSTERSUITE_PORTCOUNT)] ? $::env(CLUSTERSUITE_PORTCOUNT) : 1024}]/' \
  "$INST" || die "cannot patch $INST"
grep -q 'env(CLUSTERSUITE_BASEPORT)' "$INST" && grep -q 'env(CLUSTERSUITE_PORTCOUNT)' "$INST" \
  || die "could not patch the base port into $INST (not a 7.0.15 tree?)"
export CLUSTERSUITE_BASEPORT=$BASEPORT CLUSTERSUITE_PORTCOUNT=$PORTCOUNT

# src/redis-server: a wrapper that execs SERVER_BIN (same PID, so the harness's kill/ps checks
# work); the other tools are symlinks to the real (Debian) ones.
rm -f "$TREE/src/redis-server"
q=$(printf '%s' "$SERVER_BIN" | sed "s/'/'\\\\''/g")
printf '#!/bin/sh\nexec '"'"'%s'"'"' "$@"\n' "$q" > "$TREE/src/redis-server"
chmod +x "$TREE/src/redis-server"
for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do
  ln -sfn "$TOOLS_DIR/$t" "$TREE/src/$t"
done
CTMP="$TREE/tests/cluster/tmp"
mkdir -p "$OUT" "$CTMP" || die "cannot create $OUT"

# ---- file list ---------------------------------------------------------------------------
cd "$TREE" || die "cannot cd $TREE"
FILES=()
for f in "$@"; do f=${f##*/}; FILES+=("${f%.tcl}"); done
if [ ${#FILES[@]} -eq 0 ] && [ -n "${CLUSTERSUITE_FILES:-}" ]; then read -r -a FILES <<< "$CLUSTERSUITE_FILES"; fi
if [ ${#FILES[@]} -eq 0 ]; then
  # runtest-cluster's own order: [lsort [glob ../tests/*]], directories skipped
  mapfile -t FILES < <(cd tests/cluster/tests && LC_ALL=C ls -1 *.tcl | LC_ALL=C sort | sed 's/\.tcl$//')
  [ ${#FILES[@]} -gt 0 ] || die "could not list tests/cluster/tests/*.tcl"
fi
for f in "${FILES[@]}"; do
  [ -f "tests/cluster/tests/$f.tcl" ] || die "no such file: tests/cluster/tests/$f.tcl"
done

ARGS=()
[ "$KEEP_LOGS" = 1 ] && ARGS+=(--dont-clean)
# shellcheck disable=SC2206
[ -n "$EXTRA" ] && ARGS+=($EXTRA)

TSV="$OUT/files.tsv"
printf 'file\tok\terr\texception\ttimedout\tseconds\trc\n' > "$TSV"
{
  echo "server_bin=$SERVER_BIN"; "$SERVER_BIN" --version 2>&1 | head -1
  echo "tree=$TREE redis_src=$REDIS_SRC ($(git -C "$REDIS_SRC" describe --tags 2>/dev/null))"
  echo "runtest-cluster args: ${ARGS[*]}  baseport=$BASEPORT portcount=$PORTCOUNT file_timeout=$FILE_TIMEOUT"
  echo "started $(date -u +%FT%TZ) on $(nproc) cpus"
} > "$OUT/run-info.txt"

# Counts from one runtest-cluster log (see the header for the output format).
count_log() {
  awk '
    function endtest() { pending = 0 }
    /^[0-9][0-9]:[0-9][0-9]:[0-9][0-9]> / { pending = 1 }
    /^\(Jumping to next unit after error\)/ { err++; jumped = 1; endtest(); next }
    /FAILED: caught an error in the test/ {
      if (!jumped) exc++
      jumped = 0; endtest(); next }
    /WARNING: Aborting the test\./ { exc++; endtest(); next }
    pending && /FAILED: / { endtest(); next }          # assertion: counted at "(Jumping ...)"
    pending && /OK$/ { ok++; endtest(); next }
    { if ($0 != "") jumped = 0 }
    END { printf "%d %d %d\n", ok, err, exc }
  ' "$1"
}

tot_ok=0; tot_bad=0; t_all=$(date +%s)
for f in "${FILES[@]}"; do
  log="$OUT/$f.log"
  rm -rf "${CTMP:?}"/redis_* "$CTMP"/sentinel_* "$CTMP"/leaked_fds.txt 2>/dev/null
  t0=$(date +%s)
  # Own session / process group, so that everything the file starts (instances, redis-cli,
  # helper tclsh) can be killed by that group id, and only that.
  TERM=dumb setsid ./runtest-cluster --single "$f.tcl" "${ARGS[@]}" > "$log" 2>&1 < /dev/null 9>&- &
  pid=$!
  walltimeout=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ $(( $(date +%s) - t0 )) -ge "$FILE_TIMEOUT" ]; then
      walltimeout=1
      echo "[cluster-suite] file wall-clock cap ${FILE_TIMEOUT}s reached: killing process group $pid" >> "$log"
      kill -TERM -- "-$pid" 2>/dev/null; sleep 5; kill -KILL -- "-$pid" 2>/dev/null
      break
    fi
    sleep 1
  done
  wait "$pid" 2>/dev/null; rc=$?
  kill -KILL -- "-$pid" 2>/dev/null   # leftovers of this file's group, if any
  secs=$(( $(date +%s) - t0 ))
  read -r ok err exc < <(count_log "$log")
  to=$walltimeout
  if [ "$rc" != 0 ] && [ "$to" = 0 ] && [ $((err + exc)) -eq 0 ]; then exc=1; fi
  printf '%s ok=%s err=%s exception=%s timedout=%s\n' "$f" "$ok" "$err" "$exc" "$to"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$ok" "$err" "$exc" "$to" "$secs" "$rc" >> "$TSV"
  if [ "$KEEP_LOGS" = 1 ] && [ $((err + exc + to)) -gt 0 ]; then
    # the instances' own logs (log.txt = server log, err.txt = stderr, e.g. Python tracebacks)
    (cd "$CTMP" && find . -maxdepth 2 -type f \( -name 'log.txt' -o -name 'err.txt' -o -name 'nodes.conf' -o -name 'redis.conf' \) \
       -size -50M -print0 | tar -czf "$OUT/$f.instances.tgz" --null -T - ) 2>/dev/null
  fi
  tot_ok=$((tot_ok + ok)); tot_bad=$((tot_bad + err + exc + to))
done
rm -rf "${CTMP:?}"/redis_* "$CTMP"/sentinel_* 2>/dev/null
echo "finished $(date -u +%FT%TZ), $(( $(date +%s) - t_all )) s" >> "$OUT/run-info.txt"
echo "clustersuite: $tot_ok passed, $tot_bad failed"
