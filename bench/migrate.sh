#!/usr/bin/env bash
# bench/migrate.sh -- live migration on this machine (issue 14): `moat
# migrate NAME --to unix:PATH` of bench/mig_dirty.c holding MIB (256) MiB
# that it dirties at RATE (10) MB/s, to a `moat receive --listen
# unix:PATH` on the same host.
#
#   bench/migrate.sh [--runs N] [--smoke] [--mib MIB] [--rate MB_S] [--trace]
#
# Result lines go to stdout (bench/run.sh keeps them in RESULTS/mig.txt,
# bench/report.py renders them in section 10), in bench/ckpt_criu.sh's
# form "TOOL METRIC WORKLOAD MEDIAN RUN1 RUN2 ...", WORKLOAD dirtyMIBm:
#
#   moat mig_total_ms      the total migrate prints (hello to the target's
#                          "running")
#   moat mig_downtime_ms   the downtime migrate prints (its PAUSE request to
#                          the target's "running")
#   moat mig_gap_ms        the largest step between two of the app's stamps
#                          (one a millisecond while it runs): the time the
#                          app itself saw no progress
#   moat mig_rounds        pre-copy rounds
#   moat mig_precopy_bytes bytes sent by the rounds while the app ran
#   moat mig_final_bytes   bytes of the final image (while it was stopped)
#
# and "migrate: TEXT" lines (what was measured, or why not).  Each run
# also checks the move: migrate exits 0, the source ends with status 0,
# the app's counter goes on across the move with no gap and no repeat,
# and the moved app ends with "heap ok" (its whole heap checked) and
# status 0.  Medians of N runs (default 3; --smoke: 1).  Progress goes to
# stderr; --trace adds where each run's downtime went (MOAT_MIG_TRACE).
# Environment: MOAT (default build/moat).
set -eu
set -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MOAT=${MOAT:-$BUILD/moat}
RUNS=3 MIB=256 RATE=10 TRACE=0
TMO=120

while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=${2:?--runs needs a number}; shift ;;
	--smoke) RUNS=1 ;;
	--trace) TRACE=1 ;;
	--mib) MIB=${2:?--mib needs a number}; shift ;;
	--rate) RATE=${2:?--rate needs a number}; shift ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/migrate.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
for v in "$RUNS" "$MIB" "$RATE"; do
	case $v in ''|*[!0-9]*|0) echo "bench/migrate.sh: --runs, --mib and --rate need positive whole numbers, not '$v'" >&2; exit 2 ;; esac
