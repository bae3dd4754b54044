#!/usr/bin/env python3
"""report.py -- the Markdown report of bench/run.sh.

    report.py meta FILE.json --mode MODE --root DIR --moat PATH --busybox PATH
        record the machine, tool versions, date and load at the start
    report.py render RESULTS_DIR OUT.md [--seconds N] [--own-cpu SECONDS]
        read the raw results and write the report
    report.py wait-idle [--max-seconds S] [--busy PERCENT]
        wait until the CPUs are less than PERCENT busy (or S seconds pass)

Only the Python standard library is used.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import time

TARGET_START_X_BWRAP = 3.0
TARGET_START_MS = 1.0
TARGET_GETPID_X = 1.5
TARGET_IO_FRACTION = 0.95
TARGET_FORK_EXEC_X = 2.0         # issue 6: fork+exec within 2x native
TARGET_FORK_EXEC_X_LIBOS = 3.0   # the LibOS issue: within 3x native
TARGET_MEM_KB = 512              # per idle picoprocess beyond the app's own
TARGET_DENSITY = 1000            # concurrent idle picoprocesses


def sh(*cmd, cwd=None):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=20)
        return (r.stdout or r.stderr).strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def first_line(s):
    return s.splitlines()[0] if s else "not found"


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def cpuinfo():
    model, flags = "unknown", ""
    for line in read("/proc/cpuinfo").splitlines():
        k, _, v = line.partition(":")
        k = k.strip()
        if k == "model name" and model == "unknown":
            model = v.strip()
        elif k == "flags" and not flags:
            flags = v
    return model, " hypervisor " in f" {flags} "


def cpu_ticks():
    """(busy, total) jiffies summed over all CPUs, from /proc/stat."""
    f = [int(x) for x in read("/proc/stat").splitlines()[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait
    total = sum(f[:8])  # guest time is already in user
    return total - idle, total


def busy_percent(seconds=1.0):
    b0, t0 = cpu_ticks()
    time.sleep(seconds)
    b1, t1 = cpu_ticks()
    return 100.0 * (b1 - b0) / max(1, t1 - t0)


def cmd_wait_idle(a):
    deadline = time.time() + a.max_seconds
    while True:
        b = busy_percent()
        if b < a.busy:
            print(f"== CPUs {b:.0f}% busy: starting")
            return
        if time.time() > deadline:
            print(f"== CPUs still {b:.0f}% busy after {a.max_seconds} s: starting anyway")
            return
        print(f"== CPUs {b:.0f}% busy with other work: waiting for < {a.busy}%")
        time.sleep(4)


def runsc_platform():
    """runsc's default platform (ptrace, systrap, kvm), from `runsc flags`."""
    lines = sh("runsc", "flags").splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("-platform string") and i + 1 < len(lines):
            d = lines[i + 1].rsplit('(default "', 1)
            if len(d) == 2:
                return d[1].split('"')[0]
    return "default"


def cmd_meta(a):
    model, hyper = cpuinfo()
    mem_kb = 0
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    osname = "unknown"
    for line in read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            osname = line.split("=", 1)[1].strip('"')
    rev = sh("git", "rev-parse", "--short", "HEAD", cwd=a.root)
    dirty = sh("git", "status", "--porcelain", "--untracked-files=no", cwd=a.root)
    meta = {
        "mode": a.mode,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "hypervisor": hyper,
        "kernel": platform.release(),
        "os": osname,
        "mem_gib": round(mem_kb / 1048576, 1),
        "pti": read("/sys/devices/system/cpu/vulnerabilities/meltdown").strip() or "unknown",
        "loadavg_start": read("/proc/loadavg").split()[:3],
        "busy_start": round(busy_percent(), 1),
        "ticks_start": cpu_ticks(),
        "clk_tck": os.sysconf("SC_CLK_TCK"),
        "moat_rev": os.environ.get("MOAT_BENCH_REV") or
                    (rev or "unknown") + (" + uncommitted changes" if dirty else ""),
        "moat_binary": a.moat,
        "runsc_platform": runsc_platform(),
        "versions": {
            "hyperfine": first_line(sh("hyperfine", "--version")),
            "bubblewrap": first_line(sh("bwrap", "--version")),
            "runsc": first_line(sh("runsc", "--version")),
            "gcc": first_line(sh("gcc", "--version")),
            "busybox": first_line(sh(a.busybox)).split(" multi-call")[0],
            "redis": first_line(sh("redis-server", "--version")).split(" sha=")[0],
            "nginx": first_line(sh("/usr/sbin/nginx", "-v")).replace("nginx version: ", ""),
            "wrk": first_line(sh("wrk", "--version")).split(" Copyright")[0],
        },
    }
    with open(a.file, "w") as f:
        json.dump(meta, f, indent=1)


# --- rendering ---

def fmt_ms(s):
    return f"{s * 1000:.2f} ms"


def fmt_ns(ns):
    if ns >= 1000000:
        return f"{ns / 1000000:.2f} ms"
    if ns >= 100000:
        return f"{ns / 1000:.0f} µs"
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.0f} ns"


def fmt_kb(kb):
    return f"{kb / 1024:.2f} MiB" if kb >= 1024 else f"{kb:.0f} KiB"


def ratio(x, base):
    if not base:
        return "–"
    r = x / base
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x"


def verdict(ok):
    return "**met**" if ok else "**missed**"


def summary(values):
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "n": len(values)}


def load_start(res):
    """hyperfine's runs of each command, merged over the rounds."""
    times = {}
    for path in sorted(glob.glob(os.path.join(res, "start-*-r*.json"))):
        r = json.load(open(path))["results"][0]
        times.setdefault(r["command"], []).extend(r["times"])
    return {k: summary(v) for k, v in times.items()}


def load_ops(res, which, prefix="ops"):
    """A *_bench program's repetitions (ns per op), merged over the rounds:
    files PREFIX-WHICH-rN.txt with lines "OP ITERATIONS NS_REP1 ..."."""
    reps = {}
    for path in sorted(glob.glob(os.path.join(res, f"{prefix}-{which}-r*.txt"))):
        for line in read(path).splitlines():
            f = line.split()
            if len(f) >= 3:
                reps.setdefault(f[0], []).extend(float(x) for x in f[2:])
    return {k: summary(v) for k, v in reps.items()}


def load_apps(res):
    """hyperfine runs of app-GROUP-SANDBOX-rN.json, merged over the rounds."""
    times = {}
    for path in sorted(glob.glob(os.path.join(res, "app-*-r*.json"))):
        group, sb = os.path.basename(path)[4:].rsplit("-r", 1)[0].rsplit("-", 1)
        r = json.load(open(path))["results"][0]
        times.setdefault((group, sb), []).extend(r["times"])
    return {k: summary(v) for k, v in times.items()}


STARTERS = [
    ("native", "native (fork+exec)", "busybox true"),
    ("bwrap", "bubblewrap, full isolation",
     "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc busybox true"),
    ("bwrap-min", "bubblewrap, minimal", "bwrap --ro-bind / / busybox true"),
    ("moat", "**moat**", "moat run -- busybox true"),
    ("runsc", "gVisor", "runsc --rootless --network=none do busybox true"),
]

# The same set-ups with the dynamic hello, Debian's /bin/true (coreutils):
# result names "dyn-" + the static ones.
DYN_STARTERS = [
    ("dyn-native", "native (fork+exec)", "/bin/true"),
    ("dyn-bwrap", "bubblewrap, full isolation",
     "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc /bin/true"),
    ("dyn-bwrap-min", "bubblewrap, minimal", "bwrap --ro-bind / / /bin/true"),
    ("dyn-moat", "**moat**", "moat run --ro /lib --ro /lib64 -- /bin/true"),
    ("dyn-runsc", "gVisor", "runsc --rootless --network=none do /bin/true"),
]

# (prefix of the result names, the hello, its starters) for section 1 and
# the targets.
HELLOS = [
    ("", "static hello, `busybox true`", STARTERS),
    ("dyn-", "dynamic hello, `/bin/true`", DYN_STARTERS),
]

OPS = [
    ("getpid", "getpid (raw `syscall`)", 0),
    ("open_close", "open + close", 0),
    ("stat", "stat", 0),
    ("read_4k", "read 4 KiB", 4096),
    ("read_1m", "read 1 MiB", 1 << 20),
    ("write_4k", "write 4 KiB", 4096),
    ("write_1m", "write 1 MiB", 1 << 20),
    ("pipe_4k", "pipe 4 KiB (from another process)", 4096),
    ("pipe_1m", "pipe 1 MiB (from another process)", 1 << 20),
]

SPAWN = [
    ("fork_exec", "fork + exec `/bin/true` + waitpid"),
    ("posix_spawn", "posix_spawn `/bin/true` + waitpid"),
    ("fork_wait", "fork + `_exit` + waitpid (no exec)"),
    ("thread", "pthread_create + pthread_join"),
]

SYS_RO = "--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
APP_SANDBOXES = [
    ("native", "native", "", ""),
    ("bwrap", "bubblewrap, full isolation",
     "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc ",
     "bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc --bind DB DB "),
    ("moat", "**moat**", f"moat run {SYS_RO} --ro APPS -- ",
     f"moat run {SYS_RO} --ro APPS --rw DB -- "),
    ("runsc", "gVisor", "runsc --rootless --network=none do ",
     "runsc --rootless --network=none do "),
]


def app_groups(py_n):
    return [
        ("py-start", "python3 startup", "python3 -c pass", False),
        ("py-work", "python3 workload", f"python3 APPS/py_work.py {py_n}", False),
        ("sqlite", "sqlite3: 10k inserts + 2 queries",
         "sqlite3 DB/bench.db '.read APPS/inserts.sql'", True),
    ]


