#!/usr/bin/env bash
# test_security_review_walk.sh -- issue 12, findings 2, 4, 10 and 11, and
# the hardened host build, tried as the attacker did:
#  2  a picoprocess with no grant plants symlinks whose text has a
#     3000-byte component (absolute, relative, mid-path, in a package's
#     union) and opens, stats and reads them, through its LibOS and by
#     forged channel requests: ENAMETOOLONG, the monitor keeps serving,
#     the ASan build reports nothing;
#  4  with /w writable and /w/b/c read-only, rename /w/b and write
#     /w/b2/c/f; the same host tree reached by another virtual path;
#  10 with --ro /proc:/proc, forged opens of /proc/self, thread-self and
#     the monitor's own pid: moat's environment never reaches the app;
#  11 a host FIFO with a blocked writer, and /dev/ptmx, in granted
#     directories: the monitor never opens them (the writer stays
#     blocked and its message is kept; no pty is made).
. "$(dirname "$0")/lib.sh"

ESC=${ESC:-$BUILD/tests/escape}
BB=/bin/busybox
[ -x "$ESC" ] || { fail "setup" "build $ESC first (make build/tests/escape)"; exit 0; }
TESTS=$(dirname "$ESC")
OUT=$WORK/out ERR=$WORK/err

# run_moat USER ARGS...: moat run (as USER unless empty), stdin /dev/null.
run_moat() {
	local who=$1; shift
	local as=()
	[ -n "$who" ] && as=(setpriv --reuid="$who" --regid="$who" --clear-groups --inh-caps=-all)
	timeout 60 "${as[@]}" "$MOAT" run "$@" </dev/null >"$OUT" 2>"$ERR"
}

# no_asan NAME: the monitor's stderr holds no sanitizer report.
no_asan() {
	if grep -qE 'AddressSanitizer|runtime error:|stack smashing|buffer overflow detected' "$ERR"; then
		fail "$1" "$(grep -m1 -E 'ERROR|runtime error|smashing|overflow' "$ERR")"
	else
		pass "$1"
	fi
}

# ---- hardening: the released monitor ----
if command -v readelf >/dev/null && [ -x "$BUILD/moat" ]; then
	dyn=$(readelf -dW "$BUILD/moat") hdr=$(readelf -hW "$BUILD/moat")
	segs=$(readelf -lW "$BUILD/moat") syms=$(readelf --dyn-syms -W "$BUILD/moat")
	miss=""
	grep -q 'BIND_NOW' <<<"$dyn" || miss+=" BIND_NOW"
	grep -qE 'FLAGS_1.*NOW' <<<"$dyn" || miss+=" FLAGS_1-NOW"
	grep -q 'GNU_RELRO' <<<"$segs" || miss+=" GNU_RELRO"
	grep -qE 'Type:[[:space:]]+DYN' <<<"$hdr" || miss+=" PIE"
	grep -q '__stack_chk_fail' <<<"$syms" || miss+=" __stack_chk_fail"
	grep -qE '__[a-z]+_chk@' <<<"$syms" || miss+=" FORTIFY-_chk"
	check_eq "build/moat is PIE with full RELRO, stack protector and FORTIFY" "" "$miss"
else
	fail "build/moat is PIE with full RELRO, stack protector and FORTIFY" "no readelf or no $BUILD/moat"
fi

# ---- finding 2: long symlink texts through the walk ----
LONG=$(printf 'A%.0s' $(seq 3000))
# In the picoprocess's own private /tmp, with no grant: plant the links,
# use them through the LibOS and by forged requests, then show that the
# monitor still serves (a write and a read after them).
cat >"$WORK/plant.sh" <<EOF
busybox ln -s /tmp/$LONG /tmp/abs
busybox ln -s $LONG /tmp/rel
busybox ln -s /tmp/x/$LONG/y /tmp/mid
busybox ln -s ../tmp/../tmp/$LONG /tmp/dots
for l in abs rel mid dots; do
	/t/escape gate chanread /tmp/\$l | busybox grep -v 'calling the gate'
	/t/escape gate chanstat /tmp/\$l/sub | busybox grep -v 'calling the gate'
	busybox cat /tmp/\$l 2>&1 | busybox cut -c1-80
