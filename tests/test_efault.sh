#!/usr/bin/env bash
# Bad pointers in system call arguments: -1 and EFAULT (or EINVAL where
# Linux says so), as natively, never a crash of the picoprocess; and the
# host kernel never writes into moat-pico's image for the app (read,
# readv, pread, recvfrom, getrandom into the image all fail).  Both ways
# into the LibOS: trapped calls (--no-rewrite) and rewritten ones.
. "$(dirname "$0")/lib.sh"

GRANTS="--ro $BUILD/tests/efault"
same_output "bad pointers give EFAULT as natively (rewritten sites)" "$BUILD/tests/efault"
GRANTS="--no-rewrite --ro $BUILD/tests/efault"
same_output "bad pointers give EFAULT as natively (every call traps)" "$BUILD/tests/efault"

out=$("$MOAT" run --ro "$BUILD/tests/efault" -- "$BUILD/tests/efault" 2>/dev/null |
	grep 'into the image')
check_eq "no write of the host kernel reaches the picoprocess image" \
	"writes into the image that got through: 0" "$out"