NET_CONFIGS = [
    ("native", "both ends native"),
    ("moat-server", "**server in moat** (tcp.server grant), client native"),
    ("moat-client", "server native, **client in moat** (tcp.client grant)"),
]


def mbs(ns_per_mib):
    """MB/s (10^6 bytes) from ns per MiB."""
    return (1 << 20) / ns_per_mib * 1000


SRV_SETUPS = [
    ("native", "native"),
    ("bwrap", "bubblewrap, `--unshare-all --share-net`"),
    ("moat", "**moat**, tcp.server grant"),
]
REDIS_WORK = [
    ("SET", "c1", "SET, `-c 1`"),
    ("GET", "c1", "GET, `-c 1`"),
    ("SET", "c50p16", "SET, `-c 50 -P 16`"),
    ("GET", "c50p16", "GET, `-c 50 -P 16`"),
]
NGINX_WORK = [
    ("small", "c1", "small page, `-t 1 -c 1`"),
    ("small", "c10", "small page, `-t 2 -c 10`"),
    ("1m", "c1", "1 MiB file, `-t 1 -c 1`"),
    ("1m", "c10", "1 MiB file, `-t 2 -c 10`"),
]


def load_servers(res):
    """Requests/s per round: {("redis", SETUP, TEST, CFG): [rps...]} from
    redis-benchmark's CSV, {("nginx", SETUP, FILE, CFG): [...]} from wrk's
    output; and wrk's socket error lines."""
    rps, errors = {}, {}
    for path in sorted(glob.glob(os.path.join(res, "srv-redis-*-r*-*.csv"))):
        sb, _, cfg = os.path.basename(path)[10:-4].rsplit("-", 2)
        for line in read(path).splitlines():
            f = [x.strip('"') for x in line.split(",")]
            if len(f) >= 2 and f[0] in ("SET", "GET"):
                try:
                    rps.setdefault(("redis", sb, f[0], cfg), []).append(float(f[1]))
                except ValueError:
                    pass
    for path in sorted(glob.glob(os.path.join(res, "srv-nginx-*-r*-*.txt"))):
        sb, _, file, cfg = os.path.basename(path)[10:-4].rsplit("-", 3)
        for line in read(path).splitlines():
            line = line.strip()
            if line.startswith("Requests/sec:"):
                rps.setdefault(("nginx", sb, file, cfg), []).append(float(line.split()[1]))
            elif line.startswith("Socket errors:"):
                errors.setdefault(("nginx", sb, file, cfg), []).append(line[len("Socket errors:"):].strip())
    return {k: summary(v) for k, v in rps.items()}, errors


def load_context(a):
    """Everything the report is made from, read once from the results."""
    res = a.results
    meta = json.load(open(os.path.join(res, "meta.json")))
    runsc_status = read(os.path.join(res, "runsc-status.txt")).strip() or "unknown"
    start = load_start(res)
    nat_ops = load_ops(res, "native")
    moat_ops = load_ops(res, "moat")
    nat_spawn = load_ops(res, "native", "spawn")
    moat_spawn = load_ops(res, "moat", "spawn")
    net = {key: load_ops(res, key, "net") for key, _ in NET_CONFIGS}
    nn = net["native"]
    mem = {}
    for path in glob.glob(os.path.join(res, "mem-*.json")):
        m = json.load(open(path))
        mem[(m["name"], m["n"])] = m
    mem_ns = sorted({n for _, n in mem})
    apps = load_apps(res)
    srv, srv_errors = load_servers(res)
    srv_params = (read(os.path.join(res, "srv-params.txt")).split() + ["?"] * 4)[:4]
    py_n = read(os.path.join(res, "py-n.txt")).strip() or "?"
    dens = {}
    for path in glob.glob(os.path.join(res, "density-*.json")):
        d = json.load(open(path))
        dens[d["name"]] = d
    smoke = meta["mode"] == "smoke"
    other_pct = None
    gvisor = f"gVisor ({meta.get('runsc_platform', 'default')} platform)"
    return argparse.Namespace(a=a, res=res, meta=meta, runsc_status=runsc_status, start=start,
                              nat_ops=nat_ops, moat_ops=moat_ops, nat_spawn=nat_spawn,
                              moat_spawn=moat_spawn, net=net, nn=nn, mem=mem, mem_ns=mem_ns,
                              apps=apps, srv=srv, srv_errors=srv_errors, srv_params=srv_params,
                              py_n=py_n, dens=dens, smoke=smoke, other_pct=other_pct,
                              gvisor=gvisor)


def cmd_render(a):
    ctx = load_context(a)
    L = []
    w = L.append
    for section in (render_header, render_machine, render_targets, render_start, render_ops,
                    render_memory, render_package_memory, render_spawn, render_tcp,
                    render_servers, render_apps, render_density, render_getpid):
        section(w, ctx)
    render_extensions(w, ctx.res, ctx.moat_ops)
    render_checkpoint(w, ctx.res)

    w("## Yardsticks (from DESIGN.md, other machines)")
    w("")
    w("Start: gVisor ~120 ms, bubblewrap ~2.3 ms, fork+exec ~0.3 ms, Graphene "
      "641 µs. Interception: native ~0.1 µs, seccomp SIGSYS ~1–2 µs. Memory: "
      "gVisor ~24 MB for `sleep`, Graphene 1.4 MB for hello world. Compare "
      "ratios rather than absolute times: this machine's native system call "
      "and fork+exec costs are in the tables above.")
    w("")

    with open(a.out, "w") as f:
        f.write("\n".join(L))



def render_header(w, ctx):
    """The title, how to reproduce."""
    a, meta, smoke = ctx.a, ctx.meta, ctx.smoke
    w("# moat benchmarks")
    w("")
    if smoke:
        w("**Smoke run (1-3 runs per measurement, small N): these numbers only prove the "
          "harness works; do not quote them.**")
        w("")
    w(f"Measured by `bench/run.sh` ({meta['mode']} run) on {meta['date']}, "
      f"moat `{meta['moat_rev']}`; the whole run took {a.seconds} s. "
      "This file is generated: rerun rather than edit.")
    w("")
    w("Reproduce with")
    w("")
    w("```sh")
    w("make bench          # installs hyperfine, bubblewrap, runsc, redis, nginx, wrk; builds moat; runs bench/run.sh")
    w("make bench-smoke    # the same harness, 1-3 runs each and small N (~1 min); writes build/bench/benchmarks-smoke.md")
    w("CRIU=PATH make bench  # section 10's CRIU baseline: a CRIU v4.2 built from source (default /work/criu/criu/criu)")
    w("```")
    w("")
    w(f"Raw results (hyperfine JSON, `*_bench` output, Pss JSON) are left in "
      f"`build/bench/results-{meta['mode']}/`.")
    w("")


def render_machine(w, ctx):
    """The machine and what else ran on it."""
    a, meta, runsc_status, other_pct = ctx.a, ctx.meta, ctx.runsc_status, ctx.other_pct
    w("## Machine")
    w("")
    v = meta["versions"]
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {meta['cpu']}{' (virtual machine: hypervisor flag set)' if meta['hypervisor'] else ''} |")
    w(f"| CPUs (nproc) | {meta['nproc']} |")
    w(f"| memory | {meta['mem_gib']} GiB |")
    w(f"| kernel | Linux {meta['kernel']} |")
    w(f"| OS | {meta['os']} |")
    w(f"| Meltdown mitigation | {meta['pti']} |")
    w(f"| load average (1, 5, 15 min) at start / end | {' '.join(meta['loadavg_start'])} / "
      f"{' '.join(read('/proc/loadavg').split()[:3])} |")
    w(f"| CPUs busy just before the run | {meta['busy_start']:.0f}% |")
    if a.own_cpu is not None:
        b1, t1 = cpu_ticks()
        b0, t0 = meta["ticks_start"]
        ncpu = os.cpu_count() or 1
        wall = (t1 - t0) / ncpu / meta["clk_tck"]
        other = max(0.0, (b1 - b0) / meta["clk_tck"] - a.own_cpu)
        if wall > 0:
            other_pct = 100 * other / (wall * ncpu)
            w(f"| CPU used by other work during the run (approx.) | "
              f"{other_pct:.0f}% of the machine |")
    w(f"| tools | {v['hyperfine']}; {v['bubblewrap']}; {v['gcc']}; {v['busybox']} |")
    if "redis" in v:
        w(f"| servers and load | {v['redis']}; {v['nginx']}; {v['wrk']}; redis-benchmark from the same redis |")
    w(f"| gVisor | {v['runsc'] if runsc_status == 'ok' else runsc_status} |")
    w("")
    ctx.other_pct = other_pct


