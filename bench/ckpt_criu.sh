#!/usr/bin/env bash
# bench/ckpt_criu.sh -- checkpoint and restore (issue 14): moat's figures
# beside CRIU's, the baseline, measured in the same run.
#
#   bench/ckpt_criu.sh [--runs N] [--smoke]
#
# Result lines go to stdout (bench/run.sh keeps them in RESULTS/ckpt.txt,
# bench/report.py renders them as section 10); progress goes to stderr.
# A result line is
#
#   TOOL METRIC WORKLOAD MEDIAN RUN1 RUN2 ...
#
#   criu   dump_ms        `criu dump -t PID -D DIR --shell-job` (wall ms)
#   criu   restore_ms     `criu restore -D DIR --shell-job -d --restore-sibling`
#                         (it returns once the process runs again: its
#                         "to first instruction")
#   criu   answer_ms      the restore started to the restored process's
#                         first answer (after the restore returns, "go" is
#                         written into its stdin FIFO and its answer awaited;
#                         redis: a client waiting for PONG all along)
#   criu   image_bytes    `du -sb DIR` of the dump (CRIU's log kept elsewhere)
#   moat   checkpoint_ms  `moat checkpoint NAME -o S.mpk` (wall ms)
#   moat   resume_first_ms `moat run S.mpk` started to the moment its
#                         monitor hears the resumed checkpointer's
#                         "snapshot:running" (everything restored; the
#                         jump into the app comes next): bench/resume_mark.c,
#                         an LD_PRELOAD shim on the moat command
#   moat   resume_ms      `moat run S.mpk` started to its first answer: its
#                         first output line (given "go" on stdin), or for
#                         redis the first PONG
#   moat   snapshot_bytes the size of S.mpk
#   moat   memory_bytes   the bytes of memory in the image, as `moat
#                         checkpoint` prints them (before compression)
#   native start_ms       the workload started natively to its first answer
#   moat   start_ms       ... started cold under `moat run` to its first answer
#
# and a line "TOOL: TEXT" says why a tool or a row was not measured (or
# which version was).  Times are medians of N runs (default 5; --smoke: 1).
#
# The workloads, each idle after printing "ready":
#   heap10m, heap256m  bench/ckpt_heap.c: 10 or 256 MiB malloc'ed and written
#   busybox            `busybox sh -c 'echo ready; read x; echo "got $x"'`
#   python             python3 with nothing of its own (idle python3)
#   python10m,         python3 holding a 10 or 256 MiB bytearray with every
#   python256m         page written (b"moat" repeated: no zero page)
#   pyimports          python3 after importing PY_MODULES (a start-up worth
#                      skipping: "start from a snapshot")
#   redis              Debian's redis-server holding 100000 keys (SET key:i
#                      val:i through `redis-cli --pipe`), idle in epoll_wait;
#                      its first answer is the PONG to a PING
# All but redis wait in a read of stdin, so that a resumed copy can be
# timed to its first output.  Under CRIU the stdin is a FIFO the process
# holds open read-write (CRIU restores it).  Under moat it is a FIFO this
# script holds open until the checkpoint; the resumed copy is given "go\n"
# and its answer ("pong N", "got go", "resumed ...") is its first output.
# A cold start's first line is "ready".  Start times include one fork of
# bash for every column alike.
#
# Environment: CRIU (default /work/criu/criu/criu, else `criu` in PATH),
# MOAT (default build/moat), BUSYBOX (/bin/busybox), PY (/usr/bin/python3),
# REDIS (/usr/bin/redis-server), CKPT_WORKLOADS (a subset of the workloads
# above, space-separated).  Without CRIU this prints "criu: not available
# (set CRIU=path)" and goes on with the rest; without `moat checkpoint` it
# measures moat's cold starts only; without redis-server or redis-cli it
# says "redis: not measured: ..." and goes on.  It exits 0 when a tool is
# missing, 1 when a measurement fails.  CRIU needs root.
#
# CRIU is not installed by `make bench`: build CRIU v4.2 from source
# (Debian's 3.17 fails on recent kernels); its build dependencies are
# CRIU_BUILD_PKGS in the Makefile (`make bench-criu-deps`).
set -eu
set -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MOAT=${MOAT:-$BUILD/moat}
BUSYBOX=${BUSYBOX:-/bin/busybox}
PY=${PY:-/usr/bin/python3}
REDIS=${REDIS:-/usr/bin/redis-server}
if [ -z "${CRIU:-}" ]; then
	CRIU=/work/criu/criu/criu
	[ -x "$CRIU" ] || CRIU=$(command -v criu || echo /work/criu/criu/criu)
fi
RUNS=5
TMO=120

while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=${2:?--runs needs a number}; shift ;;
	--smoke) RUNS=1 ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/ckpt_criu.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
case $RUNS in ''|*[!0-9]*|0) echo "bench/ckpt_criu.sh: --runs needs a positive number, not '$RUNS'" >&2; exit 2 ;; esac

