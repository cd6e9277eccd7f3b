#!/usr/bin/env bash
# Profile 5: instance RSS after 1,000 sign-ins (issue 11 goal: <= 64 MB).
#
#   bench/profiles/signins-rss.sh [plain|arena2|jemalloc] [COUNT=1000] [CONCURRENCY=8]
#
# One Redis + one instance (release binary). COUNT registrations (each an argon2id hash,
# 19 MiB, 2 passes: a sign-up signs in), then COUNT logins of those accounts (each an argon2id
# verification), CONCURRENCY at once like the bench's logins scenario. Prints VmRSS and VmHWM
# (the high-water mark) at start, after the registrations and after the logins, and the
# process's mappings over 1 MiB at the end (argon2's blocks show as anonymous mappings while in use).
source "$(dirname "$0")/lib.sh"
MODE=${1:-plain}; COUNT=${2:-1000}; CONC=${3:-8}
case $MODE in
  plain) WRAP=() ;;
  arena2) WRAP=(env MALLOC_ARENA_MAX=2) ;;
  jemalloc) WRAP=(env LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2) ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
trap stop_all EXIT
start_redis
start_server "${WRAP[@]}"
sleep 1
show() { echo "$1: VmRSS $(rss_kib "$APP_PID") KiB, VmHWM $(hwm_kib "$APP_PID") KiB, threads $(ls /proc/$APP_PID/task | wc -l)"; }
echo "mode=$MODE pid=$APP_PID"
show "start"
node "$PROF_DIR/accounts.js" "$URL" "signin$$" "$COUNT" "$CONC" register > "$WORK/signin-accounts.jsonl"
show "after $COUNT registrations"
node "$PROF_DIR/accounts.js" "$URL" "signin$$" "$COUNT" "$CONC" login > /dev/null
show "after $COUNT logins"
sleep 5
show "5 s later"
echo "anonymous mappings >= 1 MiB (size KiB, rss KiB):"
awk '/^[0-9a-f]+-[0-9a-f]+ / {name=$6} /^Size:/ {size=$2} /^Rss:/ {if (size >= 1024) printf "  %8d %8d %s\n", size, $2, (name == "" ? "[anon]" : name)}' "/proc/$APP_PID/smaps" | sort -k2 -n -r | head -12
