#!/usr/bin/env bash
# Checkpoints, the host side (docs/checkpoint.md): moat checkpoint's
# refusals and its client path (against a stand-in monitor that plays the
# checkpointer), snapshot packages as moat inspect shows them, and every
# snapshot moat run must refuse before anything runs.  The checkpoint of
# a real app and its resume are tests/test_checkpoint*.sh (the
# checkpointer's side).
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
N=snap$$          # names unique to this run: other suites may run at once
MKSNAP=$BUILD/host/mksnap
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

RUNDIR=/run/moat
[ "$(id -u)" = 0 ] || RUNDIR=${XDG_RUNTIME_DIR:-/tmp/moat-$(id -u)}/moat
[ "$(id -u)" = 0 ] || [ -n "${XDG_RUNTIME_DIR:-}" ] || RUNDIR=/tmp/moat-$(id -u)

ps_row() { "$MOAT" ps | awk -v n="$1" '$1 == n'; }
wait_named() {
	for _ in $(seq 60); do
		[ -n "$(ps_row "$1")" ] && return 0
		sleep 0.05
	done
	return 1
}
one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }
# refused NAME PATTERN CMD...: CMD exits non-zero, prints nothing on
# stdout and exactly one line on stderr, matching PATTERN.
refused() {
	local name=$1 pat=$2; shift 2
	"$@" >"$WORK/r.out" 2>"$WORK/r.err"
	local rc=$?
	if [ $rc -ne 0 ] && [ ! -s "$WORK/r.out" ] && one_line "$WORK/r.err" &&
	   grep -qE "$pat" "$WORK/r.err"; then
		pass "$name"
	else
		fail "$name" "rc $rc, stdout [$(head -c 200 "$WORK/r.out")], stderr [$(head -c 400 "$WORK/r.err")]"
	fi
}

if [ ! -x "$MKSNAP" ]; then
	fail "mksnap" "$MKSNAP is not built (make $MKSNAP)"
	exit 0
fi

# --- moat checkpoint: refusals -------------------------------------------
refused "checkpoint of an unknown name: one line, exit 1" \
	"^moat: checkpoint: no picoprocess named $N.none$" \
	"$MOAT" checkpoint "$N.none" -o "$WORK/x.mpk"
check_eq "  ... and its exit status is 1" 1 "$("$MOAT" checkpoint "$N.none" -o "$WORK/x.mpk" 2>/dev/null; echo $?)"
"$MOAT" checkpoint "$N.none" >/dev/null 2>"$WORK/u.err"
check_eq "checkpoint without -o is a usage error (exit 2)" "2 usage: moat checkpoint NAME -o SNAP.mpk [--leave-running]" \
	"$? $(head -1 "$WORK/u.err")"
refused "checkpoint -o must name a .mpk" "a snapshot is a package; name it \*\.mpk" \
	"$MOAT" checkpoint "$N.none" -o "$WORK/x.img"
refused "checkpoint of an invalid name" "^moat: checkpoint: invalid name" \
	"$MOAT" checkpoint "../x" -o "$WORK/x.mpk"
refused "--no-checkpoint without --name is refused" "^moat: --no-checkpoint: goes with --name" \
	"$MOAT" run --no-checkpoint -- $BB true

"$MOAT" run --name "$N.plain" --no-checkpoint -- $BB sleep 30 >/dev/null 2>"$WORK/plain.err" &
P=$!; PIDS+=($P)
if wait_named "$N.plain"; then
	refused "checkpoint of a picoprocess started --no-checkpoint: a clear refusal" \
		"^moat: checkpoint: $N\.plain: it was started without the checkpointer" \
		"$MOAT" checkpoint "$N.plain" -o "$WORK/plain.mpk"
	sleep 0.2
	row=$(ps_row "$N.plain")
	if [[ $row == *running* ]] && [ ! -e "$WORK/plain.mpk" ]; then
		pass "  ... the app keeps running and no package is written"
	else
		fail "  ... the app keeps running" "ps [$row], $(ls "$WORK")"
	fi
	"$MOAT" kill "$N.plain"
	wait $P
	check_eq "  ... and ends as usual afterwards (SIGTERM: 143)" 143 $?
else
	fail "a --no-checkpoint picoprocess is listed" "$(cat "$WORK/plain.err")"
