#!/usr/bin/env bash
# run.sh -- run every tests/test_*.sh (or those whose name contains $1)
# and end with "N passed, N failed".  Exit status 0 only if none failed.
# Each file's PASS and FAIL lines appear as they happen (a hang shows
# which check it follows), then the file's wall time.
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
passed=0 failed=0
log=$(mktemp /tmp/moat-run.XXXXXX)
trap 'rm -f "$log"' EXIT
for t in tests/test_*.sh; do
	case $t in *"$filter"*) ;; *) continue ;; esac
	echo "== $t"
	start=$SECONDS
	# The whole output goes to $log for the counts and the tail below.
	timeout 600 bash "$t" 2>&1 | tee "$log" | grep --line-buffered -E '^(PASS|FAIL) '
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $t: script exited $rc"
		tail -20 "$log" | sed 's/^/    /'
		f=1
	fi
	echo "== $t ($((SECONDS - start)) s)"
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
