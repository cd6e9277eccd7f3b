#!/usr/bin/env bash
# Profile 1: memory per idle authenticated websocket joined to a room (issue 11, goal <= 4 KB).
#
#   bench/profiles/idle-memory.sh [plain|heaptrack|arena2|jemalloc|mimalloc] [WARM] [LEVELS...]
#
# One Redis + one instance (bench/profiles/lib.sh; the release binary), 100 accounts, then
# WARM sockets (default 1000) and each cumulative level (default 2000 4000) of idle sockets in
# rooms of 30 (bench/profiles/idle.js, the bench's handshake). Prints VmRSS after each level
# and the marginal KiB per socket (as the bench computes it). `heaptrack` runs the instance
# under heaptrack and SIGKILLs it with every socket open, so the trace's "leaked" bytes are
# exactly the heap live at that moment, by allocation site (heaptrack_print output is written
# next to this script as idle-heaptrack.txt). The other modes only change the allocator:
# MALLOC_ARENA_MAX=2, or jemalloc / mimalloc by LD_PRELOAD (Debian's libjemalloc2, libmimalloc2.0).
# The server links jemalloc in under its own names, which heaptrack and LD_PRELOAD cannot see: for
# those modes build it without (`cargo build --release -p switchboard-server --no-default-features
# --target-dir /tmp/sb-sysalloc`) and pass BIN=/tmp/sb-sysalloc/release/switchboard-server.
source "$(dirname "$0")/lib.sh"
MODE=${1:-plain}; WARM=${2:-1000}; shift $(( $# > 2 ? 2 : $# )) || true
LEVELS=("$@"); [ ${#LEVELS[@]} -eq 0 ] && LEVELS=(2000 4000)
case $MODE in
  plain) WRAP=() ;;
  heaptrack) WRAP=(heaptrack -o "$WORK/idle-heaptrack") ; rm -f "$WORK"/idle-heaptrack* ;;
  arena2) WRAP=(env MALLOC_ARENA_MAX=2) ;;
  jemalloc) WRAP=(env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2) ;;
  mimalloc) WRAP=(env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2) ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
trap 'exec 3>&- 2>/dev/null || true; stop_all' EXIT
start_redis
start_server "${WRAP[@]}"
echo "mode=$MODE server pid=$APP_PID url=$URL"
node "$PROF_DIR/accounts.js" "$URL" "idle$$" 100 2 > "$WORK/idle-accounts.jsonl"
sleep 2
before=$(rss_kib "$APP_PID")
echo "rss after 100 registrations, no socket: $before KiB"
FIFO=$WORK/idle-$$.fifo; rm -f "$FIFO"; mkfifo "$FIFO"
OUT=$WORK/idle-$$.out; : > "$OUT"
node "$PROF_DIR/idle.js" "$URL" "$WORK/idle-accounts.jsonl" "idle$$" 30 64 < "$FIFO" > "$OUT" &
CLIENT=$!
exec 3> "$FIFO"
wait_batches() { while [ "$(grep -c '^opened' "$OUT")" -lt "$1" ]; do sleep 0.5; done; tail -1 "$OUT"; }
echo "open $WARM" >&3; wait_batches 1; sleep 3
warm=$(rss_kib "$APP_PID")
echo "rss with $WARM warm sockets: $warm KiB ($(( (warm - before) / WARM )) KiB each incl. first-time growth)"
opened=0; n=1
for level in "${LEVELS[@]}"; do
  echo "open $(( level - opened ))" >&3; n=$((n + 1)); wait_batches $n; sleep 3
  opened=$level
  rss=$(rss_kib "$APP_PID")
  awk -v r="$rss" -v w="$warm" -v l="$level" -v t="$((WARM + level))" \
    'BEGIN { printf "rss with %d sockets: %d KiB; +%d after warm: %.2f KiB per socket\n", t, r, l, (r - w) / l }'
done
grep -E '^(Rss|Pss|Anonymous|Private_Dirty)' "/proc/$APP_PID/smaps_rollup" | tr -s ' ' | tr '\n' ';'; echo
echo "threads: $(ls /proc/$APP_PID/task | wc -l); fds: $(ls /proc/$APP_PID/fd | wc -l)"
if [ "$MODE" = heaptrack ]; then
  kill -KILL "$APP_PID"            # every socket still open: "leaked" = live heap now
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID= APP_PID=
  file=$( (ls "$WORK"/idle-heaptrack*.zst "$WORK"/idle-heaptrack*.gz 2>/dev/null || true) | head -1)
  echo "heaptrack data: $file"
  heaptrack_print -f "$file" --print-leaks 1 --print-peaks 1 --print-allocators 0 --print-temporary 0 \
    -n 40 > "$PROF_DIR/idle-heaptrack.txt" 2>&1 || true
  echo "heaptrack_print written to bench/profiles/idle-heaptrack.txt"
fi
exec 3>&-
wait "$CLIENT" 2>/dev/null || true
