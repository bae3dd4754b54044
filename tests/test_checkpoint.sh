#!/usr/bin/env bash
# Checkpoint and resume, end to end, as a user does it (docs/checkpoint.md):
# `moat run --name`, `moat checkpoint NAME -o SNAP.mpk [--leave-running]`,
# `moat run SNAP.mpk`.  Each check compares what the program itself wrote
# with what it would have written had it never stopped.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
PY=/usr/bin/python3
SYS="--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
N=ck$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_named NAME: until moat ps lists it (5 s at most).
wait_named() {
	for _ in $(seq 100); do
		"$MOAT" ps | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }' && return 0
		sleep 0.05
	done
	return 1
}
# wait_file FILE MIN: until FILE has at least MIN lines (10 s at most).
wait_file() {
	for _ in $(seq 200); do
		[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
# ends PID SECONDS: wait for a background job; its exit status, or 124.
ends() {
	for _ in $(seq $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.05
	done
	return 124
}
# consecutive FILE: "ok" if the lines "line N" run 0, 1, 2, ... with no
# gap and no repeat; else where they break.
consecutive() {
	awk '{ if ($2 != NR - 1) { print "line " NR " holds " $2; bad = 1; exit } }
	     END { if (!bad) print "ok" }' "$1"
}

# ---------------------------------------------- 1. busybox sh, a loop and a file
D=$WORK/sh
mkdir -p "$D"
cat >"$D/loop.sh" <<'EOF'
i=0
while true; do echo "line $i" >>/d/out.txt; i=$((i + 1)); done
EOF
"$MOAT" run --name "$N-sh" --ro $BB:$BB --rw "$D:/d" -- $BB sh /d/loop.sh >"$WORK/sh.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
wait_named "$N-sh" && wait_file "$D/out.txt" 200
"$MOAT" checkpoint "$N-sh" -o "$WORK/sh.mpk" >"$WORK/ck.out" 2>"$WORK/ck.err"
rc=$?
check_eq "checkpoint of a busybox sh loop: exit status 0" 0 "$rc"
grep -q "^moat: checkpoint: $N-sh: $WORK/sh.mpk (" "$WORK/ck.err" &&
	pass "checkpoint says where the snapshot went, in one line" ||
	fail "checkpoint says where the snapshot went" "$(cat "$WORK/ck.err")"
ends $SRC 5
check_eq "the checkpointed picoprocess ends, status 0" 0 $?
before=$(wc -l <"$D/out.txt")
sleep 0.2
check_eq "nothing is written after the checkpoint" "$before" "$(wc -l <"$D/out.txt")"
size=$(stat -c %s "$WORK/sh.mpk")
[ "$size" -le 262144 ] && pass "an idle busybox sh snapshot is at most 256 KiB ($size bytes)" ||
	fail "an idle busybox sh snapshot is at most 256 KiB" "$size bytes"
"$MOAT" inspect "$WORK/sh.mpk" >"$WORK/inspect.out" 2>&1
grep -q "threads: *1" "$WORK/inspect.out" && grep -q "file:/d/out.txt" "$WORK/inspect.out" &&
	pass "moat inspect names the snapshot's thread and its open file" ||
	fail "moat inspect names the snapshot's thread and its open file" "$(head -30 "$WORK/inspect.out")"

# Resume: the loop goes on from the very next line.
"$MOAT" run --ro $BB:$BB --rw "$D:/d" "$WORK/sh.mpk" >"$WORK/resume.out" 2>&1 &
R=$!
PIDS+=($R)
wait_file "$D/out.txt" $((before + 2000))
kill -TERM $R
ends $R 5 >/dev/null
check_eq "after resume the loop continues with no gap and no repeat" ok "$(consecutive "$D/out.txt")"
[ "$(wc -l <"$D/out.txt")" -gt $((before + 1000)) ] && pass "the resumed loop really ran" ||
	fail "the resumed loop really ran" "$(wc -l <"$D/out.txt") lines, $before before; $(cat "$WORK/resume.out")"

# A snapshot carries no authority: without the grant it does not resume,
# and says which object it could not reach, before anything runs.
cp "$D/out.txt" "$WORK/out.before"
"$MOAT" run --ro $BB:$BB "$WORK/sh.mpk" >"$WORK/nogrant.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "/d/" "$WORK/nogrant.out" && [ "$(wc -l <"$WORK/nogrant.out")" -le 3 ] &&
	pass "resume without the file's grant is refused, naming it ($rc)" ||
	fail "resume without the file's grant is refused, naming it" "rc $rc: $(cat "$WORK/nogrant.out")"
cmp -s "$D/out.txt" "$WORK/out.before" && pass "the refused resume wrote nothing" ||
	fail "the refused resume wrote nothing" "out.txt changed"

# ----------------- 2. python3: threads, a pipe, an itimer, a POSIX timer, a signal
P=$WORK/py
mkdir -p "$P"
cat >"$P/prog.py" <<'EOF'
import os, signal, threading, time
out = open('/p/log.txt', 'a', buffering=1)
cr, cw = os.pipe()                              # a child process writes to us
child = os.fork()
if child == 0:
    os.close(cr)
    for i in range(80):
        os.write(cw, b'%d\n' % i)
        time.sleep(0.01)
    os._exit(7)
os.close(cw)
r, w = os.pipe()
os.write(w, b'bytes waiting in a pipe')
signal.signal(signal.SIGUSR1, lambda s, f: out.write('SIGUSR1 delivered\n'))
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
os.kill(os.getpid(), signal.SIGUSR1)           # pending until unblocked
ticks = [0]
signal.signal(signal.SIGALRM, lambda s, f: ticks.__setitem__(0, ticks[0] + 1))
signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
import ctypes                                   # a POSIX timer, SIGUSR2 every 10 ms
class sigevent(ctypes.Structure):
    _fields_ = [('value', ctypes.c_uint64), ('signo', ctypes.c_int),
                ('notify', ctypes.c_int), ('tid', ctypes.c_int), ('pad', ctypes.c_int * 11)]
libc = ctypes.CDLL(None, use_errno=True)
pticks = [0]
signal.signal(signal.SIGUSR2, lambda s, f: pticks.__setitem__(0, pticks[0] + 1))
tmr = ctypes.c_void_p()
assert libc.timer_create(1, ctypes.byref(sigevent(0, signal.SIGUSR2, 0, 0)), ctypes.byref(tmr)) == 0
assert libc.timer_settime(tmr, 0, ctypes.byref((ctypes.c_long * 4)(0, 10**7, 0, 10**7)), None) == 0
gone = open('/p/gone.txt', 'w+')
gone.write('deleted but open\n'); gone.flush(); os.unlink('/p/gone.txt')
counts = [0, 0]
def worker(n):
    while counts[n] < 300:
        counts[n] += 1
        time.sleep(0.005)
ts = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
for t in ts: t.start()
out.write('started\n')
for t in ts: t.join()
before = pticks[0]
time.sleep(0.2)
out.write('posix timer fires after the threads: %s\n' % (pticks[0] > before))
libc.timer_delete(tmr)  # before python's exit puts SIGUSR2's default action back
signal.setitimer(signal.ITIMER_REAL, 0)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
gone.seek(0)
out.write('pipe: %s\n' % os.read(r, 100).decode())
out.write('threads counted %d %d; timer ticked: %s\n' % (counts[0], counts[1], ticks[0] > 0))
out.write('file: %s' % gone.read())
got = b''
while True:
    chunk = os.read(cr, 4096)
    if not chunk:
        break
    got += chunk
_, st = os.waitpid(child, 0)
out.write('child sent 0..79 in order: %s; its exit status %d\n' %
          (got.split() == [b'%d' % i for i in range(80)], os.waitstatus_to_exitcode(st)))
out.write('generation %s\n' % open('/proc/moat/generation').read().strip())
out.write('random %s\n' % os.urandom(16).hex())
EOF
expect_tail() {
	printf 'posix timer fires after the threads: True\nSIGUSR1 delivered\npipe: bytes waiting in a pipe\nthreads counted 300 300; timer ticked: True\nfile: deleted but open\nchild sent 0..79 in order: True; its exit status 7\ngeneration %s\n' "$1"
}
"$MOAT" run --name "$N-py" $SYS --rw "$P:/p" -- $PY /p/prog.py >"$WORK/py.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
wait_named "$N-py" && wait_file "$P/log.txt" 1
sleep 0.3
"$MOAT" checkpoint "$N-py" -o "$WORK/py.mpk" 2>"$WORK/ck.err"
rc=$?
[ $rc -eq 0 ] && pass "checkpoint of python3 with two threads and a child process running" ||
	fail "checkpoint of python3 with two threads and a child process running" "rc $rc: $(cat "$WORK/ck.err")"
ends $SRC 5 >/dev/null
check_eq "the python3 log stops at the checkpoint" started "$(cat "$P/log.txt")"
"$MOAT" inspect "$WORK/py.mpk" >"$WORK/inspect.out" 2>&1
grep -q "threads: *4" "$WORK/inspect.out" && pass "the python3 snapshot holds its four threads (the POSIX timers' clock among them)" ||
	fail "the python3 snapshot holds its four threads (the POSIX timers' clock among them)" "$(grep -i thread "$WORK/inspect.out")"
cp "$P/log.txt" "$WORK/log.start"
for i in 1 2; do
	cp "$WORK/log.start" "$P/log.txt"
	timeout 30 "$MOAT" run $SYS --rw "$P:/p" "$WORK/py.mpk" >"$WORK/py$i.out" 2>&1
	check_eq "python3 resume $i: status 0" 0 $?
	check_eq "python3 resume $i: threads, pipe bytes, itimer, POSIX timer, pending signal, deleted file, child process and the pipe from it all survive" \
		"$(printf 'started\n'; expect_tail 1)" "$(grep -v '^random ' "$P/log.txt")"
	grep '^random ' "$P/log.txt" >"$WORK/random$i"
done
[ -s "$WORK/random1" ] && ! cmp -s "$WORK/random1" "$WORK/random2" &&
	pass "two resumes of one snapshot draw different random bytes" ||
	fail "two resumes of one snapshot draw different random bytes" "$(cat "$WORK/random1" "$WORK/random2")"

# --leave-running: the original goes on untouched, the copy runs too.
"$MOAT" run --name "$N-py2" $SYS --rw "$P:/p" -- $PY /p/prog.py >"$WORK/py.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
: >"$P/log.txt"
wait_named "$N-py2" && wait_file "$P/log.txt" 1
"$MOAT" checkpoint "$N-py2" -o "$WORK/py2.mpk" --leave-running 2>"$WORK/ck.err"
rc=$?
[ $rc -eq 0 ] && pass "checkpoint --leave-running: status 0" ||
	fail "checkpoint --leave-running: status 0" "rc $rc: $(cat "$WORK/ck.err")"
ends $SRC 20
check_eq "with --leave-running the original runs to its end, status 0" 0 $?
check_eq "with --leave-running the original's own output is whole" \
	"$(printf 'started\n'; expect_tail 0)" "$(grep -v '^random ' "$P/log.txt")"

# ----------------------------------------------------- 3. redis-server, 100k keys
RD=$WORK/redis
mkdir -p "$RD"
RPORT=$(free_port)
redis_run() {
	"$MOAT" run "$@" >>"$WORK/redis.out" 2>&1 &
	RPID=$!
	PIDS+=($RPID)
}
redis_run --name "$N-redis" $SYS --rw "$RD:/data" --cwd /data \
	--net "tcp.server://0.0.0.0:6379=tcp.server://127.0.0.1:$RPORT" \
	-- /usr/bin/redis-server --port 6379 --daemonize no --dir /data --save '' --logfile /data/redis.log
SRC=$RPID
for _ in $(seq 100); do [ "$(timeout 2 redis-cli -p "$RPORT" ping 2>&1)" == PONG ] && break; sleep 0.05; done
"$PY" -c '
import sys
for i in range(100000): sys.stdout.write("SET key:%d val:%d\r\n" % (i, i))' |
	timeout 60 redis-cli -p "$RPORT" --pipe >/dev/null 2>&1
check_eq "redis-server inside holds 100000 keys" 100000 "$(timeout 5 redis-cli -p "$RPORT" dbsize)"
"$MOAT" checkpoint "$N-redis" -o "$WORK/redis.mpk" 2>"$WORK/ck.err"
check_eq "checkpoint of redis-server: status 0" 0 $?
ends "$SRC" 5 >/dev/null
redis_run $SYS --rw "$RD:/data" --net "tcp.server://0.0.0.0:6379=tcp.server://127.0.0.1:$RPORT" \
	"$WORK/redis.mpk"
R=$RPID
for _ in $(seq 100); do [ "$(timeout 2 redis-cli -p "$RPORT" ping 2>&1)" == PONG ] && break; sleep 0.05; done
check_eq "resumed redis-server answers through its granted port with all 100000 keys" 100000 \
	"$(timeout 5 redis-cli -p "$RPORT" dbsize)"
check_eq "resumed redis-server: the last key's value" val:99999 "$(timeout 5 redis-cli -p "$RPORT" get key:99999)"
timeout 5 redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1
ends "$R" 5 >/dev/null

# ------------------------------------------------------------------ 4. nginx
NG=$WORK/nginx
mkdir -p "$NG/www" "$NG/run" "$NG/conf"
echo "index served by nginx inside" >"$NG/www/index.html"
cat >"$NG/conf/nginx.conf" <<'CONF'
user root;
master_process off;
daemon off;
pid /run/nginx.pid;
error_log /run/error.log info;
events { worker_connections 64; }
http {
    access_log /run/access.log;
    client_body_temp_path /run/body;
    proxy_temp_path /run/proxy;
    fastcgi_temp_path /run/fastcgi;
    uwsgi_temp_path /run/uwsgi;
    scgi_temp_path /run/scgi;
    server { listen 8080; root /www; }
}
CONF
HPORT=$(free_port)
NGX="$SYS --ro $NG/www:/www --ro $NG/conf:/conf --rw $NG/run:/run --net tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$HPORT"
"$MOAT" run --name "$N-nginx" $NGX -- /usr/sbin/nginx -c /conf/nginx.conf >"$WORK/nginx.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
for _ in $(seq 100); do curl -s "http://127.0.0.1:$HPORT/" >/dev/null 2>&1 && break; sleep 0.05; done
"$MOAT" checkpoint "$N-nginx" -o "$WORK/nginx.mpk" 2>"$WORK/ck.err"
check_eq "checkpoint of nginx: status 0" 0 $?
ends $SRC 5 >/dev/null
"$MOAT" run $NGX "$WORK/nginx.mpk" >"$WORK/nginx2.out" 2>&1 &
R=$!
PIDS+=($R)
got=""
for _ in $(seq 100); do got=$(curl -s -m 2 "http://127.0.0.1:$HPORT/" 2>/dev/null) && [ -n "$got" ] && break; sleep 0.05; done
check_eq "after resume, curl on the host gets nginx's page" "index served by nginx inside" "$got"
kill -TERM $R
ends $R 5 >/dev/null

# --------------------------------- 5. what cannot be captured is refused, and lives on
C=$WORK/child
mkdir -p "$C"
# (a grandchild: process 1's child sh waits for its own child, sleep)
"$MOAT" run --name "$N-tree" --ro $BB:$BB --rw "$C:/c" -- $BB sh -c \
	"$BB sh -c '$BB sleep 1000; true' & i=0; while true; do echo \$i >/c/tick; i=\$((i + 1)); $BB usleep 20000; done" \
	>"$WORK/tree.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
wait_named "$N-tree" && wait_file "$C/tick" 1
"$MOAT" checkpoint "$N-tree" -o "$WORK/tree.mpk" >"$WORK/ck.out" 2>"$WORK/ck.err"
rc=$?
[ $rc -ne 0 ] && grep -q "process 2 has a child process (pid [0-9]*): only the children of process 1" "$WORK/ck.err" &&
	[ "$(wc -l <"$WORK/ck.err")" -eq 1 ] &&
	pass "checkpoint of a grandchild is refused in one line naming the processes ($rc)" ||
	fail "checkpoint of a grandchild is refused in one line naming the processes" "rc $rc: $(cat "$WORK/ck.err")"
[ ! -e "$WORK/tree.mpk" ] && pass "the refused checkpoint leaves no snapshot file" ||
	fail "the refused checkpoint leaves no snapshot file" "$(ls -l "$WORK/tree.mpk")"
# The shell rewrites the file every 20 ms (truncate, then write): read
# it until it holds a number.
read_tick() { local v; for _ in 1 2 3 4 5 6 7 8 9 10; do v=$(cat "$C/tick"); [ -n "$v" ] && break; sleep 0.01; done; echo "${v:-0}"; }
t1=$(read_tick); sleep 0.3; t2=$(read_tick)
kill -0 $SRC 2>/dev/null && [ "$t2" -gt "$t1" ] && pass "after the refusal the picoprocess keeps running" ||
	fail "after the refusal the picoprocess keeps running" "tick $t1 -> $t2"
kill -TERM $SRC

# -------------------- 5b. a shell and its children: a pipeline between two of them
# Each line goes through a pipe from one child (echo's subshell) to
# another (cat); a background child sleeps; the loop waits for a third
# (usleep).  After resume, the lines go on with no gap and no repeat, and
# the background child is still there to be killed and waited for.
T=$WORK/shtree
mkdir -p "$T"
cat >"$T/loop.sh" <<EOF
$BB sleep 1000 &
bg=\$!
i=0
while [ ! -e /t/stop ]; do
	echo "line \$i" | $BB cat >>/t/out.txt
	i=\$((i + 1))
	$BB usleep 2000
done
kill \$bg
wait \$bg
echo "background child ended: \$?" >>/t/end.txt
EOF
"$MOAT" run --name "$N-shtree" --ro $BB:$BB --rw "$T:/t" -- $BB sh /t/loop.sh >"$WORK/shtree.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
wait_named "$N-shtree" && wait_file "$T/out.txt" 30
"$MOAT" checkpoint "$N-shtree" -o "$WORK/shtree.mpk" 2>"$WORK/ck.err"
rc=$?
[ $rc -eq 0 ] && pass "checkpoint of a shell with child processes and a pipeline: status 0" ||
	fail "checkpoint of a shell with child processes and a pipeline" "rc $rc: $(cat "$WORK/ck.err")"
ends $SRC 5 >/dev/null
"$MOAT" inspect "$WORK/shtree.mpk" >"$WORK/inspect.out" 2>&1
n=$(grep -c "^  process: " "$WORK/inspect.out")
[ "$n" -ge 2 ] && pass "the snapshot holds the shell and its children ($n processes)" ||
	fail "the snapshot holds the shell and its children" "$(grep process "$WORK/inspect.out")"
before=$(wc -l <"$T/out.txt")
"$MOAT" run --ro $BB:$BB --rw "$T:/t" "$WORK/shtree.mpk" >"$WORK/shtree-resume.out" 2>&1 &
R=$!
PIDS+=($R)
wait_file "$T/out.txt" $((before + 100))
touch "$T/stop"
ends $R 10
check_eq "the resumed shell ends, status 0" 0 $?
check_eq "after resume the pipeline's lines go on with no gap and no repeat" ok "$(consecutive "$T/out.txt")"
check_eq "the resumed shell kills and waits for its background child" \
	"background child ended: 143" "$(cat "$T/end.txt" 2>/dev/null)"

# ------------------------------- 6. a picoprocess with no LibOS at all (tests/abi)
A=$WORK/abi
mkdir -p "$A"
MOAT_PICO=$BUILD/tests/abi-pico "$MOAT" run --name "$N-abi" --ro $BB:$BB --rw "$A:/out" -- $BB 2000 \
	>"$WORK/abi.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
wait_named "$N-abi" && wait_file "$A/count.txt" 100
MOAT_PICO=$BUILD/tests/abi-pico "$MOAT" checkpoint "$N-abi" -o "$WORK/abi.mpk" 2>"$WORK/ck.err"
check_eq "checkpoint of the ABI-only counter: status 0" 0 $?
ends $SRC 5 >/dev/null
n=$(wc -l <"$A/count.txt")
[ "$n" -lt 2000 ] && pass "the counter was stopped midway ($n of 2000)" ||
	fail "the counter was stopped midway" "$n lines"
MOAT_PICO=$BUILD/tests/abi-pico timeout 30 "$MOAT" run --ro $BB:$BB --rw "$A:/out" "$WORK/abi.mpk" \
	>"$WORK/abi2.out" 2>&1
check_eq "the resumed ABI-only counter ends with status 0" 0 $?
check_eq "the ABI-only counter's file holds 0..1999 once each, in order" \
	"$(seq 0 1999 | md5sum)" "$(md5sum <"$A/count.txt")"

# ------------------- 7. a connection to the outside arrives reset (ECONNRESET)
T=$WORK/tcp
mkdir -p "$T"
TPORT=$(free_port)
"$PY" -c '
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", int(sys.argv[1]))); l.listen(); print("up", flush=True)
held = []
while True:
    c, _ = l.accept(); c.recv(100); c.sendall(b"hi\n"); held.append(c)' "$TPORT" >"$T/server.out" 2>&1 &
PIDS+=($!)
wait_file "$T/server.out" 1
cat >"$T/client.py" <<'EOF'
import errno, socket, sys
s = socket.create_connection(("10.0.0.5", 7000))
s.sendall(b"hello\n")
print("connected:", s.recv(100).decode().strip(), flush=True)
sys.stdin.readline()
try:
    print("recv returned", s.recv(100), flush=True)
except OSError as e:
    print("recv:", errno.errorcode[e.errno], flush=True)
EOF
mkfifo "$T/in"
exec {TIN}<>"$T/in"
"$MOAT" run --name "$N-tcp" $SYS --ro "$T:/t" --net "tcp.client://10.0.0.5:7000=tcp.client://127.0.0.1:$TPORT" \
	-- $PY /t/client.py <"$T/in" >"$T/out" 2>&1 &
SRC=$!
PIDS+=($SRC)
wait_named "$N-tcp" && wait_file "$T/out" 1
"$MOAT" checkpoint "$N-tcp" -o "$WORK/tcp.mpk" 2>"$WORK/ck.err"
check_eq "checkpoint of python3 with a TCP connection to the host: status 0" 0 $?
exec {TIN}>&-
echo go | timeout 20 "$MOAT" run --accept-grants "$WORK/tcp.mpk" >"$T/resumed" 2>"$T/resumed.err"
check_eq "after resume its connection to the outside reads ECONNRESET" \
	"connected: hi|recv: ECONNRESET" "$(cat "$T/out" "$T/resumed" | paste -sd'|')"