def render_targets(w, ctx):
    """Every target with its verdict, then the figures without one."""
    res, start, nat_ops, moat_ops, nat_spawn, moat_spawn, net, nn, mem, mem_ns, apps, srv, py_n, dens, other_pct = ctx.res, ctx.start, ctx.nat_ops, ctx.moat_ops, ctx.nat_spawn, ctx.moat_spawn, ctx.net, ctx.nn, ctx.mem, ctx.mem_ns, ctx.apps, ctx.srv, ctx.py_n, ctx.dens, ctx.other_pct
    # Targets first: they are what the numbers are for.
    w("## Targets")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for pre, hello, _ in HELLOS:
        ms, bw = start.get(pre + "moat"), start.get(pre + "bwrap")
        if ms and bw:
            x = ms["median"] / bw["median"]
            w(f"| start ≤ 3x bubblewrap (`--unshare-all`), {hello} | {fmt_ms(ms['median'])} vs "
              f"{fmt_ms(bw['median'])} = {x:.2f}x | {verdict(x <= TARGET_START_X_BWRAP)} |")
        if ms:
            nat = start.get(pre + "native")
            w(f"| start ≤ 1 ms, {hello} | {fmt_ms(ms['median'])} (native fork+exec alone: "
              f"{fmt_ms(nat['median']) if nat else '?'}) | "
              f"{verdict(ms['median'] <= TARGET_START_MS / 1000)} |")
    if "getpid" in nat_ops and "getpid" in moat_ops:
        n, m = nat_ops["getpid"]["median"], moat_ops["getpid"]["median"]
        w(f"| getpid ≤ 1.5x native | {fmt_ns(m)} vs {fmt_ns(n)} = {m / n:.2f}x | "
          f"{verdict(m / n <= TARGET_GETPID_X)} |")
    for op in ("read_4k", "read_1m", "write_4k", "write_1m"):
        if op in nat_ops and op in moat_ops:
            frac = nat_ops[op]["median"] / moat_ops[op]["median"]
            label = dict((k, t) for k, t, _ in OPS)[op]
            w(f"| {label} throughput ≥ 95% of native | {frac * 100:.1f}% | "
              f"{verdict(frac >= TARGET_IO_FRACTION)} |")
    n, m = nat_spawn.get("fork_exec"), moat_spawn.get("fork_exec")
    if n and m:
        x = m["median"] / n["median"]
        w(f"| fork + exec + wait of `/bin/true` ≤ 2x native (issue 6) | "
          f"{fmt_ns(m['median'])} vs {fmt_ns(n['median'])} = {x:.2f}x | "
          f"{verdict(x <= TARGET_FORK_EXEC_X)} |")
        w(f"| fork + exec + wait of `/bin/true` ≤ 3x native (LibOS issue) | {x:.2f}x | "
          f"{verdict(x <= TARGET_FORK_EXEC_X_LIBOS)} |")
    for key, who in (("moat-server", "server in moat"), ("moat-client", "client in moat")):
        mm = net.get(key, {})
        parts, ok = [], True
        for op, what in (("tcp_up", "upload"), ("tcp_down", "download")):
            if op in nn and op in mm:
                frac = nn[op]["median"] / mm[op]["median"]
                ok &= frac >= TARGET_IO_FRACTION
                parts.append(f"{what} {mbs(mm[op]['median']):.0f} MB/s = {frac * 100:.1f}%")
        if parts:
            w(f"| TCP loopback throughput, {who}, ≥ 95% of native (the I/O "
              f"target applied to sockets) | {'; '.join(parts)} | {verdict(ok)} |")
    for n in mem_ns:
        mm, nm = mem.get(("moat", n)), mem.get(("native", n))
        if mm and nm:
            extra = (mm["pss_kb"] - nm["pss_kb"]) / n
            w(f"| memory ≤ 512 KiB per idle picoprocess beyond the app's own, N = {n} | "
              f"{fmt_kb(mm['pss_kb'] / n)} per copy − {fmt_kb(nm['pss_kb'] / n)} native = "
              f"{fmt_kb(extra)} | {verdict(extra <= TARGET_MEM_KB)} |")
    d = dens.get("moat")
    if d:
        ok = d["ready"] >= TARGET_DENSITY and d["answered"] == d["ready"] and d["clean"]
        w(f"| density: {TARGET_DENSITY} concurrent idle picoprocesses | "
          f"{d['ready']} of {d['max']} started ({d['rate_per_s']:.0f}/s), "
          f"{d['answered']} answered, {'clean' if d['clean'] else 'not clean'} teardown"
          f"{'; first failure: ' + d['failure']['why'] if d.get('failure') else ''} | "
          f"{verdict(ok) if d['max'] >= TARGET_DENSITY or not d['clean'] else 'not measured at ' + str(TARGET_DENSITY)} |")
    for label, measured, ok in ckpt_target_checks(res):
        w(f"| {label} (issue 14, section 10) | {measured} | "
          f"{'not measured' if ok is None else verdict(ok)} |")
    no_target = []
    for group, label, _, _ in app_groups(py_n):
        n, m = apps.get((group, "native")), apps.get((group, "moat"))
        if n and m:
            no_target.append((label, f"{fmt_ms(m['median'])} vs {fmt_ms(n['median'])} = "
                                     f"{m['median'] / n['median']:.2f}x"))
    for key, label in (("thread", "thread create + join"),):
        n, m = nat_spawn.get(key), moat_spawn.get(key)
        if n and m:
            no_target.append((label, f"{fmt_ns(m['median'])} vs {fmt_ns(n['median'])} = "
                                     f"{m['median'] / n['median']:.2f}x"))
    for key, who in (("moat-server", "server in moat"), ("moat-client", "client in moat")):
        n, m = nn.get("tcp_rtt"), net.get(key, {}).get("tcp_rtt")
        if n and m:
            no_target.append((f"TCP 1-byte round trip, {who}",
                              f"{fmt_ns(m['median'])} vs {fmt_ns(n['median'])} = "
                              f"{m['median'] / n['median']:.2f}x"))
    for server, work, what in (("redis", REDIS_WORK, "redis-server"),
                               ("nginx", NGINX_WORK, "nginx")):
        for i in range(0, len(work), 2):
            parts = []
            for what_, cfg, label in work[i:i + 2]:
                n, m = (srv.get((server, "native", what_, cfg)),
                        srv.get((server, "moat", what_, cfg)))
                if n and m:
                    parts.append(f"{label}: {m['median']:.0f}/s = "
                                 f"{m['median'] / n['median'] * 100:.1f}%")
            if parts:
                no_target.append((f"{what} in moat, requests/s as % of native",
                                  "; ".join(parts)))
    for key, label in (("pipe_4k", "pipe 4 KiB"), ("pipe_1m", "pipe 1 MiB")):
        n, m = nat_ops.get(key), moat_ops.get(key)
        if n and m:
            no_target.append((f"{label} throughput", f"{n['median'] / m['median'] * 100:.1f}% of native"))
    for label, measured in no_target:
        w(f"| {label} | {measured} | no target set |")
    w("")
    if other_pct is not None and other_pct >= 20:
        w(f"Other work used about {other_pct:.0f}% of this machine's CPUs during "
          "the run (see Machine): the min–max ranges below are wide, and a "
          "verdict on a ratio within about 15% of its threshold (the TCP "
          "throughput rows in particular, where client, server and the other "
          "work share the CPUs) can flip from one run to the next.")
        w("")


def render_start(w, ctx):
    """Section 1."""
    runsc_status, start, gvisor = ctx.runsc_status, ctx.start, ctx.gvisor
    w("## 1. Start to exit: a static and a dynamic hello")
    w("")
    w("Wall time from fork+exec of the command to its exit, by `hyperfine -N` "
      "(no shell in between), after warm-up runs, in rounds that take each "
      "sandbox and both programs in turn; ratios are of medians. The static "
      "hello is busybox-static's `true` (no loader, no libraries); the "
      "dynamic hello is Debian's `/bin/true` from coreutils, a PIE that "
      "ld.so loads with libc: under moat the loader, libc and every `mmap` "
      "of them go through the LibOS, and moat is given the least that runs "
      "it, the library directories read-only (`--ro /lib --ro /lib64`; moat "
      "maps the program itself at its own path). "
      "\"bubblewrap, full isolation\" unshares the same namespaces as moat "
      "(user, pid, net, mount, ipc, uts, cgroup) and is the baseline for the "
      "target; \"minimal\" is the least bwrap will run with (user + mount "
      "namespaces).")
    w("")
    for pre, hello, starters in HELLOS:
        w(f"### The {hello}")
        w("")
        w("| sandbox | command | runs | median | min | max | × native | × bwrap |")
        w("|---|---|---|---|---|---|---|---|")
        nat = start.get(pre + "native", {}).get("median")
        bwm = start.get(pre + "bwrap", {}).get("median")
        for key, label, cmd in starters:
            r = start.get(key)
            runsc = key == pre + "runsc"
            if not r:
                if runsc:
                    w(f"| {label} | `{cmd}` | – | not measured: {runsc_status} | | | | |")
                else:
                    w(f"| {label} | `{cmd}` | – | no results | | | | |")
                continue
            if runsc:
                label = gvisor
            w(f"| {label} | `{cmd}` | {r['n']} | {fmt_ms(r['median'])} | "
              f"{fmt_ms(r['min'])} | {fmt_ms(r['max'])} | {ratio(r['median'], nat)} | "
              f"{ratio(r['median'], bwm)} |")
        w("")


