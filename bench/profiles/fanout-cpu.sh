#!/usr/bin/env bash
# Profile 3: fan-out 1 room x 1,000 members over 3 instances at high rates: where the CPU goes.
#
#   LOADGEN=/path/to/loadgen bench/profiles/fanout-cpu.sh [PERF_SECONDS=20]
#   BIN=... to profile another server build (default target/release/switchboard-server)
#   TRIGGER='Switchboard 100x10: 37969 deliveries/s asked' ... to profile another step
#
# Runs the bench's own `loadgen --only fan-out` (both stacks, every fan-out shape, the
# published step-up) from a private root in $WORK/fanout-root: the committed scripts/ and
# deploy/, bench/ and target/site linked from this checkout, and BIN as the server — so its
# `scripts/cluster up --name bench` lives in $WORK/fanout-root/.run and cannot collide with a
# `scripts/test` or `scripts/bench` running in the checkout. When loadgen reports the
# 85,430 deliveries/s step of 1x1000 on Switchboard (or TRIGGER), `perf record` samples the 3 instances,
# their Redis and loadgen itself for PERF_SECONDS (the 128K, 192K and 288K steps), with
# DWARF call graphs. Outputs next to this script: fanout-loadgen.log, fanout-perf-*.txt.
source "$(dirname "$0")/lib.sh"
PERF_SECS=${1:-20}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
# loadgen starts the peer too: its node modules, from their lockfile (as scripts/bench does).
(source "$ROOT/scripts/lib.sh" && npm_install_locked "$ROOT/bench/peer" "the Socket.IO peer (npm ci in bench/peer)")
ALT=$WORK/fanout-root
rm -rf "$ALT"; mkdir -p "$ALT/target/release"
git -C "$ROOT" archive HEAD scripts deploy | tar -x -C "$ALT"
ln -s "$ROOT/bench" "$ALT/bench"
ln -s "$SITE" "$ALT/target/site"
ln -s "$BIN" "$ALT/target/release/switchboard-server"
LOG=$PROF_DIR/fanout-loadgen.log
: > "$LOG"
"$LOADGEN" --root "$ALT" --profile release --only fan-out --out "$WORK/fanout-results" > "$WORK/fanout-report.md" 2> "$LOG" &
LG=$!
trap 'kill $LG 2>/dev/null || true' EXIT
TRIGGER=${TRIGGER:-Switchboard 1x1000: 85430 deliveries/s asked}
until grep -qF "$TRIGGER" "$LOG"; do
  kill -0 $LG 2>/dev/null || { echo "loadgen ended early"; tail "$LOG"; exit 1; }
  sleep 0.2
done
APPS=$(cat "$ALT"/.run/bench/app-*.pid | tr '\n' ',' | sed 's/,$//')
REDIS=$(cat "$ALT"/.run/bench/redis.pid)
PIDS=$APPS,$REDIS,$LG
echo "perf on pids $PIDS for $PERF_SECS s (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
PERF=$WORK/fanout.perf.data
perf record -e cpu-clock -F 299 --call-graph dwarf,16384 -p "$PIDS" -o "$PERF" -- sleep "$PERF_SECS" 2> "$WORK/fanout-perf-record.log"
echo "perf done; waiting for loadgen to finish the run (both stacks, every shape)"
wait $LG || true
trap - EXIT
grep -E 'x1000|fan-out' "$LOG" | head -40
LABELS="$(for p in ${APPS//,/ }; do printf '%s=switchboard ' "$p"; done)$REDIS=redis-server $LG=loadgen"
perf report -i "$PERF" --stdio --no-children --sort pid > "$PROF_DIR/fanout-perf-by-process.txt" 2>/dev/null
echo "pids: instances $APPS, redis $REDIS, loadgen $LG" >> "$PROF_DIR/fanout-perf-by-process.txt"
perf report -i "$PERF" --pid "$APPS" --no-children --stdio --no-inline --percent-limit 0.5 -g none \
  --sort symbol > "$PROF_DIR/fanout-perf-self.txt" 2>/dev/null
perf report -i "$PERF" --pid "$APPS" --children --stdio --no-inline --percent-limit 2 -g none \
  --sort symbol > "$PROF_DIR/fanout-perf-children.txt" 2>/dev/null
perf script -i "$PERF" --no-inline -F comm,pid,tid,ip,sym 2>/dev/null | python3 "$PROF_DIR/fold.py" $LABELS > "$WORK/fanout-folded-all.txt"
awk '{split($0, a, ";"); n[a[1]] += $NF} END {for (k in n) print n[k], k}' "$WORK/fanout-folded-all.txt" | sort -rn
grep -E '^switchboard;' "$WORK/fanout-folded-all.txt" > "$PROF_DIR/fanout-perf-folded.txt" || true
python3 "$PROF_DIR/buckets.py" fanout < "$PROF_DIR/fanout-perf-folded.txt" | tee "$PROF_DIR/fanout-perf-buckets.txt"
