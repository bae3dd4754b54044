#!/usr/bin/env bash
# Resource caps: a picoprocess cannot exhaust the host's tasks.  Each
# picoprocess is its own pids cgroup (default cap 1024 tasks, or
# [Limits] processes); a thread bomb and a fork bomb stay under it, the
# host stays responsive, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

if [ ! -w /sys/fs/cgroup/pids ] && ! grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	echo "SKIP limits: no writable pids cgroup here"
	exit 0
fi
ESC=$BUILD/tests/escape

# Threads made straight through the PAL's gate: the cap, not the LibOS, stops them.
out=$("$MOAT" run -- "$ESC" gate threads 3000 2>&1)
made=$(echo "$out" | sed -n 's/^gate threads: \([0-9][0-9]*\).*/\1/p' | head -1)
if [ -n "$made" ] && [ "$made" -lt 1024 ]; then
	pass "a thread bomb through the gate stops at the task cap ($made threads)"
else
	fail "a thread bomb through the gate stops at the task cap" "${out:0:300}"
fi

# A manifest's [Limits] processes sets the cap.
cat >"$WORK/small.ini" <<INI
[Application]
entry = file://$ESC
arguments = gate threads 500
[Namespace]
file://$ESC = file://$ESC
[Limits]
processes = 20
INI
out=$("$MOAT" run "$WORK/small.ini" 2>&1)
made=$(echo "$out" | sed -n 's/^gate threads: \([0-9][0-9]*\).*/\1/p' | head -1)
if [ -n "$made" ] && [ "$made" -lt 20 ]; then
	pass "[Limits] processes = 20 caps the threads ($made made)"
else
	fail "[Limits] processes = 20 caps the threads" "${out:0:300}"
fi

# A fork bomb: it runs into the cap while the host answers.
BB=$(readlink -f /bin/busybox)
timeout 6 "$MOAT" run -- "$BB" sh -c "bomb() { $BB sh -c true & bomb & wait; }; bomb" >/dev/null 2>&1 &
BOMB=$!
sleep 2
MPID=$(pgrep -P $BOMB -x moat | head -1)
peak=0 tasks=
for g in /sys/fs/cgroup/pids/moat/"$MPID"-*/ /sys/fs/cgroup/moat/"$MPID"-*/; do
	[ -r "$g/pids.current" ] || continue
	n=$(cat "$g/pids.current"); [ "$n" -gt "$peak" ] && peak=$n
	tasks+=" $(cat "$g/cgroup.procs" | tr '\n' ' ')"
done
t0=$(date +%s%N); /bin/true; t1=$(date +%s%N)
lat=$(( (t1 - t0) / 1000000 ))
if [ "$peak" -le 1024 ]; then
	pass "a fork bomb stays within the cap (peak $peak tasks); host fork+exec took ${lat} ms"
else
	fail "a fork bomb stays within the cap" "peak $peak tasks"
fi
wait $BOMB 2>/dev/null
sleep 1
left=0
for t in $tasks; do kill -0 "$t" 2>/dev/null && left=$((left + 1)); done
check_eq "nothing of the bomb is left after moat ends" "0" "$left"
stale=$(ls -d /sys/fs/cgroup/pids/moat/"$MPID"-* /sys/fs/cgroup/moat/"$MPID"-* 2>/dev/null | wc -l)
check_eq "its cgroup is removed after moat is stopped with SIGTERM" "0" "$stale"

# A monitor killed outright (SIGKILL: no cleanup of its own) takes its
# picoprocess with it: nothing goes on running unwatched.  (Its cgroup,
# which only the monitor removes, is cleaned up here.)
"$MOAT" run -- "$BB" sleep 30 >/dev/null 2>&1 &
MON=$!
pico=
for _ in $(seq 100); do
	pico=$(tr -d ' ' </proc/$MON/task/$MON/children 2>/dev/null)
	[ -n "$pico" ] && [ "$(cat /proc/$pico/comm 2>/dev/null)" = moat-pico ] && break
	sleep 0.05
done
kill -9 $MON
wait $MON 2>/dev/null
state="still running (pid ${pico:-?})"
for _ in $(seq 60); do
	case $(awk '{ print $3 }' /proc/$pico/stat 2>/dev/null) in '' | Z | X) state=gone; break ;; esac
	sleep 0.05
done
check_eq "the picoprocess ends when its monitor is killed with SIGKILL" gone "$state"
rmdir /sys/fs/cgroup/pids/moat/"$MON"-* /sys/fs/cgroup/moat/"$MON"-* 2>/dev/null || true