def render_ops(w, ctx):
    """Section 2."""
    nat_ops, moat_ops = ctx.nat_ops, ctx.moat_ops
    w("## 2. Per-operation costs")
    w("")
    w("`bench/syscall_bench.c`, built with `gcc -static -O2` into "
      "`build/bench/syscall_bench`, run natively and as `moat run --rw SCRATCH "
      "-- syscall_bench SCRATCH`. Each operation's loop count is calibrated "
      "to about 30 ms per repetition (3 ms in smoke runs); native and moat "
      "runs alternate, and the table gives the median, min and max of the "
      "time per operation over all repetitions of all rounds "
      f"({nat_ops.get('getpid', {}).get('n', '?')} each). "
      "Files are 8 MiB, in the page cache, read and written sequentially "
      "with `read(2)`/`write(2)` (an `lseek` back to 0 every 8 MiB is "
      "included). The pipe rows move 4 KiB (1 MiB) chunks from a forked "
      "writer process, writing as fast as it can, to the timed reader, "
      "which reads until it has a whole chunk (a pipe holds 64 KiB, so a "
      "1 MiB chunk takes several reads and context switches); under moat "
      "both processes are in the sandbox. getpid is `syscall(SYS_getpid)`: under moat its "
      "site in glibc's `syscall()` traps (seccomp SIGSYS) once, and is then rewritten into "
      "a jump to the LibOS, which answers without the host (section 8). `write` goes "
      "through a rewritten site too; glibc's `read` site cannot be rewritten and traps "
      "every time.")
    w("")
    if nat_ops and moat_ops:
        w("### Time per operation")
        w("")
        w("| operation | native median | native min | native max | moat median | "
          "moat min | moat max | moat / native |")
        w("|---|---|---|---|---|---|---|---|")
        for key, label, _ in OPS:
            n, m = nat_ops.get(key), moat_ops.get(key)
            if not n or not m:
                continue
            w(f"| {label} | {fmt_ns(n['median'])} | {fmt_ns(n['min'])} | "
              f"{fmt_ns(n['max'])} | {fmt_ns(m['median'])} | {fmt_ns(m['min'])} | "
              f"{fmt_ns(m['max'])} | {m['median'] / n['median']:.2f}x |")
        w("")
        w("### I/O throughput")
        w("")
        w("| operation | native median | moat median | moat % of native | "
          "moat added per call |")
        w("|---|---|---|---|---|")
        for key, label, size in OPS:
            n, m = nat_ops.get(key), moat_ops.get(key)
            if not size or not n or not m:
                continue
            gbs = lambda ns: f"{size / ns:.2f} GB/s"
            w(f"| {label} | {gbs(n['median'])} | {gbs(m['median'])} | "
              f"{n['median'] / m['median'] * 100:.1f}% | "
              f"{fmt_ns(m['median'] - n['median'])} |")
        w("")
        if "getpid" in nat_ops and "getpid" in moat_ops:
            d = moat_ops["getpid"]["median"] - nat_ops["getpid"]["median"]
            w(f"Derived: a trapped system call costs moat about {fmt_ns(d)} more "
              f"than the same call native (getpid, moat minus native median); a "
              f"native `syscall` round trip costs {fmt_ns(nat_ops['getpid']['median'])} "
              f"on this machine.")
            w("")
    else:
        w("(no per-operation results)")
        w("")


def render_memory(w, ctx):
    """Section 3."""
    runsc_status, mem, mem_ns, gvisor = ctx.runsc_status, ctx.mem, ctx.mem_ns, ctx.gvisor
    w("## 3. Memory per idle sandbox")
    w("")
    if not mem:
        w("(no results)")
        w("")
    else:
        w("N copies of `SANDBOX busybox sh -c 'echo ready; read x; exit 0'` "
          "started together (`bench/pss.py`); once every copy has printed "
          f"`ready` and {next(iter(mem.values()))['settle_s']:g} s more have passed, the Pss (from "
          "`/proc/PID/smaps_rollup`) of every host process in each copy's "
          "process tree is summed; then every stdin is closed and every copy "
          "must exit 0. Pss charges a page shared by k processes 1/k to each, "
          "so the total is what the N copies cost together and the per-copy "
          "figure falls as N grows. For moat the tree is the monitor (`moat`) "
          "and its picoprocess (`moat-pico`, which holds the LibOS and the "
          "app); \"beyond native\" is the sandbox's per-copy Pss minus that "
          "of N native copies of the same idle program, i.e. what the "
          "sandbox itself costs per copy.")
        w("")
        w("| sandbox | N | processes | total Pss | Pss per copy | beyond native | "
          "Rss per copy | Pss per copy by process |")
        w("|---|---|---|---|---|---|---|---|")
        names = [("native", "native"), ("bwrap", "bubblewrap, full isolation"),
                 ("moat", "**moat**"), ("runsc", gvisor)]
        for key, label in names:
            for n in mem_ns:
                m = mem.get((key, n))
                if not m:
                    continue
                parts = ", ".join(
                    f"{c} {fmt_kb(v['pss_kb'] / n)}"
                    for c, v in sorted(m["by_comm"].items(), key=lambda kv: -kv[1]["pss_kb"]))
                if m["errors"] or any(m["exit_codes"]):
                    parts += (f" — **errors**: {'; '.join(m['errors'])[:300]} "
                              f"exit codes {sorted(set(m['exit_codes']))}")
                nm = mem.get(("native", n))
                beyond = fmt_kb((m["pss_kb"] - nm["pss_kb"]) / n) if nm and key != "native" else "–"
                w(f"| {label} | {n} | {m['processes']} | {fmt_kb(m['pss_kb'])} | "
                  f"{fmt_kb(m['pss_kb'] / n)} | {beyond} | {fmt_kb(m['rss_kb'] / n)} | {parts} |")
        if "runsc" not in {k for k, _ in mem}:
            w(f"| gVisor | – | – | not measured: {runsc_status} | | | | |")
        w("")


def render_package_memory(w, ctx):
    """Section 3b."""
    res = ctx.res
    pkgmem = {}
    for path in glob.glob(os.path.join(res, "pkgmem-*.json")):
        m = json.load(open(path))
        pkgmem[(m["name"], m["n"])] = m
    w("## 3b. Memory of a packaged app: the package's pages are shared")
    w("")
    if not pkgmem:
        w("(no results)")
        w("")
    else:
        w("`python3 -c 'print(\"ready\"); sys.stdin.read()'` idling, N copies, measured "
          "as in section 3. **pkg**: `moat run idle.mpk`, where idle.mpk depends on "
          "python3.mpk (python3 and its standard library, `moat pack --from-host`), "
          "which depends on base.mpk (libc and ld.so); every file is mapped straight "
          "from its package (MAP_PRIVATE of the package's descriptor at the file's "
          "offset), so all copies share one set of page-cache pages. **host**: the "
          "same program through host mappings (`--ro /usr --ro /lib --ro /lib64`). "
          "*Marginal* is what each copy beyond the first adds: (total(N) - total(1)) / (N - 1); "
          "file-backed Pss is split out, and it must not grow with N.")
        w("")
        w("| source | N | total Pss | Pss per copy | marginal per extra copy | "
          "file-backed Pss, total | anonymous Pss, total |")
        w("|---|---|---|---|---|---|---|")
        for key in ("pkg", "host"):
            ns = sorted(n for k, n in pkgmem if k == key)
            one = pkgmem.get((key, 1))
            for n in ns:
                m = pkgmem[(key, n)]
                marg = (fmt_kb((m["pss_kb"] - one["pss_kb"]) / (n - 1))
                        if one and n > 1 else "–")
                err = (f" — **errors**: {'; '.join(m['errors'])[:200]}"
                       if m["errors"] or any(m["exit_codes"]) else "")
                w(f"| {key} | {n} | {fmt_kb(m['pss_kb'])} | {fmt_kb(m['pss_kb'] / n)} | "
                  f"{marg} | {fmt_kb(m.get('pss_file_kb', 0))} | "
                  f"{fmt_kb(m.get('pss_anon_kb', 0))}{err} |")
        sizes = read(os.path.join(res, "pkg-sizes.txt")).strip().splitlines()
        if sizes:
            w("")
            w("Package sizes: " + ", ".join(
                f"{os.path.basename(l.split()[1])} {int(l.split()[0]) / 1048576:.1f} MiB"
                for l in sizes) + ".")
        w("")


def render_spawn(w, ctx):
    """Section 4."""
    nat_spawn, moat_spawn = ctx.nat_spawn, ctx.moat_spawn
    w("## 4. Process and thread creation")
    w("")
    w("`bench/spawn_bench.c`, built with `gcc -static -O2 -pthread`, run "
      "natively and as `moat run --ro /usr --ro /lib --ro /lib64 --ro /bin -- "
      "spawn_bench` (`/bin/true` is a dynamic executable: each exec also loads "
      "ld.so and libc, through moat's LibOS inside). Each operation's loop "
      "count is calibrated to about 100 ms per repetition (10 ms in smoke "
      "runs, and at least 10 iterations); native and moat runs alternate; "
      "median, min and max of the time per operation over all repetitions "
      f"of all rounds ({nat_spawn.get('fork_exec', {}).get('n', '?')} each). "
      "Every child's exit status is checked. glibc's posix_spawn uses "
      "`clone(CLONE_VM | CLONE_VFORK)`, which moat runs as a fork.")
    w("")
    if nat_spawn and moat_spawn:
        w("| operation | native median | native min | native max | moat median | "
          "moat min | moat max | moat / native |")
        w("|---|---|---|---|---|---|---|---|")
        for key, label in SPAWN:
            n, m = nat_spawn.get(key), moat_spawn.get(key)
            if not n or not m:
                continue
            w(f"| {label} | {fmt_ns(n['median'])} | {fmt_ns(n['min'])} | "
              f"{fmt_ns(n['max'])} | {fmt_ns(m['median'])} | {fmt_ns(m['min'])} | "
              f"{fmt_ns(m['max'])} | {m['median'] / n['median']:.2f}x |")
        w("")
    else:
        w("(no results)")
        w("")