fi

# --- the client path, against a stand-in monitor ---------------------------
# fake_monitor NAME IMAGE|- VERDICTFILE: serve one CHECKPOINT on NAME's
# socket as a monitor would (the client's end of a stream and a manifest
# memfd, by SCM_RIGHTS), write IMAGE to the stream as the checkpointer
# would ("-": nothing, ever), answer SCRATCH meanwhile with an empty /tmp
# archive, then write the verdict byte it got (or "none") to VERDICTFILE.
fake_monitor() {
	python3 - "$RUNDIR/$1.sock" "$2" "$3" <<'EOF' &
import os, socket, struct, sys, time
path, image, out = sys.argv[1:4]
try: os.unlink(path)
except FileNotFoundError: pass
ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
ls.bind(path); os.chmod(path, 0o600); ls.listen(4)
ls.settimeout(20)
while True:  # the client's sweep probes every entry first: connect, close
    c, _ = ls.accept()
    req = c.recv(4096)
    if len(req) == 256:
        break
    c.close()
magic, ver, cmd = struct.unpack("<IHH", req[:8])
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
mfd = os.memfd_create("manifest")
os.write(mfd, b"[Package]\nmanifest_version = 1\n\n[Identity]\nname = busybox-snapshot\n"
         b"version = 1\n\n[Application]\nentry = file:///bin/busybox\n\n[Snapshot]\n"
         b"pico = 00000000000000000000000000000000\napp = busybox\nextensions = ckpt\n"
         b"cwd = file:///\ntaken = 2026-12-04T19:00:00Z\n")
rep = struct.pack("<IHHiI", 0x4c54434d, 1, cmd, 0, 0) + bytes(240)
socket.send_fds(c, [rep], [b.fileno(), mfd])
b.close(); os.close(mfd)
verdict = "none"
try:  # the client may give up (and answer) before it has read it all
    if image != "-":
        a.sendall(open(image, "rb").read())
        a.shutdown(socket.SHUT_WR)
except OSError:
    pass
import select
def scratch(c):  # MOAT_CTL_SCRATCH (5): a memfd with an empty archive
    req = c.recv(4096)
    if len(req) == 256 and struct.unpack("<IHH", req[:8])[2] == 5:
        sfd = os.memfd_create("scratch")
        os.write(sfd, b"MOATSCR1" + bytes(32))
        socket.send_fds(c, [struct.pack("<IHHiI", 0x4c54434d, 1, 5, 0, 0) + bytes(240)], [sfd])
        os.close(sfd)
    c.close()
verdict = "timeout"
deadline = time.time() + 20
try:
    while time.time() < deadline:
        r, _, _ = select.select([a, ls], [], [], deadline - time.time())
        if ls in r:
            scratch(ls.accept()[0])
        if a in r:
            v = a.recv(1)
            verdict = v.decode() if v else "eof"
            break
except OSError as e:
    verdict = "error " + str(e)
open(out, "w").write(verdict + "\n")
os.unlink(path)
EOF
	PIDS+=($!)
	for _ in $(seq 60); do [ -S "$RUNDIR/$1.sock" ] && break; sleep 0.05; done
}

"$MKSNAP" image > "$WORK/valid.img"
"$MKSNAP" image --error "process 1 has a child process (pid 2): a process tree cannot be checkpointed yet" > "$WORK/error.img"
"$MKSNAP" image --bad > "$WORK/bad.img"

fake_monitor "$N.f1" "$WORK/valid.img" "$WORK/v1"
out=$("$MOAT" checkpoint "$N.f1" -o "$WORK/f1.mpk" 2>&1 >"$WORK/f1.out"); rc=$?
wait "${PIDS[-1]}" 2>/dev/null
if [ $rc -eq 0 ] && [[ $out =~ ^moat:\ checkpoint:\ $N\.f1:\ $WORK/f1\.mpk\ \(4096\ bytes\ of\ memory,\ [0-9]+\ bytes\ on\ disk,\ [0-9]+\ ms\)$ ]] &&
   [ ! -s "$WORK/f1.out" ]; then
	pass "checkpoint: one line on stderr naming the package, its memory, its size and the time"
else
	fail "checkpoint: one line" "rc $rc, err [$out], out [$(cat "$WORK/f1.out")]"