done

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/migrate.sh: %s\n' "$*" >&2; exit 1; }
case $MOAT in /*) ;; *) MOAT=$PWD/$MOAT ;; esac
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
		END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
emit() { # METRIC VALUE...
	local metric=$1 m
	shift
	m=$(median "$@")
	case $metric in *_bytes|*_rounds) m=$(printf '%.0f' "$m") ;; esac
	printf 'moat %s %s %s %s\n' "$metric" "$WLN" "$m" "$*"
	say "moat $metric $WLN: median $m ($*)"
}

if [ ! -x "$MOAT" ]; then
	echo "migrate: not measured: no $MOAT (run 'make all')"
	exit 0
fi
if ! "$MOAT" migrate --help 2>&1 | grep -q 'migrate'; then
	echo "migrate: not measured: no 'moat migrate' in $MOAT"
	exit 0
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/moat-mig.XXXXXX")
chmod 755 "$W" # moat's picoprocess runs as nobody on the host
declare -A LIVE=()
cleanup() {
	local p
	for p in "${!LIVE[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT
[ -z "${MIG_KEEP:-}" ] || trap - EXIT

MD=$W/mig_dirty
gcc -static -O2 -Wall -Wextra -o "$MD" "$ROOT/bench/mig_dirty.c" || die "cannot build bench/mig_dirty.c"
chmod 755 "$MD"
WLN=dirty${MIB}m
# The app runs for APP_S seconds of its own clock (which stops while it
# is stopped): long enough for the move under load, with time after it.
APP_S=$((MIB / 64 + 4))
echo "migrate: bench/mig_dirty.c, $MIB MiB dirtied at $RATE MB/s, $APP_S s; moat $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); a unix socket on this machine; load $(cut -d' ' -f1-3 /proc/loadavg) at the start"

# wait_for FILE PATTERN PID WHAT: until a line of FILE matches PATTERN.
wait_for() {
	local end=$((SECONDS + 60))
	until grep -qE "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || die "$4 ended early: $(tail -c 300 "$1")"
		[ $SECONDS -lt $end ] || die "$4: nothing matching '$2' in $1 within 60 s"
		sleep 0.02
	done
}

total=() down=() gap=() rounds=() pre=() fin=()
for ((i = 1; i <= RUNS; i++)); do
	name=migbench-$i-$$
	sock=$W/r$i.sock
	say "migrate: run $i/$RUNS, $MIB MiB at $RATE MB/s"
	timeout $TMO "$MOAT" run --name "$name" --ro "$MD" -- "$MD" "$MIB" "$RATE" "$APP_S" \
		</dev/null >"$W/src$i.out" 2>"$W/src$i.err" &
	src=$!
	LIVE[$src]=1
	wait_for "$W/src$i.out" '^ready$' $src "the source (moat run of mig_dirty)"
	MOAT_MIG_TRACE=$TRACE timeout $TMO "$MOAT" receive --listen "unix:$sock" --ro "$MD" \
		</dev/null >"$W/dst$i.out" 2>"$W/dst$i.err" &
	dst=$!
	LIVE[$dst]=1
	wait_for "$W/dst$i.err" '^moat: receive: listening' $dst "moat receive"
	# Half a second of dirtying first: the rounds meet a running writer.
	wait_for "$W/src$i.out" '^[0-9]+ 300$' $src "the source"
	st=0
	MOAT_MIG_TRACE=$TRACE timeout $TMO "$MOAT" migrate "$name" --to "unix:$sock" >"$W/m$i.out" 2>"$W/m$i.err" || st=$?
	[ $st -eq 0 ] || die "moat migrate exited with status $st: $(tail -c 400 "$W/m$i.err")"
	line=$(grep -E "^moat: migrate: $name: running at " "$W/m$i.err" || true)
	[ -n "$line" ] || die "moat migrate printed no summary line: $(tail -c 400 "$W/m$i.err")"
	re='([0-9]+) rounds, ([0-9]+) bytes pre-copied, ([0-9]+) bytes final, downtime ([0-9]+) ms, total ([0-9]+) ms$'
	[[ $line =~ $re ]] || die "moat migrate's summary line does not parse: $line"
	rounds+=("${BASH_REMATCH[1]}") pre+=("${BASH_REMATCH[2]}") fin+=("${BASH_REMATCH[3]}")
	down+=("${BASH_REMATCH[4]}") total+=("${BASH_REMATCH[5]}")
	st=0
	wait $src || st=$?
	unset "LIVE[$src]"
	[ $st -eq 0 ] || die "the source moat run ended with status $st: $(tail -c 300 "$W/src$i.err")"
	st=0
	wait $dst || st=$?
	unset "LIVE[$dst]"
	[ $st -eq 0 ] || die "moat receive (the moved app) ended with status $st: $(tail -c 300 "$W/dst$i.err") $(tail -n 2 "$W/dst$i.out")"
	[ "$(tail -n 1 "$W/dst$i.out")" = "heap ok" ] ||
		die "the moved app's last line is '$(tail -n 1 "$W/dst$i.out")', not 'heap ok'"
	# The stamps: the counter goes on by one across both outputs; the
	# largest step of the clock between two stamps is the gap the app saw.
	g=$(cat "$W/src$i.out" "$W/dst$i.out" | awk '
		/^[0-9]+ [0-9]+$/ {
			if (n++ && $2 != pn + 1) { bad = bad " " pn "->" $2 }
			if (n > 1 && $1 - pt > max) max = $1 - pt
			pt = $1; pn = $2
		}
		END { if (bad != "") print "BAD" bad; else printf "%.2f\n", max / 1000 }')
	case $g in BAD*) die "the app's counter skips or repeats across the move:${g#BAD}" ;; esac
	[ "$(grep -c '^[0-9]* [0-9]*$' "$W/dst$i.out")" -gt 0 ] || die "the moved app printed no stamp"
	gap+=("$g")
	say "  ${line#moat: migrate: $name: }; the app saw a gap of $g ms"
	[ "$TRACE" = 0 ] || sed -n 's/^moat: \(migrate\|receive\): trace: /    \1: /p' "$W/m$i.err" "$W/dst$i.err" >&2
	rm -f "$W/src$i.out" "$W/dst$i.out"
done
emit mig_total_ms "${total[@]}"
emit mig_downtime_ms "${down[@]}"
emit mig_gap_ms "${gap[@]}"
emit mig_rounds "${rounds[@]}"
emit mig_precopy_bytes "${pre[@]}"
emit mig_final_bytes "${fin[@]}"
echo "migrate: load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
