#!/usr/bin/env python3
"""pss.py -- memory of N concurrent sandboxes, each idling in a program.

    pss.py --name NAME --n N --settle SECONDS --out FILE.json -- CMD ARGS...

CMD (a sandbox around an idle program) must print a line "ready" on
stdout when it is up, then idle until end of input on stdin, and exit 0:
bench/run.sh uses `busybox sh -c 'echo ready; read x'`.  pss.py starts N
copies of CMD at once, each with its own stdin and stdout pipes, waits
until every copy has said "ready" (up to --ready-timeout seconds), waits
SETTLE seconds more, then sums the proportional set size (Pss in
/proc/PID/smaps_rollup) of every process in each copy's tree: for moat the
monitor and its picoprocess, for bwrap its two processes and the program,
for runsc its gofer, sandbox and stubs.  Pss charges a page shared by k
processes 1/k to each, so the sum over all trees is the memory the N
copies cost together.  Then it closes every stdin and checks that every
copy exits 0.  Needs to be able to read the smaps of the sandboxed
processes (root, or the same user).
"""
import argparse
import json
import os
import select
import subprocess
import sys
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split after the last ')'.
        rest = s[s.rindex(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def tree(root, kids):
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rollup(pid):
    vals = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                vals[parts[0].rstrip(":")] = int(parts[1])
    # Name processes by argv[0] (runsc's helpers all have comm "exe"),
    # falling back to comm when there is no command line.
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv0 = f.read().split(b"\0")[0].decode(errors="replace")
    if not argv0:
        with open(f"/proc/{pid}/comm") as f:
            argv0 = f.read().strip()
    return os.path.basename(argv0), vals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--settle", type=float, default=1.5)
    ap.add_argument("--ready-timeout", type=float, default=180)
    ap.add_argument("--out", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              bufsize=0) for _ in range(a.n)]
    errors, ready = [], 0
    for p in procs:
        # A blocking read of one line, bounded by the time left.
        left = a.ready_timeout - (time.monotonic() - t0)
        r, _, _ = select.select([p.stdout], [], [], max(0.0, left))
        line = p.stdout.readline() if r else b""
        if line == b"ready\n":
            ready += 1
        else:
            errors.append(f"pid {p.pid} not ready: {line[:80]!r}")
    ready_s = time.monotonic() - t0
    time.sleep(a.settle)
    kids = children_map()
    per_comm, total_pss, total_rss, nproc = {}, 0, 0, 0
    pss_file = pss_anon = 0
    for p in procs:
        if p.poll() is not None:
            errors.append(f"pid {p.pid} exited early with {p.returncode}")
            continue
        for pid in tree(p.pid, kids):
            try:
                comm, v = rollup(pid)
            except (OSError, ValueError) as e:
                errors.append(f"pid {pid}: {e}")
                continue
            nproc += 1
            total_pss += v.get("Pss", 0)
            pss_file += v.get("Pss_File", 0)
            pss_anon += v.get("Pss_Anon", 0)
            total_rss += v.get("Rss", 0)
            c = per_comm.setdefault(comm, {"procs": 0, "pss_kb": 0, "rss_kb": 0})
            c["procs"] += 1
            c["pss_kb"] += v.get("Pss", 0)
            c["rss_kb"] += v.get("Rss", 0)
    for p in procs:
        p.stdin.close()
    rcs = []
    for p in procs:
        try:
            rcs.append(p.wait(timeout=120))
        except subprocess.TimeoutExpired:
            p.kill()
            rcs.append(p.wait())
            errors.append(f"pid {p.pid} did not end at end of input: killed")
        p.stdout.close()
    res = {
        "name": a.name, "n": a.n, "cmd": cmd, "settle_s": a.settle,
        "ready_s": round(ready_s, 3),
        "processes": nproc, "pss_kb": total_pss, "rss_kb": total_rss,
        "pss_file_kb": pss_file, "pss_anon_kb": pss_anon,
        "pss_kb_per_instance": total_pss / a.n, "by_comm": per_comm,
        "exit_codes": rcs, "errors": errors,
    }
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    if errors or any(rcs):
        print(f"pss.py {a.name}: {errors[:5]} exit codes {sorted(set(rcs))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
