#!/usr/bin/env bash
# Issue 12, findings 3, 8 and 12, and the test classes they belong to:
# what a picoprocess can make the monitor hold (resource accounting), a
# long life of forks and opens (lifetime), and a monitor that never
# blocks on one picoprocess and always ends when told to.
#   3. [Limits] memory bounds the directory listings (memfds the monitor
#      writes) that a program can pin by holding them open; and the UDP
#      relays it can make the monitor keep.
#   8. fork keeps working after thousands of forks in one life.
#  12. a program that writes requests without reading the replies does
#      not hang the monitor; SIGTERM and SIGINT to moat end it (SIGHUP is passed on),
#      even when the program ignores them.
. "$(dirname "$0")/lib.sh"

FLOOD=$BUILD/tests/flood
BB=$(readlink -f /bin/busybox)
[ -x "$FLOOD" ] || { fail "build/tests/flood is built" "missing: make $FLOOD"; exit 0; }
# Copies the unprivileged runs can read too.
cp "$FLOOD" "$WORK/flood" && chmod 755 "$WORK/flood"
FLOOD=$WORK/flood

# now_ms: a clock for "ended within".
now_ms() { date +%s%3N; }

# --- 3. directory listings against [Limits] memory ----------------------

# A directory whose listing is ~900 KiB (4000 names of 200 bytes).
A=$WORK/arena
mkdir -p "$A/big" "$A/small"
python3 - "$A/big" <<'EOF'
import os, sys
for i in range(4000):
    open(os.path.join(sys.argv[1], "%04d" % i + "x" * 196), "w").close()
EOF
echo hi >"$A/small/f"
chmod -R a+rX "$A"

# The program opens it 1000 times and holds every descriptor, under a
# 64 MiB memory limit: the monitor may hold a quarter of that (16 MiB)
# in listings at once.
cat >"$WORK/listings.ini" <<EOF
[Application]
entry = file://$FLOOD
arguments = listings /w/big 1000
[Namespace]
file://$FLOOD = file://$FLOOD
file:///w = file://$A
[Limits]
memory = 64M
files = 1024
EOF
chmod 644 "$WORK/listings.ini"
BUDGET=$((16 << 20))

# held_listings PID: "COUNT NONEMPTY BYTES" of the listings PID holds.
held_listings() {
	find /proc/"$1"/fd -lname '*moat-dir*' -exec stat -L -c %s {} + 2>/dev/null |
		awk '{ s += $1; n++; if ($1 > 0) z++ } END { printf "%d %d %d\n", n, z, s }'
}

# listings_run NAME [AS...]: run the manifest (as AS... if given), measure
# while the program holds its listings, then let it finish.
listings_run() {
	local name=$1; shift
	rm -f "$A/go"
	local shmem0
	shmem0=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)
	"$@" "$MOAT" run "$WORK/listings.ini" >"$WORK/l.out" 2>"$WORK/l.err" &
	local mon=$! pico= held
	# Generous: on a loaded 2-core machine the 1000 opens can take a while.
	for _ in $(seq 2400); do grep -q '^held' "$WORK/l.out" && break; sleep 0.05; done
	# the monitor, or setpriv's exec of it, is $mon; the picoprocess its child
	for _ in $(seq 100); do
		pico=$(pgrep -P "$mon" | head -1)
		[ -n "$pico" ] && held=$(held_listings "$pico") && [ "${held%% *}" != 0 ] && break
		sleep 0.1
	done
	local shmem1
	shmem1=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)
	touch "$A/go"
	wait $mon
	local rc=$?
	read -r count nonempty bytes <<<"$held"
	echo "$name: the program holds $count listings, $nonempty not empty, $((bytes >> 10)) KiB;" \
		"host Shmem grew $(((shmem1 - shmem0) >> 10)) MiB"
	if [ "${count:-0}" -eq 1000 ] && [ "$bytes" -le $BUDGET ]; then
		pass "$name: 1000 listings held under memory = 64M pin at most 16 MiB ($((bytes >> 10)) KiB)"
	else
		fail "$name: 1000 listings held under memory = 64M pin at most 16 MiB" \
			"$count listings, $((bytes >> 20)) MiB, status $rc: $(head -c 200 "$WORK/l.err")"
	fi
	# Beyond the budget the oldest read as empty; the newest is whole.
	check_eq "$name: the newest listing is whole, the oldest emptied (status 0)" \
		"first: 0 entries, last: 4002 entries|0" "$(cat "$WORK/l.out" | tail -1)|$rc"
}
listings_run "listings"

