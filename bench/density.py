#!/usr/bin/env python3
"""density.py -- how many idle sandboxes this machine holds, and how fast
they start.

    density.py --name NAME --max N --out FILE.json [--window W]
               [--ready-timeout S] [--tmpdir DIR] -- CMD ARGS...

CMD runs bench/echo_idle (possibly inside a sandbox): it prints "ready",
then answers each line on stdin with "pong LINE", and exits 0 at end of
input.  density.py

 1. starts copies of CMD, keeping up to W of them starting at once, each
    with its own stdin and stdout pipes, until MAX copies have said
    "ready" or one fails (the command cannot be started, exits, or is not
    ready within S seconds): the first failure stops the ramp and is
    recorded with the copy's exit status and stderr;
 2. with all the started copies idle, sums the Pss of every process in
    their trees (as pss.py does), and counts host processes;
 3. sends every copy "ping I" and counts the copies that answer
    "pong ping I" (all copies are asked first, then all answers read);
 4. closes every stdin, waits for every copy to exit, and checks the
    exit statuses, that no process of any tree is left, and (for moat)
    that the monitors removed their cgroups and scratch directories
    (scratch directories go to TMPDIR: --tmpdir sets it to a fresh
    directory, checked to be empty at the end).

The start rate is the number of copies ready divided by the wall time from
the first start to the last "ready".  Writes FILE.json; exits 0 when MAX
copies started, all answered and all ended cleanly, 1 otherwise (the
report shows why).
"""
import argparse
import glob
import json
import os
import resource
import selectors
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pss import children_map, rollup, tree  # noqa: E402


def starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return int(s[s.rindex(")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


class Copy:
    def __init__(self, i, proc, errpath):
        self.i, self.proc, self.errpath = i, proc, errpath
        self.buf = b""
        self.t_start = time.monotonic()
        self.t_ready = None

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read(600).decode(errors="replace").strip()
        except OSError:
            return ""


def read_some(c):
    try:
        d = os.read(c.proc.stdout.fileno(), 4096)
    except BlockingIOError:
        return None
    except OSError:
        return b""
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--max", type=int, default=1000)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--ready-timeout", type=float, default=60)
    ap.add_argument("--answer-timeout", type=float, default=60)
    ap.add_argument("--exit-timeout", type=float, default=120)
    ap.add_argument("--tmpdir")
    ap.add_argument("--out", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    # Two pipe ends per copy stay open here: raise the soft fd limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * a.max + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    env = dict(os.environ)
    if a.tmpdir:
        os.makedirs(a.tmpdir, exist_ok=True)
        env["TMPDIR"] = a.tmpdir
    errdir = os.path.join(os.path.dirname(os.path.abspath(a.out)),
                          f"density-{a.name}-stderr")
    os.makedirs(errdir, exist_ok=True)
    for f in glob.glob(os.path.join(errdir, "*")):
        os.unlink(f)

    res = {"name": a.name, "cmd": cmd, "max": a.max, "window": a.window,
           "nofile_limit": want, "failure": None}
    # moat's cgroups (one per monitor, named PID-N) that exist already:
    # others' runs, or left by monitors that were killed.  Only new ones
    # named after one of our copies count as left behind.
    def moat_cgroups():
        return set(glob.glob("/sys/fs/cgroup/moat/*-*") +
                   glob.glob("/sys/fs/cgroup/*/moat/*-*"))
    cg_before = moat_cgroups()
    sel = selectors.DefaultSelector()
    ready, starting = [], {}
    t0 = time.monotonic()
    nstarted = 0

    def fail(c, why):
        if res["failure"] is None:
            res["failure"] = {"copy": c.i if c else nstarted, "why": why,
                              "stderr": c.stderr() if c else "",
                              "after_s": round(time.monotonic() - t0, 3)}

    # 1. the ramp
    while res["failure"] is None and (nstarted < a.max or starting):
        while res["failure"] is None and nstarted < a.max and len(starting) < a.window:
            errpath = os.path.join(errdir, f"{nstarted}.err")
            try:
                with open(errpath, "wb") as ef:
                    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=ef, env=env, bufsize=0)
            except OSError as e:
                fail(None, f"cannot start copy {nstarted}: {e}")
                break
            c = Copy(nstarted, p, errpath)
            os.set_blocking(p.stdout.fileno(), False)
            sel.register(p.stdout, selectors.EVENT_READ, c)
            starting[nstarted] = c
            nstarted += 1
        if not starting:
            break
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            d = read_some(c)
            if d is None:
                continue
            if not d:
                sel.unregister(c.proc.stdout)
                del starting[c.i]
                try:
                    rc = c.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    rc = None
                fail(c, f"copy {c.i} ended before it was ready (exit status {rc})")
                c.t_ready = -1
                continue
            c.buf += d
            if c.buf.startswith(b"ready\n"):
                c.t_ready = time.monotonic()
                c.buf = c.buf[6:]
                sel.unregister(c.proc.stdout)
                del starting[c.i]
                ready.append(c)
            elif len(c.buf) >= 6:
                sel.unregister(c.proc.stdout)
                del starting[c.i]
                fail(c, f"copy {c.i} said {c.buf[:60]!r} instead of ready")
        now = time.monotonic()
        for c in list(starting.values()):
            if now - c.t_start > a.ready_timeout:
                sel.unregister(c.proc.stdout)
                del starting[c.i]
                fail(c, f"copy {c.i} not ready after {a.ready_timeout:.0f} s")
        if res["failure"] is not None:
            # Let the copies already starting finish (or fail) so that
            # they are counted and torn down like the others.
            end = time.monotonic() + a.ready_timeout
            while starting and time.monotonic() < end:
                for key, _ in sel.select(timeout=0.5):
                    c = key.data
                    d = read_some(c)
                    if d is None:
                        continue
                    c.buf += d
                    if not d or len(c.buf) >= 6:
                        sel.unregister(c.proc.stdout)
                        del starting[c.i]
                        if c.buf.startswith(b"ready\n"):
                            c.t_ready = time.monotonic()
                            c.buf = c.buf[6:]
                            ready.append(c)
            for c in starting.values():
                sel.unregister(c.proc.stdout)
            break
    leftovers = list(starting.values())
    t_ramp = (max(c.t_ready for c in ready) - t0) if ready else 0.0
    res["ready"] = len(ready)
    res["ramp_s"] = round(t_ramp, 3)
    res["rate_per_s"] = round(len(ready) / t_ramp, 2) if t_ramp > 0 else 0
    lat = sorted(c.t_ready - c.t_start for c in ready)
    if lat:
        res["start_latency_s"] = {"median": round(lat[len(lat) // 2], 4),
                                  "max": round(lat[-1], 4)}
    # Rate over the last tenth of the ramp: does starting slow down as the
    # machine fills up?
    if len(ready) >= 20:
        ts = sorted(c.t_ready for c in ready)
        k = len(ts) // 10
        res["rate_first_tenth"] = round(k / (ts[k - 1] - t0), 2) if ts[k - 1] > t0 else 0
        res["rate_last_tenth"] = round(k / (ts[-1] - ts[-k - 1]), 2) if ts[-1] > ts[-k - 1] else 0

    # 2. memory and processes while all idle
    kids = children_map()
    all_pids, pss, rss, by_comm = [], 0, 0, {}
    for c in ready + leftovers:
        for pid in tree(c.proc.pid, kids):
            all_pids.append((pid, starttime(pid)))
            if c.t_ready is None or c.t_ready < 0:
                continue
            try:
                comm, v = rollup(pid)
            except (OSError, ValueError):
                continue
            pss += v.get("Pss", 0)
            rss += v.get("Rss", 0)
            e = by_comm.setdefault(comm, {"procs": 0, "pss_kb": 0})
            e["procs"] += 1
            e["pss_kb"] += v.get("Pss", 0)
    res["processes"] = len(all_pids)
    res["pss_kb"] = pss
    res["rss_kb"] = rss
    res["by_comm"] = by_comm

    # 3. does each still answer?
    t1 = time.monotonic()
    asked = []
    for c in ready:
        try:
            c.proc.stdin.write(f"ping {c.i}\n".encode())
            asked.append(c)
        except OSError:
            pass
    waiting = {}
    for c in asked:
        sel.register(c.proc.stdout, selectors.EVENT_READ, c)
        waiting[c.i] = c
    answered = 0
    end = time.monotonic() + a.answer_timeout
    while waiting and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            d = read_some(c)
            if d is None:
                continue
            c.buf += d
            want_line = f"pong ping {c.i}\n".encode()
            if not d or len(c.buf) >= len(want_line):
                sel.unregister(c.proc.stdout)
                del waiting[c.i]
                if c.buf == want_line:
                    answered += 1
    for c in waiting.values():
        sel.unregister(c.proc.stdout)
    res["answered"] = answered
    res["answer_s"] = round(time.monotonic() - t1, 3)
    silent = [c.i for c in ready if c.i in waiting or c not in asked]
    res["silent"] = silent[:20]

    # 4. tear down: end of input for every copy
    t2 = time.monotonic()
    for c in ready + leftovers:
        try:
            c.proc.stdin.close()
        except OSError:
            pass
    codes, hung = {}, 0
    end = time.monotonic() + a.exit_timeout
    for c in ready + leftovers:
        try:
            rc = c.proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            hung += 1
            c.proc.kill()
            rc = c.proc.wait()
        codes[str(rc)] = codes.get(str(rc), 0) + 1
        c.proc.stdout.close()
    res["teardown_s"] = round(time.monotonic() - t2, 3)
    res["exit_codes"] = codes
    res["killed_after_timeout"] = hung
    # Processes of the trees that are still there (same pid, same start):
    # the last of them may take a moment (a pid namespace's init reaping
    # its children), so look again for up to 10 s.
    end = time.monotonic() + 10
    while True:
        left = [pid for pid, st in all_pids if st is not None and starttime(pid) == st]
        if not left or time.monotonic() > end:
            break
        time.sleep(0.2)
    res["all_gone_s"] = round(time.monotonic() - t2, 3)
    res["processes_left"] = len(left)
    ours = {str(c.proc.pid) for c in ready + leftovers}
    cg = [d for d in moat_cgroups() - cg_before
          if os.path.basename(d).split("-")[0] in ours]
    res["cgroups_left"] = len(cg)
    if a.tmpdir:
        res["tmpdir_left"] = len(os.listdir(a.tmpdir))
    ok = (res["failure"] is None and res["ready"] == a.max and answered == len(ready)
          and list(codes) == ["0"] and not left and not cg and not res.get("tmpdir_left"))
    res["clean"] = ok
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"density {a.name}: {res['ready']}/{a.max} ready in {res['ramp_s']} s "
          f"({res['rate_per_s']}/s), {answered} answered, exit codes {codes}, "
          f"teardown {res['teardown_s']} s, left: {len(left)} processes, "
          f"{len(cg)} cgroups, {res.get('tmpdir_left', '-')} tmp entries"
          + (f"; first failure: {res['failure']}" if res["failure"] else ""),
          file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
