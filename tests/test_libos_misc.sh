#!/usr/bin/env bash
# Smaller LibOS facilities, each compared with a native run: timerfd with
# epoll, flock(1), the virtual identity, /proc/self and getrusage; idle
# waits that sleep rather than poll.
. "$(dirname "$0")/lib.sh"

SYS="--ro /usr --ro /bin --ro /lib --ro /lib64 --ro /etc"
GRANTS="--ro $BUILD/tests/timerfd"
same_output "timerfd: one-shot then periodic, through epoll" "$BUILD/tests/timerfd"

touch "$WORK/lockfile"
GRANTS="$SYS --rw $WORK"
same_output "flock(1) takes and releases a lock" flock "$WORK/lockfile" echo locked
# A lock held on the host blocks -n inside.
flock "$WORK/lockfile" sleep 2 &
sleep 0.3
out=$("$MOAT" run $SYS --rw "$WORK" -- flock -n "$WORK/lockfile" echo got 2>&1)
rc=$?
[ $rc -eq 1 ] && [ -z "$out" ] && pass "flock -n inside fails while the host holds the lock" ||
	fail "flock -n inside fails while the host holds the lock" "status $rc: $out"
wait

check_eq "--user sets the virtual identity" "uid=1000 gid=100 groups=100" \
	"$("$MOAT" run --user 1000:100 -- /bin/busybox id 2>&1)"
check_eq "the default identity is root" "uid=0(root) gid=0(root) groups=0(root)" \
	"$("$MOAT" run --ro /etc/passwd --ro /etc/group -- /bin/busybox id 2>&1)"
out=$("$MOAT" run --user 1000 -- /bin/busybox grep ^Uid /proc/self/status 2>&1)
check_eq "/proc/self/status shows the virtual uid" "Uid:	1000	1000	1000	1000" "$out"
out=$("$MOAT" run --user nobody -- /bin/busybox true 2>&1)
[ $? -eq 2 ] && pass "--user with a name is refused: $out" || fail "--user with a name is refused" "$out"

# A private /tmp and /dev/shm: writable, shared by the processes of one
# picoprocess, invisible to another, gone afterwards.
# A TMPDIR of this test's own, so that other runs on the machine do not
# change the count.
export TMPDIR=$WORK/scratch-base
mkdir -p "$TMPDIR"
before=$(ls -d "$TMPDIR"/moat-scratch-* 2>/dev/null | wc -l)
BB=$(readlink -f /bin/busybox) # the quick form grants the program at its real path
out=$("$MOAT" run -- "$BB" sh -c "echo one > /tmp/x; echo two > /dev/shm/y; $BB cat /tmp/x /dev/shm/y" 2>&1)
check_eq "scratch /tmp and /dev/shm are writable and shared by child processes" "one
two" "$out"
out=$("$MOAT" run -- /bin/busybox cat /tmp/x 2>&1)
[[ $out == *"No such file"* ]] && pass "another picoprocess does not see the first one's /tmp" ||
	fail "another picoprocess does not see the first one's /tmp" "$out"
after=$(ls -d "$TMPDIR"/moat-scratch-* 2>/dev/null | wc -l)
check_eq "scratch directories are removed when the picoprocess ends" "$before" "$after"
unset TMPDIR
mkdir -p "$WORK/mytmp"
"$MOAT" run --rw "$WORK/mytmp:/tmp" -- /bin/busybox sh -c 'echo kept > /tmp/k' >/dev/null 2>&1
check_eq "a mapped /tmp is used instead of a scratch one" "kept" "$(cat "$WORK/mytmp/k" 2>&1)"
# A grant nested in the private /tmp: the directories above it exist
# there (stat, realpath, cd ..), as the directories above any mapping do.
mkdir -p "$WORK/nest" && echo deep >"$WORK/nest/f"
out=$("$MOAT" run --rw "$WORK/nest:/tmp/a/b/c" -- /bin/busybox sh -c \
	'stat -c "%n %F" /tmp/a /tmp/a/b; busybox realpath /tmp/a/b/c/f; cd /tmp/a/b/c/.. && pwd; ls /tmp/a; mkdir -p /tmp/a/b && echo mkdir-p ok; stat /tmp/a/zz' 2>&1)
