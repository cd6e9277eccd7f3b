#!/usr/bin/env python3
"""Sums `twiggy top -f csv` rows by crate (wasm-size.sh).

A function is counted in the crate its name belongs to: `a::b::f` -> a; `<T as Trait>::f` ->
the crate of T (where the monomorphised code comes from); `core::ptr::drop_in_place<T>` -> the
crate of T (drop glue). Generic code of core/alloc/std instantiated for a type stays in
core/alloc/std. Also an estimate of each group's gzip share: the group's functions are not
separable in the binary, so gzip is apportioned by raw size (ratio of the whole file).
    python3 wasm_crates.py top.csv named.wasm
"""
import csv
import gzip
import re
import sys
from collections import Counter

LEPTOS = {"leptos", "tachys", "reactive_graph", "leptos_router", "leptos_meta", "leptos_dom", "server_fn",
          "any_spawner", "throw_error", "or_poisoned", "hydration_context", "reactive_stores", "either_of",
          "oco_ref", "next_tuple", "leptos_server", "leptos_config", "leptos_hot_reload", "leptos_router_macro",
          "send_wrapper", "guardian", "slotmap", "paste", "const_str_slice_concat", "leptos_integration_utils"}
OURS = {"switchboard_app", "switchboard_frontend", "switchboard_protocol", "app", "frontend", "protocol"}
WASM = {"wasm_bindgen", "js_sys", "web_sys", "wasm_bindgen_futures", "gloo_net", "gloo_timers", "gloo_utils",
        "gloo_events", "console_error_panic_hook", "serde_wasm_bindgen"}
STD = {"core", "alloc", "std", "dlmalloc", "compiler_builtins", "hashbrown", "__rustc"}


def crate_of(name: str) -> str:
    name = name.strip()
    m = re.match(r"^(?:core|alloc)::ptr::drop_in_place<(.*)>$", name.split("::h")[0])
    if m:
        return crate_of(m.group(1)) + ""  # drop glue of T
    if name.startswith("<"):
        depth, i = 0, 0
        for i, ch in enumerate(name):
            if ch == "<":
                depth += 1
            elif ch == ">":
                depth -= 1
                if depth == 0:
                    break
        inner = name[1:i]
        inner = re.split(r"\s+as\s+", inner)[0]
        inner = inner.lstrip("&*[( ").replace("mut ", "").replace("dyn ", "").replace("const ", "")
        return crate_of(inner) if inner else "?"
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)::", name)
    if m:
        return m.group(1)
    return name


def group(crate: str, item: str) -> str:
    if item.startswith("data[") or item.startswith("data segment"):
        return "data segments (static strings, tables)"
    if item.startswith("custom section") or item.startswith('"'):
        return "custom sections"
    if item.startswith("code[") or item.startswith("func["):
        return "unnamed functions"
    if item in ("table[0]", "elem[0]") or item.startswith(("table[", "elem[", "type[", "import ", "export ", "global[", "memory[")):
        return "tables, types, imports, exports"
    if item.startswith("__wbg") or item.startswith("__wbindgen") or crate in WASM:
        return "wasm-bindgen / js-sys / web-sys / gloo (JS glue)"
    if crate in LEPTOS:
        return "Leptos (" + crate + ")"
    if crate in OURS:
        return "Switchboard (app, frontend, protocol)"
    if crate in STD:
        return "Rust std (" + crate + ")"
    if crate in ("serde", "serde_json", "serde_qs", "serde_urlencoded", "serde_core", "ryu", "itoa"):
        return "serde (" + crate + ")"
    return "other crates (" + crate + ")"


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    wasm = open(sys.argv[2], "rb").read()
    total = len(wasm)
    gz = len(gzip.compress(wasm, 9))
    by_group, by_crate = Counter(), Counter()
    key = "ShallowSize" if "ShallowSize" in rows[0] else list(rows[0].keys())[1]
    for row in rows:
        item = row["Name"]
        size = int(row[key])
        crate = crate_of(item)
        g = group(crate, item)
        by_group[g] += size
        if g.startswith("Leptos"):
            by_group["= Leptos, all crates"] += size
    print(f"file: {total} bytes raw, {gz} gzip -9 (ratio {gz / total:.2f}); shallow sizes summed: {sum(int(r[key]) for r in rows)}")
    print(f"{'bytes':>9} {'%':>6} {'~gzip':>8}  group")
    for g, size in by_group.most_common():
        print(f"{size:9d} {100 * size / total:5.1f}% {size * gz / total:8.0f}  {g}")


main()
