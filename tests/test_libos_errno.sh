#!/usr/bin/env bash
# Error codes and corner cases as Linux gives them (tests/libos_errno.c,
# compared with a native run line by line): dup3 of an fd onto itself,
# pipe2's O_NONBLOCK in F_GETFL, fsync/ftruncate of what is not a file,
# mmap and sendfile argument checks, renameat2 RENAME_NOREPLACE, mknod
# and unlinkat flags, a 300-byte name, record locks dropped when a dup is
# closed, waitpid/tgkill/getrandom/setitimer arguments, socket option
# levels, epoll loops (ELOOP) and non-epoll descriptors, select and ppoll
# timeouts.
. "$(dirname "$0")/lib.sh"

rm -rf "$WORK/errno" && mkdir -p "$WORK/errno"
GRANTS="--ro $BUILD/tests/libos_errno --rw $WORK/errno"
same_output "error codes and corner cases as natively" "$BUILD/tests/libos_errno" "$WORK/errno"

# The virtual root may raise a hard limit (LTP's tst_no_corefile sets
# RLIMIT_CORE to 1 from 0), but not RLIMIT_NOFILE past the table.
out=$("$MOAT" run --ro /usr --ro /bin --ro /lib --ro /lib64 -- /usr/bin/python3 -c 'import resource as r
r.setrlimit(r.RLIMIT_CORE, (1, 1)); print(r.getrlimit(r.RLIMIT_CORE))
try: r.setrlimit(r.RLIMIT_NOFILE, (1 << 20, 1 << 20))
except ValueError as e: print(e)' 2>&1)
check_eq "root raises RLIMIT_CORE's hard limit; RLIMIT_NOFILE stays capped" "(1, 1)
not allowed to raise maximum limit" "$out"
