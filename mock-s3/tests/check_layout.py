#!/usr/bin/env python3
"""The mock's structure, checked: run by CTest as mock.layout.

  check_layout.py LIBMOCKS3.a MOCK_S3_DIR

- every symbol libmocks3 exports is public (declared in include/mock_s3.h,
  prefix ms3_) or private (prefix ms3__), so `nm` tells them apart;
- no cycle between the files of src/: neither by #include (a file and its
  header count as one) nor by the symbols their objects use.
Prints what is wrong and exits 1, else exits 0.
"""
import collections
import os
import re
import subprocess
import sys


def nm(archive):
    """{object: (defined globals, undefined)} of a static library."""
    out = subprocess.run(["nm", archive], capture_output=True, text=True, check=True).stdout
    objs, cur = {}, None
    for line in out.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            cur = line[:-1].replace(".c.o", "")
            objs[cur] = (set(), set())
            continue
        parts = line.split()
        if cur is None or not parts:
            continue
        if len(parts) == 3 and parts[1] in "TDRBC":
            objs[cur][0].add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            objs[cur][1].add(parts[1])
    return objs


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main():
    archive, root = sys.argv[1], sys.argv[2]
    problems = []
    public_h = open(os.path.join(root, "include", "mock_s3.h")).read()
    public = set(re.findall(r"\b(ms3_[a-z0-9_]+)\s*\(", public_h))

    objs = nm(archive)
    owner = {}
    for obj, (defined, _) in objs.items():
        for sym in defined:
            owner[sym] = obj
            # ASan marks each global variable with "__odr_asan.<name>": judge the name.
            if sym.removeprefix("__odr_asan.").startswith("ms3__"):
                continue
            if sym not in public:
                problems.append(f"{obj}.c exports {sym}: neither in mock_s3.h nor ms3__")
    uses = collections.defaultdict(set)
    for obj, (_, undefined) in objs.items():
        for sym in undefined:
            if sym in owner and owner[sym] != obj:
                uses[obj].add(owner[sym])
    for c in cycles(uses):
        problems.append("files that use each other's symbols: " + " <-> ".join(c))

    src = os.path.join(root, "src")
    includes = collections.defaultdict(set)
    names = {f for f in os.listdir(src) if f.endswith((".c", ".h"))}
    for f in names:
        module = f.rsplit(".", 1)[0]
        for inc in re.findall(r'#include "([^"]+)"', open(os.path.join(src, f)).read()):
            inc = os.path.basename(inc)
            if inc in names and inc.rsplit(".", 1)[0] != module:
                includes[module].add(inc.rsplit(".", 1)[0])
    for c in cycles(includes):
        problems.append("files that include each other: " + " <-> ".join(c))

    for p in problems:
        print("mock layout:", p)
    print(f"mock layout: {len(public)} public, "
          f"{sum(1 for s in owner if s.startswith('ms3__'))} private symbols, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
