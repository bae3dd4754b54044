#!/usr/bin/env bash
# test_security_review_pkg.sh -- issue 12, packages: findings 5 (moat pack
# races: a file swapped for a symlink to a secret while packing), 6 (entry
# sizes near 2^64 wrap the range check and crash verify and run), 9 (a
# package's own [Namespace] grants applied without the runner's consent),
# 13 (a FIFO given as a package or pack manifest hangs in open), `moat run
# -- ''`, and the round trip of hostile file names through pack, verify,
# inspect and run.
. "$(dirname "$0")/lib.sh"
shopt -s extglob

BB=/bin/busybox
PY=$WORK/mpk.py
# Rewrite fields of a package and fix its header checksum up again, so
# that only the checks after the checksum can refuse it.  XXH3-128 comes
# from libxxhash (a build dependency) through ctypes.
cat >"$PY" <<'EOF'
import ctypes, ctypes.util, struct, sys
class H(ctypes.Structure):
    _fields_ = [("low", ctypes.c_uint64), ("high", ctypes.c_uint64)]
lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
lib.XXH3_128bits.restype = H
lib.XXH3_128bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
def xxh128(b):
    h = lib.XXH3_128bits(bytes(b), len(b))
    return struct.pack(">QQ", h.high, h.low)
def craft(src, dst, what, field, value):
    d = bytearray(open(src, "rb").read())
    n, = struct.unpack_from("<I", d, 12)
    idx, soff, slen = struct.unpack_from("<Q", d, 32)[0], *struct.unpack_from("<QQ", d, 40)
    for i in range(n):
        at = idx + 64 * i
        mode, = struct.unpack_from("<I", d, at + 8)
        kind = {0o100000: "file", 0o040000: "dir", 0o120000: "link"}.get(mode & 0o170000)
        if kind == what and (what != "dir" or i > 0):
            struct.pack_into("<Q", d, at + {"size": 16, "offset": 24}[field], value)
            break
    d[80:96] = bytes(16)
    d[80:96] = xxh128(d[:soff + slen])
    open(dst, "wb").write(d)
craft(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5], 0))
EOF

# one_line_refusal NAME FILE OUT RC: a non-zero status that is not a
# signal, exactly one line naming FILE, no sanitizer report.
one_line_refusal() {
	local lines
	lines=$(printf '%s\n' "$3" | wc -l)
	if [ "$4" -ne 0 ] && [ "$4" -lt 124 ] && [ "$lines" -eq 1 ] && [[ $3 == *"$2"* ]] &&
		[[ $3 != *Sanitizer* && $3 != *"runtime error"* ]]; then
		pass "$1"
	else
		fail "$1" "rc=$4 lines=$lines: ${3:0:300}"
	fi
}

# ---- 6: entry sizes and offsets near 2^64 ----
mkdir -p "$WORK/small/bin"
cp $BB "$WORK/small/bin/busybox"
ln -s busybox "$WORK/small/bin/sh"
printf 'contents\n' >"$WORK/small/f"
printf '[Identity]\nname = small\nversion = 1\n[Application]\nentry = file:///bin/busybox\narguments = cat /f\n' \
	>"$WORK/small.ini"
"$MOAT" pack "$WORK/small" -m "$WORK/small.ini" -o "$WORK/small.mpk" 2>&1
if python3 "$PY" "$WORK/small.mpk" "$WORK/probe.mpk" file size 9 2>"$WORK/err" &&
	"$MOAT" verify "$WORK/probe.mpk" 2>&1 | grep -q 'contents do not match their hash'; then
	pass "the test's package rewriter fixes the header checksum (only the contents hash fails)"
else
	fail "the test's package rewriter fixes the header checksum" "$(cat "$WORK/err")"
fi
for c in "file size 0xfffffffffffff001" "file size 0xffffffffffffffff" "file size 0xfffffffffffff000" \
	"file offset 0xfffffffffffff000" "dir size 0xffffffffffffffff" "link size 0xffffffffffffffff"; do
	set -- $c
	f=$WORK/x-$1-$2-$3.mpk
	python3 "$PY" "$WORK/small.mpk" "$f" $1 $2 $3
	for cmd in verify inspect run; do
		out=$("$MOAT" $cmd "$f" 2>&1 </dev/null)
		one_line_refusal "6: $1 $2 $3: moat $cmd refuses it in one line" "$f" "$out" $?
	done
done

