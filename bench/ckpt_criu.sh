#!/usr/bin/env bash
# bench/ckpt_criu.sh -- checkpoint and restore: CRIU's figures, the baseline
# for moat's (issue 14), and moat's own once `moat checkpoint` exists.
#
#   bench/ckpt_criu.sh [--runs N] [--smoke]
#
# Result lines go to stdout (bench/run.sh keeps them in RESULTS/ckpt.txt,
# bench/report.py renders them as "Checkpoint and restore"); progress goes
# to stderr.  A result line is
#
#   TOOL METRIC WORKLOAD MEDIAN RUN1 RUN2 ...
#
#   criu   dump_ms        `criu dump -t PID -D DIR --shell-job` (wall ms)
#   criu   restore_ms     `criu restore -D DIR --shell-job -d --restore-sibling`
#   criu   image_bytes    `du -sb DIR` of the dump (CRIU's log kept elsewhere)
#   moat   checkpoint_ms  `moat checkpoint NAME -o S.mpk` (wall ms)
#   moat   resume_ms      `moat run S.mpk` started to its first output line
#   moat   snapshot_bytes the size of S.mpk
#   native start_ms       the workload started natively to its first line
#   moat   start_ms       ... started cold under `moat run` to its first line
#
# and a line "TOOL: TEXT" says why a tool was not measured (or which
# version was).  Times are medians of N runs (default 5; --smoke: 1).
#
# The workloads, each idle in a read of its stdin after printing "ready":
#   heap10m, heap256m  bench/ckpt_heap.c: 10 or 256 MiB malloc'ed and written
#   busybox            `busybox sh -c 'echo ready; read x; echo "got $x"'`
#   python10m,         python3 with a 10 or 256 MiB bytearray (the issue's
#   python256m         program
#   pyimports          python3 after importing PY_MODULES (a start-up worth
#                      skipping: "start from a snapshot")
#                      with a read of stdin for its sleep, so that a resumed
#                      copy can be timed to its first output)
# Under CRIU the stdin is a FIFO the process holds open read-write (CRIU
# restores it; nothing ever arrives).  Under moat it is a FIFO this script
# holds open until the checkpoint; the resumed copy is given "go\n" and
# its answer ("pong N", "got go", "resumed ...") is its first output.  A
# cold start's first line is "ready".  Start times include one fork of
# bash for every column alike.
#
# Environment: CRIU (default /work/criu/criu/criu, else `criu` in PATH),
# MOAT (default build/moat), BUSYBOX (/bin/busybox), PY (/usr/bin/python3),
# CKPT_WORKLOADS (a subset of the workloads below, space-separated).
# Without CRIU this prints "criu: not available (set CRIU=path)" and goes
# on with the rest; without `moat checkpoint` it measures moat's cold
# starts only.  It exits 0 when a tool is missing, 1 when a measurement
# fails.  CRIU needs root.
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
MOAT=$(abs "$MOAT") CRIU=$(abs "$CRIU") BUSYBOX=$(abs "$BUSYBOX")

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
py_prog() { # MIB
	printf 'import sys; b = bytearray(%d << 20); print("ready", flush=True); sys.stdin.readline(); print("resumed", len(b), flush=True)' "$1"
}
# shellcheck disable=SC2016 # $x is the busybox shell's
SH_PROG='echo ready; read x; echo "got $x"'
# Start-up work an app might do before it serves: a set of stdlib modules.
PY_MODULES="json email.parser http.client argparse logging unittest urllib.request csv typing dataclasses asyncio tarfile inspect difflib fractions statistics ipaddress textwrap pydoc"
py_imports_prog() {
	printf 'import sys, %s; print("ready", flush=True); sys.stdin.readline(); print("resumed", len(sys.modules) > 100, flush=True)' \
		"$(echo $PY_MODULES | sed 's/ /, /g')"
}
read -ra WORKLOADS <<<"${CKPT_WORKLOADS:-heap10m heap256m busybox python10m python256m pyimports}"
# wl_cmd WORKLOAD: the workload's command line in WL (host paths).
wl_cmd() {
	case $1 in
	heap10m) WL=("$HEAP" 10) ;;
	heap256m) WL=("$HEAP" 256) ;;
	busybox) WL=("$BUSYBOX" sh -c "$SH_PROG") ;;
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
criu_wl() { # WORKLOAD
	local wl=$1 i pid dir t0 st
	local dump=() restore=() size=()
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
		kill -KILL "$pid"
		gone "$pid" 10 || die "criu restore $wl: the restored process $pid does not go away"
		unset "LIVE[$pid]"
		rm -rf "$dir"
	done
	emit criu dump_ms "$wl" "${dump[@]}"
	emit criu restore_ms "$wl" "${restore[@]}"
	emit criu image_bytes "$wl" "${size[@]}"
	rm -f "$W"/criu-"$wl"-*.out "$W"/criu-"$wl"-*.err
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
for mib in 10 256; do
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

# Cold starts to the first line, natively and under moat, in the same run.
for wl in "${WORKLOADS[@]}"; do
	nat=() cold=()
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

moat_wl() { # WORKLOAD
	local wl=$1 i pid name snap t0 st fd re
	local ck=() res=() size=()
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
		timeout $TMO "$MOAT" checkpoint "$name" -o "$snap" >"$W/logs/ckpt-$wl-$i.log" 2>&1 ||
			die "moat checkpoint $wl failed: $(tail -c 400 "$W/logs/ckpt-$wl-$i.log")"
		ms_since ms "$t0"
		ck+=("$ms")
		# Without --leave-running the picoprocess ends once the snapshot is written.
		st=0
		wait "$pid" || st=$?
		unset "LIVE[$pid]"
		exec {fd}>&-
		[ $st -eq 0 ] || die "moat checkpoint $wl: the checkpointed moat run exited with status $st: $(tail -c 400 "$W/moat-$wl-$i.err")"
		[ -s "$snap" ] || die "moat checkpoint $wl: no $snap"
		size+=("$(stat -c %s "$snap")")
		moat_resume_cmd "$wl" "$snap"
		first_line ms line "${WL[@]}"
		[[ $line =~ $re ]] || die "moat run $snap: first line '$line', not a resumed $wl's answer"
		res+=("$ms")
		rm -f "$snap"
	done
	emit moat checkpoint_ms "$wl" "${ck[@]}"
	emit moat resume_ms "$wl" "${res[@]}"
	emit moat snapshot_bytes "$wl" "${size[@]}"
}
for wl in "${WORKLOADS[@]}"; do
	say "moat: $wl, $RUNS checkpoints and resumes"
	moat_wl "$wl"
done
