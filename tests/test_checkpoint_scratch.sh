#!/usr/bin/env bash
# The private /tmp, /dev/shm and copy-up layer across a checkpoint (docs/checkpoint.md):
# the snapshot carries them (/.moat/scratch.zst), and a file the app keeps
# open there reopens on resume with its contents and its position.  Each
# check looks at what the program itself reads and writes inside.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
PY=/usr/bin/python3
SYS="--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
N=cks$$
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

wait_named() {
	for _ in $(seq 100); do
		"$MOAT" ps | awk -v n="$1" '$1 == n { f = 1 } END { exit !f }' && return 0
		sleep 0.05
	done
	return 1
}
# wait_at_least FILE N: until FILE holds a number >= N (20 s at most).
wait_at_least() {
	for _ in $(seq 400); do
		[ "$(cat "$1" 2>/dev/null || echo 0)" -ge "$2" ] 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
ends() { # PID SECONDS: its exit status, or 124
	for _ in $(seq $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
		sleep 0.05
	done
	return 124
}
# consecutive FILE: "ok" if the lines "line N" run 0, 1, 2, ... with no
# gap and no repeat; else where they break.
consecutive() {
	awk '{ if ($2 != NR - 1) { print "line " NR " holds " $2; bad = 1; exit } }
	     END { if (!bad) print (NR ? "ok" : "empty") }' "$1"
}
no_san() { ! grep -qE "AddressSanitizer|runtime error|LeakSanitizer" "$@"; }

# ------------------- 1. busybox sh appends to /tmp/log through an open fd
D=$WORK/sh
mkdir -p "$D"
cat >"$D/loop.sh" <<'EOF'
exec 3>>/tmp/log
i=0
while [ ! -e /d/stop ]; do
	echo "line $i" >&3
	i=$((i + 1))
	[ $((i % 100)) = 0 ] && echo $i >/d/progress
done
while read -r l; do echo "$l"; done </tmp/log
EOF
G="--ro $BB:$BB --rw $D:/d"
"$MOAT" run --name "$N-sh" $G -- $BB sh /d/loop.sh >"$WORK/sh1.out" 2>"$WORK/sh1.err" &
SRC=$!
PIDS+=($SRC)
wait_named "$N-sh" && wait_at_least "$D/progress" 500
"$MOAT" checkpoint "$N-sh" -o "$WORK/sh.mpk" 2>"$WORK/ck.err"
check_eq "checkpoint of busybox sh with /tmp/log open: status 0" 0 $?
ends $SRC 5
check_eq "  ... the checkpointed picoprocess ends, status 0" 0 $?
before=$(cat "$D/progress")
"$MOAT" inspect "$WORK/sh.mpk" >"$WORK/insp.out" 2>&1
grep -qE '^  scratch: +1 files, [0-9]+ bytes, 0 directories, 0 symlinks \(archive [0-9]+ bytes, [0-9]+ compressed\)$' "$WORK/insp.out" &&
	grep -q 'file:/tmp/log' "$WORK/insp.out" &&
	pass "inspect: the snapshot carries its /tmp (one file) and names /tmp/log among its streams" ||
	fail "inspect: the snapshot carries its /tmp" "$(grep -E 'scratch|tmp' "$WORK/insp.out")"

"$MOAT" run $G "$WORK/sh.mpk" >"$WORK/sh2.out" 2>"$WORK/sh2.err" &
R=$!
PIDS+=($R)
wait_at_least "$D/progress" $((before + 2000))
touch "$D/stop"
ends $R 20
check_eq "the resume with a file open in /tmp runs and ends, status 0" 0 $?
check_eq "  ... cat of /tmp/log inside: consecutive lines, no gap and no repeat across the resume" ok \
	"$(consecutive "$WORK/sh2.out")"
lines=$(wc -l <"$WORK/sh2.out")
[ "$lines" -ge $((before + 2000)) ] && pass "  ... and it holds the lines from before ($before) and after ($lines in all)" ||
	fail "  ... it holds the lines from before and after" "$lines lines, $before before: $(cat "$WORK/sh2.err")"
no_san "$WORK"/*.err && pass "  ... no sanitizer report" ||
	fail "  ... no sanitizer report" "$(grep -h -A3 -E 'Sanitizer|runtime error' "$WORK"/*.err | head)"

# A second resume of the same snapshot starts from the same /tmp.
rm -f "$D/stop"
echo 0 >"$D/progress"
"$MOAT" run $G "$WORK/sh.mpk" >"$WORK/sh3.out" 2>"$WORK/sh3.err" &
R=$!
PIDS+=($R)
wait_at_least "$D/progress" $((before + 200))
touch "$D/stop"
ends $R 20 >/dev/null
check_eq "a second resume of the snapshot finds the same /tmp: consecutive again" ok "$(consecutive "$WORK/sh3.out")"

# ---------- 2. python3 reads a /tmp file across the resume; /dev/shm too
P=$WORK/py
mkdir -p "$P"
cat >"$P/prog.py" <<'EOF'
import os, time
with open('/tmp/data', 'w') as f:
    for i in range(1000):
        f.write('%04d\n' % i)
with open('/dev/shm/note', 'w') as f:
    f.write('/dev/shm survives\n')
fd = os.open('/tmp/data', os.O_RDONLY)
first = os.read(fd, 2500)          # the first 500 lines; the rest after the resume
open('/p/ready', 'w').write('ready\n')
while not os.path.exists('/p/go'):
    time.sleep(0.01)
rest = os.read(fd, 100000)
whole = first + rest == b''.join(b'%04d\n' % i for i in range(1000))
print('read %d then %d bytes, in order: %s' % (len(first), len(rest), whole))
print(open('/dev/shm/note').read().strip())
print('generation', open('/proc/moat/generation').read().strip())
EOF
"$MOAT" run --name "$N-py" $SYS --rw "$P:/p" -- $PY /p/prog.py >"$WORK/py1.out" 2>"$WORK/py1.err" &
SRC=$!
PIDS+=($SRC)
for _ in $(seq 200); do [ -e "$P/ready" ] && break; sleep 0.05; done
"$MOAT" checkpoint "$N-py" -o "$WORK/py.mpk" 2>"$WORK/pyck.err"
check_eq "checkpoint of python3 with /tmp/data open halfway: status 0" 0 $?
ends $SRC 5 >/dev/null
touch "$P/go"
out=$(timeout 30 "$MOAT" run $SYS --rw "$P:/p" "$WORK/py.mpk" 2>"$WORK/py2.err")
check_eq "python3 resumed: /tmp/data reopens at its position, with its contents, and /dev/shm is back" \
	"read 2500 then 2500 bytes, in order: True|/dev/shm survives|generation 1" "$(echo "$out" | paste -sd'|')"

# ---- 3. a /tmp mapped from the host at resume: the saved one is not put
# there; the file the app held open is named, before anything runs
mkdir -p "$WORK/hosttmp" "$WORK/hostshm"
rm -f "$D/stop"
"$MOAT" run $G --rw "$WORK/hosttmp:/tmp" --rw "$WORK/hostshm:/dev/shm" "$WORK/sh.mpk" \
	>"$WORK/map.out" 2>"$WORK/map.err"
rc=$?
[ $rc -ne 0 ] && [ "$(cat "$WORK/map.err")" = "moat: resume: file:/tmp/log: not reachable now: ENOENT" ] &&
	[ -z "$(find "$WORK/hosttmp" "$WORK/hostshm" -mindepth 1)" ] && [ ! -s "$WORK/map.out" ] &&
	pass "a resume with /tmp mapped from the host names the file it held open there, writes nothing there ($rc)" ||
	fail "a resume with /tmp mapped from the host names the open file" "rc $rc: $(cat "$WORK/map.err" "$WORK/map.out"; ls -A "$WORK/hosttmp" "$WORK/hostshm")"

# ---- 4. the copy-up layer: writes to a package's paths come back too
C=$WORK/cu
mkdir -p "$C/app/etc" "$C/d"
echo orig >"$C/app/etc/conf"
printf '[Identity]\nname = cuapp\nversion = 1\n[Application]\nentry = file:///bin/busybox\n[Dependency.bb]\nversion = >=1\n' >"$C/app.ini"
"$MOAT" pack --from-host $BB --name bb --version 1 -o "$C/bb.mpk" >/dev/null 2>&1 &&
	"$MOAT" pack "$C/app" -m "$C/app.ini" -o "$C/app.mpk" >/dev/null 2>&1 ||
	fail "packing busybox and an app for the copy-up case" "moat pack failed"
"$MOAT" run --name "$N-cu" --rw "$C/d:/d" "$C/app.mpk" -- sh -c \
	'echo changed >>/etc/conf; echo new >/etc/new; exec 3>>/etc/new; echo up >/d/up
	 while [ ! -e /d/go ]; do read -t 0.05 x; done; echo more >&3
	 while read l; do echo "$l"; done </etc/conf; while read l; do echo "$l"; done </etc/new' \
	>"$WORK/cu1.out" 2>&1 &
SRC=$!
PIDS+=($SRC)
for _ in $(seq 200); do [ -e "$C/d/up" ] && break; sleep 0.05; done
"$MOAT" checkpoint "$N-cu" -o "$C/s.mpk" 2>"$WORK/cuck.err"
check_eq "checkpoint of an app that wrote to its package's /etc: status 0" 0 $?
ends $SRC 5 >/dev/null
touch "$C/d/go"
out=$(timeout 30 "$MOAT" run --rw "$C/d:/d" --pkg-path "$C" "$C/s.mpk" 2>"$WORK/cu2.err")
check_eq "resumed: a copied-up package file and a new one (held open) come back with their contents" \
	"orig|changed|new|more" "$(echo "$out" | paste -sd'|')"