done
/t/escape gate chanreadlink /tmp/abs | busybox grep -v 'calling the gate'
echo served >/tmp/after && busybox cat /tmp/after
EOF
long_links() {
	local who=$1 label=$2
	run_moat "$who" --ro "$TESTS:/t" --ro "$WORK/plant.sh:/plant.sh" -- $BB sh /plant.sh
	local rc=$?
	local want="gate chanread: -36 (ENAMETOOLONG)
gate chanstat: -36 (ENAMETOOLONG)
cat: can't open '/tmp/abs': File name too long
gate chanread: -36 (ENAMETOOLONG)
gate chanstat: -36 (ENAMETOOLONG)
cat: can't open '/tmp/rel': File name too long
gate chanread: -36 (ENAMETOOLONG)
gate chanstat: -36 (ENAMETOOLONG)
cat: can't open '/tmp/mid': File name too long
gate chanread: -36 (ENAMETOOLONG)
gate chanstat: -36 (ENAMETOOLONG)
cat: can't open '/tmp/dots': File name too long
chanreadlink: 3005 bytes of link text
gate chanreadlink: 3005 (success)
served"
	check_eq "2 ($label): 3000-byte link components get ENAMETOOLONG, then the monitor serves on" \
		"$want|0" "$(cat "$OUT")|$rc"
	no_asan "2 ($label): no sanitizer report from the monitor"
}
long_links "" "$(id -un)"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	long_links 65534 nobody
fi

# The same through a package's union: links planted in the upper layer,
# and one that comes in the package itself.
SRC=$WORK/pkgsrc
mkdir -p "$SRC/bin" "$SRC/etc"
cp $BB "$SRC/bin/busybox"
cp "$ESC" "$SRC/bin/escape"
ln -s busybox "$SRC/bin/sh"
ln -s "/etc/$LONG" "$SRC/etc/packed"
printf 'x\n' >"$SRC/etc/msg"
printf '[Package]\nmanifest_version = 1\n[Identity]\nname = longlinks\nversion = 1\n[Application]\nentry = file:///bin/busybox\n' >"$WORK/pkg.ini"
if "$MOAT" pack "$SRC" -m "$WORK/pkg.ini" -o "$WORK/ll.mpk" >"$WORK/pack.out" 2>&1; then
	mkdir -p "$WORK/ov"
	run_moat "" --overlay "$WORK/ov" "$WORK/ll.mpk" -- sh -c "
		busybox ln -s /etc/$LONG /etc/abs; busybox ln -s $LONG /etc/rel
		for l in abs rel packed; do busybox cat /etc/\$l 2>&1 | busybox cut -c1-80
			/bin/escape gate chanread /etc/\$l/x | busybox grep -v 'calling the gate'; done
		busybox cat /etc/msg"
	rc=$?
	check_eq "2 (package union): long link texts in the upper layer and in the package" \
		"cat: can't open '/etc/abs': File name too long
gate chanread: -36 (ENAMETOOLONG)
cat: can't open '/etc/rel': File name too long
gate chanread: -36 (ENAMETOOLONG)
cat: can't open '/etc/packed': File name too long
gate chanread: -36 (ENAMETOOLONG)
x|0" "$(cat "$OUT")|$rc"
	no_asan "2 (package union): no sanitizer report from the monitor"
else
	fail "2 (package union): pack a package with a long link" "$(head -c 300 "$WORK/pack.out")"
fi

# ---- finding 4: a read-only mapping nested in a writable one ----
H=$WORK/srv
mkdir -p "$H/b/c" "$H/d" "$H/e"
echo original >"$H/b/c/f"
run_moat "" --rw "$H:/w" --ro "$H/b/c:/w/b/c" -- $BB sh -c '
	busybox mv /w/b /w/b2 2>&1; echo "mv b: $?"
	echo changed 2>/dev/null >/w/b2/c/f; echo "write b2/c/f: $?"
	busybox mv /w/d /w/b/d; echo "mv d into b: $?"
	busybox mv /w/b/d /w/d; echo "mv it back: $?"'
rc=$?
check_eq "4: renaming a directory that holds a read-only mapping: EBUSY, the host file unchanged" \
	"mv: can't rename '/w/b': Device or resource busy
