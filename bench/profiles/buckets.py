#!/usr/bin/env python3
"""Sums folded stacks (stdin, from fold.py) into named buckets.

Inclusive: the share of samples with a frame of that bucket anywhere on the stack (buckets
overlap). Self: the share of samples whose *leaf* frame is in that bucket (they add up to 100 %).
    python3 buckets.py page|fanout < folded.txt
"""
import re
import sys
from collections import Counter

INCLUSIVE = {
    "page": [
        ("hyper: HTTP/1 parse + encode + dispatch", r"^hyper::"),
        ("tower-sessions layer (load/save around the handler)", r"tower_sessions"),
        ("leptos_axum handler (render + response)", r"^leptos_axum::"),
        ("Leptos render: tachys views to HTML", r"^(<)?tachys::"),
        ("Leptos reactive graph (owners, signals, effects)", r"^(<)?reactive_graph::"),
        ("leptos_router (route matching, outlets)", r"^(<)?leptos_router::"),
        ("leptos_meta (head tags)", r"^(<)?leptos_meta::"),
        ("server_fn / whoami", r"server_fn|whoami"),
        ("serde_json (session record, resource data)", r"serde_json"),
        ("redis client (encode/parse, connection task)", r"^(<)?redis::"),
        ("security headers / nonce (switchboard::routes::headers)", r"routes::headers"),
        ("tracing", r"^(<)?tracing"),
        ("malloc/free/realloc (glibc)", r"^(__libc_malloc|malloc|_int_malloc|_int_free|free|cfree|__libc_free|realloc|_int_realloc|__libc_realloc|malloc_consolidate|__rust_alloc|__rust_dealloc|__rust_realloc|unlink_chunk.*)$"),
        ("memcpy/memmove/memset", r"__mem(cpy|move|set)|^mem(cpy|move|set)"),
        ("kernel (syscalls: read/write/epoll, TCP)", r"^(entry_SYSCALL|do_syscall_64|__x64_sys|tcp_|sock_|ep_poll)"),
        ("tokio runtime (scheduler, I/O driver)", r"^(<)?tokio::runtime"),
    ],
    "fanout": [
        ("forwarder task (ws::forward::forward)", r"ws::forward::forward"),
        ("writer task (ws::outgoing::write)", r"ws::outgoing::write"),
        ("reader task (ws::connection::serve, incl. send path)", r"ws::connection::"),
        ("chat send (store + publish)", r"chat::ChatService.*send|chat::.*send"),
        ("broker / Redis subscriber (receive + decode + deliver)", r"broker::"),
        ("Fanout::deliver (broadcast send)", r"Fanout::deliver"),
        ("tokio broadcast (recv/send)", r"tokio::sync::broadcast"),
        ("tokio mpsc (socket queue)", r"tokio::sync::mpsc"),
        ("tungstenite (frame encode/decode, mask, utf-8)", r"tungstenite"),
        ("frame encode (serde_json)", r"serde_json"),
        ("redis client", r"^(<)?redis::"),
        ("utf-8 validation", r"from_utf8|run_utf8_validation|Utf8Bytes"),
        ("malloc/free (glibc)", r"^(__libc_malloc|malloc|_int_malloc|_int_free|free|cfree|__libc_free|realloc|_int_realloc|malloc_consolidate|__rust_alloc|__rust_dealloc)$"),
        ("kernel: write/sendmsg path", r"(__x64_sys_write|__x64_sys_sendto|__x64_sys_writev|tcp_sendmsg)"),
        ("kernel: read/recv path", r"(__x64_sys_read|__x64_sys_recvfrom|tcp_recvmsg)"),
        ("kernel: epoll", r"(__x64_sys_epoll_wait|ep_poll)"),
        ("kernel: futex (thread wake/park)", r"(__x64_sys_futex|futex_)"),
        ("kernel (any)", r"^(entry_SYSCALL|do_syscall_64)"),
        ("tokio: task wake/schedule", r"tokio::runtime::(task|scheduler).*(wake|schedule)"),
        ("tokio: park/unpark (idle)", r"tokio::runtime::.*park"),
    ],
}
SELF = [
    ("malloc/free", r"^(__libc_malloc|malloc|_int_malloc|_int_free|free|cfree|__libc_free|realloc|_int_realloc|__libc_realloc|malloc_consolidate|__rust_alloc|__rust_dealloc|__rust_realloc|unlink_chunk.*|tcache.*|__libc_calloc|calloc)$"),
    ("memcpy/memmove/memset/strlen", r"__mem(cpy|move|set)|^mem(cpy|move|set)|strlen"),
    ("kernel + libc syscall wrappers", r"^(\[unknown\]$|[a-z_0-9.]+$)"),
    ("tachys (views to HTML)", r"tachys"),
    ("reactive_graph", r"reactive_graph"),
    ("leptos / leptos_router / leptos_meta", r"leptos"),
    ("serde_json", r"serde_json"),
    ("hyper / http / httparse", r"^(<)?(hyper|http|httparse)"),
    ("tokio", r"tokio"),
    ("tungstenite", r"tungstenite"),
    ("redis", r"redis"),
    ("tower / axum / tower_sessions / tower_http", r"tower|axum"),
    ("futures", r"futures"),
    ("alloc/core/std (Rust std lib)", r"^(<)?(alloc|core|std)::"),
    ("switchboard / app / protocol", r"switchboard|app::|protocol::"),
]


def main():
    which = sys.argv[1]
    inclusive = [(n, re.compile(p)) for n, p in INCLUSIVE[which]]
    leaf_rules = [(n, re.compile(p)) for n, p in SELF]
    inc, own, total = Counter(), Counter(), 0
    for line in sys.stdin:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        count = int(count)
        frames = stack.split(";")[1:]
        total += count
        for name, rx in inclusive:
            if any(rx.search(f) for f in frames):
                inc[name] += count
        leaf = frames[-1] if frames else "[unknown]"
        for name, rx in leaf_rules:
            if rx.search(leaf):
                own[name] += count
                break
        else:
            own["other"] += count
    print(f"samples: {total}")
    print("\ninclusive (a sample counts in every bucket on its stack):")
    for name, _ in inclusive:
        print(f"  {100 * inc[name] / max(total, 1):5.1f} %  {name}")
    print("\nself (by the leaf frame; adds up to 100 %):")
    for name, n in own.most_common():
        print(f"  {100 * n / max(total, 1):5.1f} %  {name}")


main()