# Messages go to ERR, our stderr: bash's own notes on the processes that
# criu dump kills ("Killed ...") are sent to /dev/null around the dumps.
exec {ERR}>&2
say() { printf '== %s\n' "$*" >&$ERR; }
die() { printf 'bench/ckpt_criu.sh: %s\n' "$*" >&$ERR; exit 1; }
abs() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
MOAT=$(abs "$MOAT") CRIU=$(abs "$CRIU") BUSYBOX=$(abs "$BUSYBOX") REDIS=$(abs "$REDIS")

# Clock readings in microseconds from $EPOCHREALTIME (bash 5; its decimal
# separator follows the locale), read without a fork: a $(...) around
# the clock would add a fork and a wait to every interval.
# stamp VAR: VAR = now.  ms_since VAR START_US: VAR = ms from START_US to
# now, 2 decimals.
stamp() { local t=$EPOCHREALTIME; printf -v "$1" '%s' "${t//[.,]/}"; }
ms_since() {
	local t=$EPOCHREALTIME
	local d=$((${t//[.,]/} - $2))
	printf -v "$1" '%d.%02d' $((d / 1000)) $((d % 1000 / 10))
}
# ms_between VAR START_US END_US: VAR = ms between two readings, 2 decimals.
ms_between() {
	local d=$(($3 - $2))
	[ $d -ge 0 ] || d=0
	printf -v "$1" '%d.%02d' $((d / 1000)) $((d % 1000 / 10))
}
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
emit() { # TOOL METRIC WORKLOAD VALUE...
	local tool=$1 metric=$2 wl=$3; shift 3
	local m
	m=$(median "$@")
	case $metric in *_bytes) m=$(printf '%.0f' "$m") ;; esac
	printf '%s %s %s %s %s\n' "$tool" "$metric" "$wl" "$m" "$*"
	say "$tool $metric $wl: median $m ($*)"
}

W=$(mktemp -d "${TMPDIR:-/tmp}/moat-ckpt.XXXXXX")
chmod 755 "$W" # moat's picoprocess runs as nobody on the host
mkdir -p "$W/logs"
# Our processes still running (not yet reaped): killed on any exit.
declare -A LIVE=()
cleanup() {
	local p
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the end"
	for p in "${!LIVE[@]}"; do
		if [ -e "/proc/$p" ]; then kill -KILL "$p" 2>/dev/null || true; fi
	done
	rm -rf "$W"
}
trap cleanup EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start, $(nproc) CPUs"

# gone PID SECONDS: wait until PID no longer exists (reaped, not a zombie).
# A restored tree is our child (--restore-sibling); bash reaps it while
# the sleeps run.
gone() {
	local end=$((SECONDS + $2))
	while [ -e "/proc/$1" ]; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.01
	done
}
# ready FILE PID: wait for the workload's "ready" line in FILE.
ready() {
	local end=$((SECONDS + 60))
	until grep -qx ready "$1" 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || die "the workload (pid $2) exited before 'ready': $(head -c 400 "$1")"
		[ $SECONDS -lt $end ] || die "the workload (pid $2) printed no 'ready' within 60 s"
		sleep 0.005
	done
}

HEAP=$W/ckpt_heap
gcc -static -O2 -Wall -Wextra -o "$HEAP" "$ROOT/bench/ckpt_heap.c" || die "cannot build bench/ckpt_heap.c"
chmod 755 "$HEAP"
# The first-instruction mark (an LD_PRELOAD shim on the moat command) and
# the redis client that waits for the first PONG.
MARK_SO=$W/resume_mark.so
gcc -shared -fPIC -O2 -Wall -Wextra -o "$MARK_SO" "$ROOT/bench/resume_mark.c" ||
	die "cannot build bench/resume_mark.c"
PING_WAIT=$W/ping_wait
gcc -O2 -Wall -Wextra -o "$PING_WAIT" "$ROOT/bench/ping_wait.c" || die "cannot build bench/ping_wait.c"
# A pause of about a millisecond without a fork: a read that times out on
# a FIFO nobody writes.
mkfifo "$W/nap"
exec {NAP}<>"$W/nap"
nap() { read -r -t 0.001 -u $NAP _ || true; }
# python3's heap: b"moat" repeated, so that every page is written and none
# is zero (a bytearray(N) of zeros would leave its pages untouched, and no
# checkpointer copies those).
py_prog() { # MIB
	printf 'import sys; b = bytearray(b"moat") * (%d << 18); print("ready", flush=True); sys.stdin.readline(); print("resumed", len(b), flush=True)' "$1"
}
# shellcheck disable=SC2016 # $x is the busybox shell's
SH_PROG='echo ready; read x; echo "got $x"'
# Start-up work an app might do before it serves: a set of stdlib modules.
PY_MODULES="json email.parser http.client argparse logging unittest urllib.request csv typing dataclasses asyncio tarfile inspect difflib fractions statistics ipaddress textwrap pydoc"
py_imports_prog() {
	printf 'import sys, %s; print("ready", flush=True); sys.stdin.readline(); print("resumed", len(sys.modules) > 100, flush=True)' \
		"$(echo $PY_MODULES | sed 's/ /, /g')"
}
read -ra WORKLOADS <<<"${CKPT_WORKLOADS:-heap10m heap256m busybox python python10m python256m pyimports redis}"
# redis-server and redis-cli are needed for the redis rows only.
redis_reason=
if [[ " ${WORKLOADS[*]} " == *" redis "* ]]; then
	if [ ! -x "$REDIS" ]; then
		redis_reason="no $REDIS (make bench-deps installs redis-server)"
	elif ! command -v redis-cli >/dev/null; then
		redis_reason="no redis-cli (make bench-deps installs redis-tools)"
	fi
	if [ -n "$redis_reason" ]; then
		echo "redis: not measured: $redis_reason"
		read -ra WORKLOADS <<<"$(printf '%s\n' "${WORKLOADS[@]}" | grep -vx redis | tr '\n' ' ')"
	else
		echo "redis: $("$REDIS" --version | awk '{ print $3 }')"
	fi
fi
REDIS_KEYS=100000
# The keys, once: SET key:i val:i for redis-cli --pipe.
"$PY" -c '
import sys
for i in range(int(sys.argv[1])): sys.stdout.write("SET key:%d val:%d\r\n" % (i, i))' $REDIS_KEYS >"$W/redis-keys.txt"
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# redis_fill PORT WHAT: load the keys into the redis-server on PORT, and
# check that it holds them.
redis_fill() {
	local n
	timeout 60 redis-cli -p "$1" --pipe <"$W/redis-keys.txt" >"$W/logs/redis-pipe.log" 2>&1 ||
		die "$2: redis-cli --pipe failed: $(tail -c 300 "$W/logs/redis-pipe.log")"
	n=$(timeout 10 redis-cli -p "$1" dbsize)
	[ "$n" = $REDIS_KEYS ] || die "$2: holds '$n' keys, not $REDIS_KEYS"
}
# redis_check_stop PORT PID WHAT: a (resumed) redis-server still holds
# every key and the last one's value, then stops (SHUTDOWN NOSAVE) and
# ends with status 0.
redis_check_stop() {
	local n v st=0
	n=$(timeout 10 redis-cli -p "$1" dbsize)
	v=$(timeout 10 redis-cli -p "$1" get key:$((REDIS_KEYS - 1)))
	[ "$n" = $REDIS_KEYS ] && [ "$v" = val:$((REDIS_KEYS - 1)) ] ||
		die "$3: holds '$n' keys (want $REDIS_KEYS), last value '$v'"
	timeout 10 redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true
	if [ -n "$2" ]; then
		wait "$2" || st=$?
		unset "LIVE[$2]"
		[ $st -eq 0 ] || die "$3: ended with status $st after SHUTDOWN NOSAVE"
	fi
}
# redis_args PORT DIR BIND: redis-server's own arguments.
redis_args() {
	RA=(--port "$1" --bind "$3" --daemonize no --dir "$2" --save '' --appendonly no
		--logfile "$2/redis.log")
}
# wl_cmd WORKLOAD: the workload's command line in WL (host paths).
wl_cmd() {
	case $1 in
	heap10m) WL=("$HEAP" 10) ;;
	heap256m) WL=("$HEAP" 256) ;;
	busybox) WL=("$BUSYBOX" sh -c "$SH_PROG") ;;
	python) WL=("$PY" -c "$(py_prog 0)") ;;
	python10m) WL=("$PY" -c "$(py_prog 10)") ;;
	python256m) WL=("$PY" -c "$(py_prog 256)") ;;
	pyimports) WL=("$PY" -c "$(py_imports_prog)") ;;
	esac
}
# What a resumed copy answers to "go" (a cold start answers "ready").
resumed_re() {
	case $1 in
	heap*) printf '%s' '^pong [0-9]+$' ;;
	busybox) printf '%s' '^got go$' ;;
	python) printf '%s' '^resumed 0$' ;;
	python10m) printf '%s' '^resumed 10485760$' ;;
	python256m) printf '%s' '^resumed 268435456$' ;;
	pyimports) printf '%s' '^resumed True$' ;;
	esac
}

