#!/usr/bin/env bash
# System V IPC (shm, sem, msg) and POSIX message queues inside a
# picoprocess: shared between its processes (compared with a native run),
# and kept to it: never in the host's IPC namespace, never seen by
# another picoprocess.
. "$(dirname "$0")/lib.sh"

PROG=$BUILD/tests/libos_ipc
GRANTS="--ro $PROG"
same_output "fork + shmget/shmat/shmdt/shmctl, semop/semtimedop/semctl (SEM_UNDO, EINTR, EIDRM), msgsnd/msgrcv/msgctl, mq_* between parent and children" \
	"$PROG"

# The host's segment under a known key is not visible inside.
KEY=0x6d6f6174
hostid=$(python3 - "$KEY" <<'PY'
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
print(libc.shmget(int(sys.argv[1], 0), 4096, 0o1000 | 0o600))
PY
)
if [ "${hostid:--1}" -ge 0 ]; then
	check_eq "a host segment with key $KEY is not visible inside" \
		"shm ENOENT sem ENOENT msg ENOENT" "$("$MOAT" run $GRANTS -- "$PROG" probe $KEY 2>&1)"
	ipcrm -m "$hostid"
else
	fail "a host segment with key $KEY is not visible inside" "python3 could not make one"
fi

# Objects the app leaves behind reach neither the host nor another run.
KEY2=0x6d6f6175
before=$(ipcs -a 2>&1 | grep -ci "$KEY2")
mqbefore=$(ls /dev/mqueue 2>/dev/null | grep -c moat-ipc-left)
out=$("$MOAT" run $GRANTS -- "$PROG" leave $KEY2 2>&1)
check_eq "the app makes one object of each kind under key $KEY2" "left: shm ok sem ok msg ok mq ok" "$out"
check_eq "ipcs on the host shows none of them" "$before" "$(ipcs -a 2>&1 | grep -ci "$KEY2")"
check_eq "/dev/mqueue on the host has no queue of the app" "$mqbefore" \
	"$(ls /dev/mqueue 2>/dev/null | grep -c moat-ipc-left)"
check_eq "another picoprocess does not see them" "shm ENOENT sem ENOENT msg ENOENT" \
	"$("$MOAT" run $GRANTS -- "$PROG" probe $KEY2 2>&1)"

# Several processes of one picoprocess through a shell: ipcs-like use
# by two separate programs (the second sees the first's objects).
out=$("$MOAT" run $GRANTS --ro /bin --ro /lib --ro /lib64 --ro /usr -- /bin/sh -c \
	"$PROG leave $KEY2 >/dev/null; $PROG probe $KEY2" 2>&1)
check_eq "a later program of the same picoprocess finds them by key" "shm ok sem ok msg ok" "$out"

# A checkpoint carries the objects (they are files of the private
# /dev/shm): a loop using a segment, a semaphore, a message queue and a
# POSIX queue goes on after resume from the next value of its counter.
export XDG_RUNTIME_DIR=$WORK/xdg
mkdir -p "$XDG_RUNTIME_DIR" "$WORK/d"
chmod 700 "$XDG_RUNTIME_DIR"
N=ipc$$
"$MOAT" run --name "$N" $GRANTS --rw "$WORK/d:/d" -- "$PROG" loop /d/out.txt >"$WORK/loop.out" 2>&1 &
SRC=$!
for _ in $(seq 200); do
	[ -e "$WORK/d/out.txt" ] && [ "$(wc -l <"$WORK/d/out.txt")" -ge 200 ] && break
	sleep 0.05
done
"$MOAT" checkpoint "$N" -o "$WORK/ipc.mpk" >/dev/null 2>"$WORK/ck.err"
check_eq "checkpoint of a program using shm, sem, msg and mq: status 0" "0" "$?"
wait $SRC
before=$(wc -l <"$WORK/d/out.txt")
"$MOAT" run $GRANTS --rw "$WORK/d:/d" "$WORK/ipc.mpk" >"$WORK/resume.out" 2>&1 &
R=$!
for _ in $(seq 200); do
	[ "$(wc -l <"$WORK/d/out.txt")" -ge $((before + 200)) ] && break
	sleep 0.05
done
kill -TERM $R
wait $R
out=$(awk '{ if ($1 != "line" || $2 != NR - 1) { print "line " NR ": " $0; bad = 1; exit } }
	END { if (!bad) print "ok" }' "$WORK/d/out.txt")
check_eq "after resume the counter in the segment goes on, and every call still works" ok "$out"
[ "$(wc -l <"$WORK/d/out.txt")" -gt $((before + 100)) ] && pass "the resumed loop really ran" ||
	fail "the resumed loop really ran" "$(wc -l <"$WORK/d/out.txt") lines, $before before: $(cat "$WORK/resume.out" "$WORK/ck.err")"
