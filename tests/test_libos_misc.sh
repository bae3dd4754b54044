#!/usr/bin/env bash
# Smaller LibOS facilities, each compared with a native run: timerfd with
# epoll, flock(1), the virtual identity, /proc/self and getrusage.
. "$(dirname "$0")/lib.sh"

SYS="--ro /usr --ro /bin --ro /lib --ro /lib64 --ro /etc"
GRANTS="--ro $BUILD/tests/timerfd"
same_output "timerfd: one-shot then periodic, through epoll" "$BUILD/tests/timerfd"

touch "$WORK/lockfile"
GRANTS="$SYS --rw $WORK"
same_output "flock(1) takes and releases a lock" flock "$WORK/lockfile" echo locked
# A lock held on the host blocks -n inside.
flock "$WORK/lockfile" sleep 2 &
sleep 0.3
out=$("$MOAT" run $SYS --rw "$WORK" -- flock -n "$WORK/lockfile" echo got 2>&1)
rc=$?
[ $rc -eq 1 ] && [ -z "$out" ] && pass "flock -n inside fails while the host holds the lock" ||
	fail "flock -n inside fails while the host holds the lock" "status $rc: $out"
wait

check_eq "--user sets the virtual identity" "uid=1000 gid=100" \
	"$("$MOAT" run --user 1000:100 -- /bin/busybox id 2>&1)"
check_eq "the default identity is root" "uid=0(root) gid=0(root)" \
	"$("$MOAT" run --ro /etc/passwd --ro /etc/group -- /bin/busybox id 2>&1)"
out=$("$MOAT" run --user 1000 -- /bin/busybox grep ^Uid /proc/self/status 2>&1)
check_eq "/proc/self/status shows the virtual uid" "Uid:	1000	1000	1000	1000" "$out"
out=$("$MOAT" run --user nobody -- /bin/busybox true 2>&1)
[ $? -eq 2 ] && pass "--user with a name is refused: $out" || fail "--user with a name is refused" "$out"
