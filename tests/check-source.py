#!/usr/bin/env python3
"""Structure checks of the C sources (run by tests/run-all.sh before the build).

- Layers: an include points only to the file's own layer or one below it:
  core <- core/model <- reports <- probe/dialects <- probe/engine
  <- probe/discover <- probe/app. (The build enforces the same with one
  include tree per layer; this names the offending line.)
- No circle of files: x (x.c and x.h) and y include each other, directly or
  through others.
- No production file over 1000 lines.
Exit 0 when clean, 1 with the problems listed.
"""
import glob
import os
import re
import sys

LAYERS = ["core", "core/model", "reports", "probe/dialects", "probe/engine",
          "probe/discover", "probe/app"]
MAX_LINES = 1000


def layer_of(path):
    """The layer of a file: the deepest layer folder that holds it
    (probe/engine/checks/x.c is in probe/engine)."""
    d = os.path.dirname(path)
    while d:
        if d in LAYERS:
            return LAYERS.index(d)
        d = os.path.dirname(d)
    return None


def main():
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    files = sorted(set(f for d in LAYERS for f in glob.glob(d + "/**/*.[ch]", recursive=True)))
    problems = []
    graph = {}
    for f in files:
        unit = f[:-2]
        graph.setdefault(unit, set())
        lines = open(f, encoding="utf-8", errors="replace").read().splitlines()
        if len(lines) > MAX_LINES:
            problems.append("%s: %d lines (at most %d)" % (f, len(lines), MAX_LINES))
        for no, line in enumerate(lines, 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            if not os.path.exists(inc):
                problems.append("%s:%d: include \"%s\" is not a path from the repository root"
                                % (f, no, inc))
                continue
            lf, li = layer_of(f), layer_of(inc)
            if li is None or li > lf:
                problems.append("%s:%d: %s (%s) includes %s (%s): arrows only point down"
                                % (f, no, f, LAYERS[lf], inc,
                                   LAYERS[li] if li is not None else "no layer"))
            if inc[:-2] != unit:
                graph[unit].add(inc[:-2])
    # circles: strongly connected components with more than one unit
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                comps.append(sorted(comp))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    for c in comps:
        problems.append("circle of files: " + " <-> ".join(c))
    if problems:
        print("source structure check failed:")
        for p in problems:
            print("  " + p)
        return 1
    print("source structure check: %d files, layers point down, no circles, none over %d lines"
          % (len(files), MAX_LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