fi
check_eq "  ... the checkpointer is told to end ('E') once the package is written" E "$(cat "$WORK/v1" 2>/dev/null)"
if "$MOAT" verify "$WORK/f1.mpk" >/dev/null 2>&1 &&
   "$MOAT" inspect "$WORK/f1.mpk" 2>&1 | grep -qE '^  image: +5072 bytes'; then
	pass "  ... the package verifies and holds the image (moat inspect)"
else
	fail "  ... the package verifies" "$("$MOAT" inspect "$WORK/f1.mpk" 2>&1 | head -20 | tr '\n' '|')"
fi
grep -aq '^image_hash = [0-9a-f]\{16\}$' "$WORK/f1.mpk" && grep -aq '^image_len = 5072$' "$WORK/f1.mpk" &&
	pass "  ... its [Snapshot] gained image_len and image_hash" ||
	fail "  ... [Snapshot] image_len and image_hash" "$(grep -a '^image' "$WORK/f1.mpk")"
grep -aq '^scratch_len = 40$' "$WORK/f1.mpk" && grep -aq '^scratch_hash = [0-9a-f]\{16\}$' "$WORK/f1.mpk" &&
	"$MOAT" inspect "$WORK/f1.mpk" 2>&1 | grep -qE '^  scratch: +0 files, 0 bytes, 0 directories, 0 symlinks \(archive 40 bytes, [0-9]+ compressed\)$' &&
	pass "  ... it asked for the saved /tmp (SCRATCH) and carries it: scratch_len, scratch_hash, inspect's line" ||
	fail "  ... it carries the saved /tmp" "$(grep -a '^scratch' "$WORK/f1.mpk"; "$MOAT" inspect "$WORK/f1.mpk" 2>&1 | grep scratch)"
left=$(ls -A "$WORK" | grep -c '^\.f1\.mpk')
check_eq "  ... and no temporary file is left beside it" 0 "$left"

fake_monitor "$N.f2" "$WORK/valid.img" "$WORK/v2"
"$MOAT" checkpoint "$N.f2" -o "$WORK/f2.mpk" --leave-running >/dev/null 2>&1
wait "${PIDS[-1]}" 2>/dev/null
check_eq "checkpoint --leave-running: the checkpointer goes on ('C')" C "$(cat "$WORK/v2" 2>/dev/null)"

fake_monitor "$N.f3" "$WORK/error.img" "$WORK/v3"
refused "a checkpoint that cannot be taken: its reason on one line, exit 1" \
	"^moat: checkpoint: $N\.f3: process 1 has a child process \(pid 2\): a process tree cannot be checkpointed yet$" \
	"$MOAT" checkpoint "$N.f3" -o "$WORK/f3.mpk"
wait "${PIDS[-1]}" 2>/dev/null
check_eq "  ... the app goes on ('C') and no package is written" "C none" \
	"$(cat "$WORK/v3" 2>/dev/null) $([ -e "$WORK/f3.mpk" ] && echo written || echo none)"

fake_monitor "$N.f4" "$WORK/bad.img" "$WORK/v4"
refused "a malformed image is refused, naming the record and the fault" \
	"^moat: checkpoint: $N\.f4: its checkpointer wrote a malformed image: record 4 at offset [0-9]+ \(END\): INFO says 8192 bytes of memory" \
	"$MOAT" checkpoint "$N.f4" -o "$WORK/f4.mpk"
wait "${PIDS[-1]}" 2>/dev/null
check_eq "  ... and the app goes on ('C')" C "$(cat "$WORK/v4" 2>/dev/null)"

mkdir "$WORK/ro" && chmod 555 "$WORK/ro"
if [ "$(id -u)" != 0 ]; then
	fake_monitor "$N.f5" "$WORK/valid.img" "$WORK/v5"
	refused "an output directory it cannot write: one line, the app goes on" \
		"^moat: checkpoint: $N\.f5: .*ro" "$MOAT" checkpoint "$N.f5" -o "$WORK/ro/f5.mpk"
	wait "${PIDS[-1]}" 2>/dev/null
	check_eq "  ... verdict C" C "$(cat "$WORK/v5" 2>/dev/null)"
