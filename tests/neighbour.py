#!/usr/bin/env python3
"""neighbour.py -- a neighbouring picoprocess's request latency, timed from the host.

    neighbour.py MOAT SECONDS [READY_FILE]
    neighbour.py MOAT until:STOP_FILE [READY_FILE]

Starts `MOAT run -- /bin/busybox cat`, an echo server over a pipe, and for
SECONDS (or until STOP_FILE exists) sends it a line every 50 ms and times
the echo.  It touches
READY_FILE once the first echo came back (so the caller starts its attack
after that).  Prints one line:

    neighbour: N requests, median M ms, p99 P ms, max X ms, lost L

and exits 0 if every request was answered (a request still unanswered
after 10 s counts as lost, and ends the run).
"""
import os
import select
import subprocess
import sys
import time

moat = sys.argv[1]
stop = sys.argv[2][6:] if sys.argv[2].startswith("until:") else None
seconds = 1e9 if stop else float(sys.argv[2])
ready = sys.argv[3] if len(sys.argv) > 3 else None
p = subprocess.Popen([moat, "run", "--", "/bin/busybox", "cat"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
lat, lost = [], 0
end = None
i = 0
while end is None or (time.monotonic() < end and not (stop and os.path.exists(stop))):
    msg = b"ping %d\n" % i
    t0 = time.monotonic()
    p.stdin.write(msg)
    got = b""
    while not got.endswith(b"\n"):
        r, _, _ = select.select([p.stdout], [], [], max(0.0, t0 + 10 - time.monotonic()))
        if not r:
            break
        chunk = os.read(p.stdout.fileno(), 4096)
        if not chunk:
            break
        got += chunk
    if got != msg:
        lost += 1
        break
    lat.append((time.monotonic() - t0) * 1000)
    if end is None:
        end = time.monotonic() + seconds
        if ready:
            open(ready, "w").close()
    i += 1
    time.sleep(0.05)
p.stdin.close()
try:
    p.wait(timeout=10)
except subprocess.TimeoutExpired:
    p.kill()
lat.sort()
if lat:
    med = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print("neighbour: %d requests, median %.1f ms, p99 %.1f ms, max %.1f ms, lost %d"
          % (len(lat), med, p99, lat[-1], lost))
else:
    print("neighbour: 0 requests, lost %d" % lost)
sys.exit(0 if lost == 0 and lat else 1)
