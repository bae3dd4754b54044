#!/usr/bin/env bash
# The benchmark harness works: `bench/run.sh --smoke` (every benchmark once
# and briefly) runs to the end against this tree's moat, with its report
# and raw results in a scratch directory -- docs/benchmarks.md and
# build/bench/ are left alone -- and the report has every section, each
# with moat's figures, and no benchmark in it failed.  The full run
# (`make bench`) stays out of the tests.
. "$(dirname "$0")/lib.sh"

# The release build, as `make bench` measures it (the tests' $MOAT is the
# sanitizer build).
BMOAT=$BUILD/moat
BPICO=$BUILD/moat-pico
missing=
for tool in hyperfine bwrap gcc python3 curl redis-server redis-cli redis-benchmark wrk; do
	command -v $tool >/dev/null || missing+=" $tool"
done
[ -x /usr/sbin/nginx ] || missing+=" nginx"
if [ -n "$missing" ]; then
	fail "bench smoke: tools present" "missing:$missing (make bench-deps installs them)"
	exit 0
fi
[ -x "$BMOAT" ] && [ -f "$BPICO" ] || { fail "bench smoke: moat built" "no $BMOAT or $BPICO"; exit 0; }

DOCS=$ROOT/docs/benchmarks.md
docs_sum() { if [ -e "$DOCS" ]; then sha256sum <"$DOCS"; else echo absent; fi; }
before=$(docs_sum)
OUT=$WORK/benchmarks-smoke.md
t0=$SECONDS
BUILD=$WORK/build MOAT=$BMOAT MOAT_PICO=$BPICO MOAT_BENCH_NO_INSTALL=1 \
	timeout 400 "$ROOT/bench/run.sh" --smoke --out "$OUT" >"$WORK/run.log" 2>&1
rc=$?
secs=$((SECONDS - t0))
if [ $rc -eq 0 ]; then
	pass "bench smoke: bench/run.sh --smoke exits 0 (${secs} s)"
else
	fail "bench smoke: bench/run.sh --smoke exits 0" "status $rc after ${secs} s: $(grep -v '^ ' "$WORK/run.log" | tail -3 | tr '\n' '|')"
fi
check_eq "bench smoke: docs/benchmarks.md is untouched" "$before" "$(docs_sum)"
if [ -s "$OUT" ]; then
	pass "bench smoke: the report is written to --out"
else
	fail "bench smoke: the report is written to --out" "no $OUT"
	exit 0
fi
if grep -q '^bench/run.sh: \|warning:' "$WORK/run.log"; then
	fail "bench smoke: no benchmark failed or warned" "$(grep '^bench/run.sh: \|warning:' "$WORK/run.log" | head -3 | tr '\n' '|')"
else
	pass "bench smoke: no benchmark failed or warned"
fi

# Each section: its heading, and a table row for moat (chosen by the
# pattern) with a figure in it.  gVisor rows are required when runsc works.
RUNSC=$(cat "$WORK/build/bench/results-smoke/runsc-status.txt" 2>/dev/null)
python3 - "$OUT" "$RUNSC" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
runsc_ok = sys.argv[2] == "ok"
num = r"[0-9][0-9.]*"
fig = rf"{num} ?(ms|µs|ns|KiB|MiB|GiB|/s|%|x|MB/s|GB/s)"
# (heading, row pattern that must appear in the section with a figure)
SECTIONS = [
    ("## Targets", r"^\| start ≤ 3x bubblewrap .*dynamic hello"),
    ("### The static hello, `busybox true`", r"^\| \*\*moat\*\* \| `moat run -- busybox true`"),
    ("### The dynamic hello, `/bin/true`", r"^\| \*\*moat\*\* \| `moat run --ro /lib --ro /lib64 -- /bin/true`"),
    ("## 2. Per-operation costs", r"^\| getpid \(raw `syscall`\)"),
    ("## 3. Memory per idle sandbox", r"^\| \*\*moat\*\* \| 1 \|"),
    ("## 3b. Memory of a packaged app", r"^\| pkg \| 1 \|"),
    ("## 4. Process and thread creation", r"^\| fork \+ exec `/bin/true` \+ waitpid"),
    ("## 5. TCP over loopback", r"^\| \*\*server in moat\*\*"),
    ("### redis-server: requests/s", r"^\| GET, `-c 50 -P 16` \| \*\*moat\*\*"),
    ("### nginx: requests/s", r"^\| 1 MiB file, `-t 2 -c 10` \| \*\*moat\*\*"),
    ("## 6. Applications: python3 and sqlite3", r"^\| \*\*moat\*\* \| `moat run .*sqlite3"),
    ("## 7. Density", r"^\| \*\*moat\*\* \| 10 of 10 \|"),
    ("## 8. The getpid-class cost", r"^\| moat's getpid"),
    ("## 9. Extensions: what a pass-through layer costs", r"^\| system_time \(1 argument\)"),
    ("## 10. Checkpoint, resume and migration", r"^\| idle `busybox sh` \|"),
    ("### Live migration", r"^\| [0-9]+ MiB, dirtied at"),
]
SECTIONS = [(h, p, "moat") for h, p in SECTIONS]
if runsc_ok:
    SECTIONS += [
        ("### The dynamic hello, `/bin/true`", r"^\| gVisor .*`runsc --rootless --network=none do /bin/true`", "gVisor"),
        ("### The static hello, `busybox true`", r"^\| gVisor .*`runsc --rootless --network=none do busybox true`", "gVisor"),
    ]
else:
    print(f"SKIP bench smoke: gVisor rows: runsc here: {sys.argv[2]}")

def section(head):
    i = text.find("\n" + head)
    if i < 0:
        return None
    level = head.split(" ")[0]
    rest = text[i + 1 + len(head):]
    # up to the next heading of the same or a higher level
    m = re.search(r"^#{1,%d} " % len(level), rest, re.M)
    return rest[:m.start()] if m else rest

for head, pat, who in SECTIONS:
    body = section(head)
    name = f"bench smoke: {head.lstrip('# ')}: {who} row with figures"
    if body is None:
        print(f"FAIL {name}: no such heading in the report")
        continue
    rows = [l for l in body.splitlines() if re.search(pat, l)]
    good = [l for l in rows if re.search(fig, l.split("|", 2)[-1])
            and "not measured" not in l and "no results" not in l]
    if good:
        print(f"PASS {name}")
    else:
        print(f"FAIL {name}: {'row without figures: ' + rows[0][:200] if rows else 'no row matching ' + pat}")

# Nothing in the report says a measurement went wrong.
bad = [l for l in text.splitlines()
       if "**errors**" in l or "no results" in l
       or re.search(r"not clean|exit statuses", l)]
if bad:
    print(f"FAIL bench smoke: the report shows no errors: {bad[0][:200]}")
else:
    print("PASS bench smoke: the report shows no errors")
PYEOF