# ---- 13: a FIFO, a socket or a directory given as a package ----
F=$WORK/fifos
mkdir -p "$F/dir.mpk"
mkfifo "$F/fifo.mpk" "$F/fifo.ini"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$F/sock.mpk"
for f in fifo.mpk sock.mpk dir.mpk; do
	for cmd in verify inspect run; do
		out=$(timeout 5 "$MOAT" $cmd "$F/$f" 2>&1 </dev/null)
		rc=$?
		one_line_refusal "13: moat $cmd $f: one line, no hang" "$F/$f" "$out" $rc
	done
done
out=$(timeout 5 "$MOAT" pack "$WORK/small" -m "$F/fifo.ini" -o "$WORK/never.mpk" 2>&1 </dev/null)
rc=$?
check_eq "13: moat pack -m FIFO: one line, no hang" "rc=2 moat pack: $F/fifo.ini: not a regular file" \
	"rc=$rc $out"
# The search path is scanned for packages: a FIFO named *.mpk beside an
# app must not hang its run.
cp "$WORK/small.mpk" "$F/"
out=$(timeout 10 "$MOAT" run "$F/small.mpk" 2>&1 </dev/null)
check_eq "13: moat run APP.mpk beside a FIFO named *.mpk runs" "rc=0 contents" "rc=$? $out"

# ---- also noticed: an empty program name ----
out=$("$MOAT" run -- '' 2>&1)
check_eq "moat run -- '' says the program name is empty" "rc=2 moat: run: the PROGRAM name is empty" \
	"rc=$? $out"

out=$(cd "$WORK" && PATH="$WORK/small/bin:$PATH" "$MOAT" pack --from-host '' --name e --version 1 -o "$WORK/e.mpk" 2>&1)
check_eq "moat pack --from-host '' packs no \$PATH directory" "rc=2 moat pack: : program not found|no package" \
	"rc=$? $out|$([ -e "$WORK/e.mpk" ] && echo package || echo no package)"

# ---- 9: a package requests grants; only the runner gives them ----
mkdir -p "$WORK/host" "$WORK/gsrc/bin"
cp $BB "$WORK/gsrc/bin/busybox"
echo "host file" >"$WORK/host/f"
chmod 777 "$WORK/host"
cat >"$WORK/greedy.ini" <<EOF
[Identity]
name = greedy
version = 1.0
[Application]
entry = file:///bin/busybox
arguments = sh -c "echo owned >/host/pwned; busybox cat /host/f"
[Namespace.Writable]
file:///host = file://$WORK/host
tcp.server://0.0.0.0:8080 = tcp.server://127.0.0.1:18080
EOF
"$MOAT" pack "$WORK/gsrc" -m "$WORK/greedy.ini" -o "$WORK/greedy.mpk" 2>&1
G=$WORK/greedy.mpk
out=$(timeout 20 "$MOAT" run "$G" 2>"$WORK/err" </dev/null)
rc=$?
if [ ! -e "$WORK/host/pwned" ] && [ "$out" = "" ] && [ $rc -ne 0 ]; then
	pass "9: moat run APP.mpk does not give the package the host path it grants itself"
else
	fail "9: moat run APP.mpk does not give the package the host path it grants itself" \
		"rc=$rc pwned=$(ls "$WORK/host") out=$out"
fi
rm -f "$WORK/host/pwned"
want="moat: $G: requests rw /host = $WORK/host: not granted; give it with --ro/--rw/--net, or accept the package's requests with --accept-grants
moat: $G: requests net tcp.server://*:8080 = tcp.server://127.0.0.1:18080: not granted; give it with --ro/--rw/--net, or accept the package's requests with --accept-grants"
check_eq "9: each request not granted is named on its own line" "$want" "$(grep '^moat:' "$WORK/err")"
out=$(timeout 20 "$MOAT" run --accept-grants "$G" 2>"$WORK/err" </dev/null)
want="moat: $G: granted at its request (--accept-grants): rw /host = $WORK/host
moat: $G: granted at its request (--accept-grants): net tcp.server://*:8080 = tcp.server://127.0.0.1:18080"
check_eq "9: --accept-grants gives what the package requests, and prints each grant" \
	"host file|owned|$want" "$out|$(cat "$WORK/host/pwned" 2>/dev/null)|$(cat "$WORK/err")"
