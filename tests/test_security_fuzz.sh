#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz/ (built by `make test`): each first
# replays its committed corpus, which holds the regression input of every
# finding, then fuzzes for FUZZ_SECONDS (default 5).  Any crash, leak,
# sanitizer report, timeout or broken invariant fails.  The seed corpus is
# copied, never written; `make fuzz` is the long run that grows it.
. "$(dirname "$0")/lib.sh"
SECONDS_EACH=${FUZZ_SECONDS:-5}
# The channel target's fixture holds links to / and /etc/passwd; nothing it
# does, cleanup included, may change them (finding 12).
modes() { stat -c '%a %u %g' / /etc /etc/passwd /tmp | tr '\n' ' '; }
before=$(modes)
mkdir -p "$WORK/tmp"
for t in channel manifest elf package control snapshot; do
	if [ ! -x "$BUILD/fuzz/fuzz_$t" ]; then
		fail "fuzz $t" "$BUILD/fuzz/fuzz_$t is not built (make $BUILD/fuzz/fuzz_$t; needs clang-14 and libclang-rt-14-dev)"
		continue
	fi
	n=$(ls "$ROOT/tests/fuzz/corpus/$t" | wc -l)
	out=$(cd "$ROOT" && TMPDIR=$WORK/tmp BUILD=$BUILD FUZZ_OUT=$WORK/out tests/fuzz/run.sh "$SECONDS_EACH" "$t" 2>&1)
	if [ $? -eq 0 ]; then
		pass "fuzz $t: $n corpus inputs replayed, then ${out#fuzz $t: }"
	else
		fail "fuzz $t" "$(echo "$out" | tr '\n' '|' | head -c 600)"
		cat "$WORK/out/$t.log" 2>/dev/null | tail -30 | sed 's/^/    /'
	fi
done
check_eq "the fuzz targets left /, /etc, /etc/passwd and /tmp as they were" "$before" "$(modes)"
left=$(find "$WORK/tmp" -maxdepth 1 -name 'moat-fuzz.*' 2>/dev/null | wc -l)
check_eq "the channel target removed its fixture" "0" "$left"
