#!/usr/bin/env bash
# lists.sh OUT "LISTS" "RUNNERS": `make ltp`.  Runs each LTP list (names
# in LTP_SHARED/lists/, e.g. gramine_subset tier1_simple) under each
# runner (native, moat, runsc) with LTP's strict run.sh, one test at a
# time, into OUT/LIST-RUNNER/ (results.tsv and a log per test; meta
# holds the command, date and moat commit).  tests/ltp/report.py turns
# OUT into docs/compatibility.md's LTP section.
#   LTPROOT     the built LTP (make ltp-build: build/ltp)
#   LTP_SHARED  the directory of run.sh and lists/ (../shared/ltp)
#   B           moat's build directory for the moat runner (build)
#   LTP_TIMEOUT seconds per test (60); LTP_RUNTIME_MUL (0.1) shortens
#               the tests that loop for a set time, as in Gramine's CI.
set -euo pipefail
OUT=${1:?usage: lists.sh OUT LISTS RUNNERS}
LISTS=${2:?usage: lists.sh OUT LISTS RUNNERS}
RUNNERS=${3:?usage: lists.sh OUT LISTS RUNNERS}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${LTPROOT:?set LTPROOT}" "${LTP_SHARED:?set LTP_SHARED}"
LTPROOT=$(cd "$LTPROOT" && pwd)
SHARED=$(cd "$LTP_SHARED" && pwd)
B=$(cd "${B:-$ROOT/build}" && pwd)
T=${LTP_TIMEOUT:-60}
export LTPROOT LTP_RUNTIME_MUL=${LTP_RUNTIME_MUL:-0.1}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)

for list in $LISTS; do
	lf=$SHARED/lists/$list.list
	[ -f "$lf" ] || { echo "lists.sh: no list $lf" >&2; exit 1; }
	for r in $RUNNERS; do
		case $r in
		native) cmd=() ;;
		moat) cmd=("$HERE/runner.sh" "$B") ;;
		runsc) cmd=("$HERE/runsc.sh") ;;
		*) echo "lists.sh: unknown runner $r (native, moat, runsc)" >&2; exit 1 ;;
		esac
		dir=$OUT/$list-$r
		rm -rf "$dir"; mkdir -p "$dir"
		# A private TMPDIR per run; moat's picoprocess runs as nobody on the host.
		tmp=$(mktemp -d /tmp/moat-ltp.XXXXXX); chmod 1777 "$tmp"
		echo "== LTP $list under $r ($(grep -cv '^#' "$lf") tests, up to $T s each)"
		start=$(date -u '+%Y-%m-%d %H:%M UTC'); s=$SECONDS
		TMPDIR=$tmp "$SHARED/run.sh" -l "$lf" -t "$T" -o "$dir" -- "${cmd[@]}" | tee "$dir/summary"
		rm -rf "$tmp"
		{
			echo "list	$list"
			echo "runner	$r"
			echo "date	$start"
			echo "seconds	$((SECONDS - s))"
			echo "nice	$(nice)"
			echo "command	LTPROOT=$LTPROOT LTP_RUNTIME_MUL=$LTP_RUNTIME_MUL $SHARED/run.sh -l lists/$list.list -t $T -- ${cmd[*]}"
			echo "moat	$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
			echo "ltp	$(awk 'NR==1 { print $1 }' "$SHARED/SOURCE_COMMIT" 2>/dev/null || echo unknown)"
		} >"$dir/meta"
	done
done