def render_tcp(w, ctx):
    """Section 5."""
    net, nn = ctx.net, ctx.nn
    w("## 5. TCP over loopback")
    w("")
    w("`bench/net_bench.c` (`gcc -static -O2`): a server that answers "
      "one connection at a time and a client that times, over 127.0.0.1, "
      "1-byte ping-pong round trips on one connection, bulk upload and "
      "download in 1 MiB `write`/`read` calls (a batch of n MiB is one "
      "request, and the clock stops when the server's acknowledgement (or "
      "the last byte) is back, so nothing is in flight), and connect + one "
      "round trip + close on a new connection each time. Both sides set "
      "TCP_NODELAY. Three set-ups, one after another in each round: both "
      "ends native; the server inside moat as `moat run --net "
      "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:PORT -- net_bench "
      "server 0.0.0.0 8080` with the native client connecting to the host "
      "port; and the client inside moat as `moat run --net "
      "'tcp.client://127.0.0.1:PORT=tcp.client://*:*' -- net_bench client "
      "127.0.0.1 PORT` against a native server. PORT is a free port chosen "
      "at run time. Repetitions of about 50 ms (5 ms in smoke runs); "
      "median, min and max over all repetitions of all rounds "
      f"({nn.get('tcp_rtt', {}).get('n', '?')} each); ratios are to the "
      "both-ends-native median.")
    w("")
    if nn:
        w("### Latency")
        w("")
        w("| set-up | round trip median | min | max | × native | "
          "connect + ping + close median | min | max | × native |")
        w("|---|---|---|---|---|---|---|---|---|")
        for key, label in NET_CONFIGS:
            r = net.get(key, {})
            cells = []
            for op in ("tcp_rtt", "tcp_connect"):
                v, b = r.get(op), nn.get(op)
                if v and b:
                    cells += [fmt_ns(v["median"]), fmt_ns(v["min"]), fmt_ns(v["max"]),
                              ratio(v["median"], b["median"])]
                else:
                    cells += ["–"] * 4
            w(f"| {label} | {' | '.join(cells)} |")
        w("")
        w("### Throughput")
        w("")
        w("MB/s are 10^6 bytes per second; min and max are of the per-repetition "
          "rates.")
        w("")
        w("| set-up | upload median | min | max | % of native | "
          "download median | min | max | % of native |")
        w("|---|---|---|---|---|---|---|---|---|")
        for key, label in NET_CONFIGS:
            r = net.get(key, {})
            cells = []
            for op in ("tcp_up", "tcp_down"):
                v, b = r.get(op), nn.get(op)
                if v and b:
                    cells += [f"{mbs(v['median']):.0f} MB/s", f"{mbs(v['max']):.0f} MB/s",
                              f"{mbs(v['min']):.0f} MB/s",
                              f"{b['median'] / v['median'] * 100:.1f}%"]
                else:
                    cells += ["–"] * 4
            w(f"| {label} | {' | '.join(cells)} |")
        w("")
    else:
        w("(no results)")
        w("")


def render_servers(w, ctx):
    """Section 5b."""
    srv, srv_errors, srv_params = ctx.srv, ctx.srv_errors, ctx.srv_params
    w("## 5b. Servers: redis-server and nginx")
    w("")
    rounds, redis_n, wrk_s, small_bytes = srv_params
    w("Debian's `redis-server` and `nginx` (nginx-light), unmodified, natively, "
      "under bubblewrap and inside moat, each listening on a free host port "
      "and driven by a load generator on the host. bubblewrap shares the "
      "host's network only if it does not unshare it, so here it runs with "
      "`--unshare-all --share-net` (every other namespace unshared; as uid "
      "65534 in its user namespace, where nginx's worker cannot `initgroups` "
      "as root) and `--ro-bind / /` with the server's data directory bound "
      "read-write. moat runs the server as `moat run --ro /usr --ro /lib "
      "--ro /lib64 --ro /bin --ro /etc --rw DIR:/data --net "
      "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:PORT -- ...`, the "
      "server listening on 8080 inside. "
      f"Rounds: {rounds}; in each, every set-up in turn (the order "
      "rotates from round to round) starts its server, which must first "
      "answer with exactly what it was given, is measured, must then still "
      "answer correctly, and is stopped cleanly with exit status 0 (redis: "
      "`SHUTDOWN NOSAVE` and its \"bye bye\" in the log; nginx: SIGQUIT, its "
      "graceful stop, to the master, or to moat, which forwards it; no "
      "`[emerg]`, `[alert]` or `[crit]` in its log and its worker exits 0). "
      "Median, min and max are of the rounds' requests per second; % is of "
      "the native median.")
    w("")
    w(f"**redis**: `redis-server --port P --bind ADDR --daemonize no --save '' "
      f"--appendonly no`, then `redis-benchmark -p PORT -t set,get -n {redis_n} "
      f"--csv` with one client (`-c 1`, each request waits for its answer) "
      f"and with 50 clients pipelining 16 requests each (`-c 50 -P 16`). "
      f"The check: `SET bench:check VALUE` answers OK and `GET` returns "
      f"VALUE, before and after the load.")
    w("")
    w(f"**nginx**: one worker process (client and server share the machine's "
      f"CPUs), `sendfile on`, keep-alive, no access log; `wrk -d {wrk_s}s` "
      f"on one connection (`-t 1 -c 1`) and on ten (`-t 2 -c 10`), for a "
      f"small HTML page ({small_bytes} bytes) and a 1 MiB file of random bytes. The check: `curl` gets both "
      f"files byte for byte before and after the load, and wrk saw no "
      f"non-2xx answer.")
    w("")
    if srv:
        for server, work, title in (("redis", REDIS_WORK, "redis-server: requests/s"),
                                    ("nginx", NGINX_WORK, "nginx: requests/s")):
            w(f"### {title}")
            w("")
            w("| workload | set-up | rounds | median | min | max | % of native |")
            w("|---|---|---|---|---|---|---|")
            for what_, cfg, label in work:
                nat = srv.get((server, "native", what_, cfg))
                for sb, sblabel in SRV_SETUPS:
                    r = srv.get((server, sb, what_, cfg))
                    if not r:
                        w(f"| {label} | {sblabel} | – | no results | | | |")
                        continue
                    pct = f"{r['median'] / nat['median'] * 100:.1f}%" if nat else "–"
                    errs = srv_errors.get((server, sb, what_, cfg), [])
                    note = f" (wrk socket errors: {'; '.join(errs)[:200]})" if errs else ""
                    w(f"| {label} | {sblabel} | {r['n']} | {r['median']:.0f}/s | "
                      f"{r['min']:.0f}/s | {r['max']:.0f}/s | {pct}{note} |")
            w("")
        n, m = srv.get(("nginx", "native", "small", "c1")), srv.get(("nginx", "moat", "small", "c1"))
        if n and m and m["median"] < 0.1 * n["median"] and m["median"] < 50:
            w(f"nginx in moat answers one connection's small-page requests "
              f"{m['median']:.0f} times a second: about {1000 / m['median']:.0f} ms "
              f"each, which is TCP's delayed ACK meeting Nagle's algorithm. "
              f"nginx sets `TCP_NODELAY` on keep-alive connections, and the "
              f"LibOS records socket options without applying them to the host "
              f"socket (`sys_setsockopt` in `libos/socket.c`); a native nginx "
              f"with `tcp_nodelay off`, tried by hand, is just as slow.")
            w("")
    else:
        w("(no results)")
        w("")


def render_apps(w, ctx):
    """Section 6."""
    runsc_status, apps, py_n, gvisor = ctx.runsc_status, ctx.apps, ctx.py_n, ctx.gvisor
    w("## 6. Applications: python3 and sqlite3")
    w("")
    w("Whole-process wall time by `hyperfine -N`, in rounds that take each "
      "sandbox in turn, as in section 1, of Debian's `/usr/bin/python3` and "
      "`/usr/bin/sqlite3` (dynamically linked; under moat they load ld.so, "
      "libc and every module through the LibOS). APPS is a scratch directory "
      "holding `bench/py_work.py` (N rounds of json.dumps/json.loads of a "
      "small dict, a regular-expression scan and SHA-256; almost no system "
      "calls after start-up) and `inserts.sql` (DROP and CREATE a table, "
      "then 10,000 single-row INSERT statements in one transaction, then a "
      "count/sum and a GROUP BY query); DB is a directory per sandbox that "
      "holds the database file, which persists between runs. Each command "
      "ran once first and printed exactly what it prints natively. gVisor's "
      "`runsc do` gives the sandbox an overlay over the host root, so there "
      "the database is written to gVisor's memory rather than the host's "
      "file system.")
    w("")
    if apps:
        for group, label, cmd, is_db in app_groups(py_n):
            w(f"### {label}")
            w("")
            w("| sandbox | command | runs | median | min | max | × native | × bwrap |")
            w("|---|---|---|---|---|---|---|---|")
            nat = apps.get((group, "native"), {}).get("median")
            bwm = apps.get((group, "bwrap"), {}).get("median")
            for key, sblabel, pre, pre_db in APP_SANDBOXES:
                r = apps.get((group, key))
                full = (pre_db if is_db else pre) + cmd
                if key == "runsc":
                    sblabel = gvisor
                if not r:
                    if key == "runsc":
                        w(f"| {sblabel} | `{full}` | – | not measured: {runsc_status} | | | | |")
                    continue
                w(f"| {sblabel} | `{full}` | {r['n']} | {fmt_ms(r['median'])} | "
                  f"{fmt_ms(r['min'])} | {fmt_ms(r['max'])} | {ratio(r['median'], nat)} | "
                  f"{ratio(r['median'], bwm)} |")
            w("")
        ps, pw = apps.get(("py-start", "moat")), apps.get(("py-work", "moat"))
        ns, nw = apps.get(("py-start", "native")), apps.get(("py-work", "native"))
        if ps and pw and ns and nw:
            w(f"Derived: the python3 workload after start-up (workload minus "
              f"`python3 -c pass`, medians) takes {fmt_ms(nw['median'] - ns['median'])} "
              f"natively and {fmt_ms(pw['median'] - ps['median'])} in moat "
              f"({(pw['median'] - ps['median']) / max(1e-9, nw['median'] - ns['median']):.2f}x).")
            w("")
    else:
        w("(no results)")
        w("")


