#!/usr/bin/env bash
# run.sh -- run libFuzzer targets (built in build/fuzz/ by the Makefile).
#
#   tests/fuzz/run.sh [--merge] SECONDS TARGET...
#
# Each target runs for SECONDS over its seed corpus, tests/fuzz/corpus/
# TARGET/, which is read, never written: new inputs go to build/fuzz/
# corpus/TARGET/.  With --merge (make fuzz), the inputs that add coverage
# are then merged into the seed corpus, to be committed.  A crash, leak or
# timeout leaves its input in build/fuzz/ and makes the exit status 1.
# $FUZZ_OUT, if set, takes the place of build/fuzz/ for everything written.
# One line per target: "fuzz TARGET: ok, RUNS runs, cov N, cpu S s".
set -u
cd "$(dirname "$0")/../.."
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
seconds=${1:?usage: run.sh [--merge] SECONDS TARGET...}; shift
B=${BUILD:-build}
OUT=${FUZZ_OUT:-$B/fuzz}
status=0
for t in "$@"; do
	bin=$B/fuzz/fuzz_$t seeds=tests/fuzz/corpus/$t new=$OUT/corpus/$t
	if [ ! -x "$bin" ]; then
		echo "fuzz $t: FAILED, $bin is not built (make $bin)"
		status=1
		continue
	fi
	mkdir -p "$new" "$seeds"
	opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
	      -artifact_prefix="$OUT/$t-" -print_final_stats=1)
	# Channel packets go up to MOAT_MSG_MAX (8208 bytes) and beyond.
	[ "$t" = channel ] && opts+=(-max_len=8400)
	log=$OUT/$t.log
	TIMEFORMAT='%U %S'
	cpu=$( { time "$bin" "${opts[@]}" "$new" "$seeds" >"$log" 2>&1; echo "rc=$?" >>"$log"; } 2>&1 )
	rc=$(sed -n 's/^rc=//p' "$log" | tail -1)
	cpu=$(echo "$cpu" | awk '{ printf "%.1f", $1 + $2 }')
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	if [ "$rc" = 0 ]; then
		echo "fuzz $t: ok, ${runs:-?} runs, cov ${cov:-?}, cpu $cpu s"
	else
		echo "fuzz $t: FAILED (status $rc) after ${runs:-?} runs, cpu $cpu s; see $log"
		grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -5 | sed 's/^/    /'
		status=1
	fi
	if [ $merge = 1 ] && [ "$rc" = 0 ]; then
		"$bin" -merge=1 "${opts[@]:3}" "$seeds" "$new" >"$log.merge" 2>&1 ||
			{ echo "fuzz $t: merge FAILED; see $log.merge"; status=1; }
		echo "fuzz $t: seed corpus now $(ls "$seeds" | wc -l) inputs"
	fi
done
exit $status