ms='' line='' # first_line's results
# first_line OUT_VAR_MS OUT_VAR_LINE CMD...: start CMD with "go\n" on its
# stdin; milliseconds to its first line of output, and the line.  CMD must
# then exit 0.
first_line() {
	local -n _ms=$1 _line=$2
	shift 2
	local t0 pid fd st=0
	rm -f "$W/first.out"
	mkfifo "$W/first.out"
	stamp t0
	FIRST_T0=$t0
	printf 'go\n' | timeout $TMO "$@" >"$W/first.out" 2>"$W/first.err" {ERR}>&- &
	pid=$!
	LIVE[$pid]=1
	exec {fd}<"$W/first.out"
	_line=
	IFS= read -r -t $TMO -u $fd _line || true
	ms_since _ms "$t0"
	cat <&$fd >/dev/null
	exec {fd}<&-
	wait "$pid" || st=$?
	unset "LIVE[$pid]"
	[ $st -eq 0 ] || die "'$*' exited with status $st: $(head -c 400 "$W/first.err")"
	[ -n "$_line" ] || die "'$*' printed nothing: $(head -c 400 "$W/first.err")"
}

# --- CRIU ---
criu_reason=
if [ ! -x "$CRIU" ]; then
	echo "criu: not available (set CRIU=path)"
	criu_reason=missing
