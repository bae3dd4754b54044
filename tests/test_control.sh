#!/usr/bin/env bash
# Named picoprocesses: moat run --name, moat ps, moat kill, and the
# control socket as an untrusted input (docs/control.md).
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
N=ctl$$           # names unique to this run: other suites may run at once
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

# ps_row NAME: the row of NAME in moat ps (as "$@" runs it), or nothing.
ps_row() { local n=$1; shift; "$@" "$MOAT" ps | awk -v n="$n" '$1 == n'; }
# wait_named NAME: until moat ps lists it (3 s at most).
wait_named() {
	for _ in $(seq 60); do
		[ -n "$(ps_row "$1")" ] && return 0
		sleep 0.05
	done
	return 1
}
# one_line FILE: exactly one line?
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }
# ctl_raw SOCKET HEXBYTES|big: send one packet, print the reply's status.
ctl_raw() {
	python3 - "$@" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(3)
s.connect(sys.argv[1])
pkt = b"\xab" * 100000 if sys.argv[2] == "big" else bytes.fromhex(sys.argv[2])
s.send(pkt)
r = s.recv(4096)
magic, ver, cmd, status, ln = struct.unpack("<IHHiI", r[:16])
print(len(r), hex(magic), ver, cmd, status)
EOF
}

RUNDIR=/run/moat
[ "$(id -u)" = 0 ] || RUNDIR=${XDG_RUNTIME_DIR:-/tmp/moat-$(id -u)}/moat
[ "$(id -u)" = 0 ] || [ -n "${XDG_RUNTIME_DIR:-}" ] || RUNDIR=/tmp/moat-$(id -u)

# --- a named sleep, as ps shows it -------------------------------------
"$MOAT" run --name "$N.a" -- $BB sleep 30 2>"$WORK/a.err" &
A=$!; PIDS+=($A)
if wait_named "$N.a"; then
	row=$(ps_row "$N.a")
	read -r name pid app state up mem src <<<"$row"
	if [ "$pid" = "$A" ] && [ "$app" = busybox ] && [ "$state" = running ] &&
	   [[ $up =~ ^[0-9]{2}:[0-9]{2}:[0-9]{2}$ ]] && [[ $mem =~ ^[0-9.]+[KMG]$ ]] &&
	   [[ $src =~ ^(cgroup|rss)$ ]]; then
		pass "ps lists the named picoprocess (name, pid, app, state, uptime, memory)"
	else
		fail "ps lists the named picoprocess" "row [$row], moat pid $A"
	fi
	"$MOAT" ps | head -1 | grep -q '^NAME *PID *APP *STATE *UPTIME *MEMORY' &&
		pass "ps has a header" || fail "ps has a header" "$("$MOAT" ps | head -1)"
	mode=$(stat -c %a "$RUNDIR")
	check_eq "runtime directory is 0700" 700 "$mode"
	[ -S "$RUNDIR/$N.a.sock" ] && pass "entry is a socket in $RUNDIR" ||
		fail "entry is a socket" "no $RUNDIR/$N.a.sock"
else
	fail "ps lists the named picoprocess" "not listed: $(cat "$WORK/a.err")"
fi

# --- a second one of that name ------------------------------------------
timeout 10 "$MOAT" run --name "$N.a" -- $BB true >/dev/null 2>"$WORK/dup.err"
rc=$?
if [ $rc -eq 2 ] && one_line "$WORK/dup.err" && grep -q 'already has that name' "$WORK/dup.err"; then
	pass "a duplicate name is refused (one line, exit 2)"
else
	fail "a duplicate name is refused" "rc $rc: $(cat "$WORK/dup.err")"
fi

