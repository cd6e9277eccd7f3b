# Helpers for the issue-11 profiles (bench/profiles/*.sh). Source it; do not run it.
# Starts ONE Redis and ONE Switchboard instance of its own on free ports (nothing shared with
# scripts/cluster or a running bench), optionally under a wrapper (heaptrack, perf...).
# shellcheck shell=bash
set -euo pipefail
PROF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$PROF_DIR/../.." && pwd)"
BIN=${BIN:-$ROOT/target/release/switchboard-server}
SITE=${SITE:-$ROOT/target/site}
WORK=${WORK:-/tmp/sb-profiles}
NODE_PATH=${NODE_PATH:-$ROOT/bench/peer/node_modules}   # the `ws` package the peer already installs
export NODE_PATH
mkdir -p "$WORK"
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_redis: sets REDIS_PORT, REDIS_PID (same settings as the bench: AOF on, no snapshots).
start_redis() {
  REDIS_PORT=$(free_port)
  rm -rf "$WORK/redis-$REDIS_PORT"; mkdir -p "$WORK/redis-$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis-$REDIS_PORT" \
    --appendonly yes --save "" --daemonize no > "$WORK/redis-$REDIS_PORT.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "redis did not start" >&2; return 1
}

# start_server [WRAPPER...]: sets PORT, URL, SERVER_PID (the wrapper's pid if any) and APP_PID
# (the server process itself). The bench's raised abuse limits (bench/src/stack.rs) are applied.
start_server() {
  PORT=$(free_port); URL="http://127.0.0.1:$PORT"
  (cd "$ROOT" && env SENDS_PER_10S=1000000000 FRAMES_PER_SECOND=1000000 AUTH_ATTEMPTS_PER_CLIENT=1000000000 \
    LOGIN_ATTEMPTS_PER_NAME=1000000000 MAX_SOCKETS_PER_USER=1000000 MAX_ROOMS_PER_USER=1000000 HASH_QUEUE=64 \
    RUST_LOG=${RUST_LOG:-warn} TRUST_FORWARDED_FOR=true INSTANCE_ID=prof-1 LISTEN_ADDR="127.0.0.1:$PORT" \
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/" LEPTOS_SITE_ROOT="$SITE" LEPTOS_OUTPUT_NAME=switchboard \
    LEPTOS_SITE_PKG_DIR=pkg "$@" "$BIN") > "$WORK/server-$PORT.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do curl -fsS -o /dev/null "$URL/healthz" 2>/dev/null && break; sleep 0.2; done
  curl -fsS -o /dev/null "$URL/healthz" || { echo "server did not start; log:" >&2; tail "$WORK/server-$PORT.log" >&2; return 1; }
  # The process that listens on PORT is the server itself (under a wrapper, SERVER_PID is the wrapper's).
  APP_PID=$(ss -Hltnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
}

stop_all() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null || true
  sleep 1
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# CPU ticks (user+system, in clock ticks of 1/100 s) of a process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
