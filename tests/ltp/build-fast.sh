#!/usr/bin/env bash
# build-fast.sh LTP_SHARED PREFIX LIST: build only the LTP programs LIST
# names (runtest format, TAG COMMAND), not LTP's 1,500 system-call tests:
# LTP's source (LTP_SHARED/ltp-src.tar.gz) is configured once, then its
# lib/ and each program alone (`make -C testcases/kernel/syscalls/DIR
# PROG`).  The programs go to PREFIX/testcases/bin, LIST to
# PREFIX/runtest/fast, LTP_SHARED/run.sh to PREFIX/run.sh, so that
# LTPROOT=PREFIX runs them without the shared directory.
#
# Every step is kept in PREFIX: a second call with the same LIST does
# nothing, and a longer LIST builds only the programs it adds.  A call
# while another runs waits for it (a lock in PREFIX).  Needs
# gcc, make, autoconf, automake, m4 and pkg-config (`make test-deps`).
set -euo pipefail
SHARED=${1:?usage: build-fast.sh LTP_SHARED PREFIX LIST}
PREFIX=${2:?usage: build-fast.sh LTP_SHARED PREFIX LIST}
LIST=${3:?usage: build-fast.sh LTP_SHARED PREFIX LIST}
JOBS=${LTP_JOBS:-2}
mkdir -p "$PREFIX/testcases/bin" "$PREFIX/runtest"
PREFIX=$(cd "$PREFIX" && pwd)
# One build at a time: `make test` starts one in the background while the
# first test files run, and tests/test_ltp.sh calls this again, which
# waits here for it and then finds everything built.
exec 9>"$PREFIX/.lock"
flock 9
SRC=$PREFIX/src
LOG=$PREFIX/build.log

# Nothing to do when every program is there and LIST has not changed.
want=$(awk '!/^#/ && NF { print $2 }' "$LIST")
missing=$(for p in $want; do [ -x "$PREFIX/testcases/bin/$p" ] || echo "$p"; done)
if [ -z "$missing" ] && cmp -s "$LIST" "$PREFIX/runtest/fast" && [ -x "$PREFIX/run.sh" ]; then
	exit 0
fi

TARBALL=$SHARED/ltp-src.tar.gz
if [ ! -f "$TARBALL" ]; then
	echo "build-fast.sh: no LTP source at $TARBALL (set LTP_SHARED to the directory holding ltp-src.tar.gz)" >&2
	exit 1
fi

start=$SECONDS
# The source sits inside the repository's build/: keep LTP's version
# script (git describe) from describing the repository.
export GIT_CEILING_DIRECTORIES=$PREFIX
if [ ! -f "$SRC/include/mk/config.mk" ]; then
	echo "LTP: configuring $SRC (log: $LOG)"
	rm -rf "$SRC"; mkdir -p "$SRC"
	tar -xzf "$TARBALL" -C "$SRC" --strip-components=1
	# `make autotools` less open_posix_testsuite, which these tests do not use.
	(cd "$SRC" && make autotools AUTOCONFED_SUBDIRS= && ./configure) >"$LOG" 2>&1 ||
		{ tail -20 "$LOG" >&2; rm -f "$SRC/include/mk/config.mk"; exit 1; }
	echo "LTP: configured in $((SECONDS - start)) s"
fi
if [ ! -f "$SRC/lib/libltp.a" ]; then
	t=$SECONDS
	make -j"$JOBS" -C "$SRC/lib" >>"$LOG" 2>&1 || { tail -20 "$LOG" >&2; exit 1; }
	echo "LTP: lib/ built in $((SECONDS - t)) s"
fi

# Each program's directory: the one holding PROG.c (PROG_64 is PROG.c
# built with 64-bit file offsets).
declare -A targets
for p in $missing; do
	c=$(find "$SRC/testcases/kernel/syscalls" -name "${p%_64}.c" -print -quit)
	if [ -z "$c" ]; then echo "build-fast.sh: no source for $p" >&2; exit 1; fi
	d=$(dirname "$c")
	targets[$d]="${targets[$d]:-} $p"
done
# Most directories give one program: JOBS directories at once, not one
# directory with JOBS compilers (LTP's make spends a good part of each
# call reading its own makefiles).
t=$SECONDS
running=0
for d in "${!targets[@]}"; do
	if [ $running -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
	# shellcheck disable=SC2086
	make -C "$d" ${targets[$d]} >"$d/.build-fast.log" 2>&1 &
	running=$((running + 1))
done
wait
for d in "${!targets[@]}"; do
	cat "$d/.build-fast.log" >>"$LOG"
	for p in ${targets[$d]}; do
		if [ ! -x "$d/$p" ]; then
			tail -20 "$d/.build-fast.log" >&2; echo "build-fast.sh: $p did not build" >&2; exit 1
		fi
		install -m 0755 "$d/$p" "$PREFIX/testcases/bin/$p"
	done
done
[ -z "$missing" ] || echo "LTP: $(echo $missing | wc -w) programs in ${#targets[@]} directories built in $((SECONDS - t)) s"
install -m 0755 "$SHARED/run.sh" "$PREFIX/run.sh"
cp "$LIST" "$PREFIX/runtest/fast"
echo "LTP: built in $((SECONDS - start)) s into $PREFIX"