# --- hostile names ---------------------------------------------------------
long=$(printf 'x%.0s' $(seq 300))
bad=0
for name in "../x" "a/b" "" "$long" ".hidden" "-x" "a b" $'a\nb' "é"; do
	timeout 10 "$MOAT" run --name "$name" -- $BB true >/dev/null 2>"$WORK/bad.err"
	rc=$?
	if [ $rc -ne 2 ] || ! one_line "$WORK/bad.err"; then
		bad=1
		fail "hostile name refused: $(printf %q "${name:0:20}")" "rc $rc: $(head -c 200 "$WORK/bad.err")"
	fi
	"$MOAT" kill "$name" >/dev/null 2>"$WORK/bad.err"
	rc=$?
	if [ $rc -ne 2 ] || ! one_line "$WORK/bad.err"; then
		bad=1
		fail "kill refuses hostile name $(printf %q "${name:0:20}")" "rc $rc"
	fi
done
[ $bad = 0 ] && pass "hostile names refused (../x, a/b, empty, 300 bytes, ...): one line, exit 2"
[ ! -e "$RUNDIR/../x.sock" ] && [ ! -e /run/x.sock ] && pass "no entry outside the runtime directory" ||
	fail "no entry outside the runtime directory" "found x.sock"

# --- garbage and oversized requests -----------------------------------------
S=$RUNDIR/$N.a.sock
out=$(ctl_raw "$S" 6761726261676521 2>&1)
[[ $out == "256 0x4c54434d 1 0 -71" ]] && pass "garbage request: EPROTO reply" ||
	fail "garbage request: EPROTO reply" "$out"
out=$(ctl_raw "$S" big 2>&1)
[[ $out == "256 0x4c54434d 1 0 -71" ]] && pass "oversized request: EPROTO reply" ||
	fail "oversized request: EPROTO reply" "$out"
# right size, right magic, wrong version; then an unknown command; a bad len
req() { python3 -c "import struct,sys; sys.stdout.write(struct.pack('<IHHII', 0x4c54434d, $1, $2, $3, $4).hex() + '00'*240)"; }
out=$(ctl_raw "$S" "$(req 9 1 0 0)" 2>&1)
[[ $out == "256 0x4c54434d 1 0 -71" ]] && pass "wrong version: EPROTO reply" ||
	fail "wrong version: EPROTO reply" "$out"
out=$(ctl_raw "$S" "$(req 1 77 0 0)" 2>&1)
[[ $out == "256 0x4c54434d 1 77 -95" ]] && pass "unknown command: EOPNOTSUPP reply" ||
	fail "unknown command: EOPNOTSUPP reply" "$out"
out=$(ctl_raw "$S" "$(req 1 1 0 4096)" 2>&1)
[[ $out == "256 0x4c54434d 1 0 -71" ]] && pass "payload length beyond the packet: EPROTO" ||
	fail "payload length beyond the packet: EPROTO" "$out"
out=$(ctl_raw "$S" "$(req 1 2 9999 0)" 2>&1)
[[ $out == "256 0x4c54434d 1 2 -22" ]] && pass "kill with a bad signal number: EINVAL" ||
	fail "kill with a bad signal number: EINVAL" "$out"
"$MOAT" kill "$N.a" NOSUCH 2>/dev/null; check_eq "moat kill: unknown signal name, exit 2" 2 $?
[ -n "$(ps_row "$N.a")" ] && kill -0 $A 2>/dev/null &&
	pass "the app keeps running after bad requests" ||
	fail "the app keeps running after bad requests" "gone"

# fuzz-style: random packets of random sizes, and valid headers with
# random commands, arguments and lengths (never KILL), many connections
out=$(python3 - "$S" <<'EOF'
import os, random, socket, struct, sys
random.seed(int(os.environ.get("SEED", "14")))
bad = 0
s = None
for i in range(400):
    if s is None or random.random() < 0.2:
        if s: s.close()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(2)
        s.connect(sys.argv[1])
    if random.random() < 0.5:
        pkt = os.urandom(random.choice([1, 15, 16, 255, 257, 512, random.randrange(1, 70000)]))
    else:
        cmd = random.choice([0, 1, 3, 4, 0xffff, random.randrange(5, 0x10000)])
        pkt = struct.pack("<IHHII", 0x4c54434d, 1, cmd, random.getrandbits(32),
                          random.choice([0, 240, 241, random.getrandbits(32)])) + os.urandom(240)
    try:
        s.send(pkt)
        r = s.recv(4096)
    except OSError:
        s = None; continue
    if len(r) == 0:
        s = None; continue
    if len(r) != 256 or struct.unpack("<I", r[:4])[0] != 0x4c54434d:
        bad += 1
    elif struct.unpack("<i", r[8:12])[0] == -71:
        s = None  # the monitor closes after a framing error
print("bad", bad)
EOF
)
check_eq "fuzz: 400 random requests get well-formed replies" "bad 0" "$out"
[ "$(ps_row "$N.a" | awk '{print $4}')" = running ] && kill -0 $A 2>/dev/null &&
	pass "fuzz: the app keeps running, ps still answers" ||
	fail "fuzz: the app keeps running" "$("$MOAT" ps 2>&1)"

