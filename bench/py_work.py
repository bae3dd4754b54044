"""py_work.py -- the small python3 workload of bench/run.sh (not a test).

    python3 py_work.py [N]

N times: build a dict, json.dumps it (sorted keys) and json.loads it back,
scan the JSON text with a regular expression, feed it to SHA-256.  Prints
N, a checksum of the numbers found and the start of the digest, so that
runs in different sandboxes can be checked to have done the same work.
Almost no system calls after start-up: what it measures is start-up
(imports) plus the interpreter running at full speed.
"""
import hashlib
import json
import re
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
word = re.compile(r"[a-z]+(\d+)")
h = hashlib.sha256()
total = 0
for i in range(n):
    doc = {"id": i, "name": f"item{i}", "tags": [f"t{j}" for j in range(i % 7)],
           "nested": {"x": i * 0.5, "y": [i, i + 1]}}
    s = json.dumps(doc, sort_keys=True)
    back = json.loads(s)
    for m in word.finditer(s):
        total += int(m.group(1))
    h.update(s.encode())
    total += back["id"]
print(n, total, h.hexdigest()[:16])
