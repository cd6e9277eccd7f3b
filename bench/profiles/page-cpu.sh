#!/usr/bin/env bash
# Profile 2: the chat page (GET / with a session, one instance): throughput, CPU per page,
# Redis commands per page, and where the CPU goes (perf, DWARF call graphs).
#
#   bench/profiles/page-cpu.sh [SECONDS=10] [CONNECTIONS=64]
#   BIN=/tmp/sb-prof-target/release/switchboard-server bench/profiles/page-cpu.sh   # symbols + line tables
#   PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 bench/profiles/page-cpu.sh    # another allocator
#
# 1. one account; one GET / checked to be the chat page (200); its size.
# 2. `redis-cli MONITOR` around one GET /: the commands one page costs (page-redis-monitor.txt).
# 3. wrk -t1 -cCONNECTIONS -dSECONDS without a profiler: req/s, latency, and the CPU the
#    instance and its Redis used per page (from /proc/PID/stat).
# 4. the same load again with `perf record -e cpu-clock --call-graph dwarf` on the instance;
#    reports: page-perf-self.txt (self time by symbol), page-perf-children.txt (inclusive),
#    page-perf-folded.txt (folded stacks, for any flame-graph tool).
source "$(dirname "$0")/lib.sh"
SECS=${1:-10}; CONNS=${2:-64}
trap stop_all EXIT
start_redis
if [ -n "${PRELOAD:-}" ]; then start_server env LD_PRELOAD="$PRELOAD"; else start_server; fi
echo "server pid=$APP_PID url=$URL bin=$BIN"
node "$PROF_DIR/accounts.js" "$URL" "page$$" 1 1 > "$WORK/page-account.jsonl"
COOKIE=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["cookie"])' "$WORK/page-account.jsonl")
code=$(curl -s -o "$WORK/page.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$URL/")
echo "GET / -> $code, $(wc -c < "$WORK/page.html") bytes of HTML"
[ "$code" = 200 ] || exit 1
curl -s -D - -o /dev/null -H "Cookie: $COOKIE" "$URL/" | tr -d '\r' | sed 's/^/  header: /'

# Redis commands of one page.
redis-cli -p "$REDIS_PORT" MONITOR > "$WORK/monitor.txt" &
MON=$!; sleep 0.5
curl -s -o /dev/null -H "Cookie: $COOKIE" "$URL/"
sleep 0.5; kill "$MON"; wait "$MON" 2>/dev/null || true
grep -v '^OK' "$WORK/monitor.txt" | sed -E 's/"[0-9a-zA-Z_-]{20,}"/"…"/g; s/\{\\"id\\".*\}/{record JSON}/' > "$PROF_DIR/page-redis-monitor.txt"
echo "Redis commands for one page: $(wc -l < "$PROF_DIR/page-redis-monitor.txt") (bench/profiles/page-redis-monitor.txt)"
cut -d'"' -f2 "$PROF_DIR/page-redis-monitor.txt" | sort | uniq -c

# Throughput and CPU per page, no profiler.
c0=$(cpu_ticks "$APP_PID"); r0=$(cpu_ticks "$REDIS_PID")
wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -H "Cookie: $COOKIE" "$URL/" > "$WORK/wrk.txt"
c1=$(cpu_ticks "$APP_PID"); r1=$(cpu_ticks "$REDIS_PID")
cat "$WORK/wrk.txt"
reqs=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
awk -v c=$((c1 - c0)) -v r=$((r1 - r0)) -v n="$reqs" -v s="$SECS" 'BEGIN {
  printf "instance CPU: %.2f cores, %.0f us per page; its Redis: %.2f cores, %.0f us per page\n",
    c / 100 / s, c * 10000 / n, r / 100 / s, r * 10000 / n }'

# Where the CPU goes.
PERF=$WORK/page.perf.data
wrk -t1 -c"$CONNS" -d"$((SECS + 2))s" -H "Cookie: $COOKIE" "$URL/" > "$WORK/wrk-perf.txt" &
WRK=$!; sleep 1
perf record -e cpu-clock -F 499 --call-graph dwarf,32768 -p "$APP_PID" -o "$PERF" -- sleep "$SECS" 2> "$WORK/perf-record.log"
wait "$WRK"
echo "under perf: $(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-perf.txt") req/s"
perf report -i "$PERF" --no-children --stdio --no-inline --percent-limit 0.7 -g none --sort symbol \
  > "$PROF_DIR/page-perf-self.txt" 2>/dev/null
perf report -i "$PERF" --children --stdio --no-inline --percent-limit 2 -g none --sort symbol \
  > "$PROF_DIR/page-perf-children.txt" 2>/dev/null
perf script -i "$PERF" --no-inline -F comm,pid,tid,ip,sym 2>/dev/null | python3 "$PROF_DIR/fold.py" > "$PROF_DIR/page-perf-folded.txt"
python3 "$PROF_DIR/buckets.py" page < "$PROF_DIR/page-perf-folded.txt" | tee "$PROF_DIR/page-perf-buckets.txt"