def render_density(w, ctx):
    """Section 7."""
    dens = ctx.dens
    w("## 7. Density")
    w("")
    if not dens:
        w("(no results)")
        w("")
    else:
        mx = max(d["max"] for d in dens.values())
        w(f"`bench/density.py` starts copies of `SANDBOX echo_idle` (`bench/echo_idle.c`, "
          f"`gcc -static -O2`: prints `ready`, then answers each line on stdin "
          f"with `pong LINE`, exits 0 at end of input), at most 8 starting at "
          f"a time, until {mx} are ready or one fails (cannot be started, exits, or "
          f"is not ready within 60 s). The start rate is copies ready per "
          f"second of wall time from the first start to the last `ready` "
          f"(also over the first and the last tenth of the copies: does "
          f"starting slow down as the machine fills?). With all copies idle "
          f"it sums their Pss, then sends each `ping I` and checks the answer, "
          f"then closes every stdin and checks that every copy exits 0, that "
          f"no process of any copy is left, and that moat's monitors removed "
          f"their cgroups and scratch directories. The sandboxes run the same "
          f"commands as in section 3 (moat: `moat run -- echo_idle`, no "
          f"grants). gVisor is not run here: at about 15 MiB and a third of a "
          f"second of CPU each (section 3 and 1), {mx} of them would take "
          f"about {mx * 15 / 1024:.1f} GiB and minutes on a shared machine.")
        w("")
        w("| sandbox | ready | start rate | first / last tenth | start latency median / max "
          "| answered | host processes | Pss per copy | beyond native | teardown (all gone) "
          "| left behind | first failure |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|")
        dn = dens.get("native")
        for key, label in (("native", "native"), ("bwrap", "bubblewrap, full isolation"),
                           ("moat", "**moat**")):
            d = dens.get(key)
            if not d:
                continue
            lat = d.get("start_latency_s", {})
            left = (f"{d['processes_left']} processes, {d['cgroups_left']} cgroups"
                    + (f", {d['tmpdir_left']} scratch dirs" if "tmpdir_left" in d else ""))
            codes = d["exit_codes"]
            bad = {k: v for k, v in codes.items() if k != "0"}
            ans = f"{d['answered']} of {d['ready']}"
            if bad:
                ans += f" (exit statuses {bad})"
            fail = "none"
            if d.get("failure"):
                fail = d["failure"]["why"]
                if d["failure"].get("stderr"):
                    fail += f": `{d['failure']['stderr'][:200]}`"
            per = d["pss_kb"] / max(1, d["ready"])
            beyond = "–"
            if key != "native" and dn and dn["ready"] == d["ready"]:
                beyond = fmt_kb(per - dn["pss_kb"] / max(1, dn["ready"]))
            tenths = "–"
            if "rate_first_tenth" in d:
                tenths = f"{d['rate_first_tenth']:.0f}/s / {d['rate_last_tenth']:.0f}/s"
            w(f"| {label} | {d['ready']} of {d['max']} | {d['rate_per_s']:.0f}/s | {tenths} | "
              f"{fmt_ms(lat.get('median', 0))} / {fmt_ms(lat.get('max', 0))} | {ans} | "
              f"{d['processes']} | {fmt_kb(per)} | {beyond} | "
              f"{d['teardown_s']:.2f} s ({d.get('all_gone_s', 0):.2f} s) | {left} | {fail} |")
        w("")


def render_getpid(w, ctx):
    """Section 8."""
    res, nat_ops, moat_ops = ctx.res, ctx.nat_ops, ctx.moat_ops
    w("## 8. The getpid-class cost, and the site rewriting that meets its target")
    w("")
    trap = load_ops(res, "native", "trap")
    if trap:
        w("`bench/trap_bench.c` (`gcc -static -O2`), run natively in the same "
          "rounds, takes a trapped call apart in a plain host process, next to "
          "moat's getpid from section 2 (medians over all repetitions; "
          "ratios to native getpid from the same program):")
        w("")
        w("| path | median per call | min | max | × native getpid |")
        w("|---|---|---|---|---|")
        base = trap.get("native_getpid", {}).get("median")
        rows = [
            ("native_getpid", "native getpid: `syscall(SYS_getpid)`, no filter"),
            ("filtered_getpid", "the same under a 1-rule seccomp filter that allows it"),
            ("sigsys_trap", "a call the filter traps: SIGSYS, a handler that sets rax, "
                            "`rt_sigreturn` (no LibOS)"),
        ]
        for key, label in rows:
            r = trap.get(key)
            if r:
                w(f"| {label} | {fmt_ns(r['median'])} | {fmt_ns(r['min'])} | "
                  f"{fmt_ns(r['max'])} | {ratio(r['median'], base)} |")
        m = moat_ops.get("getpid")
        if m:
            w(f"| moat's getpid (section 2): its site rewritten, a jump into the "
              f"LibOS (without rewriting: the trap, the PAL's handler and the LibOS) | "
              f"{fmt_ns(m['median'])} | {fmt_ns(m['min'])} | "
              f"{fmt_ns(m['max'])} | {ratio(m['median'], base)} |")
        r = trap.get("user_stub")
        if r:
            w(f"| a rewritten site: `jmp` to a stub that saves the registers, "
              f"dispatches through a table and returns (no kernel entry) | "
              f"{fmt_ns(r['median'])} | {fmt_ns(r['min'])} | {fmt_ns(r['max'])} | "
              f"{ratio(r['median'], base)} |")
        w("")
        st, sg = trap.get("sigsys_trap"), nat_ops.get("getpid")
        if st and m and sg:
            if m["median"] < sg["median"]:
                w(f"moat's getpid ({fmt_ns(m['median'])}) goes through a rewritten "
                  f"site and enters no kernel; the bare trap mechanism it avoids costs "
                  f"{fmt_ns(st['median'])} in this run.")
            elif st["median"] >= 0.8 * m["median"]:
                w(f"In this run the bare trap mechanism alone ({fmt_ns(st['median'])}, "
                  f"with glibc's signal handling) costs about as much as moat's whole "
                  f"getpid ({fmt_ns(m['median'])}): nearly all of moat's cost is the "
                  f"trap itself, not the LibOS.")
            else:
                w(f"In this run the bare trap mechanism is {fmt_ns(st['median'])}, "
                  f"{st['median'] / m['median'] * 100:.0f}% of moat's "
                  f"{fmt_ns(m['median'])}; the PAL's handler and the LibOS add the "
                  f"other {fmt_ns(m['median'] - st['median'])}.")
            w(f"(syscall_bench's native getpid, measured in its own rounds, was "
              f"{fmt_ns(sg['median'])}; the trap_bench rows run one after another, "
              f"so load from elsewhere falls on them unevenly.)")
            w("")
    note = read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "syscall-rewrite.md"))
    if note:
        w(note.rstrip())
        w("")


def render_extensions(w, res, moat_ops):
    """Section 9: what a pass-through extension layer costs (issue 13)."""
    ext = load_ops(res, "native", "ext")
    pt_ops = load_ops(res, "moatpt")
    if not ext and not pt_ops:
        return
    w("## 9. Extensions: what a pass-through layer costs")
    w("")
    if ext:
        w("`bench/ext_bench.c` calls through a table of stubs standing for the PAL, "
          "directly (the LibOS with no extension) and through "
          "`extensions/passthrough/passthrough.c` stacked on it, as moat-pico "
          "stacks it; the difference is the layer's cost per downcall (target: "
          "<= 5 ns).")
        w("")
        w("| call | direct | through passthrough | added by the layer |")
        w("|---|---|---|---|")
        for d, p, label in (("direct_call", "passthrough_call", "system_time (1 argument)"),
                            ("direct_read", "passthrough_read", "stream_read (4 arguments)")):
            if d in ext and p in ext:
                dm, pm = ext[d]["median"], ext[p]["median"]
                w(f"| {label} | {dm:.2f} ns | {pm:.2f} ns | {pm - dm:+.2f} ns |")
        w("")
    if pt_ops:
        w("`syscall_bench` inside moat without and with `--ext passthrough` "
          "(each op makes zero to a few downcalls; differences within the noise "
          "are noise):")
        w("")
        w("| operation | moat | moat --ext passthrough |")
        w("|---|---|---|")
        for op, r in pt_ops.items():
            m = moat_ops.get(op)
            w(f"| {op} | {fmt_ns(m['median']) if m else '–'} | {fmt_ns(r['median'])} |")
        w("")


# Checkpoint and restore (issue 14): bench/ckpt_criu.sh's RESULTS/ckpt.txt
# and bench/migrate.sh's RESULTS/mig.txt.
CKPT_WORKLOADS = [
    ("heap10m", "10 MiB heap (`ckpt_heap 10`)"),
    ("heap256m", "256 MiB heap (`ckpt_heap 256`)"),
    ("busybox", "idle `busybox sh`"),
    ("python", "idle python3"),
    ("python10m", "python3, 10 MiB heap"),
    ("python256m", "python3, 256 MiB heap"),
    ("pyimports", "python3 after importing 19 stdlib modules"),
    ("redis", "redis-server, 100k keys"),
]
# The anchors: CRIU on a 10 MiB heap, measured elsewhere.
CKPT_ANCHORS = "dump 28 ms, restore 38 ms, image 10.2 MB"
# Issue 14's targets.
TARGET_CKPT_SMALL_MS = 10          # checkpoint and resume of an idle small app
TARGET_SNAP_BUSYBOX = 256 * 1024   # idle busybox sh snapshot, bytes
TARGET_SNAP_PYTHON = 2 * 1000000   # idle python3, beyond its package (2 MB)
TARGET_VS_CRIU = 0.5               # 10 MiB heap dump and restore vs CRIU's
TARGET_SNAP_START = 0.2            # python3 from a snapshot vs its cold start
TARGET_MIG_DOWNTIME_MS = 50        # migration downtime, 256 MiB