rm -f "$WORK/host/pwned"
out=$(timeout 20 "$MOAT" run --ro "$WORK/host:/host" "$G" 2>"$WORK/err" </dev/null)
check_eq "9: the runner's own --ro at the path wins: readable, not writable" \
	"host file|no pwned|moat: $G: requests rw /host = $WORK/host: not granted; your own --ro/--rw maps that path" \
	"$out|$([ -e "$WORK/host/pwned" ] && echo pwned || echo no pwned)|$(grep '^moat: .*/host' "$WORK/err")"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then # the same for a user
	rm -f "$WORK/host/pwned"
	NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
	out=$(timeout 20 "${NOBODY[@]}" "$MOAT" run "$G" 2>&1 </dev/null)
	a=$([ -e "$WORK/host/pwned" ] && echo pwned || echo untouched)
	out2=$(timeout 20 "${NOBODY[@]}" "$MOAT" run --accept-grants "$G" 2>&1 </dev/null)
	check_eq "9: as an unprivileged user: no grant without consent, the requested one with it" \
		"untouched 2|owned" "$a $(printf '%s\n' "$out" | grep -c ': not granted; ')|$(cat "$WORK/host/pwned" 2>/dev/null)"
	rm -f "$WORK/host/pwned"
fi
out=$("$MOAT" inspect "$G")
case $out in
*"requests: (granted only if the runner gives them: --ro/--rw/--net, or --accept-grants)
  rw /host = $WORK/host
  net tcp.server://*:8080 = tcp.server://127.0.0.1:18080
files:"*) pass "9: moat inspect lists what the package requests" ;;
*) fail "9: moat inspect lists what the package requests" "${out:0:500}" ;;
esac
out=$("$MOAT" run --accept-grants -- $BB true 2>&1)
check_eq "9: --accept-grants without a package is refused" \
	"rc=2 moat: --accept-grants: accepts what a package requests; give APP.mpk" "rc=$? $out"

# ---- 5: moat pack races with the directory's owner ----
# The owner swaps DIR/victim between a file and a symlink to a secret
# only the packer may read, and DIR/vdir between a directory and a
# symlink to the secret's directory, in a tight loop, while the packer
# packs DIR again and again.  No package may ever hold the secret.
SECRET=$WORK/secret
printf 'CANARY-%s-SECRET\n' "$RANDOM$RANDOM" >"$SECRET"
chmod 600 "$SECRET"
R=$WORK/race
mkdir -p "$R/d" "$R/stage" "$R/out"
for i in $(seq 1 150); do echo "filler $i" >"$R/d/f$i"; done
echo harmless >"$R/d/victim"
mkdir -p "$R/d/vdir" "$WORK/sdir"
echo harmless >"$R/d/vdir/secret"
cp "$SECRET" "$WORK/sdir/secret"
chmod 700 "$WORK/sdir"
AS=()
if [ "$(id -u)" = 0 ]; then # the owner is another user, as in the attack
	chown -R 65534:65534 "$R/d" "$R/stage"
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
cat >"$R/swap.py" <<'EOF'
import os, sys, time
d, stage, secret, sdir, seconds = sys.argv[1:5] + [float(sys.argv[5])]
end = time.time() + seconds
i = 0
while time.time() < end:
    i += 1
    # a file swapped for a symlink to the secret, and back
    link, reg = f"{stage}/l{i}", f"{stage}/r{i}"
    os.symlink(secret, link)
    os.rename(link, f"{d}/victim")
    with open(reg, "w") as f:
        f.write("harmless\n")
    os.rename(reg, f"{d}/victim")
    # a directory swapped for a symlink to the secret's directory, and back
    os.symlink(sdir, link)
    os.rename(f"{d}/vdir", f"{stage}/vdir")
    os.rename(link, f"{d}/vdir")
    os.unlink(f"{d}/vdir")
    os.rename(f"{stage}/vdir", f"{d}/vdir")
print(i)
EOF
"${AS[@]}" /usr/bin/python3 "$R/swap.py" "$R/d" "$R/stage" "$SECRET" "$WORK/sdir" 6 >"$WORK/swaps" &
swapper=$!
printf '[Identity]\nname = race\nversion = 1\n' >"$WORK/race.ini"
runs=0 leaked=0 ok=0 refused=0 other=""
end=$((SECONDS + 6))
while [ $SECONDS -lt $end ] && [ $runs -lt 200 ]; do
	runs=$((runs + 1))
	out=$("$MOAT" pack "$R/d" -m "$WORK/race.ini" -o "$R/out/p.mpk" 2>&1)
	if [ $? = 0 ]; then
		ok=$((ok + 1))
		grep -qa CANARY "$R/out/p.mpk" && leaked=$((leaked + 1))
	elif [[ $out == "moat pack: $R/d/"@(victim|vdir|vdir/secret)": changed while packing (now a symlink or another file); refused" ]]; then
		refused=$((refused + 1))
	else
		other=$out
	fi
