#!/usr/bin/env bash
# Resource limits ([Limits] in the manifest): each bomb -- memory, fork,
# thread, descriptors, disk fill, busy loop -- is stopped or throttled
# with a clear reason, while a neighbouring picoprocess (busybox cat
# echoing over a pipe, tests/neighbour.py) keeps answering; its latency
# during each attack is printed.  Each picoprocess is its own pids,
# memory and cpu cgroup; where none is writable (as nobody), moat warns
# once and falls back to rlimits.
. "$(dirname "$0")/lib.sh"

ESC=$BUILD/tests/escape
BOMB=$BUILD/tests/bomb
cg_ok=1
if [ ! -w /sys/fs/cgroup/pids ] && ! grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	echo "SKIP cgroup checks: no writable pids cgroup here"
	cg_ok=0
fi

# manifest NAME ARGS LIMIT-LINES...: $WORK/NAME.ini running bomb ARGS.
manifest() {
	local name=$1 args=$2; shift 2
	{
		printf '[Application]\nentry = file://%s\narguments = %s\n' "$BOMB" "$args"
		printf '[Namespace]\nfile://%s = file://%s\n[Limits]\n' "$BOMB" "$BOMB"
		printf '%s\n' "$@"
	} >"$WORK/$name.ini"
}

# attack NAME TIMEOUT CMD...: run CMD (timeout TIMEOUT s) while the
# neighbour is timed; sets $out, $err, $rc and $nb (the neighbour's line).
attack() {
	local name=$1 t=$2; shift 2
	rm -f "$WORK/ready"
	python3 "$ROOT/tests/neighbour.py" "$MOAT" 2 "$WORK/ready" >"$WORK/nb.out" 2>"$WORK/nb.err" &
	local np=$!
	for _ in $(seq 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
	timeout -s TERM "$t" "$@" >"$WORK/a.out" 2>"$WORK/a.err"
	rc=$?
	wait $np
	local nrc=$?
	out=$(cat "$WORK/a.out") err=$(cat "$WORK/a.err") nb=$(cat "$WORK/nb.out")
	local max
	max=$(echo "$nb" | sed -n 's/.*max \([0-9]*\)\..*/\1/p')
	echo "$name: $nb"
	if [ $nrc -eq 0 ] && [ -n "$max" ] && [ "$max" -lt 2000 ]; then
		pass "the neighbour answers during the $name ($nb)"
	else
		fail "the neighbour answers during the $name" "[$nb] $(head -c 200 "$WORK/nb.err")"
	fi
}

# The neighbour's latency with no attack, to compare with.
attack "baseline (no attack)" 30 "$MOAT" run -- /bin/busybox true

if [ $cg_ok = 1 ]; then
	# Memory: the memory cgroup's OOM killer ends it, and moat says why.
	manifest mem memory 'memory = 64M'
	attack "memory bomb" 30 "$MOAT" run "$WORK/mem.ini"
	check_eq "memory bomb: killed, status 137" "137" "$rc"
	check_eq "memory bomb: the reason" \
		"moat: picoprocess killed: out of memory (its limit is 64 MiB, [Limits] memory)" "$err"

	# Forks: the pids cgroup refuses the 30th task; fork fails with EAGAIN.
	manifest forks forks 'processes = 30'
	attack "fork bomb" 30 "$MOAT" run "$WORK/forks.ini"
	check_eq "fork bomb: fork fails at the task limit" \
		"bomb forks: 29 processes, then: Resource temporarily unavailable" "$out"
	check_eq "fork bomb: moat says the limit was hit" \
		"moat: the picoprocess hit its task limit (30, [Limits] processes): 1 task refused" "$err"

	# Threads (pthread_create in the app).
	manifest threads threads 'processes = 50'
	attack "thread bomb" 30 "$MOAT" run "$WORK/threads.ini"
	check_eq "thread bomb: pthread_create fails at the task limit" \
		"bomb threads: 49 threads, then: Resource temporarily unavailable" "$out"
	check_eq "thread bomb: moat says the limit was hit" \
		"moat: the picoprocess hit its task limit (50, [Limits] processes): 1 task refused" "$err"

	# Disk: the private /tmp is a tmpfs of [Limits] disk bytes.
	manifest disk 'disk /tmp/fill' 'disk = 8M'
	attack "disk fill" 30 "$MOAT" run "$WORK/disk.ini"
	check_eq "disk fill of /tmp: ENOSPC at [Limits] disk" \
		"bomb disk: 8 MiB, then: No space left on device" "$(echo "$out" | tail -1)"
	check_eq "disk fill: status 0, nothing on stderr" "0:" "$rc:$err"
	left=$(ls -d "${TMPDIR:-/tmp}"/moat-scratch-* 2>/dev/null | while read -r d; do
		[ "$(du -sm "$d" | cut -f1)" -ge 8 ] && echo "$d"; done)
	check_eq "disk fill: the 8 MiB are gone after the end" "" "$left"

	# Busy loop, capped at a quarter CPU: throttled.  Its host process's
	# CPU time over 2 s, from /proc.
	manifest busy busy 'cpus = 0.25'
	rm -f "$WORK/ready"
	python3 "$ROOT/tests/neighbour.py" "$MOAT" 2 "$WORK/ready" >"$WORK/nb.out" 2>&1 &
	np=$!
	for _ in $(seq 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
	"$MOAT" run "$WORK/busy.ini" 2>/dev/null &
	mp=$!
	sleep 0.7
	pico=$(pgrep -P $mp | head -1)
	a=$(awk '{ print $14 + $15 }' /proc/"$pico"/stat 2>/dev/null)
	sleep 2
	b=$(awk '{ print $14 + $15 }' /proc/"$pico"/stat 2>/dev/null)
	kill $mp
	wait $mp 2>/dev/null
	wait $np
	nrc=$?
	nb=$(cat "$WORK/nb.out")
	hz=$(getconf CLK_TCK)
	pct=$(( (${b:-0} - ${a:-0}) * 100 / (2 * hz) ))
	echo "busy loop with cpus = 0.25: ${pct}% of a CPU; $nb"
	if [ -n "$a" ] && [ "$pct" -le 40 ] && [ "$pct" -ge 5 ]; then
		pass "busy loop with cpus = 0.25 is throttled (${pct}% of a CPU over 2 s)"
	else
		fail "busy loop with cpus = 0.25 is throttled" "${pct}% of a CPU (ticks $a -> $b)"
	fi
	max=$(echo "$nb" | sed -n 's/.*max \([0-9]*\)\..*/\1/p')
	if [ $nrc -eq 0 ] && [ -n "$max" ] && [ "$max" -lt 2000 ]; then
		pass "the neighbour answers during the busy loop ($nb)"
	else
		fail "the neighbour answers during the busy loop" "$nb"
	fi

	# Threads made straight through the PAL's gate: the cap, not the LibOS, stops them.
	out=$("$MOAT" run -- "$ESC" gate threads 3000 2>&1)
	made=$(echo "$out" | sed -n 's/^gate threads: \([0-9][0-9]*\).*/\1/p' | head -1)
	if [ -n "$made" ] && [ "$made" -lt 1024 ]; then
		pass "a thread bomb through the gate stops at the default task cap ($made threads)"
	else
		fail "a thread bomb through the gate stops at the task cap" "${out:0:300}"
	fi

	# A fork bomb of shells, under the default cap, while the host answers.
	BB=$(readlink -f /bin/busybox)
	timeout 6 "$MOAT" run -- "$BB" sh -c "bomb() { $BB sh -c true & bomb & wait; }; bomb" >/dev/null 2>&1 &
	BOMBPID=$!
	sleep 2
	MPID=$(pgrep -P $BOMBPID -x moat | head -1)
	peak=0 tasks=
	for g in /sys/fs/cgroup/pids/moat/"$MPID"-*/ /sys/fs/cgroup/moat/"$MPID"-*/; do
		[ -r "$g/pids.current" ] || continue
		n=$(cat "$g/pids.current"); [ "$n" -gt "$peak" ] && peak=$n
		tasks+=" $(cat "$g/cgroup.procs" | tr '\n' ' ')"
	done
	t0=$(date +%s%N); /bin/true; t1=$(date +%s%N)
	lat=$(( (t1 - t0) / 1000000 ))
	if [ "$peak" -le 1024 ]; then
		pass "a shell fork bomb stays within the cap (peak $peak tasks); host fork+exec took ${lat} ms"
	else
		fail "a shell fork bomb stays within the cap" "peak $peak tasks"
	fi
	wait $BOMBPID 2>/dev/null
	sleep 1
	left=0
	for t in $tasks; do kill -0 "$t" 2>/dev/null && left=$((left + 1)); done
	check_eq "nothing of the bomb is left after moat ends" "0" "$left"
	stale=$(ls -d /sys/fs/cgroup/*/moat/"$MPID"-* /sys/fs/cgroup/moat/"$MPID"-* 2>/dev/null | wc -l)
	check_eq "its cgroups are removed after moat is stopped with SIGTERM" "0" "$stale"
fi

# Descriptors: [Limits] files is the app's RLIMIT_NOFILE, in the LibOS's
# table as natively (same count as the program under a native limit).
manifest fds fds 'files = 64'
attack "descriptor bomb" 30 "$MOAT" run "$WORK/fds.ini"
native=$(python3 -c 'import os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)); os.closerange(3, 65536)
os.execv(sys.argv[1], sys.argv[1:])' "$BOMB" fds)
check_eq "descriptor bomb: EMFILE at [Limits] files, as natively" "$native" "$out"

# File size: RLIMIT_FSIZE, as natively (the program ignores SIGXFSZ).
manifest fsize 'disk /tmp/big' 'file_size = 3M'
out=$("$MOAT" run "$WORK/fsize.ini" 2>&1)
native=$(bash -c 'ulimit -f 3072; exec "$1" disk "$2"' _ "$BOMB" "$WORK/native-big" 2>&1)
check_eq "file_size: EFBIG at [Limits] file_size, as natively" "$native" "$out"

# CPU time: SIGXCPU ends it.
manifest cpu busy 'cpu_seconds = 1'
attack "busy loop with cpu_seconds = 1" 30 "$MOAT" run "$WORK/cpu.ini"
check_eq "cpu_seconds: SIGXCPU ends it (152)" "152" "$rc"
check_eq "cpu_seconds: the reason" "moat: bomb killed by signal 24 (CPU time limit exceeded)" "$err"

# Where no cgroup is writable: one warning, and RLIMIT_AS stops the memory bomb.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && [ -r "$BOMB" ]; then
	NOGROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
	cp "$BOMB" "$WORK/bomb" && chmod 755 "$WORK/bomb"
	BOMB=$WORK/bomb manifest mem-nobody memory 'memory = 64M'
	chmod 644 "$WORK/mem-nobody.ini"
	out=$(setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups "$MOAT" run "$WORK/mem-nobody.ini" 2>"$WORK/n.err")
	rc=$?
	check_eq "as nobody: one warning line about the unenforced limit" \
		"moat: warning: no writable cgroup or mount for [Limits] memory (RLIMIT_AS instead); running without (see docs/manifest.md)" \
		"$(cat "$WORK/n.err")"
	last=$(echo "$out" | tail -1)
	case $last in
	"bomb memory: "*" MiB, then: Cannot allocate memory") pass "as nobody: RLIMIT_AS stops the memory bomb ($last)" ;;
	*) fail "as nobody: RLIMIT_AS stops the memory bomb" "status $rc: $last" ;;
	esac
fi

# A monitor killed outright (SIGKILL: no cleanup of its own) takes its
# picoprocess with it: nothing goes on running unwatched.  (Its cgroup,
# which only the monitor removes, is cleaned up here.)
"$MOAT" run -- "$(readlink -f /bin/busybox)" sleep 30 >/dev/null 2>&1 &
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
# What only the monitor removes -- its scratch directory and cgroups --
# the next monitor sweeps, since their owner is gone.
left_before=$(ls -d "${TMPDIR:-/tmp}"/moat-scratch-"$MON"-* /sys/fs/cgroup/*/moat/"$MON"-* /sys/fs/cgroup/moat/"$MON"-* 2>/dev/null | wc -l)
"$MOAT" run -- "$(readlink -f /bin/busybox)" true
left_after=$(ls -d "${TMPDIR:-/tmp}"/moat-scratch-"$MON"-* /sys/fs/cgroup/*/moat/"$MON"-* /sys/fs/cgroup/moat/"$MON"-* 2>/dev/null | wc -l)
if [ "$left_before" -ge 1 ] && [ "$left_after" = 0 ]; then
	pass "the next moat removes what a killed monitor left ($left_before scratch and cgroup directories)"
else
	fail "the next moat removes what a killed monitor left" "before $left_before, after $left_after"
fi