check_eq "directories between the private /tmp and a grant nested in it stat" "/tmp/a directory
/tmp/a/b directory
/tmp/a/b/c/f
/tmp/a/b
b
mkdir-p ok
stat: can't stat '/tmp/a/zz': No such file or directory" "$out"

GRANTS="--ro $BUILD/tests/ptimer"
same_output "POSIX timers: SIGEV_SIGNAL/NONE/THREAD, periodic, overruns, EINTR, fork, delete" \
	"$BUILD/tests/ptimer"

GRANTS="--ro $BUILD/tests/signalfd"
same_output "signalfd: kill, tgkill, a child's signal and SIGCHLD, a timer, poll, epoll, mask changes" \
	"$BUILD/tests/signalfd"

mkdir -p "$WORK/sysmisc"
GRANTS="--ro $BUILD/tests/sysmisc --rw $WORK/sysmisc"
same_output "nice, scheduler, affinity, CPU clocks and times, preadv/pwritev, sendmmsg/recvmmsg, epoll_pwait2, mlock" \
	"$BUILD/tests/sysmisc" "$WORK/sysmisc"
# Real-time scheduling is the one thing refused that root natively gets.
out=$("$MOAT" run $SYS -- /usr/bin/python3 -c 'import os
try: os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
except OSError as e: print(e.strerror)' 2>&1)
check_eq "SCHED_FIFO is refused with EPERM (not pretended)" "Operation not permitted" "$out"

# Process groups and sessions: kill(0), kill(-group), waitpid(-group),
# setsid -- and timeout(1), which signals its own group, inside a script.
GRANTS="$SYS --ro $ROOT/tests/pgroups.py"
same_output "process groups and sessions: setpgid, kill(-group), kill(0), waitpid(-group), setsid" \
	/usr/bin/python3 -u "$ROOT/tests/pgroups.py"
GRANTS="$SYS"
same_output "timeout(1) inside a script ends its command, not the script" /bin/bash -c \
	'timeout 1 sleep 5; echo "timeout status $?"; echo "the script goes on"'
same_output "bash job control (set -m): kill -TERM -\$job ends the job's group" /bin/bash -c \
	'set -m; sleep 5 & job=$!; kill -TERM -$job; wait $job; echo "job status $?"'

GRANTS="--ro $BUILD/tests/memory"
same_output "madvise, shared anonymous memory across fork, /proc/self/maps" "$BUILD/tests/memory"

# The last fault has no handler: both runs die of SIGSEGV (139), and moat
# says so on stderr; stdout must be the same.
native=$("$BUILD/tests/faults" 2>/dev/null); nrc=$?
inside=$("$MOAT" run -- "$BUILD/tests/faults" 2>/dev/null); mrc=$?
check_eq "faults reach the app's handlers (SIGSEGV retry, SIGFPE longjmp, altstack)" \
	"$native|$nrc" "$inside|$mrc"

GRANTS="--ro /usr --ro /lib --ro /lib64"
same_output "memfd_create: write, read back, mmap, its /proc/self/fd name" /usr/bin/python3 -c '
import os, mmap
fd = os.memfd_create("buf"); os.write(fd, b"hello memfd"); os.lseek(fd, 0, 0); print(os.read(fd, 64))
m = mmap.mmap(fd, 11); print(m[:5]); print(os.readlink(f"/proc/self/fd/{fd}"))'

same_output "epoll drops a closed fd; prctl and fcntl owner/O_ASYNC attributes" /usr/bin/python3 -c '
import ctypes, fcntl, os, select, socket
ep = select.epoll()
a, b = socket.socketpair()
ep.register(a.fileno(), select.EPOLLIN)
b.send(b"x")
print("ready:", [e for _, e in ep.poll(1)])
n = a.fileno(); a.close()
print("after close:", ep.poll(0.2))
r, w = os.pipe()
if r != n:
    os.dup2(r, n); os.close(r); r = n
os.write(w, b"y")
print("same number, new file:", ep.poll(0.1))
ep.register(r, select.EPOLLIN); print("registered again:", [e for _, e in ep.poll(1)])
libc = ctypes.CDLL(None, use_errno=True)
print("dumpable", libc.prctl(3, 0, 0, 0, 0), libc.prctl(4, 0, 0, 0, 0), libc.prctl(3, 0, 0, 0, 0))
sig = ctypes.c_int(-1); libc.prctl(1, 15, 0, 0, 0); libc.prctl(2, ctypes.byref(sig), 0, 0, 0)
print("pdeathsig", sig.value, "bad option", libc.prctl(12345, 0, 0, 0, 0), ctypes.get_errno())
fcntl.fcntl(w, fcntl.F_SETOWN, os.getpid())
print("owner is me:", fcntl.fcntl(w, fcntl.F_GETOWN) == os.getpid())
fl = fcntl.fcntl(b.fileno(), fcntl.F_GETFL)
fcntl.fcntl(b.fileno(), fcntl.F_SETFL, fl | os.O_ASYNC)
print("O_ASYNC:", bool(fcntl.fcntl(b.fileno(), fcntl.F_GETFL) & os.O_ASYNC))'

# An idle picoprocess sleeps in the host until something happens: it is
# not woken to poll.  Context switches of every task of the picoprocess
# over 1 s of idling (a wait that polled every 10 ms would make 100 or
# more).  Waiting on a pipe (stdin), on a pipe and an eventfd together
# (streams and a LibOS object), and in a plain sleep.
idle_switches() { # CMD...: the picoprocess's context switches in 1 s idle
	local fifo=$WORK/idle.fifo pid m pico total=0 n
	rm -f "$fifo"; mkfifo "$fifo"
	"$MOAT" run $SYS -- "$@" <"$fifo" >/dev/null 2>&1 &
	pid=$!
	exec 7>"$fifo"
	sleep 1.5 # start-up done
	pico=$(pgrep -P "$pid" | head -1)
	count() { cat /proc/"$pico"/task/*/status 2>/dev/null |
		awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'; }
	n=$(count); sleep 1; total=$(( $(count) - n ))
	exec 7>&-
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	echo "$total"
}
for c in "stdin:/bin/busybox sh -c read" \
	"stdin and an eventfd:/usr/bin/python3 -c import os,select;e=os.eventfd(0);select.select([0,e],[],[])" \
	"sleep:/bin/busybox sleep 10"; do
	name=${c%%:*} cmd=${c#*:}
	if [[ $cmd == *python3* ]]; then n=$(idle_switches /usr/bin/python3 -c "${cmd#*-c }")
	else n=$(idle_switches $cmd); fi
	[ "$n" -lt 10 ] && pass "idle in a wait on $name: $n context switches in 1 s" ||
		fail "idle in a wait on $name" "$n context switches in 1 s (polling?)"
done

# fork while other threads open, stat, allocate and wait on futexes: every
# child runs to its exit, and no thread's open fails.
GRANTS="$SYS --ro $ROOT/tests/forkthreads.py"
same_output "fork while three threads open files, allocate and lock: children run, no descriptor mixed up" \
	/usr/bin/timeout 120 /usr/bin/python3 -u "$ROOT/tests/forkthreads.py"

# POLLRDHUP from poll and epoll once the peer shuts its side, with the
# data queued before it still readable.
GRANTS="$SYS --ro $ROOT/tests/rdhup.py"
same_output "POLLRDHUP: poll and epoll report the peer's shutdown, data before it kept" \
	/usr/bin/python3 "$ROOT/tests/rdhup.py"

# /proc as tools read it: stat's 52 fields with CPU time in ticks, the
# mount tables df needs, and uname's strings as /proc/sys/kernel has them.
out=$("$MOAT" run $SYS -- /usr/bin/python3 -c '
import os, time
t = time.process_time()
while time.process_time() - t < 0.2: pass
f = open("/proc/self/stat").read().split()
print(len(f), f[0] == str(os.getpid()), f[2], int(f[13]) >= 15)
u = os.uname()
k = lambda n: open("/proc/sys/kernel/" + n).read().strip()
print(u.release == k("osrelease"), u.version == k("version"), u.nodename == k("hostname"))' 2>&1)
check_eq "/proc/self/stat has Linux's 52 fields and the CPU time; uname matches /proc/sys/kernel" "52 True R True
True True True" "$out"
out=$("$MOAT" run $SYS -- /bin/sh -c 'df / >/dev/null && echo df ok; grep -c " / / " /proc/self/mountinfo; grep "^tmpfs /tmp " /proc/mounts' 2>&1)
check_eq "df reads the mount table: /proc/self/mountinfo and /proc/mounts" "df ok
1
tmpfs /tmp tmpfs rw 0 0" "$out"

# Another process's /proc/PID/stat and status (LTP waits on a child's
# state this way): the monitor reads them for processes of this
# picoprocess only.  A pid that is not one of its own has no entry.
out=$("$MOAT" run $SYS -- /usr/bin/python3 -c '
import os, subprocess, time
p = subprocess.Popen(["/bin/sleep", "3"])
time.sleep(0.3)
f = open("/proc/%d/stat" % p.pid).read().split()
st = dict(l.split(":\t", 1) for l in open("/proc/%d/status" % p.pid).read().splitlines())
print(len(f), f[0] == str(p.pid), f[2], f[3] == str(os.getpid()), st["State"], st["PPid"] == str(os.getpid()))
print(sorted(os.listdir("/proc/%d" % p.pid)))
p.kill(); p.wait()
for pid in (p.pid, 99999):
    try: open("/proc/%d/stat" % pid); print("open")
    except FileNotFoundError: print("ENOENT")' 2>&1)
check_eq "/proc/PID/stat and status of a child: its state, parent and 52 fields; gone or foreign pids have none" "52 True S True S True
['stat', 'status']
ENOENT
ENOENT" "$out"

# Pipes behave as Linux's (their host pipe is non-blocking since issue 17,
# the blocking is the PAL's): a 1 MiB write whole, short reads, EOF,
# EPIPE, PIPE_BUF records never torn, a signal ending a blocked read
# (EINTR) and a blocked write (what it wrote).
GRANTS="--ro $BUILD/tests/threadpipe"
same_output "pipes: 1 MiB in one write, short reads, EOF, EPIPE, atomic records, signals in blocked reads and writes" \
	"$BUILD/tests/threadpipe" pipes

# 10000 threads created and joined in a row keep the picoprocess's memory
# flat: a thread's records, stacks and event are reused, not leaked
# (before, each leaked about 12 KiB: 120 MB more after 10000).
pico_rss() { # the RSS in kB of the moat-pico below process $1
	local p
	for p in $(pgrep -P "$1"); do
		if [ "$(readlink "/proc/$p/exe")" = "$(readlink -f "${MOAT_PICO:-$BUILD/moat-pico}")" ]; then
			awk '/^VmRSS/ { print $2 }' "/proc/$p/status"
			return
		fi
		pico_rss "$p"
	done
}
out="$WORK/threads.out"
"$MOAT" run --ro "$BUILD/tests/threadpipe" -- "$BUILD/tests/threadpipe" threads 10000 >"$out" 2>&1 &
mpid=$!
rss1= rss2=
for _ in $(seq 600); do
	sleep 0.1
	case "$(tail -1 "$out")" in
	"at 1000") [ -n "$rss1" ] || rss1=$(pico_rss $mpid) ;;
	"at 10000") rss2=$(pico_rss $mpid); break ;;
	esac
done
wait $mpid
rc=$?
if [ $rc -eq 0 ] && [ -n "$rss1" ] && [ -n "$rss2" ] && [ $((rss2 - rss1)) -lt 8192 ]; then
	pass "10000 threads created and joined in a row: RSS flat (${rss1} kB after 1000, ${rss2} kB after 10000)"
else
	fail "10000 threads created and joined in a row: RSS flat" "status $rc, ${rss1:-?} kB after 1000, ${rss2:-?} kB after 10000: $(tail -2 "$out")"
fi