def load_results(res, name):
    """NAME.txt: result lines 'TOOL METRIC WORKLOAD MEDIAN RUN...' and
    notes 'TOOL: TEXT'.  Returns ({(tool, metric, workload): summary}, notes,
    stderr text when the script failed), or (None, [], "") without the file."""
    text = read(os.path.join(res, name + ".txt"), None)
    if text is None:
        return None, [], ""
    rows, notes = {}, []
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0].endswith(":"):
            notes.append(line.strip())
            continue
        if len(f) < 4:
            continue
        try:
            runs = [float(x) for x in f[4:]] or [float(f[3])]
            rows[(f[0], f[1], f[2])] = {"median": float(f[3]), "min": min(runs),
                                        "max": max(runs), "n": len(runs)}
        except ValueError:
            continue
    failed = read(os.path.join(res, name + "-failed.txt")).strip()
    return rows, notes, failed


def load_ckpt(res):
    return load_results(res, "ckpt")


def fmt_bytes(v):
    return f"{v / 1e6:.2f} MB" if v >= 1e6 else f"{v / 1e3:.0f} kB"


def ckpt_reason(notes, failed, tool, wl=None):
    """Why TOOL's rows (for workload WL) are missing, from the scripts'
    notes: "moat: WL: not measured: ...", "redis: not measured: ...",
    "criu: not ...", or the script's last words when it failed."""
    if wl:
        for n in notes:
            if n.startswith(f"{tool}: {wl}: not measured:"):
                return n[len(f"{tool}: {wl}: not measured:"):].strip()[:300]
    for n in notes:
        if n.startswith(tool + ":") and ("not " in n or "no " in n) and \
                not any(n.startswith(f"{tool}: {w}:") for w, _ in CKPT_WORKLOADS):
            return n[len(tool) + 1:].strip()[:300]
    if failed:
        return f"bench/ckpt_criu.sh stopped: {failed[:300]}"
    return "no figure in this run"


def ckpt_target_checks(res):
    """Issue 14's targets: [(target, measured text, ok or None)]; a target
    that could not be measured says why ("not measured: ..."), ok None."""
    rows, notes, failed = load_ckpt(res)
    mig, mnotes, mfailed = load_results(res, "mig")
    if rows is None and mig is None:
        return []
    rows = rows or {}
    mig = mig or {}

    def med(tool, metric, wl):
        r = rows.get((tool, metric, wl))
        return r["median"] if r else None

    def moat_why(wl):
        return "not measured: " + ckpt_reason(notes, failed, "moat", wl)

    criu_why = ckpt_reason(notes, failed, "criu", "heap10m")
    checks = []
    for wl, label in (("busybox", "idle busybox sh"), ("python", "idle python3")):
        for metric, what in (("checkpoint_ms", "checkpoint"),
                             ("resume_first_ms", "resume to first instruction"),
                             ("resume_ms", "resume to first answer")):
            m = med("moat", metric, wl)
            checks.append((f"{what} ≤ {TARGET_CKPT_SMALL_MS} ms, {label}",
                           moat_why(wl) if m is None else f"{m:.1f} ms",
                           None if m is None else m <= TARGET_CKPT_SMALL_MS))
    m = med("moat", "snapshot_bytes", "busybox")
    checks.append((f"idle busybox sh snapshot ≤ {TARGET_SNAP_BUSYBOX // 1024} KiB",
                   moat_why("busybox") if m is None else f"{m / 1024:.0f} KiB",
                   None if m is None else m <= TARGET_SNAP_BUSYBOX))
    m = med("moat", "snapshot_bytes", "python")
    checks.append(("idle python3 snapshot ≤ 2 MB beyond its package (the snapshot "
                   ".mpk, which names python3.mpk and base.mpk as dependencies)",
                   moat_why("python") if m is None else f"{m / 1e6:.2f} MB",
                   None if m is None else m <= TARGET_SNAP_PYTHON))
    for moat_m, criu_m, what in (
            ("checkpoint_ms", "dump_ms", "checkpoint ≤ half of CRIU's dump"),
            ("resume_first_ms", "restore_ms",
             "resume to first instruction ≤ half of CRIU's restore (which returns with the process running)"),
            ("resume_ms", "answer_ms", "resume to first answer ≤ half of CRIU's restore to first answer")):
        m, c = med("moat", moat_m, "heap10m"), med("criu", criu_m, "heap10m")
        if m is not None and c:
            checks.append((f"10 MiB heap: {what} (same run)",
                           f"{m:.1f} ms vs {c:.1f} ms = {m / c:.2f}x", m / c <= TARGET_VS_CRIU))
        elif m is not None:
            checks.append((f"10 MiB heap: {what} (same run)",
                           f"{m:.1f} ms; CRIU not measured: {criu_why}", None))
        else:
            checks.append((f"10 MiB heap: {what} (same run)", moat_why("heap10m"), None))
    s, c, n = (med("moat", "resume_ms", "pyimports"), med("moat", "start_ms", "pyimports"),
               med("native", "start_ms", "pyimports"))
    checks.append(("python3 (19 stdlib modules imported) from a snapshot ≤ 1/5 of its cold "
                   "start in moat (to first output, same run)",
                   moat_why("pyimports") if s is None or not c else f"{s:.1f} ms vs {c:.1f} ms = {s / c:.2f}x",
                   None if s is None or not c else s / c <= TARGET_SNAP_START))
    checks.append(("python3 (19 stdlib modules imported) from a snapshot ≤ 1/5 of its native "
                   "cold start (to first output, same run)",
                   moat_why("pyimports") if s is None or not n else f"{s:.1f} ms vs {n:.1f} ms = {s / n:.2f}x",
                   None if s is None or not n else s / n <= TARGET_SNAP_START))
    dkeys = [k for k in mig if k[1] == "mig_downtime_ms"]
    if dkeys:
        k = dkeys[0]
        d = mig[k]["median"]
        mib = k[2].replace("dirty", "").rstrip("m")
        g = mig.get(("moat", "mig_gap_ms", k[2]))
        t = mig.get(("moat", "mig_total_ms", k[2]))
        checks.append((f"migration downtime ≤ {TARGET_MIG_DOWNTIME_MS} ms, 256 MiB dirtied at 10 MB/s"
                       + ("" if mib == "256" else f" (this run: {mib} MiB)"),
                       f"{d:.0f} ms (the app saw a gap of {g['median']:.0f} ms; total "
                       f"{t['median']:.0f} ms)" if g and t else f"{d:.0f} ms",
                       d <= TARGET_MIG_DOWNTIME_MS))
    else:
        why = (mfailed[:200] if mfailed else
               next((n[9:].strip() for n in mnotes if n.startswith("migrate:") and "not " in n),
                    "bench/migrate.sh did not run"))
        checks.append((f"migration downtime ≤ {TARGET_MIG_DOWNTIME_MS} ms, 256 MiB dirtied at 10 MB/s",
                       f"not measured: {why}", None))
    return checks


