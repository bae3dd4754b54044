# lib.sh -- sourced by every tests/test_*.sh.
#
# A test file calls `pass NAME` or `fail NAME WHY` for each check; run.sh
# counts the PASS and FAIL lines.  $MOAT is the moat binary under test
# (the sanitizer build in `make test`), $ROOT the repository, $BUILD its
# build directory, $WORK a scratch directory private to this file.

set -u
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$ROOT/build}
MOAT=${MOAT:-$BUILD/moat}
case $MOAT in /*) ;; *) MOAT=$ROOT/$MOAT ;; esac
export MOAT_PICO=${MOAT_PICO:-$BUILD/moat-pico}
# The sanitizer build must not report leaks in the forked child that
# execs moat-pico; real leaks in the monitor are still reported at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Scratch space readable by the unprivileged runs too.
WORK=$(mktemp -d /tmp/moat-test.XXXXXX)
chmod 755 "$WORK"
trap 'rm -rf "$WORK"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# check NAME EXPECTED ACTUAL: pass when equal, else show both.
check_eq() {
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "expected [$2] got [$3]"; fi
}

# same_output NAME CMD...: run CMD natively and as `moat run GRANTS -- CMD`
# ($GRANTS holds the --ro/--rw flags) and compare stdout, stderr and the
# exit status byte for byte.  $SAME_ENV may hold NAME=VALUE words given to
# both sides (natively through env, to moat as --env flags), e.g. TZ=UTC.
same_output() {
	local name=$1; shift
	local n=$WORK/native.$$ m=$WORK/moat.$$ kv envflags=()
	for kv in ${SAME_ENV:-}; do envflags+=(--env "$kv"); done
	(cd / && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ ${SAME_ENV:-} "$@") >"$n.out" 2>"$n.err"
	local nrc=$?
	"$MOAT" run ${GRANTS:-} "${envflags[@]}" -- "$@" >"$m.out" 2>"$m.err"
	local mrc=$?
	if [ $nrc -ne $mrc ]; then
		fail "$name" "exit status native $nrc, moat $mrc: $(head -c 300 "$m.err")"
	elif ! cmp -s "$n.out" "$m.out"; then
		fail "$name" "stdout differs: $(diff "$n.out" "$m.out" | head -5 | tr '\n' '|')"
	elif ! cmp -s "$n.err" "$m.err"; then
		fail "$name" "stderr differs: $(diff "$n.err" "$m.err" | head -5 | tr '\n' '|')"
	else
		pass "$name"
	fi
}