elif [ "$(id -u)" != 0 ]; then
	echo "criu: not run: CRIU needs root (uid $(id -u))"
	criu_reason=root
elif ! "$CRIU" check >"$W/logs/check.log" 2>&1; then
	echo "criu: not run: '$CRIU check' fails: $(grep -m1 Error "$W/logs/check.log" || tail -1 "$W/logs/check.log")"
	criu_reason=check
else
	echo "criu: $("$CRIU" --version | awk '/^Version:/ { print $2 }') ($CRIU)"
fi

# only_std_fds: close every descriptor above 2 of this (sub)shell.
only_std_fds() {
	local f n
	for f in /proc/$BASHPID/fd/*; do
		n=${f##*/}
		[ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null
	done
	return 0
}
# criu_failed WHAT LOG: CRIU itself failed on this machine (the baseline,
# not moat).  Say so in a "criu:" line with the log's last lines before
# its verdict, which the report shows in place of CRIU's figures; moat's
# own rows are measured all the same.
criu_failed() {
	local why
	why=$(grep -v -e 'Dumping FAILED' -e 'Restoring FAILED' "$2" | grep -E 'Error|Warn|rror' | tail -3 | tr '\n' '|')
	[ -n "$why" ] || why=$(tail -3 "$2" | tr '\n' '|')
	echo "criu: not measured: $1 failed on this machine: $why"
	say "criu: $1 failed: $why (the log: $2)"
}
# criu_answer START_US OUT RE: write "go" into the restored process's
# stdin FIFO and wait for its answer, a line matching RE, in OUT; ms =
# from START_US to the answer.
criu_answer() {
	local wfd end=$((SECONDS + 30)) lines
	exec {wfd}>"$W/criu-in" # the restored process holds it open: no wait
	printf 'go\n' >&$wfd
	exec {wfd}>&-
	while :; do
		mapfile -t lines <"$2"
		[ ${#lines[@]} -gt 1 ] && [[ ${lines[-1]} =~ $3 ]] && break
		if [ $SECONDS -ge $end ]; then
			echo "criu: not measured: the process CRIU restored gave no answer to 'go' within 30 s (its last line: '${lines[*]: -1}')"
			return 1
		fi
		nap
	done
	ms_since ms "$1"
}
criu_wl() { # WORKLOAD
	local wl=$1 i pid dir t0 st re
	local dump=() restore=() size=() answer=()
	[ "$wl" = redis ] && { criu_redis; return; }
	re=$(resumed_re "$wl")
	wl_cmd "$wl"
	rm -f "$W/criu-in"
	mkfifo "$W/criu-in"
	for ((i = 1; i <= RUNS; i++)); do
		dir=$W/criu-$wl-$i
		mkdir "$dir"
		# Only stdin, stdout and stderr: CRIU refuses to dump a process
		# holding a descriptor it cannot restore (a unix socket of the CI
		# runner's, say), and that would be the runner's doing, not CRIU's.
		(only_std_fds; exec "${WL[@]}") <>"$W/criu-in" >"$W/criu-$wl-$i.out" 2>"$W/criu-$wl-$i.err" &
		pid=$!
		LIVE[$pid]=1
		ready "$W/criu-$wl-$i.out" "$pid"
		st=0
		{
			stamp t0
			if ! timeout $TMO "$CRIU" dump -t "$pid" -D "$dir" --shell-job -o "$W/logs/dump-$wl-$i.log"; then
				criu_failed "criu dump $wl" "$W/logs/dump-$wl-$i.log"
				return 1
			fi
			ms_since ms "$t0"
			dump+=("$ms")
			wait "$pid" || st=$?
		} 2>/dev/null
		unset "LIVE[$pid]"
		[ $st -eq 137 ] || die "criu dump $wl: the dumped process ended with status $st, not by SIGKILL"
		size+=("$(du -sb "$dir" | cut -f1)")
		# The image is restored once, at once; the restored process is our
		# child (--restore-sibling), killed and reaped before the image is
		# removed.  Removing it before the next dump keeps its dirty pages
		# from piling up: five 256 MiB images waiting for writeback made
		# the later dumps 3-4 times slower than the first.
		stamp t0
		if ! timeout $TMO "$CRIU" restore -D "$dir" --shell-job -d --restore-sibling \
			-o "$W/logs/restore-$wl-$i.log"; then
			criu_failed "criu restore $wl" "$W/logs/restore-$wl-$i.log"
			return 1
		fi
		ms_since ms "$t0"
		restore+=("$ms")
		LIVE[$pid]=1
		if [ ! -e "/proc/$pid" ] || [ "$(awk '{ print $3 }' "/proc/$pid/stat")" = Z ]; then
			die "criu restore $wl: no process $pid after the restore"
		fi
		criu_answer "$t0" "$W/criu-$wl-$i.out" "$re" || return 1
		answer+=("$ms")
		kill -KILL "$pid" 2>/dev/null || true
		gone "$pid" 10 || die "criu restore $wl: the restored process $pid does not go away"
		unset "LIVE[$pid]"
		rm -rf "$dir"
	done
	emit criu dump_ms "$wl" "${dump[@]}"
	emit criu restore_ms "$wl" "${restore[@]}"
	emit criu answer_ms "$wl" "${answer[@]}"
	emit criu image_bytes "$wl" "${size[@]}"
	rm -f "$W"/criu-"$wl"-*.out "$W"/criu-"$wl"-*.err
}
# CRIU and redis-server with its keys: dumped natively, restored, timed
# to the first PONG of a client that waits from before the restore.
criu_redis() {
	local i pid dir t0 st port d pw t
	local dump=() restore=() size=() answer=()
	for ((i = 1; i <= RUNS; i++)); do
		dir=$W/criu-redis-$i
		d=$W/criu-redis-data-$i
		mkdir -p "$dir" "$d"
		port=$(free_port)
		redis_args "$port" "$d" 127.0.0.1
		(only_std_fds; exec "$REDIS" "${RA[@]}") </dev/null >"$d/out" 2>&1 &
		pid=$!
		LIVE[$pid]=1
		timeout 30 "$PING_WAIT" "$port" 20 >/dev/null || die "criu redis: no PONG from the native redis-server: $(tail -c 300 "$d/out")"
		redis_fill "$port" "criu redis"
		st=0
		{
			stamp t0
			if ! timeout $TMO "$CRIU" dump -t "$pid" -D "$dir" --shell-job -o "$W/logs/dump-redis-$i.log"; then
				criu_failed "criu dump redis" "$W/logs/dump-redis-$i.log"
				return 1
			fi
			ms_since ms "$t0"
			dump+=("$ms")
			wait "$pid" || st=$?
		} 2>/dev/null
		unset "LIVE[$pid]"
		[ $st -eq 137 ] || die "criu dump redis: the dumped process ended with status $st, not by SIGKILL"
		size+=("$(du -sb "$dir" | cut -f1)")
		"$PING_WAIT" "$port" 60 >"$W/pong" 2>"$W/pong.err" &
		pw=$!
		stamp t0
		if ! timeout $TMO "$CRIU" restore -D "$dir" --shell-job -d --restore-sibling \
			-o "$W/logs/restore-redis-$i.log"; then
			kill "$pw" 2>/dev/null
			criu_failed "criu restore redis" "$W/logs/restore-redis-$i.log"
			return 1
		fi
		ms_since ms "$t0"
		restore+=("$ms")
		LIVE[$pid]=1
		if ! wait "$pw"; then
			echo "criu: not measured: the redis-server CRIU restored did not answer PING: $(cat "$W/pong.err")"
			return 1
		fi
		t=$(cat "$W/pong")
		ms_between ms "$t0" "$t"
		answer+=("$ms")
		redis_check_stop "$port" "" "criu restore redis"
		gone "$pid" 10 || die "criu restore redis: the restored redis-server $pid does not go away"
		unset "LIVE[$pid]"
		rm -rf "$dir" "$d"
	done
	emit criu dump_ms redis "${dump[@]}"
	emit criu restore_ms redis "${restore[@]}"
	emit criu answer_ms redis "${answer[@]}"
	emit criu image_bytes redis "${size[@]}"
}
if [ -z "$criu_reason" ]; then
	for wl in "${WORKLOADS[@]}"; do
		say "criu: $wl, $RUNS dumps and restores"
		criu_wl "$wl" || { criu_reason=failed; break; }
	done
fi

# --- moat ---
if [ ! -x "$MOAT" ]; then
	echo "moat: not available: no $MOAT (run 'make all')"
	exit 0
fi
# python3 under moat runs from packages, as in bench/run.sh (3b):
# base.mpk (libc, ld.so) <- python3.mpk <- py10m.mpk, py256m.mpk (the
# workloads).
PKG=$W/pkgs
mkdir -p "$PKG/empty"
PY_STDLIB=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
PY_VER=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$MOAT" pack --from-host "$(ldd "$PY" | awk '/libc\.so/ { print $3 }')" --name base --version 1.0 \
	-o "$PKG/base.mpk" >"$W/logs/pack.log" 2>&1 &&
"$MOAT" pack --from-host "$PY" --add "$PY_STDLIB" --name python3 --version "$PY_VER" \
	--depends 'base >=1' --pkg-path "$PKG" -o "$PKG/python3.mpk" >>"$W/logs/pack.log" 2>&1 &&
for mib in 0 10 256; do
	printf '[Identity]\nname = py%dm\nversion = 1.0\n[Dependency.python3]\nversion = >=3\n[Application]\nentry = file://%s\narguments = -c %s\n' \
		"$mib" "$PY" "'$(py_prog $mib)'" >"$PKG/py${mib}m.ini" &&
	"$MOAT" pack "$PKG/empty" -m "$PKG/py${mib}m.ini" -o "$PKG/py${mib}m.mpk" >>"$W/logs/pack.log" 2>&1 || break
done &&
printf '[Identity]\nname = pyimports\nversion = 1.0\n[Dependency.python3]\nversion = >=3\n[Application]\nentry = file://%s\narguments = -c %s\n' \
	"$PY" "'$(py_imports_prog)'" >"$PKG/pyimports.ini" &&
"$MOAT" pack "$PKG/empty" -m "$PKG/pyimports.ini" -o "$PKG/pyimports.mpk" >>"$W/logs/pack.log" 2>&1 &&
[ -f "$PKG/py256m.mpk" ] ||
	die "packing python3 for moat failed: $(tail -c 400 "$W/logs/pack.log")"
chmod -R a+rX "$PKG"
# moat_cmd WORKLOAD: `moat run` of the workload in WL, without --name.
moat_cmd() {
	case $1 in
	python) WL=("$MOAT" run --pkg-path "$PKG" "$PKG/py0m.mpk") ;;
	python10m) WL=("$MOAT" run --pkg-path "$PKG" "$PKG/py10m.mpk") ;;
	python256m) WL=("$MOAT" run --pkg-path "$PKG" "$PKG/py256m.mpk") ;;
	pyimports) WL=("$MOAT" run --pkg-path "$PKG" "$PKG/pyimports.mpk") ;;
	*) wl_cmd "$1"; WL=("$MOAT" run -- "${WL[@]}") ;;
	esac
}
# moat_resume_cmd WORKLOAD SNAP: what resumes a snapshot (the grants it
# requests -- the program's own path for `moat run -- PROG` -- are
# accepted again at resume; the packages' folder for python3).
moat_resume_cmd() {
	case $1 in
	python*|pyimports) WL=("$MOAT" run --accept-grants --pkg-path "$PKG" "$2") ;;
	*) WL=("$MOAT" run --accept-grants "$2") ;;
	esac
}

