#!/usr/bin/env python3
"""report.py OUT DOC: write the LTP section of DOC (docs/compatibility.md)
from the runs `make ltp` left in OUT (OUT/LIST-RUNNER/{results.tsv,meta,
*.log}, see tests/ltp/lists.sh).

The section lies between the lines <!-- ltp --> and <!-- /ltp --> (added at
the end of DOC the first time) and is replaced whole: a table of passes per
list and runner, then each test that fails under moat with a one-word
reason read from its log.  A list or runner missing from OUT says "not
run"; a run from an earlier `make ltp` still in OUT is kept, with its own
date."""
import os
import re
import sys

LISTS = [("gramine_subset", "Gramine subset"), ("tier1_simple", "Single-process list")]
RUNNERS = [("native", "native"), ("moat", "moat"), ("runsc", "gVisor (runsc)")]
BEGIN, END = "<!-- ltp -->", "<!-- /ltp -->"
SIGNALS = {4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL",
           11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM", 31: "SIGSYS"}


def read_run(d):
    """A run's results (tag -> (verdict, seconds)) and meta, or None."""
    tsv = os.path.join(d, "results.tsv")
    if not os.path.exists(tsv):
        return None
    res = {}
    with open(tsv) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 4:
                res[p[0]] = (p[2], p[3])
    meta = {}
    mp = os.path.join(d, "meta")
    if os.path.exists(mp):
        with open(mp) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                meta[k] = v
    return res, meta


def first_failure(log):
    """The log's first TFAIL/TBROK line, cleaned of paths, and the log."""
    try:
        with open(log, errors="replace") as f:
            text = f.read()
    except OSError:
        return "", ""
    for line in text.splitlines():
        if re.search(r"(^|[\s:])(TFAIL|TBROK)([\s:]|$)", line):
            line = re.sub(r"/\S*/(LTP_\w+)", r"\1", line)        # the test's tmpdir
            line = re.sub(r"/\S*/testcases/kernel/syscalls/", "", line)
            line = re.sub(r"0x[0-9a-f]{6,}", "0x...", line)
            return " ".join(line.split()), text
    return "", text


def reason(verdict, line, text):
    """One word for why a test failed, from its verdict and first failure."""
    if verdict == "TIMEOUT" or "Test killed! (timeout?)" in line:
        return "timeout"
    if verdict.startswith("SIGNAL"):
        n = int(verdict[6:] or 0)
        return SIGNALS.get(n, verdict)
    m = re.search(r"killed by (SIG\w+)", line)
    if m:
        return m.group(1)
    if verdict == "NOEXEC":
        return "exec"
    if verdict in ("NOPASS", "IPCLOST"):
        return verdict.lower()
    if "acquire device" in line:
        return "device"
    if "kconfig" in line or "kernel .config" in line:
        return "kconfig"
    if re.search(r"'/(proc|sys)/", line):
        return "procfs"
    if "tst_checkpoint" in line:
        return "checkpoint"
    if re.search(r"[Ss]ignal \d+ killed", line):
        return "signal"
    if re.search(r"errno \d+ \(expected \d+\)", line) or "expect" in line and len(set(re.findall(r"\bE[A-Z]{2,}\b", line))) >= 2:
        return "errno"
    if re.search(r"succeeded|passed unexpectedly|returned 0 \(expected -1\)", line):
        return "no-error"
    m = re.search(r"\b(E[A-Z]{2,})(/E[A-Z]+)? \(\d+\)", line)
    if m:
        return m.group(1)
    if not line and "unimplemented syscall" in text:
        return "ENOSYS"
    return "result"


def main():
    out, doc = sys.argv[1], sys.argv[2]
    runs = {(l, r): read_run(os.path.join(out, f"{l}-{r}")) for l, _ in LISTS for r, _ in RUNNERS}
    ltp_commit = next((m[1].get("ltp") for m in runs.values() if m and m[1].get("ltp")), "unknown")

    s = [BEGIN, "## LTP (Linux Test Project) system-call tests", ""]
    s.append("The yardstick Gramine and gVisor measure their Linux compatibility with: "
             "LTP's `testcases/kernel/syscalls` (source commit "
             f"`{ltp_commit[:12]}`), each test run alone by `../shared/ltp/run.sh` with "
             "strict verdicts (exit status and every TPASS/TFAIL/TBROK line), "
             "`LTP_RUNTIME_MUL=0.1` and 60 s per test.  `make ltp` runs the lists "
             "natively, in moat (`tests/ltp/runner.sh`: the system read-only, a private "
             "writable TMPDIR) and under gVisor (`tests/ltp/runsc.sh`: Debian's runsc, "
             "ptrace platform), and writes this section (`tests/ltp/report.py`); "
             "`make ltp LTP_LISTS=gramine_subset LTP_RUNNERS=moat` runs a part and keeps "
             "the other figures.  A skipped test (CONF: the test found a feature "
             "missing and said so) is neither passed nor failed.  `make test` runs 63 "
             "of the tests that pass (`tests/ltp/fast.list`).")
    s.append("")
    s.append("Tests passed:")
    s.append("")
    s.append("| List | Tests | " + " | ".join(n for _, n in RUNNERS) + " |")
    s.append("|---|---|" + "---|" * len(RUNNERS))
    for l, lname in LISTS:
        cells, total = [], 0
        for r, _ in RUNNERS:
            run = runs[(l, r)]
            if not run:
                cells.append("not run")
                continue
            res = run[0]
            total = max(total, len(res))
            p = sum(1 for v, _ in res.values() if v == "PASS")
            sk = sum(1 for v, _ in res.values() if v in ("CONF", "SKIP"))
            cells.append(f"{p}" + (f" ({sk} skipped)" if sk else ""))
        s.append(f"| {lname} (`{l}`) | {total or '-'} | " + " | ".join(cells) + " |")
    s.append("")
    s.append("Runs (date, wall time, moat commit for the moat column):")
    s.append("")
    for l, _ in LISTS:
        for r, rname in RUNNERS:
            run = runs[(l, r)]
            if run:
                m = run[1]
                mins = int(m.get("seconds", "0")) // 60
                who = f", moat `{m.get('moat', '?')}`" if r == "moat" else ""
                nice = f" under `nice -n {m['nice']}`" if m.get("nice", "0") != "0" else ""
                s.append(f"- `{l}` under {rname}: `make ltp LTP_LISTS={l} LTP_RUNNERS={r}`{nice}, "
                         f"{m.get('date', '?')}, {mins} min{who}")
    s.append("")

    for l, lname in LISTS:
        run = runs[(l, "native")]
        if not run:
            continue
        bad = []
        for tag, (v, _) in sorted(run[0].items()):
            if v not in ("PASS", "CONF", "SKIP"):
                line, text = first_failure(os.path.join(out, f"{l}-native", tag + ".log"))
                bad.append(f"{tag} ({reason(v, line, text)})")
        if bad:
            s.append(f"Failing natively in `{l}` (the machine, not a sandbox): " + ", ".join(bad) + ".")
            s.append("")

    failing = {}
    for l, _ in LISTS:
        run = runs[(l, "moat")]
        if not run:
            continue
        for tag, (v, _) in run[0].items():
            if v in ("PASS", "CONF", "SKIP") or tag in failing:
                continue
            line, text = first_failure(os.path.join(out, f"{l}-moat", tag + ".log"))
            others = []
            for r in ("native", "runsc"):
                o = runs[(l, r)]
                others.append(o[0].get(tag, ("-",))[0] if o else "-")
            failing[tag] = (v, reason(v, line, text), others, line)
    s.append(f"Tests that fail under moat ({len(failing)}), with the verdict natively and "
             "under gVisor, a one-word reason and the log's first TFAIL/TBROK line "
             "(`errno`: a call failed with another error than expected; `no-error`: a "
             "call that must fail succeeded; `result`: a wrong value; `device`: the test "
             "needs a block device; `procfs`: a /proc file moat does not give):")
    s.append("")
    s.append("| Test | moat | native | runsc | Reason | First failure |")
    s.append("|---|---|---|---|---|---|")
    for tag in sorted(failing):
        v, why, (nat, rs), line = failing[tag]
        line = line[:110].replace("|", "\\|")
        s.append(f"| {tag} | {v} | {nat} | {rs} | {why} | {('`' + line + '`') if line else ''} |")
    s.append(END)

    with open(doc) as f:
        old = f.read()
    new = "\n".join(s) + "\n"
    if BEGIN in old and END in old:
        a = old.index(BEGIN)
        b = old.index(END) + len(END)
        text = old[:a] + new.rstrip("\n") + old[b:]
    else:
        text = old.rstrip("\n") + "\n\n" + new
    with open(doc, "w") as f:
        f.write(text)
    print(f"report.py: {doc}: LTP section from {out} ({len(failing)} tests failing under moat)")


if __name__ == "__main__":
    main()