mv b: 1
write b2/c/f: 1
mv d into b: 0
mv it back: 0|0|original" \
	"$(cat "$OUT")|$rc|$(cat "$H/b/c/f" 2>/dev/null || cat "$H/b2/c/f")"
[ -d "$H/b2" ] && mv "$H/b2" "$H/b" # after a failure, for the checks below
# The same host tree reached through the writable mapping by another
# virtual path: read-only whichever path reaches it.
run_moat "" --rw "$H:/w" --ro "$H/b/c:/ro" -- $BB sh -c '
	echo x 2>/dev/null >/w/b/c/f; echo "write: $?"
	echo x 2>/dev/null >/w/b/c/new; echo "create: $?"
	busybox chmod 600 /w/b/c/f 2>/dev/null; echo "chmod: $?"
	busybox ln /w/b/c/f /w/e/alias 2>/dev/null; echo "link out: $?"
	busybox mv /w/b/c/f /w/e/f 2>/dev/null; echo "move out: $?"
	busybox rm /w/b/c/f 2>/dev/null; echo "unlink: $?"
	busybox mv /w/b /w/b3 2>/dev/null; echo "mv b: $?"
	busybox mv /w/e /w/b/c 2>/dev/null; echo "mv over c: $?"
	busybox cat /ro/f'
rc=$?
check_eq "4: the read-only host tree reached through /w: every write refused" \
	"write: 1
create: 1
chmod: 1
link out: 1
move out: 1
unlink: 1
mv b: 1
mv over c: 1
original|0|original|f|644" \
	"$(cat "$OUT")|$rc|$(cat "$H/b/c/f")|$(ls "$H/b/c" | tr '\n' ' ' | sed 's/ $//')|$(stat -c %a "$H/b/c/f")"
# Writes elsewhere in /w still work (control; a fresh tree).
rm -rf "$H" && mkdir -p "$H/b/c" "$H/e" && echo original >"$H/b/c/f"
run_moat "" --rw "$H:/w" --ro "$H/b/c:/ro" -- $BB sh -c 'echo ok >/w/b/ok && busybox mv /w/e /w/e2 && busybox cat /w/b/ok'
check_eq "4 (control): other writes, renames in the writable mapping work" "ok|0" "$(cat "$OUT")|$?"
# An empty read-only directory removed through the writable mapping.
mkdir -p "$H/e"
run_moat "" --rw "$H:/w" --ro "$H/e:/ro2" -- $BB sh -c 'busybox rmdir /w/e 2>&1; echo "rmdir: $?"'
check_eq "4: rmdir of a read-only mapping's directory through /w: EBUSY, still there" \
	"rmdir: '/w/e': Device or resource busy
rmdir: 1|yes" "$(cat "$OUT")|$([ -d "$H/e" ] && echo yes)"

# ---- finding 10: the monitor's own /proc ----
if [ -r /proc/self/environ ]; then
	SECRET=moat-walk-secret-$$-$RANDOM
	proc_try() { # NAME PATH (PID is the moat process's own pid)
		local name=$1 path=$2
		( export MOAT_WALK_SECRET=$SECRET
		  exec "$MOAT" run --ro /proc:/proc -- "$ESC" gate chanread "${path//PID/$BASHPID}" ) \
			</dev/null >"$OUT" 2>"$ERR"
		if grep -q "$SECRET" "$OUT"; then
			fail "$name" "the app read moat's environment"
		else
			check_eq "$name" "gate chanread: -2 (ENOENT)" "$(grep -v calling "$OUT")"
		fi
	}
	proc_try "10: forged open of /proc/self/environ refused" /proc/self/environ
	proc_try "10: forged open of /proc/thread-self/environ refused" /proc/thread-self/environ
	proc_try "10: forged open of /proc/MONITOR-PID/environ refused" /proc/PID/environ
	proc_try "10: forged open of /proc/MONITOR-PID/task/TID/environ refused" /proc/PID/task/PID/environ
	proc_try "10: /proc/mounts (a link to self/mounts) is the monitor's too: refused" /proc/mounts
	( exec timeout 60 "$MOAT" run --ro /proc:/proc -- "$ESC" gate chanread /proc/uptime ) </dev/null >"$OUT" 2>&1
	case $(cat "$OUT") in
	*"received descriptor, read"*"gate chanread: 1 (success)"*) pass "10 (control): the rest of a granted /proc is served" ;;
	*) fail "10 (control): the rest of a granted /proc is served" "$(head -c 200 "$OUT")" ;;
	esac
	( export MOAT_WALK_SECRET=$SECRET
	  exec timeout 60 "$MOAT" run --ro /proc/self:/me -- "$ESC" gate chanread /me/environ ) </dev/null >"$OUT" 2>"$ERR"
	rc=$?
	if grep -q "$SECRET" "$OUT"; then
		fail "10: --ro /proc/self:/me is refused" "the app read moat's environment"
	else
		check_eq "10: --ro /proc/self:/me is refused" "125|that is moat's own /proc entry, never granted" \
			"$rc|$(grep -o "that is moat's own /proc entry, never granted" "$ERR")"
	fi
