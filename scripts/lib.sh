# Shared by the scripts behind the README's commands. Source it; do not run it.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION=0.2.129
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs what is missing: Debian packages, the wasm target, the wasm-bindgen CLI, npm packages.
ensure_deps() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  [ -x "$PG_BIN/postgres" ] || missing+=(postgresql)
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  [ "${NEED_BROWSER:-0}" = 1 ] && { command -v chromium >/dev/null || missing+=(chromium); }
  command -v curl >/dev/null || missing+=(curl)
  # The server's allocator (tikv-jemalloc-sys) builds jemalloc from source with make and a C compiler.
  command -v make >/dev/null || missing+=(make)
  command -v cc >/dev/null || missing+=(gcc)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" \
      || { as_root apt-get -f install -y -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }
  fi
  export PATH="$PATH:/usr/sbin"
  rustup component list --installed 2>/dev/null | grep -q '^clippy' \
    || { log "adding clippy and rustfmt"; rustup component add clippy rustfmt; }
  rustup target list --installed 2>/dev/null | grep -q wasm32-unknown-unknown \
    || { log "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (must match Cargo.lock)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
  fi
  if [ "${NEED_BROWSER:-0}" = 1 ]; then
    npm_install_locked "$ROOT/end2end" "the Playwright test runner and axe (npm ci; the browser is Debian's chromium)"
  fi
  if [ "${PROFILE:-debug}" = release ]; then
    npm_install_locked "$ROOT/tools" "wasm-opt (npm binaryen)"
  fi
}

# Runs `npm ci` in DIR unless its node_modules were installed from the lockfile as it is now
# (a changed package-lock.json, e.g. a new test dependency, is installed on the next run).
npm_install_locked() {
  local dir=$1 what=$2 stamp want
  stamp="$dir/node_modules/.installed-from-lock"
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing $what"
    (cd "$dir" && npm ci --no-audit --no-fund)
    echo "$want" > "$stamp"
  fi
}

# PostgreSQL 15's server programs (Debian puts them off PATH).
PG_BIN=/usr/lib/postgresql/15/bin

# Runs a PostgreSQL program as a user it accepts: PostgreSQL refuses root, so as root it runs
# as the `postgres` system user (the Debian package makes it).
pg_as() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# start_postgres DIR: this project's own PostgreSQL in DIR (initdb on first use, a random password
# kept in DIR/password; its data stays in DIR across restarts) on a free port of 127.0.0.1, with a
# database "switchboard"; writes DIR/url. PG_SETTINGS adds server settings (tests: -c fsync=off).
start_postgres() {
  local dir=$1 port
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)   # the server runs in its data directory: every path it is given is absolute
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    rm -rf "$dir/data"
    python3 -c 'import secrets; print(secrets.token_hex(16))' > "$dir/password"
    chmod 600 "$dir/password"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    pg_as "$PG_BIN/initdb" -D "$dir/data" -U switchboard --auth=scram-sha-256 --pwfile="$dir/password" \
      -E UTF8 --no-instructions > "$dir/initdb.log"
  fi
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  port=$(free_port)
  pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${PG_SETTINGS:-}" start
  local url="postgres://switchboard:$(cat "$dir/password")@127.0.0.1:$port"
  if ! psql "$url/postgres" -tAc "SELECT 1 FROM pg_database WHERE datname = 'switchboard'" | grep -q 1; then
    psql "$url/postgres" -qc "CREATE DATABASE switchboard" >/dev/null
  fi
  echo "$url/switchboard" > "$dir/url"
}

# stop_postgres DIR: stops the PostgreSQL start_postgres started in DIR (its data stays).
stop_postgres() {
  local dir
  dir=$(cd "$1" 2>/dev/null && pwd) || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then pg_as "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -s stop || true; fi
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Prints N distinct free TCP ports on 127.0.0.1, one a line (one python3 start for all of them).
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
for s in socks: print(s.getsockname()[1])
for s in socks: s.close()' "$1"
}

# Waits until a URL answers (any HTTP status below 500, or the given one).
wait_http() {
  local url=$1 tries=${2:-150}
  for _ in $(seq "$tries"); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $url" >&2
  return 1
}

# Warns when the disk that holds target/ has less than GB gigabytes free: a full disk otherwise shows
# up half an hour later as a compiler's "No space left on device".
check_disk() {
  local want_gb=$1 free_kb
  mkdir -p "$ROOT/target"
  free_kb=$(df -Pk "$ROOT/target" | awk 'NR == 2 { print $4 }')
  if [ "${free_kb:-0}" -lt $((want_gb * 1024 * 1024)) ]; then
    log "warning: $((free_kb / 1024)) MB free under $ROOT/target; a full run needs about $want_gb GB (cargo clean frees old builds)"
  fi
}