# --- kill NAME INT: moat ends with 130 ----------------------------------------
"$MOAT" kill "$N.a" INT
wait $A
check_eq "kill NAME INT: moat exits 130" 130 $?
grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$WORK/a.err" &&
	fail "the monitor is sanitizer-clean after the bad requests" "$(grep -m3 -E 'Sanitizer|runtime error' "$WORK/a.err")" ||
	pass "the monitor is sanitizer-clean after the bad requests"
[ ! -e "$S" ] && pass "the entry goes when moat ends" || fail "the entry goes when moat ends" "$S left"
"$MOAT" kill "$N.a" 2>"$WORK/gone.err"; rc=$?
[ $rc -eq 1 ] && grep -q 'no picoprocess named' "$WORK/gone.err" &&
	pass "kill of an ended name: not found" || fail "kill of an ended name" "rc $rc"

# signal spellings
for sig in TERM SIGTERM 15 term; do
	"$MOAT" run --name "$N.s" -- $BB sleep 30 2>/dev/null &
	P=$!; PIDS+=($P)
	wait_named "$N.s"
	"$MOAT" kill "$N.s" "$sig"
	wait $P
	rc=$?
	[ $rc -eq 143 ] || { fail "kill NAME $sig" "moat exited $rc"; continue; }
done
[ "${rc:-}" = 143 ] && pass "kill spellings TERM, SIGTERM, 15, term (exit 143)"
"$MOAT" run --name "$N.d" -- $BB sleep 30 2>/dev/null &
P=$!; PIDS+=($P)
wait_named "$N.d"; "$MOAT" kill "$N.d"; wait $P
check_eq "kill NAME: SIGTERM by default" 143 $?

# --- stopping: the app ignores SIGTERM, moat waits out its grace period --
"$MOAT" run --name "$N.g" -- $BB sh -c 'trap "" TERM; while :; do $0 sleep 1; done' $BB 2>/dev/null &
G=$!; PIDS+=($G)
wait_named "$N.g"; sleep 0.3
"$MOAT" kill "$N.g" TERM; sleep 0.3
st=$(ps_row "$N.g" | awk '{print $4}')
check_eq "ps: stopping during the grace period" stopping "$st"
wait $G
check_eq "then killed at the end of the grace period: exit 143" 143 $?

# --- the entry goes at every end: the program's own, a signal to moat --
"$MOAT" run --name "$N.e" -- $BB sh -c 'exit 3' 2>/dev/null
rc=$?
[ $rc -eq 3 ] && [ ! -e "$RUNDIR/$N.e.sock" ] && pass "normal end: status kept, entry removed" ||
	fail "normal end: entry removed" "rc $rc, $(ls "$RUNDIR")"
"$MOAT" run --name "$N.e" -- $BB sleep 30 2>/dev/null &
E=$!; PIDS+=($E)
wait_named "$N.e"
kill -TERM $E; wait $E
rc=$?
[ $rc -eq 143 ] && [ ! -e "$RUNDIR/$N.e.sock" ] && pass "SIGTERM to moat: entry removed" ||
	fail "SIGTERM to moat: entry removed" "rc $rc, $(ls "$RUNDIR")"
MOAT_PICO=/nonexistent "$MOAT" run --name "$N.e" -- $BB true 2>/dev/null
rc=$?
[ $rc -eq 125 ] && [ ! -e "$RUNDIR/$N.e.sock" ] && pass "launch error: entry removed" ||
	fail "launch error: entry removed" "rc $rc, $(ls "$RUNDIR")"