fi
fake_monitor "$N.f6" "$WORK/valid.img" "$WORK/v6"
refused "an output in a missing directory: one line, the app goes on" \
	"^moat: checkpoint: $N\.f6: .*nodir.*No such file" "$MOAT" checkpoint "$N.f6" -o "$WORK/nodir/f6.mpk"
wait "${PIDS[-1]}" 2>/dev/null
check_eq "  ... verdict C" C "$(cat "$WORK/v6" 2>/dev/null)"

fake_monitor "$N.f7" - "$WORK/v7"
t0=$(date +%s)
refused "a checkpointer that sends nothing: a timeout, on one line" \
	"^moat: checkpoint: $N\.f7: no image after 10 s" "$MOAT" checkpoint "$N.f7" -o "$WORK/f7.mpk"
t1=$(date +%s)
wait "${PIDS[-1]}" 2>/dev/null
check_eq "  ... after about 10 s, and the app goes on ('C')" "yes C" \
	"$([ $((t1 - t0)) -ge 9 ] && [ $((t1 - t0)) -le 15 ] && echo yes || echo no) $(cat "$WORK/v7" 2>/dev/null)"

# --- snapshot packages: inspect, and what moat run refuses ----------------
PICO=$MOAT_PICO
cd "$WORK" || exit 1
"$MKSNAP" package good.mpk --pico "$PICO"
"$MOAT" inspect good.mpk >"$WORK/insp.out" 2>&1
if grep -qx 'snapshot:' insp.out && grep -qE '^  taken: +2026-12-04T19:00:00Z$' insp.out &&
   grep -qE '^  app: +busybox$' insp.out && grep -qE '^  threads: +1$' insp.out &&
   grep -qE '^  regions: +1$' insp.out && grep -qE '^  memory: +4096 bytes$' insp.out &&
   grep -qE '^  image: +5072 bytes, [0-9]+ compressed$' insp.out &&
   grep -qE '^ +3 opened +file:/data/a \(3 bytes buffered\)$' insp.out &&
   grep -qE '^  ro /data = /srv/data$' insp.out; then
	pass "inspect of a snapshot: taken, app, threads, regions, memory, image, streams, requests"
else
	fail "inspect of a snapshot" "$(tr '\n' '|' < insp.out)"
fi

cp good.mpk tampered.mpk
size=$(stat -c %s good.mpk)
# one byte of the compressed image (the last page of the file) flipped
python3 -c "
import sys; d = bytearray(open('tampered.mpk','rb').read()); d[$size - 4096 + 40] ^= 1
open('tampered.mpk','wb').write(d)"
refused "a tampered snapshot (one byte of its image flipped) is refused before it runs" \
	"^moat: tampered\.mpk: /\.moat/snapshot\.zst: contents do not match their hash" \
	"$MOAT" run --accept-grants tampered.mpk
head -c $((size - 100)) good.mpk > truncated.mpk
refused "a truncated snapshot is refused before it runs" "^moat: truncated\.mpk: truncated" \
	"$MOAT" run truncated.mpk
"$MKSNAP" package nodep.mpk --pico "$PICO" --dep "base$$=12.0"
refused "a snapshot whose dependency is missing is refused, naming it" \
	"^moat: missing dependency: busybox-snapshot 1 needs package 'base$$' version =12\.0" \
	"$MOAT" run nodep.mpk
"$MKSNAP" package otherpico.mpk --pico /bin/true
refused "a snapshot taken by another moat-pico is refused" \
	"^moat: otherpico\.mpk: taken by another build of moat-pico; resume it with that build$" \
	"$MOAT" run otherpico.mpk
"$MKSNAP" package malformed.mpk --pico "$PICO" --bad
refused "a snapshot whose image is malformed (hashes right) is refused, naming the record" \
	"^moat: malformed\.mpk: the image is malformed: record 4 .*INFO says 8192 bytes of memory" \
	"$MOAT" run malformed.mpk
"$MKSNAP" package failed.mpk --pico "$PICO" --error "process 1 has a child process"
refused "a snapshot of a failed checkpoint holds nothing to resume" \
	"^moat: failed\.mpk: holds no state to resume: its checkpoint failed: process 1 has a child process$" \
	"$MOAT" run failed.mpk
refused "--ext with a snapshot is refused" \
	"^moat: good\.mpk: --ext: a snapshot resumes with the extensions it was taken with" \
	"$MOAT" run --ext trace good.mpk
