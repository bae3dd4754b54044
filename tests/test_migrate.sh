#!/usr/bin/env bash
# Live migration (docs/checkpoint.md, "Migration"): `moat migrate NAME --to
# ADDR` and `moat receive --listen ADDR [RUN OPTIONS]`, as a user does it.
#   1. between two network namespaces (a veth pair): a busybox loop moves,
#      its numbers run on with no gap and no repeat, the source ends;
#      before that, a target missing a grant refuses and the source goes on;
#   2. pre-copy: python3 holding 64 MiB it dirties slowly, over a unix
#      socket: rounds happen, the final copy is small, the output goes on;
#      the same while python3 takes a SIGALRM every millisecond;
#      a file kept open in the private /tmp moves with its program;
#   3. refusals: an unreachable target; hostile input to moat receive.
. "$(dirname "$0")/lib.sh"
BB=$(readlink -f /bin/busybox)
PY=/usr/bin/python3
SYS="--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
N=mig$$
NSA=moat-a$$ NSB=moat-b$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

wait_named() {
	for _ in $(seq 100); do
		"$MOAT" ps | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }' && return 0
		sleep 0.05
	done
	return 1
}
wait_lines() { # FILE MIN
	for _ in $(seq 200); do
		[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
wait_listen() { # ERRFILE
	for _ in $(seq 100); do
		grep -q "^moat: receive: listening on" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
ends() { # PID SECONDS: its exit status, or 124
	for _ in $(seq $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.05
	done
	return 124
}
# consecutive FILE: "ok" if its lines are 1, 2, 3, ... with no gap or repeat
consecutive() {
	awk '{ if ($1 != NR) { print "line " NR " holds " $1; bad = 1; exit } }
	     END { if (!bad) print "ok" }' "$1"
}
no_san() { ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$@"; }

# ------------------------------------- 1. two network namespaces, busybox
if ! ip netns add "$NSA" 2>/dev/null || ! ip netns add "$NSB" 2>/dev/null; then
	echo "note: ip netns is not possible here; the namespace test is skipped"
	NETNS=0
else
	NETNS=1
	ip link add "va$$" netns "$NSA" type veth peer name "vb$$" netns "$NSB"
	ip -n "$NSA" addr add 10.77.0.1/24 dev "va$$"
	ip -n "$NSB" addr add 10.77.0.2/24 dev "vb$$"
	ip -n "$NSA" link set "va$$" up
	ip -n "$NSB" link set "vb$$" up
	ip -n "$NSA" link set lo up
	ip -n "$NSB" link set lo up
fi
if [ $NETNS = 1 ]; then
	D=$WORK/sh
	mkdir -p "$D"
	# builtins only: a forked usleep would make a process tree, which
	# cannot be captured yet
	LOOP="i=0; while :; do i=\$((i + 1)); echo \$i >>$D/count; j=0; while [ \$j -lt 300 ]; do j=\$((j + 1)); done; done"
	ip netns exec "$NSA" "$MOAT" run --name "$N-sh" --rw "$D" -- "$BB" sh -c "$LOOP" \
		>"$WORK/src.out" 2>"$WORK/src.err" &
	SRC=$!
	PIDS+=($SRC)
	wait_named "$N-sh" && wait_lines "$D/count" 200
	MPID=$("$MOAT" ps | awk -v n="$N-sh" '$1 == n { print $2 }')

	# A snapshot on the side: the source is checkpointable, and its
	# moat-pico hash makes the hostile clients' manifests (part 3).
	"$MOAT" checkpoint "$N-sh" -o "$WORK/side.mpk" --leave-running 2>"$WORK/side.err"
	PICO=$("$MOAT" inspect "$WORK/side.mpk" 2>/dev/null | awk '$1 == "moat-pico:" { print $2 }')

	# A target without the program's grant: it refuses, the source goes on.
	ip netns exec "$NSB" "$MOAT" receive --listen 10.77.0.2:7001 --rw "$D" \
		>"$WORK/r0.out" 2>"$WORK/r0.err" &
	R0=$!
	PIDS+=($R0)
	wait_listen "$WORK/r0.err"
	ip netns exec "$NSA" "$MOAT" migrate "$N-sh" --to 10.77.0.2:7001 >"$WORK/m0.out" 2>"$WORK/m0.err"
	rc=$?
	ends $R0 10
	rrc=$?
	[ $rc -ne 0 ] && [ "$(wc -l <"$WORK/m0.err")" -eq 1 ] &&
		grep -q "^moat: migrate: $N-sh: the target refused: .*busybox" "$WORK/m0.err" &&
		pass "a target missing a grant: migrate says why in one line naming it ($rc)" ||
		fail "a target missing a grant: migrate says why" "rc $rc: $(cat "$WORK/m0.err")"
	[ $rrc -ne 0 ] && [ $rrc -ne 124 ] && grep -q "^moat: receive: the resume failed .*busybox" "$WORK/r0.err" &&
		pass "  ... and receive exits non-zero ($rrc) with a line naming the grant" ||
		fail "  ... and receive exits non-zero with a line naming the grant" "rc $rrc: $(cat "$WORK/r0.err")"
	n1=$(wc -l <"$D/count"); sleep 0.3; n2=$(wc -l <"$D/count")
	kill -0 $SRC 2>/dev/null && [ "$n2" -gt "$n1" ] && pass "  ... and the source goes on ($n1 -> $n2 lines)" ||
		fail "  ... and the source goes on" "alive? $(kill -0 $SRC 2>&1) lines $n1 -> $n2"

	# The real move.
	ip netns exec "$NSB" "$MOAT" receive --listen 10.77.0.2:7002 --rw "$D" --ro "$BB" --name "$N-sh2" \
		>"$WORK/r1.out" 2>"$WORK/r1.err" &
	R1=$!
	PIDS+=($R1)
	wait_listen "$WORK/r1.err"
	ip netns exec "$NSA" "$MOAT" migrate "$N-sh" --to 10.77.0.2:7002 >"$WORK/m1.out" 2>"$WORK/m1.err"
	check_eq "migrate between two network namespaces: exit status 0" 0 $?
	grep -qE "^moat: migrate: $N-sh: running at 10.77.0.2:7002: [0-9]+ rounds, [0-9]+ bytes pre-copied, [0-9]+ bytes final, downtime [0-9]+ ms, total [0-9]+ ms$" "$WORK/m1.err" &&
		pass "migrate prints one summary line ($(cut -d: -f5- "$WORK/m1.err"))" ||
		fail "migrate prints one summary line" "$(cat "$WORK/m1.err")"
	ends $SRC 5
	check_eq "the source moat run ends, status 0" 0 $?
	kill -0 "$MPID" 2>/dev/null && fail "the source's monitor is gone" "pid $MPID lives" ||
		pass "the source's monitor is gone"
	n1=$(wc -l <"$D/count")
	wait_lines "$D/count" $((n1 + 500))
	n2=$(wc -l <"$D/count")
	[ "$n2" -gt $((n1 + 100)) ] && pass "the file keeps growing, written by the target ($n1 -> $n2)" ||
		fail "the file keeps growing, written by the target" "$n1 -> $n2: $(cat "$WORK/r1.err")"
	wait_named "$N-sh2" && pass "the resumed picoprocess is registered as its new name" ||
		fail "the resumed picoprocess is registered as its new name" "$("$MOAT" ps)"
	kill -TERM $R1
	ends $R1 10
	rc=$?
	[ $rc -ne 124 ] && pass "killing the target ends it ($rc)" || fail "killing the target ends it" "still running"
	check_eq "the numbers run 1..N with no gap and no repeat across the move" ok "$(consecutive "$D/count")"
	"$MOAT" ps | grep -q "$N-sh" && fail "the names are cleaned up" "$("$MOAT" ps)" ||
		pass "the names are cleaned up"
	# The package goes to $TMPDIR, else /dev/shm (a tmpfs), else /tmp.
	[ -z "$(ls -d /tmp/moat-receive.* /dev/shm/moat-receive.* 2>/dev/null | xargs -r -n1 find 2>/dev/null | grep migrated.mpk)" ] &&
		pass "the target's package is removed" ||
		fail "the target's package is removed" "$(ls -d /tmp/moat-receive.* /dev/shm/moat-receive.* 2>/dev/null)"
	no_san "$WORK"/*.err && pass "no sanitizer report on either side" ||
		fail "no sanitizer report on either side" "$(grep -h -A3 -E 'Sanitizer|runtime error' "$WORK"/*.err | head -20)"
fi

# ------------------------------------------- 2. pre-copy: python3, 64 MiB
P=$WORK/py
mkdir -p "$P"
cat >"$P/prog.py" <<'EOF'
import time
mem = bytearray(b"moat" * (16 << 20))      # 64 MiB, none of it zero
out = open("/p/ticks", "a", buffering=1)
i = 0
while True:
    i += 1
    mem[(i * 4096 * 7) % len(mem)] = i & 0xff  # a few pages dirty at a time
    out.write("%d\n" % i)
    time.sleep(0.01)
EOF
"$MOAT" run --name "$N-py" $SYS --rw "$P:/p" -- $PY /p/prog.py >"$WORK/py.out" 2>"$WORK/py.err" &
SRC=$!
PIDS+=($SRC)
wait_named "$N-py" && wait_lines "$P/ticks" 20
"$MOAT" receive --listen "unix:$WORK/r2.sock" $SYS --rw "$P:/p" --name "$N-pyB" >"$WORK/r2.out" 2>"$WORK/r2.err" &
R2=$!
PIDS+=($R2)
wait_listen "$WORK/r2.err"
"$MOAT" migrate "$N-py" --to "unix:$WORK/r2.sock" 2>"$WORK/m2.err"
check_eq "migrate of python3 holding 64 MiB: exit status 0" 0 $?
line=$(grep "running at" "$WORK/m2.err")
rounds=$(echo "$line" | sed -nE 's/.* ([0-9]+) rounds.*/\1/p')
pre=$(echo "$line" | sed -nE 's/.* ([0-9]+) bytes pre-copied.*/\1/p')
fin=$(echo "$line" | sed -nE 's/.* ([0-9]+) bytes final.*/\1/p')
[ "${rounds:-0}" -ge 2 ] && pass "pre-copy ran ${rounds} rounds" ||
	fail "pre-copy ran at least 2 rounds" "$(cat "$WORK/m2.err")"
[ "${pre:-0}" -ge $((64 << 20)) ] && [ "${fin:-1}" -lt $((pre / 4)) ] &&
	pass "the final copy is much smaller than the pre-copy ($(cut -d: -f5- "$WORK/m2.err"))" ||
	fail "the final copy is much smaller than the pre-copy" "$(cat "$WORK/m2.err")"
ends $SRC 5
check_eq "the python3 source ends, status 0" 0 $?
n1=$(wc -l <"$P/ticks")
wait_lines "$P/ticks" $((n1 + 30))
# Its memory came from the received base (mapped, copy-on-write): a
# checkpoint of it now is an ordinary image the host accepts.
"$MOAT" checkpoint "$N-pyB" -o "$WORK/pyB.mpk" --leave-running >"$WORK/ckB.out" 2>"$WORK/ckB.err"
check_eq "the moved python3 is checkpointable again: status 0" 0 $?
kill -TERM $R2
ends $R2 10 >/dev/null
check_eq "python3's ticks go on after the move with no gap and no repeat" ok "$(consecutive "$P/ticks")"
[ "$(wc -l <"$P/ticks")" -ge $((n1 + 30)) ] && pass "the moved python3 really ran" ||
	fail "the moved python3 really ran" "$n1 -> $(wc -l <"$P/ticks"): $(tail -5 "$WORK/r2.err")"
no_san "$WORK"/r2.err "$WORK"/m2.err && pass "pre-copy: no sanitizer report" ||
	fail "pre-copy: no sanitizer report" "$(grep -h -A3 -E 'Sanitizer|runtime error' "$WORK"/r2.err "$WORK"/m2.err | head)"

# --------------- 2a. pre-copy while the app takes a signal every millisecond
# The pre-copy thread is the checkpointer's own (MOAT_THREAD_QUIET): an
# app's SIGALRM (process-directed) must never land on it while it waits
# for the socket or the client, or the picoprocess ends.  The app spends
# most of its time in system calls, where its own thread blocks them.
S=$WORK/sig
mkdir -p "$S"
cat >"$S/prog.py" <<'EOF'
import os, signal, time
alarms = 0
def on_alarm(sig, frame):
    global alarms
    alarms += 1
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
mem = bytearray(b"moat" * (16 << 20))      # 64 MiB: rounds take a while
out = open("/p/ticks", "a", buffering=1)
i = 0
while True:
    i += 1
    mem[(i * 4096 * 7) % len(mem)] = i & 0xff
    out.write("%d %d\n" % (i, alarms))
    for _ in range(200):
        os.stat("/p")
    time.sleep(0.001)
EOF
"$MOAT" run --name "$N-sig" $SYS --rw "$S:/p" -- $PY /p/prog.py >"$WORK/sig.out" 2>"$WORK/sig.err" &
SRC=$!
PIDS+=($SRC)
wait_named "$N-sig" && wait_lines "$S/ticks" 20
"$MOAT" receive --listen "unix:$WORK/rs.sock" $SYS --rw "$S:/p" >"$WORK/rs.out" 2>"$WORK/rs.err" &
RS=$!
PIDS+=($RS)
wait_listen "$WORK/rs.err"
"$MOAT" migrate "$N-sig" --to "unix:$WORK/rs.sock" 2>"$WORK/ms.err"
check_eq "migrate of python3 taking SIGALRM every ms: exit status 0" 0 $?
ends $SRC 5
rc=$?
[ $rc -eq 0 ] && pass "  ... the source ends, status 0" ||
	fail "  ... the source ends, status 0" "rc $rc: $(cat "$WORK/sig.err" "$WORK/ms.err" | tail -5)"
n1=$(wc -l <"$S/ticks")
wait_lines "$S/ticks" $((n1 + 30))
kill -TERM $RS
ends $RS 10 >/dev/null
check_eq "  ... its ticks go on with no gap and no repeat" ok "$(consecutive "$S/ticks")"
a=$(tail -n 1 "$S/ticks" | awk '{ print $2 }')
[ "$(wc -l <"$S/ticks")" -ge $((n1 + 30)) ] && [ "${a:-0}" -ge 100 ] &&
	pass "  ... the moved python3 ran on, its handler called $a times" ||
	fail "  ... the moved python3 ran on, its handler called" "$n1 -> $(wc -l <"$S/ticks") lines, $a alarms: $(tail -3 "$WORK/rs.err")"
no_san "$WORK"/rs.err "$WORK"/ms.err "$WORK"/sig.err && pass "  ... no sanitizer report" ||
	fail "  ... no sanitizer report" "$(grep -h -A3 -E 'Sanitizer|runtime error' "$WORK"/rs.err "$WORK"/ms.err | head)"

# ------------------------- 2b. a file open in /tmp moves with the program
T=$WORK/tmpfile
mkdir -p "$T"
# builtins only (no process tree); /tmp/log stays open on fd 3
LOOP2='exec 3>>/tmp/log; i=0; while [ ! -e /d/stop ]; do i=$((i + 1)); echo $i >&3; echo $i >/d/last; j=0; while [ $j -lt 300 ]; do j=$((j + 1)); done; done; while read -r l; do echo "$l"; done </tmp/log >/d/final'
"$MOAT" run --name "$N-tmp" --ro "$BB" --rw "$T:/d" -- "$BB" sh -c "$LOOP2" >"$WORK/t.out" 2>"$WORK/t.err" &
SRC=$!
PIDS+=($SRC)
wait_named "$N-tmp"
for _ in $(seq 200); do [ "$(cat "$T/last" 2>/dev/null || echo 0)" -ge 200 ] 2>/dev/null && break; sleep 0.05; done
"$MOAT" receive --listen "unix:$WORK/rt.sock" --ro "$BB" --rw "$T:/d" >"$WORK/rt.out" 2>"$WORK/rt.err" &
RT=$!
PIDS+=($RT)
wait_listen "$WORK/rt.err"
"$MOAT" migrate "$N-tmp" --to "unix:$WORK/rt.sock" 2>"$WORK/mt.err"
check_eq "migrate of busybox with /tmp/log open: exit status 0" 0 $?
ends $SRC 5 >/dev/null
n1=$(cat "$T/last")
for _ in $(seq 200); do [ "$(cat "$T/last" 2>/dev/null || echo 0)" -ge $((n1 + 500)) ] 2>/dev/null && break; sleep 0.05; done
touch "$T/stop"
ends $RT 10
check_eq "  ... the moved program ends on the target, status 0" 0 $?
check_eq "  ... its /tmp/log, read inside at the end, runs 1..N with no gap and no repeat across the move" ok \
	"$(consecutive "$T/final" 2>&1)"
[ "$(wc -l <"$T/final")" -ge $((n1 + 500)) ] && pass "  ... and holds the lines from before the move and after ($n1 -> $(wc -l <"$T/final"))" ||
	fail "  ... and holds the lines from before and after" "$n1 -> $(wc -l <"$T/final" 2>&1): $(tail -3 "$WORK/rt.err")"
no_san "$WORK"/rt.err "$WORK"/mt.err && pass "  ... no sanitizer report" ||
	fail "  ... no sanitizer report" "$(grep -h -A3 -E 'Sanitizer|runtime error' "$WORK"/rt.err "$WORK"/mt.err | head)"

# ------------------------------------------------------------- 3. refusals
"$MOAT" run --name "$N-z" --ro "$BB" -- "$BB" sh -c 'while :; do :; done' >/dev/null 2>&1 &
Z=$!
PIDS+=($Z)
wait_named "$N-z"
"$MOAT" migrate "$N-z" --to "unix:$WORK/nobody.sock" >"$WORK/m3.out" 2>"$WORK/m3.err"
rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$WORK/m3.err")" -eq 1 ] &&
	grep -q "^moat: migrate: $N-z: cannot reach the target unix:$WORK/nobody.sock: " "$WORK/m3.err" &&
	pass "an unreachable target: one clear line, exit $rc" ||
	fail "an unreachable target: one clear line" "rc $rc: $(cat "$WORK/m3.err")"
kill -0 $Z 2>/dev/null && "$MOAT" checkpoint "$N-z" -o "$WORK/z.mpk" --leave-running 2>"$WORK/z.err" &&
	pass "  ... the source still runs, and is checkpointable" ||
	fail "  ... the source still runs, and is checkpointable" "$(cat "$WORK/z.err")"
[ -n "${PICO:-}" ] || PICO=$("$MOAT" inspect "$WORK/z.mpk" 2>/dev/null | awk '$1 == "moat-pico:" { print $2 }')
"$MOAT" migrate "$N-none" --to "unix:$WORK/nobody.sock" 2>"$WORK/m4.err"
rc=$?
[ $rc -ne 0 ] && [ "$(wc -l <"$WORK/m4.err")" -eq 1 ] && pass "migrate of an unknown name: one line, exit $rc" ||
	fail "migrate of an unknown name: one line" "rc $rc: $(cat "$WORK/m4.err")"
kill -TERM $Z

# hostile NAME KIND PATTERN: a python3 client sends KIND to a moat receive
# listening on a unix socket; receive must refuse with one line matching
# PATTERN, exit non-zero, and tell the client "error ...".
cat >"$WORK/client.py" <<'EOF'
import socket, struct, sys
path, kind, pico = sys.argv[1:4]
def rec(t, body):
    return struct.pack("<IIQ", t, 0, len(body)) + body + b"\0" * ((8 - len(body) % 8) % 8)
def stream(kind):
    A = 0x10000000
    s = b"MOATSNP\x1a" + struct.pack("<II", 2, 0)
    s += rec(8, struct.pack("<QQ", A + 1 if kind == "unaligned" else A, 2) + b"\x11" * 8192)
    s += rec(9, struct.pack("<IIQQQ", 0, 0, 2, 4, 1000))
    rk, uri = (2, b"file:/x") if kind == "basefile" else (1, b"")
    reg = struct.pack("<QQIIIIQQqII", A, 4 * 4096, 3, rk, 2, 1, 0, 0, 0, len(uri), 0) + uri
    reg += struct.pack("<QQ", 2, 1) + b"\x33" * 4096
    s += rec(1, struct.pack("<qqIIIIQ", 1, 1, 1, 1, 0, 0, 4096)) + rec(5, reg)
    s += rec(6, struct.pack("<18QQQII", *([0] * 18), 0, 0, 0, 0)) + rec(0, b"")
    return s[: len(s) // 2] if kind == "truncated" else s
manifest = ("[Package]\nManifestVersion = 1\n\n[Identity]\nName = x-snapshot\nversion = 1\n\n"
            "[Application]\nentry = file:///bin/busybox\n\n[Snapshot]\npico = %s\napp = x\n"
            "extensions = ckpt\ncwd = file:///\ntaken = 2026-12-04T19:00:00Z\n" % pico).encode()
c = socket.socket(socket.AF_UNIX); c.connect(path); c.settimeout(20)
try:
    if kind == "garbage":
        c.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 8)
    else:
        c.sendall(b"MOATMIG\x1a" + struct.pack("<II", 2, 0))
        f = c.makefile("rb")
        if f.readline() != b"moat-migrate 2 ready\n":
            print("no ready"); sys.exit(0)
        body = stream(kind)
        c.sendall(struct.pack("<Q", len(manifest)) + manifest + (body[:100] if kind == "stall" else body))
        if kind == "truncated":
            c.shutdown(socket.SHUT_WR)
        # after a whole stream, the saved /tmp (protocol 2): u64 length, archive
        path_out = b"tmp/../../escape" if kind == "scratchesc" else b"tmp"
        arc = (b"MOATSCR1" + struct.pack("<IIIIQq", 1, 0o755, len(path_out), 0, 0, 0) +
               path_out + b"\0" * ((8 - len(path_out) % 8) % 8) + bytes(32))
        if kind in ("basefile", "scratchesc"):
            c.sendall(struct.pack("<Q", len(arc)) + arc)
        if kind == "scratchbig":
            c.sendall(struct.pack("<Q", 1 << 62))
    print(c.makefile("rb").readline().decode().strip())
except OSError as e:
    print("oserror", e)
EOF
hostile() {
	local name=$1 kind=$2 pat=$3 sock=$WORK/h-$2.sock
	"$MOAT" receive --listen "unix:$sock" --ro "$BB" >"$WORK/h.out" 2>"$WORK/h.err" &
	local r=$!
	PIDS+=($r)
	wait_listen "$WORK/h.err"
	local said
	said=$($PY "$WORK/client.py" "$sock" "$kind" "${PICO:-0}")
	ends $r 15
	local rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$(grep -vc '^moat: receive: listening' "$WORK/h.err")" -eq 1 ] &&
	   grep -qE "$pat" "$WORK/h.err" && [[ $said == error* ]] && no_san "$WORK/h.err"; then
		pass "$name ($rc)"
	else
		fail "$name" "rc $rc, client got [$said]: $(cat "$WORK/h.err" | head -c 600)"
	fi
}
hostile "receive refuses garbage in one line" garbage "^moat: receive: not a moat migration"
if [ -n "${PICO:-}" ]; then
	hostile "receive refuses a truncated stream" truncated "^moat: receive: the stream was cut short after [0-9]+ bytes$"
	hostile "receive refuses a PAGES record at an unaligned address" unaligned \
		"^moat: receive: a malformed migration stream: offset [0-9]+: PAGES at 0x10000001: not page-aligned$"
	hostile "receive gives up on a source silent for 10 s" stall \
		"^moat: receive: the stream stopped for 10 s after 100 bytes$"
	hostile "receive refuses a saved /tmp whose path leaves the scratch" scratchesc \
		"^moat: receive: the source's /tmp: the saved /tmp, entry 0: a path that leaves the scratch$"
	hostile "receive refuses a saved /tmp of 2^62 bytes before reading it" scratchbig \
		"^moat: receive: the source's /tmp: an archive of 4611686018427387904 bytes \(40 to 68719476736\)$"
	hostile "receive refuses a REGION with the base flag on a file map" basefile \
		"^moat: receive: a malformed migration stream: the final image: record 1 .*REGION.*base flag on a shared or file region$"
else
	fail "hostile streams" "no moat-pico hash (the side snapshots failed: $(cat "$WORK/side.err" "$WORK/z.err" 2>/dev/null))"
fi

# The parser and the merge, fuzzed briefly (tests/fuzz/fuzz_migrate.c).
if [ -x "$BUILD/fuzz/fuzz_migrate" ]; then
	out=$(cd "$ROOT" && TMPDIR=$WORK BUILD=$BUILD FUZZ_OUT=$WORK/fuzz tests/fuzz/run.sh 5 migrate 2>&1)
	[ $? -eq 0 ] && pass "$out" || fail "fuzz migrate" "$out"
fi

# The merge on its own (tests/host/migmerge.c, a sanitizer build): 64 MiB
# of base pages, a BASE region over them with pages of its own.
if [ -x "$BUILD/host/migmerge" ]; then
	out=$("$BUILD/host/migmerge" 64 2>&1)
	[[ $out == ok* ]] && pass "the merge of a 64 MiB base: $out" || fail "the merge of a 64 MiB base" "$out"
fi

# What receive hands the resume (tests/host/migref.c): an image naming
# the base's pages (no copy); tampered or truncated, refused in one line.
if [ -x "$BUILD/host/migref" ]; then
	out=$("$BUILD/host/migref" 16 2>&1)
	st=$?
	[ $st -eq 0 ] && grep -q '^ok merge' <<<"$out" && [ "$(grep -c '^refused ' <<<"$out")" -eq 7 ] &&
		pass "the received image names the base's pages; 7 tampered or truncated ones refused: $(grep '^refused a base reference' <<<"$out")" ||
		fail "the received image and its tampered copies" "$out"
fi
