#!/usr/bin/env bash
# Profile 4: what the WASM client's bytes are (issue 11 goal: <= 200 KB gzip).
#
#   bench/profiles/wasm-size.sh          (after scripts/build-site release; needs `cargo install twiggy`)
#
# The shipped file, target/site/pkg/switchboard_bg.wasm, has been through `wasm-opt -Oz`, which
# drops the function names. So the same pipeline as scripts/build-site is re-run on the
# wasm-release build in target/wasm32-unknown-unknown (wasm-bindgen, then wasm-opt -Oz with -g to
# keep the name section) into $WORK/wasm; its code is the shipped code (sizes are compared
# below), with names twiggy can attribute. Outputs next to this script: wasm-twiggy-*.txt and
# wasm-by-crate.txt (every function summed by the crate its name belongs to).
source "$(dirname "$0")/lib.sh"
TWIGGY=${TWIGGY:-$(command -v twiggy || echo "$HOME/.cargo/bin/twiggy")}
SHIPPED=$SITE/pkg/switchboard_bg.wasm
RAW=$ROOT/target/wasm32-unknown-unknown/wasm-release/switchboard_frontend.wasm
OUT=$WORK/wasm; rm -rf "$OUT"; mkdir -p "$OUT"
wasm-bindgen --target web --no-typescript --out-dir "$OUT" --out-name switchboard "$RAW"
"$ROOT/tools/node_modules/.bin/wasm-opt" -Oz -g --enable-bulk-memory --enable-nontrapping-float-to-int \
  -o "$OUT/named.wasm" "$OUT/switchboard_bg.wasm"
"$ROOT/tools/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
  -o "$OUT/unnamed.wasm" "$OUT/switchboard_bg.wasm"
size() { printf '%8d raw %8d gzip-9  %s\n' "$(wc -c < "$1")" "$(gzip -9 -c "$1" | wc -c)" "$2"; }
{
  size "$RAW" "cargo output (wasm-release: opt-level z, lto, codegen-units 1, panic abort)"
  size "$OUT/switchboard_bg.wasm" "after wasm-bindgen"
  size "$OUT/unnamed.wasm" "after wasm-opt -Oz (= what build-site ships)"
  size "$SHIPPED" "shipped target/site/pkg/switchboard_bg.wasm"
  size "$OUT/named.wasm" "after wasm-opt -Oz -g (names kept: the file profiled below)"
} | tee "$PROF_DIR/wasm-sizes.txt"
"$TWIGGY" top -n 30 "$OUT/named.wasm" > "$PROF_DIR/wasm-twiggy-top.txt"
"$TWIGGY" dominators -d 3 -r 60 "$OUT/named.wasm" > "$PROF_DIR/wasm-twiggy-dominators.txt"
"$TWIGGY" monos -m 25 -n 3 "$OUT/named.wasm" > "$PROF_DIR/wasm-twiggy-monos.txt"
"$TWIGGY" garbage -m 10 "$OUT/named.wasm" > "$PROF_DIR/wasm-twiggy-garbage.txt" || true
"$TWIGGY" top -n 1000000 -f csv "$OUT/named.wasm" > "$OUT/top.csv"
python3 "$PROF_DIR/wasm_crates.py" "$OUT/top.csv" "$OUT/named.wasm" | tee "$PROF_DIR/wasm-by-crate.txt"