# --- a stopped monitor: moat ps says so and does not hang --------------------
"$MOAT" run --name "$N.p" -- $BB sleep 30 2>/dev/null &
Z=$!; PIDS+=($Z)
wait_named "$N.p"
kill -STOP $Z
st=$(timeout 10 "$MOAT" ps | awk -v n="$N.p" '$1 == n {print $4}')
check_eq "ps: a stopped monitor shows as no-answer" no-answer "$st"
kill -CONT $Z
"$MOAT" kill "$N.p"; wait $Z
check_eq "and is killable once it runs again" 143 $?

# --- a stale entry: the monitor killed outright ----------------------------
"$MOAT" run --name "$N.k" -- $BB sleep 30 2>/dev/null &
K=$!; PIDS+=($K)
wait_named "$N.k"
kill -9 $K; wait $K 2>/dev/null
if [ -S "$RUNDIR/$N.k.sock" ]; then
	[ -z "$(ps_row "$N.k")" ] && [ ! -e "$RUNDIR/$N.k.sock" ] &&
		pass "a stale entry (SIGKILL) is cleaned by the next moat ps" ||
		fail "a stale entry is cleaned by moat ps" "$("$MOAT" ps)"
else
	fail "a stale entry is left by SIGKILL" "no socket: nothing to test"
fi
"$MOAT" run --name "$N.k" -- $BB sleep 30 2>/dev/null &
K=$!; PIDS+=($K)
wait_named "$N.k" && pass "the name of a stale entry can be reused" ||
	fail "the name of a stale entry can be reused" "not listed"
# a stale entry found by run --name itself
kill -9 $K; wait $K 2>/dev/null
"$MOAT" run --name "$N.k" -- $BB true 2>"$WORK/k.err"
check_eq "run --name over a stale entry" 0 $?
# any later command removes every stale entry, not only its own name's
"$MOAT" run --name "$N.k2" -- $BB sleep 30 2>/dev/null &
K=$!; PIDS+=($K)
wait_named "$N.k2"
kill -9 $K; wait $K 2>/dev/null
"$MOAT" kill "$N.nosuch" 2>/dev/null
[ ! -e "$RUNDIR/$N.k2.sock" ] && pass "moat kill of another name sweeps stale entries" ||
	fail "moat kill sweeps stale entries" "$N.k2.sock left"
"$MOAT" run --name "$N.k2" -- $BB sleep 30 2>/dev/null &
K=$!; PIDS+=($K)
wait_named "$N.k2"
kill -9 $K; wait $K 2>/dev/null
"$MOAT" run --name "$N.k3" -- $BB true 2>/dev/null
[ ! -e "$RUNDIR/$N.k2.sock" ] && pass "moat run --name sweeps stale entries" ||
	fail "moat run --name sweeps stale entries" "$N.k2.sock left"

# --- a silent client does not stall the app or the monitor -----------------
"$MOAT" run --name "$N.t" -- $BB sh -c 'while :; do echo tick; sleep 0.05; done' >"$WORK/ticks" 2>/dev/null &
T=$!; PIDS+=($T)
wait_named "$N.t"
python3 - "$RUNDIR/$N.t.sock" <<'EOF' &
import socket, sys, time
ss = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sys.argv[1])
    ss.append(s)
time.sleep(3)
EOF
Q=$!; PIDS+=($Q)
sleep 0.5
before=$(wc -l < "$WORK/ticks")
sleep 1
after=$(wc -l < "$WORK/ticks")
[ "$after" -gt $((before + 5)) ] && pass "silent clients: the app keeps printing" ||
	fail "silent clients: the app keeps printing" "$before then $after lines"
[ "$(ps_row "$N.t" | awk '{print $4}')" = running ] &&
	pass "silent clients: moat ps still answered" ||
	fail "silent clients: moat ps still answered" "$("$MOAT" ps 2>&1)"