done
wait $swapper
swaps=$(cat "$WORK/swaps")
if [ "${swaps:-0}" -lt 100 ]; then
	fail "5: packs racing a symlink swap" "the swapper did not run (${swaps:-no} swaps)"
elif [ $leaked = 0 ] && [ -z "$other" ] && [ $ok -gt 0 -o $refused -gt 0 ]; then
	pass "5: $runs packs racing $swaps symlink swaps: none holds the secret ($ok packed, $refused refused in one line)"
else
	fail "5: packs racing a symlink swap" "$leaked of $runs packages hold the secret; other error: ${other:0:200}"
fi

# A hard link in another user's directory to a file its owner cannot
# read: packing it as root would copy the file.
if [ "$(id -u)" = 0 ]; then
	H=$WORK/hard
	mkdir -p "$H"
	ln "$SECRET" "$H/link"
	chown 65534:65534 "$H"
	out=$("$MOAT" pack "$H" -m "$WORK/race.ini" -o "$WORK/hard.mpk" 2>&1)
	check_eq "5: a hard link to root's file in another user's directory is refused" \
		"rc=1 moat pack: $H/link: cannot pack: a hard link to a file of uid 0 in a directory of uid 65534; copy it instead|no package" \
		"rc=$? $out|$([ -e "$WORK/hard.mpk" ] && echo package || echo no package)"
fi

# A directory swapped for a symlink to a directory beyond DIR is not
# walked: pack sees what is there when it opens it, by descriptor.
mkdir -p "$WORK/sw/d/sub" "$WORK/outside"
cp "$SECRET" "$WORK/outside/secret"
echo x >"$WORK/sw/d/sub/x"
ln -s "$WORK/outside" "$WORK/sw/d/link"
out=$("$MOAT" pack "$WORK/sw/d" -m "$WORK/race.ini" -o "$WORK/sw.mpk" 2>&1)
if [ -z "$out" ] && ! grep -qa CANARY "$WORK/sw.mpk" && "$MOAT" inspect "$WORK/sw.mpk" | grep -q "link .* /link -> $WORK/outside"; then
	pass "5: a symlink to a directory outside is packed as a symlink"
else
	fail "5: a symlink to a directory outside is packed as a symlink" "${out:0:300}"
fi

# ---- round trip: file names with every byte pack, verify, inspect, run ----
N=$WORK/names
mkdir -p "$N/bin" "$N/d"
cp $BB "$N/bin/busybox"
python3 - "$N/d" <<'EOF'
import os, sys
d = os.fsencode(sys.argv[1])
names = [b"a" + bytes([c]) + b"z" for c in range(1, 256) if c != ord("/")]
names += [b"\n[Namespace.Writable]\nx = file:", b" lead", b"=", b"#x", b";y",
          b"\\", b"\x1b[2J", b"x" * 255, b".wh", b".whx", b"-", b"..."]
for n in names:
    with open(os.path.join(d, n), "wb") as f:
        f.write(n)