def render_checkpoint(w, res):
    """Section 10: checkpoint and restore, CRIU's baseline and moat's;
    live migration."""
    rows, notes, failed = load_ckpt(res)
    mig, mnotes, mfailed = load_results(res, "mig")
    if rows is None and mig is None:
        return
    rows = rows or {}
    w("## 10. Checkpoint, resume and migration (issue 14)")
    w("")
    w("`bench/ckpt_criu.sh` checkpoints eight idle processes, each under CRIU "
      "(natively) and under moat, in the same run: `bench/ckpt_heap.c` with 10 "
      "and 256 MiB malloc'ed and written, `busybox sh`, python3 with nothing of its "
      "own, python3 holding a 10 or 256 MiB bytearray with every page written "
      "(`bytearray(b\"moat\") * N`: no page is zero), python3 after importing 19 "
      "stdlib modules (`PY_MODULES`: the snapshot-start case), and Debian's "
      "redis-server holding 100,000 keys (`SET key:i val:i` through `redis-cli "
      "--pipe`). All but redis have printed `ready` and block in a read of their "
      "stdin; redis waits in `epoll_wait`.")
    w("")
    w("- **CRIU** (v4.2 built from source; `CRIU=PATH`): wall time of `criu dump -t "
      "PID -D DIR --shell-job` (the process ends), of `criu restore -D DIR "
      "--shell-job -d --restore-sibling` (it returns with the process running "
      "again: CRIU's \"to first instruction\"), to the first answer (after the "
      "restore returns, `go` is written into the process's stdin FIFO and its "
      "answer awaited; redis: a client waiting from before the restore gets its "
      "PONG), and `du -sb DIR`.")
    w("- **moat**: wall time of `moat checkpoint NAME -o S.mpk` on a `moat run "
      "--name NAME` (the picoprocess ends once S.mpk is written); then `moat run "
      "S.mpk` timed to its first instruction (the moment its monitor hears the "
      "resumed checkpointer's `snapshot:running`: everything is restored and the "
      "jump into the app comes next; an `LD_PRELOAD` shim on the moat command, "
      "`bench/resume_mark.c`, stamps it) and to its first answer (given `go` on "
      "its stdin, its first line of output; redis: the first PONG, from a client "
      "that waits from before the resume, `bench/ping_wait.c`); the bytes of "
      "memory in the image (as `moat checkpoint` prints them) and the size of "
      "`S.mpk` (zstd-compressed; python3's snapshots name python3.mpk and "
      "base.mpk as dependencies and hold none of their files).")
    w("")
    w("Medians (min–max) of the runs; sizes in MB = 10^6 bytes, kB = 10^3. Each "
      "resumed process is checked: its answer is the one expected, redis still "
      "holds every key and the last one's value.")
    w("")
    for n in notes:
        w(f"- {n}")
    if failed:
        w(f"- **bench/ckpt_criu.sh failed:** `{failed[:400]}`")
    w("")
    runs = max((r["n"] for k, r in rows.items()), default=0)

    def cell(key, kind):
        r = rows.get(key)
        if not r:
            return "–"
        if kind == "bytes":
            return fmt_bytes(r["median"])
        span = f" ({r['min']:.1f}–{r['max']:.1f})" if r["n"] > 1 else ""
        return f"{r['median']:.1f} ms{span}"

    cols = (("criu", "dump_ms", "ms", "CRIU dump"),
            ("criu", "restore_ms", "ms", "CRIU restore"),
            ("criu", "answer_ms", "ms", "CRIU restore to first answer"),
            ("criu", "image_bytes", "bytes", "CRIU image"),
            ("moat", "checkpoint_ms", "ms", "**moat checkpoint**"),
            ("moat", "resume_first_ms", "ms", "**moat resume, to first instruction**"),
            ("moat", "resume_ms", "ms", "**moat resume, to first answer**"),
            ("moat", "memory_bytes", "bytes", "moat image memory (raw)"),
            ("moat", "snapshot_bytes", "bytes", "**moat snapshot (.mpk)**"))
    if rows:
        w("| workload | " + " | ".join(c[3] for c in cols) + " |")
        w("|---|" + "---|" * len(cols))
        missing = []
        for wl, label in CKPT_WORKLOADS:
            if not any(k[2] == wl for k in rows):
                why = (ckpt_reason(notes, failed, "redis") if wl == "redis" and
                       any(n.startswith("redis: not measured") for n in notes)
                       else ckpt_reason(notes, failed, "moat", wl))
                w(f"| {label} | not measured: {why} |" + " |" * (len(cols) - 1))
                continue
            cells = []
            for t, m, kind, _ in cols:
                if t == "moat" and not any(k[0] == "moat" and k[1] == "checkpoint_ms" and k[2] == wl
                                           for k in rows) and m != "start_ms":
                    cells.append("not measured (below)")
                else:
                    cells.append(cell((t, m, wl), kind))
            if "not measured (below)" in cells:
                missing.append((label, ckpt_reason(notes, failed, "moat", wl)))
            w(f"| {label} | " + " | ".join(cells) + " |")
        w("")
        for label, why in missing:
            w(f"- {label}, moat: not measured: {why}")
        if missing:
            w("")
        if not any(k[0] == "criu" for k in rows):
            w(f"CRIU not measured in this run: {ckpt_reason(notes, failed, 'criu')}.")
            w("")
    w(f"Issue 14's anchors (CRIU, 10 MiB heap, another machine): {CKPT_ANCHORS}.")
    w("")
    w("| target (issue 14) | measured | verdict |")
    w("|---|---|---|")
    for label, measured, ok in ckpt_target_checks(res):
        w(f"| {label} | {measured} | {'–' if ok is None else verdict(ok)} |")
    w("")
    if rows:
        w("Starting to the first answer, in the same run (`printf 'go\\n' | CMD`, "
          "timed from before bash's fork to the line; native and cold moat print "
          "`ready` first, a resumed snapshot its answer to `go`; redis-server: to "
          "the first PONG; moat runs python3 from packages: base.mpk <- "
          "python3.mpk <- one package per workload, as in section 3b):")
        w("")
        w("| workload | native, cold start | `moat run`, cold start | "
          "**`moat run S.mpk`, from its snapshot** | snapshot / moat cold | "
          "snapshot / native cold | CRIU restore to first answer |")
        w("|---|---|---|---|---|---|---|")
        for wl, label in CKPT_WORKLOADS:
            if not any(k[2] == wl for k in rows):
                continue
            s = rows.get(("moat", "resume_ms", wl))
            if not s and ("moat", "start_ms", wl) in rows:
                rows_missing = "not measured (above)"
            else:
                rows_missing = "–"
            c = rows.get(("moat", "start_ms", wl))
            n = rows.get(("native", "start_ms", wl))
            w(f"| {label} | {cell(('native', 'start_ms', wl), 'ms')} | "
              f"{cell(('moat', 'start_ms', wl), 'ms')} | "
              f"{cell(('moat', 'resume_ms', wl), 'ms') if s else rows_missing} | "
              f"{ratio(s['median'], c['median']) if s and c else '–'} | "
              f"{ratio(s['median'], n['median']) if s and n else '–'} | "
              f"{cell(('criu', 'answer_ms', wl), 'ms')} |")
        w("")
        if runs:
            w(f"({runs} run{'s' if runs > 1 else ''} of each.)")
            w("")
    render_migration(w, mig, mnotes, mfailed)


def render_migration(w, mig, notes, failed):
    """Section 10's migration part: bench/migrate.sh."""
    w("### Live migration")
    w("")
    w("`bench/migrate.sh` moves `bench/mig_dirty.c` -- a heap it dirties at a "
      "set rate, round robin, stamping the wall clock and a counter on its "
      "stdout every millisecond -- with `moat migrate NAME --to unix:PATH` to "
      "a `moat receive --listen unix:PATH` on the same machine, half a second "
      "after it started dirtying. Total and downtime are what `moat migrate` "
      "prints (downtime: from its PAUSE request to the target's `running`); "
      "the gap is the largest step between two of the app's own stamps, across "
      "the move. Each move is checked: migrate exits 0, the source ends with "
      "status 0, the counter goes on with no gap and no repeat, and the moved "
      "app checks its whole heap at the end (`heap ok`) and exits 0.")
    w("")
    for n in notes:
        w(f"- {n}")
    if failed:
        w(f"- **bench/migrate.sh failed:** `{failed[:400]}`")
    w("")
    if not mig:
        w("Not measured in this run (see the lines above).")
        w("")
        return
    wls = sorted({k[2] for k in mig})
    w("| workload | runs | total | downtime | gap the app saw | rounds | "
      "pre-copied | final |")
    w("|---|---|---|---|---|---|---|---|")
    for wl in wls:
        def c(metric, kind):
            r = mig.get(("moat", metric, wl))
            if not r:
                return "–"
            if kind == "bytes":
                return f"{fmt_bytes(r['median'])} ({fmt_bytes(r['min'])}–{fmt_bytes(r['max'])})"
            if kind == "n":
                return f"{r['median']:.0f} ({r['min']:.0f}–{r['max']:.0f})"
            return f"{r['median']:.0f} ms ({r['min']:.0f}–{r['max']:.0f})"
        n = max((r["n"] for k, r in mig.items() if k[2] == wl), default=0)
        mib = wl.replace("dirty", "").rstrip("m")
        w(f"| {mib} MiB, dirtied at 10 MB/s | {n} | {c('mig_total_ms', 'ms')} | "
          f"{c('mig_downtime_ms', 'ms')} | {c('mig_gap_ms', 'ms')} | {c('mig_rounds', 'n')} | "
          f"{c('mig_precopy_bytes', 'bytes')} | {c('mig_final_bytes', 'bytes')} |")
    w("")
    d = [(k[2], r["median"]) for k, r in mig.items() if k[1] == "mig_downtime_ms"]
    if d and d[0][1] > TARGET_MIG_DOWNTIME_MS:
        mib = d[0][0].replace("dirty", "").rstrip("m")
        fin = mig.get(("moat", "mig_final_bytes", d[0][0]))
        w(f"The downtime target ({TARGET_MIG_DOWNTIME_MS} ms for 256 MiB) is missed: "
          f"{d[0][1]:.0f} ms for {mib} MiB, about {d[0][1] / TARGET_MIG_DOWNTIME_MS:.0f} "
          f"times the target. The pre-copy works (the final image is "
          f"{fmt_bytes(fin['median']) if fin else '?'}), but while the app is stopped "
          "the receiver merges the pre-copied pages and the final image into one raw "
          "image, compresses it into a snapshot package, and `moat run` then hashes, "
          f"decompresses and copies all {mib} MiB in again (docs/checkpoint.md, "
          "\"Migration\"): the downtime follows the size of the app's memory, not "
          "what changed while it was stopped.")
        w("")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("meta")
    m.add_argument("file")
    m.add_argument("--mode", required=True)
    m.add_argument("--root", required=True)
    m.add_argument("--moat", required=True)
    m.add_argument("--busybox", required=True)
    r = sub.add_parser("render")
    r.add_argument("results")
    r.add_argument("out")
    r.add_argument("--seconds", type=int, default=0)
    r.add_argument("--own-cpu", type=float, default=None,
                   help="CPU seconds used by the benchmark itself")
    i = sub.add_parser("wait-idle")
    i.add_argument("--max-seconds", type=float, default=120)
    i.add_argument("--busy", type=float, default=15)
    a = ap.parse_args()
    if a.cmd == "meta":
        cmd_meta(a)
    elif a.cmd == "wait-idle":
        cmd_wait_idle(a)
    else:
        cmd_render(a)


if __name__ == "__main__":
    main()
