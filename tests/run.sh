#!/usr/bin/env bash
# run.sh -- run every tests/test_*.sh (or those whose name contains $1)
# and end with "N passed, N failed".  Exit status 0 only if none failed.
set -u
cd "$(dirname "$0")/.."
filter=${1:-}
passed=0 failed=0
for t in tests/test_*.sh; do
	case $t in *"$filter"*) ;; *) continue ;; esac
	echo "== $t"
	out=$(timeout 600 bash "$t" 2>&1)
	rc=$?
	echo "$out" | grep -E '^(PASS|FAIL) '
	p=$(echo "$out" | grep -c '^PASS ')
	f=$(echo "$out" | grep -c '^FAIL ')
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $t: script exited $rc"
		echo "$out" | tail -20 | sed 's/^/    /'
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