fi

# ---- finding 11: FIFOs and devices are never opened ----
F=$WORK/fifo
mkdir -p "$F"
mkfifo "$F/pipe"
chmod 777 "$F" "$F/pipe"
# A host writer blocks in open() until a reader comes.
( echo "the writer's message" >"$F/pipe" ) 2>/dev/null &
writer=$!
sleep 0.2
run_moat "" --ro "$F:/f" -- $BB sh -c 'busybox cat /f/pipe 2>&1; echo "cat: $?"'
check_eq "11: a granted FIFO, read through the LibOS: refused" \
	"cat: can't open '/f/pipe': Permission denied
cat: 1" "$(cat "$OUT")"
run_moat "" --rw "$F:/f" -- "$ESC" gate chanread /f/pipe
r1=$(grep -v calling "$OUT")
run_moat "" --rw "$F:/f" -- "$ESC" gate chanread /f/pipe 0x42 # write, create
r2=$(grep -v calling "$OUT")
check_eq "11: forged opens of the FIFO (read; write+create) refused" \
	"gate chanread: -13 (EACCES)|gate chanread: -13 (EACCES)" "$r1|$r2"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	run_moat 65534 --ro "$F:/f" -- "$ESC" gate chanread /f/pipe
	check_eq "11 (nobody): forged open of the FIFO refused" "gate chanread: -13 (EACCES)" \
		"$(grep -v calling "$OUT")"
fi
sleep 0.2
if kill -0 $writer 2>/dev/null; then
	pass "11: the host writer is still blocked in open (never released)"
else
	fail "11: the host writer is still blocked in open (never released)" "it was released (and died of SIGPIPE)"
fi
msg=$(timeout 3 cat "$F/pipe")
check_eq "11: the writer's message reaches its real reader" "the writer's message" "$msg"
kill $writer 2>/dev/null
wait $writer 2>/dev/null

# /dev/ptmx: opening it makes a pty; an inotify watch on /dev/pts sees it.
if [ -c /dev/ptmx ] && [ -d /dev/pts ] && command -v python3 >/dev/null; then
	python3 - "$WORK/ptys" <<'EOF' &
import ctypes, os, select, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(fd, b"/dev/pts", 0x100)  # IN_CREATE
open(sys.argv[1] + ".ready", "w").close()
n = 0
while select.select([fd], [], [], 4)[0]:
    buf, off = os.read(fd, 4096), 0
    while off + 16 <= len(buf):  # struct inotify_event: 16 bytes + name
        n += 1
        off += 16 + int.from_bytes(buf[off + 12:off + 16], "little")
open(sys.argv[1], "w").write(str(n))
EOF
	watcher=$!
	for _ in $(seq 100); do [ -e "$WORK/ptys.ready" ] && break; sleep 0.05; done
	# control: the watcher sees a pty being made
	python3 -c 'import os; os.close(os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY))'
	sleep 0.3
	run_moat "" --ro /dev:/dev -- "$ESC" gate chanread /dev/ptmx
	r=$(grep -v calling "$OUT")
	wait $watcher
	check_eq "11: forged open of /dev/ptmx refused, no pty made (inotify: 1 is the control's)" \
		"gate chanread: -13 (EACCES)|1" "$r|$(cat "$WORK/ptys" 2>/dev/null)"
fi