refused "arguments to a snapshot are refused" "^moat: good\.mpk: a snapshot resumes where it stopped" \
	"$MOAT" run good.mpk -- a b
printf '[Application]\nentry = file:///bin/busybox\n[Snapshot]\npico = 0\n' > plain.ini
refused "[Snapshot] in a plain manifest is refused" \
	"plain\.ini:4: \[Snapshot\] pico: only a snapshot package has this section" \
	"$MOAT" run plain.ini
cmp -s good.mpk tampered.mpk && fail "the tampered copy differs" "same bytes" ||
	pass "the tampered copy differs from the original (the test is real)"

# --- the saved /tmp in a snapshot: what inspect says, what resume refuses --
# scr OUT ENTRY...: a /tmp archive, each ENTRY KIND:PATH[:DATA] (1 dir, 2
# file, 3 symlink); "magic=X" replaces its magic.
scr() {
	python3 - "$@" <<'EOF'
import struct, sys
out, ents = sys.argv[1], sys.argv[2:]
pad = lambda b: b + b"\0" * ((8 - len(b) % 8) % 8)
magic = b"MOATSCR1"
body = b""
for e in ents:
    if e.startswith("magic="):
        magic = e[6:].encode(); continue
    kind, path, data = (e.split(":", 2) + [""])[:3]
    kind, path, data = int(kind), path.encode(), data.encode()
    body += struct.pack("<IIIIQq", kind, 0o644, len(path), 0, 0 if kind == 1 else len(data), 0)
    body += pad(path) + (b"" if kind == 1 else pad(data))
open(out, "wb").write(magic + body + bytes(32))
EOF
}
check_eq "a snapshot taken before moat carried /tmp: inspect says so" "  scratch:    not carried (its /tmp was not saved)" \
	"$(grep '^  scratch:' insp.out)"
scr ok.scr 1:tmp 1:tmp/d 2:tmp/d/f:hello 3:tmp/l:d/f 1:shm
"$MKSNAP" package scr.mpk --pico "$PICO" --scratch ok.scr
"$MOAT" inspect scr.mpk >insp2.out 2>&1
grep -qE '^  scratch: +1 files, 5 bytes, 1 directories, 1 symlinks \(archive [0-9]+ bytes, [0-9]+ compressed\)$' insp2.out &&
	pass "inspect says what the saved /tmp holds, in one line" ||
	fail "inspect says what the saved /tmp holds" "$(grep -i scratch insp2.out)"
scr esc.scr 1:tmp 2:tmp/../../escape:pwned
"$MKSNAP" package scr-esc.mpk --pico "$PICO" --scratch esc.scr
refused "a saved /tmp whose path leaves the scratch (hashes right) is refused before it runs" \
	"^moat: scr-esc\.mpk: /\.moat/scratch\.zst: the saved /tmp, entry 1: a path that leaves the scratch$" \
	"$MOAT" run --accept-grants scr-esc.mpk
refused "  ... and moat inspect refuses it too" \
	"^moat inspect: scr-esc\.mpk: /\.moat/scratch\.zst: the saved /tmp, entry 1: a path that leaves the scratch$" \
	sh -c '"$0" inspect scr-esc.mpk >/dev/null' "$MOAT"
scr link.scr 1:tmp 3:tmp/l:/ 2:tmp/l/escaped:pwned
"$MKSNAP" package scr-link.mpk --pico "$PICO" --scratch link.scr
"$MOAT" run scr-link.mpk >link.out 2>link.err
rc=$?
# (its other line: the package's /data request, not granted)
[ $rc -ne 0 ] && [ ! -s link.out ] && [ "$(grep -vc 'requests ro /data' link.err)" -eq 1 ] &&
	grep -qx "moat: the saved /tmp, entry 2 /tmp/l/escaped: its path goes through a symlink or a file of the archive (never followed)" link.err &&
	pass "a saved /tmp that writes through its own symlink is refused as the new /tmp is filled ($rc)" ||
	fail "a saved /tmp that writes through its own symlink is refused" "rc $rc: $(cat link.out link.err)"