kill $Q 2>/dev/null; wait $Q 2>/dev/null
# a client that sends and never reads its replies: the monitor drops it
out=$(python3 - "$RUNDIR/$N.t.sock" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1]); s.setblocking(False)
req = struct.pack("<IHHII", 0x4c54434d, 1, 1, 0, 0) + bytes(240)
sent = 0
for i in range(5000):
    try: s.send(req); sent += 1
    except BlockingIOError: pass
    except OSError: break
print("sent", sent > 0)
EOF
)
before=$(wc -l < "$WORK/ticks"); sleep 0.5; after=$(wc -l < "$WORK/ticks")
[ "$out" = "sent True" ] && [ "$after" -gt "$before" ] &&
	[ "$(ps_row "$N.t" | awk '{print $4}')" = running ] &&
	pass "a client that never reads its replies: the app and ps go on" ||
	fail "a client that never reads its replies" "$out, $before then $after lines"
"$MOAT" kill "$N.t" KILL; wait $T
check_eq "kill NAME KILL: exit 137" 137 $?

# --- another user: their own directory, no reach into root's -----------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	X=$WORK/xdg; mkdir -m 700 "$X"; chown 65534:65534 "$X"
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/ XDG_RUNTIME_DIR="$X")
	"$MOAT" run --name "$N.r" -- $BB sleep 30 2>/dev/null &
	R=$!; PIDS+=($R)
	"${AS[@]}" "$MOAT" run --name "$N.n" -- $BB sleep 30 2>"$WORK/n.err" &
	U=$!; PIDS+=($U)
	wait_named "$N.r"
	for _ in $(seq 60); do [ -n "$(ps_row "$N.n" "${AS[@]}")" ] && break; sleep 0.05; done
	[ -n "$(ps_row "$N.n" "${AS[@]}")" ] && [ -S "$X/moat/$N.n.sock" ] &&
		[ "$(stat -c '%u %a' "$X/moat")" = "65534 700" ] &&
		[[ $(ps_row "$N.n" "${AS[@]}" | awk '{print $7}') =~ ^(cgroup|rss)$ ]] &&
		pass "nobody: own runtime directory, own entries, memory measured" ||
		fail "nobody: own runtime directory" "$(cat "$WORK/n.err"; ls -la "$X/moat" 2>&1)"
	[ -z "$(ps_row "$N.r" "${AS[@]}")" ] && [ -z "$(ps_row "$N.n")" ] &&
		pass "ps: neither sees the other's picoprocesses" ||
		fail "ps: neither sees the other's" "nobody: $("${AS[@]}" "$MOAT" ps) root: $("$MOAT" ps)"
	"${AS[@]}" "$MOAT" kill "$N.r" 2>/dev/null
	rc=$?
	[ $rc -ne 0 ] && kill -0 $R && pass "nobody cannot signal root's picoprocess by name" ||
		fail "nobody cannot signal root's" "rc $rc"
	out=$("${AS[@]}" python3 -c "
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect('$RUNDIR/$N.r.sock'); print('connected')
except OSError as e: print(e.errno)" 2>&1)
	check_eq "nobody cannot connect to root's socket (EACCES)" 13 "$out"
	"${AS[@]}" ls "$RUNDIR" >/dev/null 2>&1 && fail "root's directory is private" "nobody lists it" ||
		pass "root's directory is private (0700)"
	"$MOAT" kill "$N.r"; wait $R
	check_eq "root's picoprocess still killable by root" 143 $?
	"${AS[@]}" "$MOAT" kill "$N.n" INT; wait $U
	check_eq "nobody kills its own: exit 130" 130 $?
	# a runtime directory that is not private is refused
	Y=$WORK/xdg2; mkdir -p "$Y/moat"; chmod 777 "$Y/moat"; chown 65534:65534 "$Y" "$Y/moat"
	setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/ XDG_RUNTIME_DIR="$Y" \
		"$MOAT" run --name "$N.y" -- $BB true 2>"$WORK/y.err"
	rc=$?
	[ $rc -eq 2 ] && grep -q 'not a private directory' "$WORK/y.err" &&
		pass "a runtime directory others can write is refused" ||
		fail "a non-private runtime directory is refused" "rc $rc: $(cat "$WORK/y.err")"
fi