# A listing larger than the whole budget is refused, not built: 4 MiB of
# memory gives a budget of 1 MiB (the least), and this listing is 1.3 MiB.
mkdir -p "$A/huge"
python3 - "$A/huge" <<'EOF'
import os, sys
for i in range(6000):
    open(os.path.join(sys.argv[1], "%04d" % i + "y" * 196), "w").close()
EOF
cat >"$WORK/huge.ini" <<EOF
[Application]
entry = file://$BB
arguments = ls -1 /w/huge
[Namespace]
file://$BB = file://$BB
file:///w = file://$A
[Limits]
memory = 4M
EOF
out=$("$MOAT" run "$WORK/huge.ini" 2>&1 | tail -2 | cut -c 1-80)
check_eq "listings: a directory listing larger than the budget (1.3 MiB of 1 MiB) is refused" \
	"ls: can't open '/w/huge': Cannot allocate memory" "$out"

# --- lifetime: thousands of opens and closes, the monitor's descriptors flat

# churn N: open and close a directory and a file N times; prints the
# monitor's descriptor count while the program waits at the end.
churn() {
	rm -f "$A/go"
	"$MOAT" run --ro "$A:/w" -- "$FLOOD" churn /w/small /w/small/f "$1" >"$WORK/c.out" 2>&1 &
	local mon=$!
	for _ in $(seq 600); do grep -q '^churned' "$WORK/c.out" && break; sleep 0.05; done
	ls /proc/$mon/fd | wc -l
	touch "$A/go"
	wait $mon
}
few=$(churn 10)
many=$(churn 3000)
if grep -q '^churned 3000$' "$WORK/c.out" && [ "$many" -le $((few + 40)) ]; then
	pass "lifetime: 3000 opens and closes of a directory and a file leave the monitor's descriptors flat ($few after 10, $many after 3000)"
else
	fail "lifetime: the monitor's descriptors stay flat over 3000 opens" \
		"$few after 10, $many after 3000: $(cat "$WORK/c.out")"
fi

# --- 8. thousands of forks in one life ---------------------------------

LOOP='i=0; while [ $i -lt 1500 ]; do busybox true || exit 7; i=$((i+1)); done; echo $i'
native=$(cd / && "$BB" sh -c "$LOOP" 2>&1; echo "status $?")
out=$("$MOAT" run -- "$BB" sh -c "$LOOP" 2>&1; echo "status $?")
check_eq "lifetime: 1500 commands one after another in busybox sh (1500 forks) as natively" \
	"$native" "$out"

# --- 12. a flood of requests without reading the replies ----------------

t0=$(now_ms)
out=$(timeout -k 2 20 "$MOAT" run -- "$FLOOD" requests 100000 2>&1)
rc=$?
t=$(($(now_ms) - t0))
check_eq "flood: 100000 requests and no reads end the picoprocess with the monitor's line, status 137" \
	"moat: picoprocess killed by the monitor: it sent requests without reading the replies|137" \
	"$(echo "$out" | tail -1)|$rc"
[ $t -lt 10000 ] && pass "flood: moat ended by itself ($t ms)" ||
	fail "flood: moat ended by itself" "$t ms, status $rc"

# --- 12. SIGTERM and SIGINT end moat, SIGHUP is passed on -------------------------

