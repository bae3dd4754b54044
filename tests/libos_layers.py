# libos_layers.py BUILD_LIBOS SRC_LIBOS -- the LibOS's descriptor layer and
# its object kinds call one way (tests/test_libos_layers.sh).
#
# Nodes: fd.o (the descriptor table), fs.o (paths), kinds.o (the table of
# kinds paths name) and every other object whose source includes file.h
# (a kind).  Edge A -> B: A references a symbol B defines (nm).  Printed:
# what fd.o and fs.o reach among them, each circle among them (none
# expected), and which kinds call fs.o.  uaccess.o (copies to and from
# the app, and the check of the buffers a call hands the host) is a
# service beneath every layer: it may read the descriptor table and
# nothing else, and calls into it are not layer edges.
import glob, os, re, subprocess, sys

build, src = sys.argv[1], sys.argv[2]
layer = {"fd.c", "fs.c", "kinds.c", "uaccess.c"}
kinds = sorted(os.path.basename(p)[:-2] for p in glob.glob(src + "/*.c")
               if os.path.basename(p) not in layer and
               re.search(r'^#include "file.h"', open(p).read(), re.M))
nodes = ["fd", "fs", "kinds", "uaccess"] + kinds

def symbols(obj):
    defs, uses = set(), set()
    for line in subprocess.run(["nm", obj], capture_output=True, text=True).stdout.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "U":
            uses.add(f[1])
        elif len(f) == 3 and f[1] in "TDRB":
            defs.add(f[2])
    return defs, uses

table = {n: symbols(f"{build}/{n}.o") for n in nodes}
owner = {s: n for n, (d, _) in table.items() for s in d}
calls = {n: sorted({owner[s] for s in u if s in owner and owner[s] != n})
         for n, (_, u) in table.items()}
edges = {n: [w for w in c if w != "uaccess"] for n, c in calls.items()}

def circles():
    found, state = [], {}
    def visit(v, path):
        state[v] = 1
        for w in edges[v]:
            if state.get(w) == 1:
                found.append(path[path.index(w):] + [w])
            elif w not in state:
                visit(w, path + [w])
        state[v] = 2
    for v in nodes:
        if v not in state:
            visit(v, [v])
    return found

print("kinds:", " ".join(kinds))
print("fd.o calls:", " ".join(edges["fd"]) or "none of them")
print("fs.o calls:", " ".join(edges["fs"]))
print("uaccess.o calls:", " ".join(calls["uaccess"]) or "none of them")
print("circles:", " | ".join(" -> ".join(c) for c in circles()) or "none")
print("kinds calling fs.o:", " ".join(k for k in kinds if "fs" in edges[k]) or "none")
print("kinds calling kinds.o:", " ".join(k for k in kinds if "kinds" in edges[k]) or "none")