# What runs redis-server under moat: the host's system directories read-
# only, its data directory, port 6379 inside granted as PORT on the host.
MOAT_SYS=()
for d in /usr /lib /lib64 /bin /etc; do
	[ -e "$d" ] && MOAT_SYS+=(--ro "$d")
done
redis_moat_cmd() { # PORT DIR
	redis_args 6379 /data 0.0.0.0
	WL=("$MOAT" run "${MOAT_SYS[@]}" --rw "$2:/data" --cwd /data
		--net "tcp.server://0.0.0.0:6379=tcp.server://127.0.0.1:$1" -- "$REDIS" "${RA[@]}")
}
# redis_start OUT_VAR_MS MOAT|NATIVE: a cold start of redis-server to its
# first PONG, then stopped; ms in OUT_VAR_MS.
redis_start() {
	local -n _rms=$1
	local port d pw pid t0 t
	port=$(free_port)
	d=$(mktemp -d "$W/redis-cold.XXXXXX")
	chmod 777 "$d" # moat's picoprocess runs as nobody
	if [ "$2" = moat ]; then
		redis_moat_cmd "$port" "$d"
	else
		redis_args "$port" "$d" 127.0.0.1
		WL=("$REDIS" "${RA[@]}")
	fi
	"$PING_WAIT" "$port" 60 >"$W/pong" 2>"$W/pong.err" &
	pw=$!
	stamp t0
	timeout $TMO "${WL[@]}" </dev/null >"$d/out" 2>&1 {ERR}>&- &
	pid=$!
	LIVE[$pid]=1
	wait "$pw" || die "redis-server ($2): $(cat "$W/pong.err"): $(tail -c 300 "$d/out")"
	t=$(cat "$W/pong")
	ms_between _rms "$t0" "$t"
	timeout 10 redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	local st=0
	wait "$pid" || st=$?
	unset "LIVE[$pid]"
	[ $st -eq 0 ] || die "redis-server ($2): ended with status $st after SHUTDOWN NOSAVE: $(tail -c 300 "$d/out")"
	rm -rf "$d"
}

