#!/usr/bin/env bash
# A checkpoint does not read memory the program never wrote (docs/checkpoint.md,
# MOAT_PROC_RESIDENCY in docs/abi.md): a python3 holding a 64 MiB private
# anonymous mapping with three written pages is checkpointed with
# --leave-running; its host process must not take a page fault for each of
# the region's 16384 pages, and a resume must still find the written pages.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SYS="--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
N=res$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$WORK/xdg
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

P=$WORK/p
mkdir -p "$P"
cat >"$P/prog.py" <<'EOF'
import mmap, sys
SIZE = 64 << 20
m = mmap.mmap(-1, SIZE, flags=mmap.MAP_PRIVATE)
OFFS = (0, 17 << 20, SIZE - 4096)
for o in OFFS:
    m[o:o + 16] = b"page at %8d" % (o >> 12)
print("ready", flush=True)
sys.stdin.readline()
print(" ".join(m[o:o + 16].decode() for o in OFFS), "|", m[4096:4100] == bytes(4), flush=True)
EOF
# minflt HOSTPID: the host process's minor faults so far.
minflt() { awk '{ sub(/.*\) /, ""); print $8 }' "/proc/$1/stat"; }

mkfifo "$WORK/in"
exec {IN}<>"$WORK/in"
"$MOAT" run --name "$N" $SYS --ro "$P:/p" -- $PY /p/prog.py <"$WORK/in" >"$WORK/out" 2>"$WORK/err" {IN}>&- &
SRC=$!
PIDS+=($SRC)
for _ in $(seq 200); do grep -q ready "$WORK/out" 2>/dev/null && break; sleep 0.05; done
PICO=$(pgrep -P "$SRC" | head -1)
[ -n "$PICO" ] && grep -q ready "$WORK/out" && pass "python3 with a 64 MiB mapping is ready" ||
	fail "python3 with a 64 MiB mapping is ready" "$(cat "$WORK/err")"
f0=$(minflt "$PICO")
"$MOAT" checkpoint "$N" -o "$WORK/s.mpk" --leave-running >"$WORK/ck.out" 2>"$WORK/ck.err"
check_eq "checkpoint --leave-running of it: status 0" 0 $?
f1=$(minflt "$PICO")
faults=$((f1 - f0))
# The region alone is 16384 pages; python3's own memory is a few thousand.
[ "$faults" -lt 8192 ] &&
	pass "the checkpoint did not fault in the untouched region ($faults minor faults)" ||
	fail "the checkpoint did not fault in the untouched region" "$faults minor faults"
mem=$(sed -n 's/.*(\([0-9]*\) bytes of memory.*/\1/p' "$WORK/ck.err")
[ -n "$mem" ] && [ "$mem" -lt $((32 << 20)) ] &&
	pass "the image holds the written pages, not the region ($mem bytes of memory)" ||
	fail "the image holds the written pages, not the region" "$(cat "$WORK/ck.err")"
printf 'go\n' >&$IN
for _ in $(seq 100); do [ "$(wc -l <"$WORK/out")" -ge 2 ] && break; sleep 0.05; done
want="page at        0 page at     4352 page at    16383 | True"
check_eq "the original goes on with its pages" "$want" "$(sed -n 2p "$WORK/out")"
exec {IN}>&-

printf 'go\n' | timeout 30 "$MOAT" run $SYS --ro "$P:/p" "$WORK/s.mpk" >"$WORK/r.out" 2>"$WORK/r.err"
check_eq "the resume: status 0" 0 $?
check_eq "the resumed copy finds the three written pages, the rest zeros" "$want" "$(cat "$WORK/r.out")"