# wait_watched PID: wait for moat (a child of this shell, so not in a
# subshell) and leave its status in $rc, with a watchdog that sends
# SIGKILL after 10 s (the symptom was a moat that never ended).
wait_watched() {
	(sleep 10; kill -KILL "$1" 2>/dev/null) &
	local dog=$!
	wait "$1" 2>/dev/null
	rc=$?
	kill $dog 2>/dev/null
	wait $dog 2>/dev/null
}

# stop_run SIG ID CMD...: moat runs CMD; after 1 s it gets SIG.  Writes
# "STATUS MS" (MS from the signal to moat's end) to $WORK/s.ID.res and
# moat's stderr to $WORK/s.ID.err.
stop_run() {
	local sig=$1 id=$2; shift 2
	"$MOAT" run -- "$@" >/dev/null 2>"$WORK/s.$id.err" &
	local mon=$!
	sleep 1
	local t0
	t0=$(now_ms)
	kill -"$sig" $mon
	local rc
	wait_watched $mon
	echo "$rc $(($(now_ms) - t0))" >"$WORK/s.$id.res"
}

# A program that ends on the signal: its status, at once.
stop_run TERM plain "$BB" sleep 30
check_eq "SIGTERM to moat: busybox sleep ends with 143 and says so" \
	"143|moat: busybox killed by signal 15 (Terminated)" \
	"$(cut -d' ' -f1 "$WORK/s.plain.res")|$(cat "$WORK/s.plain.err")"

# Programs that ignore them: killed after the grace period (3 s), status
# 128 + the signal, one line.  (The three at once, to save time.)
for sig in TERM INT; do
	stop_run "$sig" "$sig" "$BB" sh -c "trap '' $sig; busybox sleep 30" &
done
# SIGHUP is passed on, never lost: a program that ends on it ends (129);
# one that handles it (a server's reload) keeps running and gets it.
stop_run HUP HUP "$BB" sleep 30 &
"$MOAT" run -- "$BB" sh -c "trap 'echo reloaded' HUP; i=0; while [ \$i -lt 40 ]; do busybox sleep 0.1; i=\$((i+1)); done; echo done" \
	>"$WORK/hup.out" 2>&1 &
hupmon=$!
sleep 1
kill -HUP $hupmon
wait $hupmon
hrc=$?
wait
check_eq "SIGHUP to moat: a program that handles it keeps running and gets it (a reload)" \
	"reloaded|done|0" "$(tr '\n' '|' <"$WORK/hup.out")$hrc"
read -r rc t <"$WORK/s.HUP.res"
check_eq "SIGHUP to moat: busybox sleep ends with 129 and says so" \
	"129|moat: busybox killed by signal 1 (Hangup)" "$rc|$(cat "$WORK/s.HUP.err")"
