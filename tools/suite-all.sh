#!/usr/bin/env bash
# Run Redis's own test suite (../shared/tools/redis-suite) against redislet, one fresh
# server per unit, and print the per-unit counts and the total.
#
#   REDIS_SRC=/tmp/redis-src tools/suite-all.sh [UNIT ...]
#
# REDIS_SRC is a redis/redis checkout at tag 7.0.15 (never committed).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOL=${REDIS_SUITE:-$ROOT/../shared/tools/redis-suite}
PORT=${PORT:-7777}
UNITS=("$@")
[ ${#UNITS[@]} -eq 0 ] && UNITS=(unit/type/string unit/type/incr unit/type/list unit/type/hash unit/type/set unit/type/zset unit/type/stream unit/type/stream-cgroups unit/expire unit/keyspace unit/multi unit/pubsub unit/info-command unit/protocol unit/scan unit/sort unit/bitops unit/hyperloglog unit/geo unit/scripting unit/dump unit/other unit/introspection unit/introspection-2 unit/latency-monitor unit/slowlog unit/querybuf unit/tracking unit/functions unit/bitfield unit/type/list-2 unit/type/list-3 unit/lazyfree)
tot_ok=0; tot_bad=0
for u in "${UNITS[@]}"; do
  dir=$(mktemp -d)
  (cd "$dir" && exec python3 -m redislet --port "$PORT" --save '' --bind 127.0.0.1 >"$dir/server.log" 2>&1) &
  spid=$!
  for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  line=$(PYTHONPATH=$ROOT "$TOOL" "$PORT" "$u" | grep -v '^redis-suite:')
  echo "$line"
  ok=$(echo "$line" | sed -n 's/.*ok=\([0-9]*\).*/\1/p'); err=$(echo "$line" | sed -n 's/.*err=\([0-9]*\).*/\1/p')
  exc=$(echo "$line" | sed -n 's/.*exception=\([0-9]*\).*/\1/p')
  tot_ok=$((tot_ok+${ok:-0})); tot_bad=$((tot_bad+${err:-0}+${exc:-0}))
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
  rm -rf "$dir"
done
echo "redis-suite: $tot_ok passed, $tot_bad failed"