[ ! -e /escaped ] && pass "  ... and nothing was written through it" || fail "  ... nothing written through it" "/escaped exists"
scr magic.scr magic=MOATSCR2 1:tmp
"$MKSNAP" package scr-magic.mpk --pico "$PICO" --scratch magic.scr
refused "a saved /tmp that is no archive is refused" \
	"^moat: scr-magic\.mpk: /\.moat/scratch\.zst: the saved /tmp: not an archive of one$" \
	"$MOAT" run scr-magic.mpk
"$MKSNAP" package scr-short.mpk --pico "$PICO" --scratch ok.scr --scratch-len 16
refused "a saved /tmp longer than its scratch_len: decompression stops there" \
	"^moat: scr-short\.mpk: the saved /tmp is longer than its scratch_len \(16\)$" "$MOAT" run scr-short.mpk
"$MKSNAP" package scr-huge.mpk --pico "$PICO" --scratch ok.scr --scratch-len 18446744073709551615
refused "a scratch_len beyond 64 GiB is refused before any decompression" \
	"^moat: scr-huge\.mpk: \[Snapshot\] scratch_len: expected a number of bytes up to 68719476736$" \
	"$MOAT" run scr-huge.mpk
"$MKSNAP" package scr-long.mpk --pico "$PICO" --scratch ok.scr --scratch-len 100000
refused "a saved /tmp shorter than its scratch_len is refused" \
	"^moat: scr-long\.mpk: the saved /tmp is [0-9]+ bytes, its scratch_len says 100000$" "$MOAT" run scr-long.mpk

# --- the record check on hostile images -----------------------------------
mkdir seeds && "$MKSNAP" seeds seeds
bad=""
for f in seeds/*; do
	case $f in seeds/valid|seeds/error|seeds/aligned) want=ok ;; *) want=refused ;; esac
	got=$("$MKSNAP" check "$f" >/dev/null 2>&1 && echo ok || echo refused)
	[ "$got" = "$want" ] || bad="$bad $f:$got"
done
check_eq "lengths near 2^64 (record, buffered, pages, region size) are refused, valid ones pass" "" "$bad"
check_eq "a page-aligned run (ALIGNED region) passes the check" ok "$("$MKSNAP" check seeds/aligned)"
check_eq "  ... and one whose alignment padding is not zero is refused, in one line" \
	"record 2 at offset 168 (REGION): run 0: its alignment is not zero" \
	"$("$MKSNAP" check seeds/aligned-pad)"

# -------------------------- the saved /tmp: round trip and hostile archives
SCR=$BUILD/host/scratch_archive
S=$WORK/scratch
mkdir -p "$S/src/tmp/a/b" "$S/src/shm" "$S/src/upper/etc" "$S/dst/tmp" "$S/dst/shm" "$S/h/tmp" "$S/h/shm"
echo hello >"$S/src/tmp/a/b/f"
head -c 300000 /dev/urandom >"$S/src/tmp/big"
chmod 640 "$S/src/tmp/big"
ln -s /etc/passwd "$S/src/tmp/lnk"
mkfifo "$S/src/tmp/fifo"
echo sem >"$S/src/shm/sem.x"
echo copied-up >"$S/src/upper/etc/conf"
out=$("$SCR" roundtrip "$S/src" "$S/dst" 2>&1)
rm "$S/src/tmp/fifo"
case $out in ok*) pass "the saved /tmp round-trips ($out)" ;; *) fail "the saved /tmp round-trips" "$out" ;; esac
check_eq "files, modes, symlinks, /dev/shm and the copy-up layer come back as they were (FIFOs left out)" \
	"" "$(diff -r --no-dereference "$S/src" "$S/dst" 2>&1; [ "$(stat -c %a "$S/dst/tmp/big")" = 640 ] || echo mode)"
out=$("$SCR" hostile "$S/h" 2>&1)
check_eq "hostile /tmp archives (.., absolute, unknown tops, through a symlink, truncated, 2^64 sizes) are all refused" \
	"" "$(echo "$out" | grep -v '^refused ')"
[ ! -e "$S/escape" ] && [ ! -e /escape ] && [ ! -e /escaped ] && [ -z "$(ls -A "$S/h/tmp" | grep -v '^link$')" ] &&
	pass "no hostile archive wrote anything outside its scratch" ||
	fail "no hostile archive wrote anything outside its scratch" "$(ls -la "$S" "$S/h/tmp")"