for s in TERM:15 INT:2; do
	sig=${s%%:*} n=${s##*:}
	read -r rc t <"$WORK/s.$sig.res"
	check_eq "SIG$sig to moat when the program ignores it: status $((128 + n)) and one line" \
		"$((128 + n))|moat: busybox did not end within 3 s of SIG$sig: killed" \
		"$rc|$(cat "$WORK/s.$sig.err")"
	if [ "$t" -ge 2500 ] && [ "$t" -lt 8000 ]; then
		pass "SIG$sig to moat when the program ignores it: ended after the grace period ($t ms)"
	else
		fail "SIG$sig to moat when the program ignores it: ended after the grace period" "$t ms"
	fi
done

# A second SIGINT (Ctrl-C twice) does not wait for the grace period.
"$MOAT" run -- "$BB" sh -c "trap '' INT; busybox sleep 30" >/dev/null 2>"$WORK/s.err" &
mon=$!
sleep 1
t0=$(now_ms)
kill -INT $mon
sleep 0.3
kill -INT $mon
wait_watched $mon
t=$(($(now_ms) - t0))
if [ $rc -eq 130 ] && [ $t -lt 2000 ]; then
	pass "a second SIGINT ends moat at once (status 130 after $t ms)"
else
	fail "a second SIGINT ends moat at once" "status $rc after $t ms"
fi

# The signal must not be lost when it lands while the monitor is busy
# serving (it was passed on only when it interrupted poll()): a shell
# reading a file in a loop, which ends on SIGTERM.
"$MOAT" run --ro "$A:/w" -- "$BB" sh -c \
	'while :; do read x < /w/small/f; done' >/dev/null 2>"$WORK/s.err" &
mon=$!
sleep 1
t0=$(now_ms)
kill -TERM $mon
wait_watched $mon
t=$(($(now_ms) - t0))
check_eq "SIGTERM to moat while the monitor is busy serving reaches the program: status 143 and its line" \
	"143|moat: busybox killed by signal 15 (Terminated)" "$rc|$(cat "$WORK/s.err")"
[ $t -lt 2000 ] && pass "SIGTERM to a busy moat: ended at once ($t ms)" ||
	fail "SIGTERM to a busy moat: ended at once" "$t ms"

# --- resource accounting: UDP relays ------------------------------------

# Each UDP socket is a relay the monitor keeps (a host socket and a pair
# whose queue towards the app the monitor's budget pays for): under
# memory = 64M, 128 at once (16 MiB of queues at most), then EMFILE.
PY=/usr/bin/python3
if [ -x "$PY" ]; then
	cat >"$A/relays.py" <<'EOF'
import socket
socks, err = [], None
for i in range(300):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.sendto(b"x", ("127.0.0.1", 9))
    except OSError as e:
        err = e.strerror
        break
    socks.append(s)
print("relays %d%s" % (len(socks), ", then " + err if err else ""))
EOF
	cat >"$WORK/relays.ini" <<EOF
[Application]
entry = file://$PY
arguments = /w/relays.py
[Namespace]
file:///usr = file:///usr
file:///lib = file:///lib
file:///lib64 = file:///lib64
file:///w = file://$A
[Namespace.Writable]
udp.client://127.0.0.1:9 = udp.client://127.0.0.1:9
[Limits]
memory = 64M
EOF
	out=$("$MOAT" run "$WORK/relays.ini" 2>&1)
	check_eq "relays: under memory = 64M the monitor keeps at most 128 UDP relays at once" \
		"relays 128, then Too many open files" "$out"

	# --- lifetime: a thousand connections to a granted port ---------
	cat >"$A/accept.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(64)
print("listening", flush=True)
for i in range(int(sys.argv[1])):
    c, _ = s.accept()
    c.sendall(b"ok")
    c.close()
print("served", sys.argv[1])
EOF
	port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	"$MOAT" run --ro /usr --ro /lib --ro /lib64 --ro "$A:/w" \
		--net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$port" \
		-- "$PY" /w/accept.py 1000 >"$WORK/a.out" 2>&1 &
	srv=$!
	for _ in $(seq 100); do grep -q listening "$WORK/a.out" && break; sleep 0.05; done
	got=$("$PY" - "$port" <<'EOF'
import socket, sys
ok = 0
for i in range(1000):
    c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    ok += c.recv(2) == b"ok"
    c.close()
print(ok)
EOF
)
	(sleep 20; kill -KILL $srv 2>/dev/null) &
	dog=$!
	wait $srv
	rc=$?
	kill $dog 2>/dev/null
	wait $dog 2>/dev/null
	check_eq "lifetime: 1000 connections to a granted tcp.server port, all served" \
		"1000|listening served 1000|0" "$got|$(tr '\n' ' ' <"$WORK/a.out" | sed 's/ $//')|$rc"
fi

# --- as an unprivileged user (no cgroup): the same listing budget -------

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	NOGROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
	listings_run "as nobody: listings" setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups
fi