EOF
out=$("$MOAT" pack "$N" -m "$WORK/small.ini" -o "$WORK/names.mpk" 2>&1)
check_eq "round trip: a directory of hostile names packs" "rc=0 " "rc=$? $out"
read -r nall nfiles < <(python3 -c '
import os, sys
n = f = 0
for top, dirs, files in os.walk(sys.argv[1]):
    n += len(dirs) + len(files)
    f += len(files)
print(n + 1, f)' "$N")
out=$("$MOAT" verify "$WORK/names.mpk" 2>&1)
check_eq "round trip: and verifies" "rc=0 $WORK/names.mpk: ok (small 1, $nall entries, checksums match)" "rc=$? $out"
inside=$(timeout 20 "$MOAT" run "$WORK/names.mpk" -- find /d -print0 2>&1 </dev/null | python3 -c '
import sys; print(sorted(x for x in sys.stdin.buffer.read().split(b"\0") if x))' 2>&1)
host=$(cd "$N" && find d -print0 | python3 -c '
import sys; print(sorted(b"/" + x for x in sys.stdin.buffer.read().split(b"\0") if x))')
check_eq "round trip: run lists exactly the names packed" "$host" "$inside"
out=$(timeout 20 "$MOAT" run "$WORK/names.mpk" -- sh -c 'for f in /d/* /d/.[!.]* /d/..?*; do [ "$(busybox cat "$f")" = "${f#/d/}" ] || echo "$f differs"; done; echo done' 2>&1)
check_eq "round trip: every file holds what was packed under its name" "done" "$out"
out=$("$MOAT" inspect "$WORK/names.mpk")
lines=$(printf '%s\n' "$out" | grep -c '^  file ')
esc=$(printf '%s\n' "$out" | grep -cF '/d/\n[Namespace.Writable]\nx = file:')
check_eq "round trip: inspect shows each file on one line, control bytes escaped" "$nfiles 1" "$lines $esc"

# Over-long paths and empty whiteouts are refused by name, not packed
# into a package that cannot be read back.
mkdir -p "$WORK/wh"
: >"$WORK/wh/.wh."
out=$("$MOAT" pack "$WORK/wh" -m "$WORK/race.ini" -o "$WORK/wh.mpk" 2>&1)
check_eq "round trip: a whiteout of no name is refused" \
	"rc=1 moat pack: $WORK/wh/.wh.: cannot pack: a whiteout of no name" "rc=$? $out"
python3 - "$WORK/deep" <<'EOF'
import os, sys
os.mkdir(sys.argv[1])
fd = os.open(sys.argv[1], os.O_RDONLY)
for i in range(20):
    os.mkdir("y" * 250, dir_fd=fd)
    nfd = os.open("y" * 250, os.O_RDONLY, dir_fd=fd)
    os.close(fd)
    fd = nfd
EOF
out=$("$MOAT" pack "$WORK/deep" -m "$WORK/race.ini" -o "$WORK/deep.mpk" 2>&1)
rc=$?
if [ $rc = 1 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == *"path too long"* ]]; then
	pass "round trip: a path too long for a package is refused in one line"
else
	fail "round trip: a path too long for a package is refused in one line" "rc=$rc ${out:0:300}"
fi

# The generated manifest of --from-host: a name with a newline must not
# become a line (a section) of its own; an entry path is written encoded.
out=$("$MOAT" pack --from-host /bin/true --name "$(printf 'x\n[Namespace.Writable]\nfile:///w = file:///')" \
	--version 1 -o "$WORK/nl.mpk" 2>&1)
rc=$?
check_eq "generated manifest: a --name with a newline is refused in one line" \
	"2|moat pack: --name: holds a control character; refused|no package" \
	"$rc|$out|$([ -e "$WORK/nl.mpk" ] && echo package || echo 'no package')"
mkdir -p "$WORK/pct dir%41"
cp /bin/busybox "$WORK/pct dir%41/bb"
"$MOAT" pack --from-host "$WORK/pct dir%41/bb" --name pct --version 1 -o "$WORK/pct.mpk" >/dev/null 2>&1
check_eq "generated manifest: an entry path with '%' and a blank reads back as itself" \
	"entry:    $WORK/pct dir%41/bb" "$("$MOAT" inspect "$WORK/pct.mpk" 2>&1 | grep '^entry:')"

# A package's host paths are requests: moat does not look at them unless
# they are granted, so one this host lacks does not stop the package.
mkdir -p "$WORK/asrc/bin"
cp $BB "$WORK/asrc/bin/busybox"
cat >"$WORK/absent.ini" <<EOF2
[Identity]
name = absent
version = 1.0
[Application]
entry = file:///bin/busybox
arguments = echo ran
[Namespace]
file:///data = file://$WORK/no-such-dir
EOF2
"$MOAT" pack "$WORK/asrc" -m "$WORK/absent.ini" -o "$WORK/absent.mpk" >/dev/null 2>&1
out=$("$MOAT" run "$WORK/absent.mpk" 2>"$WORK/err" </dev/null)
check_eq "9: a request for a path this host lacks, not granted: the package runs" \
	"ran|0|moat: $WORK/absent.mpk: requests ro /data = $WORK/no-such-dir: not granted; give it with --ro/--rw/--net, or accept the package's requests with --accept-grants" \
	"$out|$?|$(cat "$WORK/err")"
"$MOAT" run --accept-grants "$WORK/absent.mpk" >/dev/null 2>"$WORK/err" </dev/null
rc=$?
if [ $rc -ne 0 ] && grep -q "no-such-dir.*No such file or directory" "$WORK/err" && [ "$(grep -vc 'granted at its request' "$WORK/err")" = 1 ]; then
	pass "9: the same request accepted: one line naming the missing path"
else
	fail "9: the same request accepted: one line naming the missing path" "rc=$rc $(tr '\n' '|' <"$WORK/err")"
fi
