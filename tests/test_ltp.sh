#!/usr/bin/env bash
# LTP in `make test`: the 63 fast system-call tests of tests/ltp/fast.list,
# each in moat through LTP's strict runner (exit status and every
# TPASS/TFAIL/TBROK line; tests/ltp/runner.sh grants the system read-only
# and a private TMPDIR).  All passed under moat when the list was made, so
# each failure is a regression.  `make test` builds them into
# build/ltp-fast (tests/ltp/build-fast.sh, from ../shared/ltp) while the
# first test files run; the call below waits for that build to end, or
# builds them itself when run alone.
. "$(dirname "$0")/lib.sh"

LTPROOT=$BUILD/ltp-fast
LIST=$ROOT/tests/ltp/fast.list
if ! "$ROOT/tests/ltp/build-fast.sh" "${LTP_SHARED:-$ROOT/../shared/ltp}" "$LTPROOT" "$LIST" >"$WORK/build.out" 2>&1; then
	fail "LTP fast tests built" "$(tail -3 "$WORK/build.out" | tr '\n' ' ')"
	exit 0
fi

# moat's picoprocess runs as nobody on the host: the test's TMPDIR must be
# writable for it.
mkdir -m 1777 "$WORK/tmp"
export MOAT
LTPROOT=$LTPROOT TMPDIR=$WORK/tmp LTP_RUNTIME_MUL=0.1 \
	"$LTPROOT/run.sh" -l "$LTPROOT/runtest/fast" -t 60 -o "$WORK/out" -- \
	"$ROOT/tests/ltp/runner.sh" "$BUILD" >"$WORK/summary"

n=0
while IFS=$'\t' read -r tag _ verdict secs _; do
	n=$((n + 1))
	if [ "$verdict" = PASS ]; then
		pass "LTP $tag in moat"
	else
		why=$(grep -m1 -E '(^|[[:space:]:])(TFAIL|TBROK)([[:space:]:]|$)|AddressSanitizer|runtime error' \
			"$WORK/out/$tag.log" | cut -c1-200)
		fail "LTP $tag in moat" "$verdict after $secs s: ${why:-$(tail -2 "$WORK/out/$tag.log" | tr '\n' ' ')}"
	fi
done <"$WORK/out/results.tsv"
check_eq "every LTP test of fast.list ran" "$(grep -cv '^#' "$LIST")" "$n"
