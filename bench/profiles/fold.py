#!/usr/bin/env python3
"""Folds `perf script -F comm,pid,tid,ip,sym` output (stdin) into "root;...;leaf COUNT" lines
(stdout), the format flame-graph tools read. Rust symbols keep their paths; hashes are cut.
The root frame is the process: a label from the arguments (PID=label ...), else the comm."""
import re
import sys
from collections import Counter

HASH = re.compile(r"::h[0-9a-f]{16}$")
stacks = Counter()
frames = []
comm = None
LABELS = dict(arg.split("=", 1) for arg in sys.argv[1:])


def flush():
    if comm is not None and frames:
        stacks[";".join([comm] + list(reversed(frames)))] += 1


for line in sys.stdin:
    if not line.strip():
        flush()
        frames, comm = [], None
        continue
    if not line[0].isspace():
        flush()
        frames = []
        head = line.split()
        pid = next((h.split("/")[0] for h in head[1:] if "/" in h or h.isdigit()), "")
        comm = LABELS.get(pid, head[0])
        continue
    parts = line.strip().split(None, 1)
    sym = parts[1] if len(parts) > 1 else "[unknown]"
    sym = re.sub(r"\s*\(.*\)$", "", sym)          # "(/path/to/dso)" if present
    sym = HASH.sub("", sym).replace(";", ",")
    frames.append(sym)
flush()
for stack, count in stacks.most_common():
    print(f"{stack} {count}")