# Cold starts to the first answer, natively and under moat, in the same run.
for wl in "${WORKLOADS[@]}"; do
	nat=() cold=()
	if [ "$wl" = redis ]; then
		for ((i = 1; i <= RUNS; i++)); do
			redis_start ms native
			nat+=("$ms")
			redis_start ms moat
			cold+=("$ms")
		done
		emit native start_ms "$wl" "${nat[@]}"
		emit moat start_ms "$wl" "${cold[@]}"
		continue
	fi
	for ((i = 1; i <= RUNS; i++)); do
		wl_cmd "$wl"
		first_line ms line "${WL[@]}"
		[ "$line" = ready ] || die "$wl natively: first line '$line', not 'ready'"
		nat+=("$ms")
		moat_cmd "$wl"
		first_line ms line "${WL[@]}"
		[ "$line" = ready ] || die "$wl in moat: first line '$line', not 'ready'"
		cold+=("$ms")
	done
	emit native start_ms "$wl" "${nat[@]}"
	emit moat start_ms "$wl" "${cold[@]}"
done

if ! "$MOAT" checkpoint --help >/dev/null 2>&1 &&
   ! "$MOAT" --help 2>&1 | grep -q 'moat checkpoint'; then
	echo "moat: no 'moat checkpoint' in $MOAT yet: its checkpoint rows are empty"
	exit 0
