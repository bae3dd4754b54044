#!/usr/bin/env bash
# runner.sh BUILDDIR CMD...: one LTP test in moat, the RUNNER of LTP's
# strict run.sh (`run.sh -l LIST -- tests/ltp/runner.sh build`).
# BUILDDIR holds moat and moat-pico; $MOAT and $MOAT_PICO override them
# (make test passes the sanitizer build).  The test sees the system's
# programs and libraries read-only, LTPROOT read-only and TMPDIR
# writable, nothing else of the host.  LTP's newer tests treat
# getppid() == 1 as "the test process died", so the test runs under a
# shell and is not the first process inside.
B=${1:?usage: runner.sh BUILDDIR CMD...}; shift
: "${LTPROOT:?set LTPROOT}" "${TMPDIR:?set TMPDIR}"
export MOAT_NO_DEFAULT_ENV=1 MOAT_PICO=${MOAT_PICO:-$B/moat-pico}
exec "${MOAT:-$B/moat}" run --ro /usr --ro /bin --ro /lib --ro /lib64 --ro /etc --ro "$LTPROOT" \
	--rw "$TMPDIR" --env "PATH=$PATH" --env "LTPROOT=$LTPROOT" --env "TMPDIR=$TMPDIR" \
	--env HOME=/ --env "LTP_RUNTIME_MUL=${LTP_RUNTIME_MUL:-0.1}" \
	--env "LTP_TIMEOUT_MUL=${LTP_TIMEOUT_MUL:-1}" \
	--env LTP_COLORIZE_OUTPUT=0 --cwd "$LTPROOT/testcases/bin" \
	-- /bin/sh -c '"$@"; exit $?' sh "$@"
