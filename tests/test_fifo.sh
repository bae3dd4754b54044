#!/usr/bin/env bash
# test_fifo.sh -- named pipes (mkfifo, mknod S_IFIFO) in the private /tmp
# and in a writable mapping: real programs, compared with a native run.
. "$(dirname "$0")/lib.sh"

SYS="--ro /usr --ro /lib --ro /lib64"

GRANTS="$SYS --ro $ROOT/tests/fifo.py"
same_output "python3: mkfifo, O_NONBLOCK opens and reads (ENXIO, EAGAIN, EOF), fork a writer and a reader, O_RDWR, mknod" \
	/usr/bin/python3 -u "$ROOT/tests/fifo.py"

# busybox sh: a writer and a reader process, each order.
BB=/usr/bin/busybox
GRANTS="--ro $BB"
same_output "busybox: mkfifo, a background writer, cat reads it" $BB sh -c '
	d=$('$BB' mktemp -d /tmp/ff.XXXXXX) && cd "$d" && '$BB' mkfifo f &&
	'$BB' test -p f && echo is a fifo
	(for i in 1 2 3; do echo "line $i"; done > f) &
	'$BB' cat f; wait
	('$BB' cat f; echo reader done) & '$BB' usleep 100000; echo late writer > f; wait
	'$BB' mknod g p && '$BB' stat -c "%F %a" g && '$BB' rm f g && cd / && '$BB' rmdir "$d"'

# A FIFO in a writable mapping is one on the host file system: moat runs
# see it as a FIFO; the host sees the marker file it is made of.
mkdir -p "$WORK/rw"
out=$("$MOAT" run --rw "$WORK/rw:/data" --ro $BB -- $BB sh -c "
	$BB mkfifo /data/p && $BB stat -c %F /data/p && (echo through /data > /data/p &) && $BB cat /data/p" 2>&1)
check_eq "mkfifo in a writable mapping, a writer and a reader" "fifo|through /data" "$(echo "$out" | tr '\n' '|' | sed 's/|$//')"
out=$("$MOAT" run --rw "$WORK/rw:/data" --ro $BB -- $BB stat -c %F /data/p 2>&1)
check_eq "the FIFO is still one in the next run" "fifo" "$out"
out=$("$MOAT" run --ro "$WORK/rw:/data" --ro $BB -- $BB mkfifo /data/q 2>&1; echo "rc $?")
check_eq "mkfifo in a read-only mapping fails" "mkfifo: /data/q: Read-only file system|rc 1" "$(echo "$out" | tr '\n' '|' | sed 's/|$//')"
out=$("$MOAT" run --ro $BB -- $BB mknod /tmp/c c 1 3 2>&1; echo "rc $?")
check_eq "mknod of a device is refused (EPERM)" "mknod: /tmp/c: Operation not permitted|rc 1" "$(echo "$out" | tr '\n' '|' | sed 's/|$//')"