fi
echo "moat: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') ($MOAT)"

# mark_ms OUT_VAR START_US: ms from START_US to the first-instruction mark
# the shim wrote into $W/mark.
mark_ms() {
	local -n _mms=$1
	local t
	t=$(head -1 "$W/mark" 2>/dev/null || true)
	[ -n "$t" ] || die "no first-instruction mark: bench/resume_mark.c's shim saw no 'snapshot:running'"
	ms_between _mms "$2" "$t"
}
# ckpt_mem LOG: the bytes of memory `moat checkpoint` reports.
ckpt_mem() {
	sed -nE 's/.*\(([0-9]+) bytes of memory.*/\1/p' "$1" | tail -1
}
# A `moat checkpoint` that fails leaves the app running (verdict C): the
# try is ended, counted, and another made, up to RUNS failed tries for a
# workload; then its rows are "not measured" with the reason.  Either
# way a line "moat: WORKLOAD: ..." says how many tries failed and why.
# ckpt_failed WORKLOAD PID LOG: the try that failed; returns 1 when the
# workload is given up.
FAILS=0 FAIL_WHY=
ckpt_failed() {
	local st=0
	FAILS=$((FAILS + 1))
	FAIL_WHY=$(grep '^moat: ' "$3" | tail -1)
	[ -n "$FAIL_WHY" ] || FAIL_WHY=$(tail -c 300 "$3" | tr '\n' ' ')
	say "moat checkpoint $1 failed (try $((${#CK_DONE[@]} + FAILS))): $FAIL_WHY"
	kill -TERM "$2" 2>/dev/null || true
	wait "$2" 2>/dev/null || st=$?
	unset "LIVE[$2]"
	if [ $FAILS -ge $RUNS ]; then
		echo "moat: $1: not measured: \`moat checkpoint\` failed in $FAILS of $((FAILS + ${#CK_DONE[@]})) tries: $FAIL_WHY"
		return 1
	fi
}
ckpt_fail_note() { # WORKLOAD
	[ $FAILS -eq 0 ] ||
		echo "moat: $1: \`moat checkpoint\` failed in $FAILS of $((FAILS + RUNS)) tries (left out; the figures are the other $RUNS): $FAIL_WHY"
}
moat_redis() {
	local i pid name snap t0 st port d pw t
	local ck=() first=() res=() size=() mem=()
	local -n CK_DONE=ck
	FAILS=0 FAIL_WHY=
	for ((i = 1; i <= RUNS; i++)); do
		name=ckbench-redis-$i-$$
		snap=$W/snap-redis-$i.mpk
		port=$(free_port)
		d=$W/moat-redis-$i
		mkdir -p "$d"
		chmod 777 "$d"
		redis_moat_cmd "$port" "$d"
		timeout $TMO "${WL[0]}" "${WL[1]}" --name "$name" "${WL[@]:2}" \
			</dev/null >"$d/out" 2>&1 {ERR}>&- &
		pid=$!
		LIVE[$pid]=1
		timeout 30 "$PING_WAIT" "$port" 20 >/dev/null ||
			die "moat redis: no PONG from redis-server in moat: $(tail -c 300 "$d/out")"
		redis_fill "$port" "moat redis"
		stamp t0
		if ! timeout $TMO "$MOAT" checkpoint "$name" -o "$snap" >"$W/logs/ckpt-redis-$i.log" 2>&1; then
			ckpt_failed redis "$pid" "$W/logs/ckpt-redis-$i.log" || return 0
			rm -rf "$snap" "$d"
			i=$((i - 1))
			continue
		fi
		ms_since ms "$t0"
		ck+=("$ms")
		mem+=("$(ckpt_mem "$W/logs/ckpt-redis-$i.log")")
		st=0
		wait "$pid" || st=$?
		unset "LIVE[$pid]"
		[ $st -eq 0 ] || die "moat checkpoint redis: the checkpointed moat run exited with status $st: $(tail -c 400 "$d/out")"
		size+=("$(stat -c %s "$snap")")
		rm -f "$W/mark"
		"$PING_WAIT" "$port" 60 >"$W/pong" 2>"$W/pong.err" &
		pw=$!
		stamp t0
		LD_PRELOAD=$MARK_SO MOAT_BENCH_MARK=$W/mark timeout $TMO "$MOAT" run --accept-grants "$snap" \
			</dev/null >"$d/out2" 2>&1 {ERR}>&- &
		pid=$!
		LIVE[$pid]=1
		wait "$pw" || die "moat run $snap: $(cat "$W/pong.err"): $(tail -c 300 "$d/out2")"
		t=$(cat "$W/pong")
		ms_between ms "$t0" "$t"
		res+=("$ms")
		mark_ms ms "$t0"
		first+=("$ms")
		redis_check_stop "$port" "$pid" "moat run $snap (resumed redis-server)"
		rm -rf "$snap" "$d"
	done
	ckpt_fail_note redis
	emit moat checkpoint_ms redis "${ck[@]}"
	emit moat resume_first_ms redis "${first[@]}"
	emit moat resume_ms redis "${res[@]}"
	emit moat snapshot_bytes redis "${size[@]}"
	emit moat memory_bytes redis "${mem[@]}"
}
moat_wl() { # WORKLOAD
	local wl=$1 i pid name snap t0 st fd re
	local ck=() first=() res=() size=() mem=()
	[ "$wl" = redis ] && { moat_redis; return; }
	local -n CK_DONE=ck
	FAILS=0 FAIL_WHY=
	re=$(resumed_re "$wl")
	for ((i = 1; i <= RUNS; i++)); do
		name=ckbench-$wl-$i-$$
		snap=$W/snap-$wl-$i.mpk
		rm -f "$W/moat-in"
		mkfifo "$W/moat-in"
		exec {fd}<>"$W/moat-in" # no input until the checkpoint, and no EOF
		moat_cmd "$wl"
		timeout $TMO "${WL[0]}" "${WL[1]}" --name "$name" "${WL[@]:2}" \
			<"$W/moat-in" >"$W/moat-$wl-$i.out" 2>"$W/moat-$wl-$i.err" {ERR}>&- {fd}>&- &
		pid=$!
		LIVE[$pid]=1
		ready "$W/moat-$wl-$i.out" "$pid"
		stamp t0
		if ! timeout $TMO "$MOAT" checkpoint "$name" -o "$snap" >"$W/logs/ckpt-$wl-$i.log" 2>&1; then
			exec {fd}>&-
			ckpt_failed "$wl" "$pid" "$W/logs/ckpt-$wl-$i.log" || return 0
			rm -f "$snap"
			i=$((i - 1))
			continue
		fi
		ms_since ms "$t0"
		ck+=("$ms")
		mem+=("$(ckpt_mem "$W/logs/ckpt-$wl-$i.log")")
		# Without --leave-running the picoprocess ends once the snapshot is written.
		st=0
		wait "$pid" || st=$?
		unset "LIVE[$pid]"
		exec {fd}>&-
		[ $st -eq 0 ] || die "moat checkpoint $wl: the checkpointed moat run exited with status $st: $(tail -c 400 "$W/moat-$wl-$i.err")"
		[ -s "$snap" ] || die "moat checkpoint $wl: no $snap"
		size+=("$(stat -c %s "$snap")")
		moat_resume_cmd "$wl" "$snap"
		rm -f "$W/mark"
		LD_PRELOAD=$MARK_SO MOAT_BENCH_MARK=$W/mark first_line ms line "${WL[@]}"
		[[ $line =~ $re ]] || die "moat run $snap: first line '$line', not a resumed $wl's answer"
		res+=("$ms")
		mark_ms ms "$FIRST_T0"
		first+=("$ms")
		rm -f "$snap"
	done
	ckpt_fail_note "$wl"
	emit moat checkpoint_ms "$wl" "${ck[@]}"
	emit moat resume_first_ms "$wl" "${first[@]}"
	emit moat resume_ms "$wl" "${res[@]}"
	emit moat snapshot_bytes "$wl" "${size[@]}"
	emit moat memory_bytes "$wl" "${mem[@]}"
}
for wl in "${WORKLOADS[@]}"; do
	say "moat: $wl, $RUNS checkpoints and resumes"
	moat_wl "$wl"
done
