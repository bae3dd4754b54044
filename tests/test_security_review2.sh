#!/usr/bin/env bash
# test_security_review2.sh -- a second outside review (after issue 12's
# fixes), tried as an attacker would: defects found, and attempts that
# were contained, kept so that the next change is checked against them.
#
# Defects (each check fails on the build before its fix):
#  A  a FIFO (or a symlink to one, or to a device) named *.mpk in the
#     folder of an app run as `moat run APP.mpk` was opened by the
#     dependency scan: a host writer blocked on the FIFO was released and
#     its message lost; `moat verify` and `moat inspect` did the same.
#  B  `moat inspect` and `moat run` printed a package's requested grants
#     with bytes >= 0x80 as they are: U+009B (CSI in a UTF-8 terminal)
#     and U+202E let a package show a harmless grant over the real one.
#  E  `moat pack --from-host PROGRAM` packed whatever the program's own
#     bytes named as its interpreter or libraries: PT_INTERP /etc/shadow,
#     a RUNPATH folder holding a symlink to it, or a directory (packed
#     whole).  Root packing a user's program put root's secrets into the
#     package the program then runs in.
#  F  `moat run --learn FILE` refused a FILE inside a writable grant by
#     its path only: through a bind mount of the grant's folder (another
#     path, the same folder) the program renamed the learned manifest away
#     and wrote its own, [Namespace.Writable] file:///pwn = file:/// and
#     all, and moat said "wrote FILE".
# Contained (guards for the next change):
#  C  writes, moves, links, chmod, utimes, truncate, mkdir, symlinks and
#     rm -rf at and around a read-only mapping nested in a writable one;
#     a rename between two writable mappings; a socket node in it.
#  D  other spellings of the monitor's own /proc: host symlinks in a
#     granted folder (absolute, relative, thread-self), magic links of
#     other processes (root, cwd), /proc/net.
. "$(dirname "$0")/lib.sh"

ESC=${ESC:-$BUILD/tests/escape}
BB=/bin/busybox
[ -x "$ESC" ] || { fail "setup" "build $ESC first (make build/tests/escape)"; exit 0; }
TESTS=$(dirname "$ESC")
OUT=$WORK/out ERR=$WORK/err
ROOTUSER=$([ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && echo 1 || echo 0)
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)

# ---- a small package to run ----
mkdir -p "$WORK/small/bin" "$WORK/app"
cp $BB "$WORK/small/bin/busybox"
printf 'contents\n' >"$WORK/small/f"
printf '[Identity]\nname = small\nversion = 1\n[Application]\nentry = file:///bin/busybox\narguments = cat /f\n' \
	>"$WORK/small.ini"
"$MOAT" pack "$WORK/small" -m "$WORK/small.ini" -o "$WORK/app/small.mpk" 2>&1
chmod -R a+rX "$WORK/app"

# ---- A: FIFOs named *.mpk are never opened ----
# writer_blocked NAME FIFO PID: the writer is still blocked in open(), and
# its message reaches a real reader afterwards.
writer_blocked() {
	sleep 0.2
	if kill -0 "$3" 2>/dev/null; then
		check_eq "$1: the writer's message reaches its real reader" "message $2" \
			"$(timeout 3 cat "$2")"
	else
		fail "$1: the host writer is still blocked" "it was released (its message lost)"
	fi
	kill "$3" 2>/dev/null
	wait "$3" 2>/dev/null
}
mkfifo "$WORK/app/zz.mpk"
chmod 666 "$WORK/app/zz.mpk"
( echo "message $WORK/app/zz.mpk" >"$WORK/app/zz.mpk" ) 2>/dev/null &
w=$!
sleep 0.2
out=$(timeout 20 "$MOAT" run "$WORK/app/small.mpk" 2>&1 </dev/null)
check_eq "A: moat run APP.mpk beside a FIFO named *.mpk runs" "rc=0 contents" "rc=$? $out"
writer_blocked "A: moat run APP.mpk beside a FIFO named *.mpk" "$WORK/app/zz.mpk" $w

for cmd in verify inspect; do
	( echo "message $WORK/app/zz.mpk" >"$WORK/app/zz.mpk" ) 2>/dev/null &
	w=$!
	sleep 0.2
	out=$(timeout 5 "$MOAT" $cmd "$WORK/app/zz.mpk" 2>&1 </dev/null)
	check_eq "A: moat $cmd FIFO: one line" "rc=1 moat $cmd: $WORK/app/zz.mpk: not a regular file" "rc=$? $out"
	writer_blocked "A: moat $cmd FIFO" "$WORK/app/zz.mpk" $w
done

# A symlink to a FIFO elsewhere, as another user could plant it in a
# shared folder; the run as nobody too.
rm -f "$WORK/app/zz.mpk"
mkfifo "$WORK/fifo"
chmod 666 "$WORK/fifo"
ln -s "$WORK/fifo" "$WORK/app/link.mpk"
( echo "message $WORK/fifo" >"$WORK/fifo" ) 2>/dev/null &
w=$!
sleep 0.2
out=$(timeout 20 "$MOAT" run "$WORK/app/small.mpk" 2>&1 </dev/null)
check_eq "A: moat run APP.mpk beside a symlink to a FIFO runs" "rc=0 contents" "rc=$? $out"
if [ "$ROOTUSER" = 1 ]; then
	out=$(timeout 20 "${NOBODY[@]}" "$MOAT" run "$WORK/app/small.mpk" 2>&1 </dev/null)
	check_eq "A (nobody): moat run APP.mpk beside a symlink to a FIFO runs" "rc=0 contents" "rc=$? $out"
fi
writer_blocked "A: moat run APP.mpk beside a symlink to a FIFO" "$WORK/fifo" $w
rm -f "$WORK/app/link.mpk"

# The manifest given to `moat pack -m` is checked the same way.
( echo "message $WORK/fifo" >"$WORK/fifo" ) 2>/dev/null &
w=$!
sleep 0.2
out=$(timeout 5 "$MOAT" pack "$WORK/app" -m "$WORK/fifo" -o "$WORK/never.mpk" 2>&1 </dev/null)
check_eq "A: moat pack -m FIFO: one line" "rc=2 moat pack: $WORK/fifo: not a regular file" "rc=$? $out"
writer_blocked "A: moat pack -m FIFO" "$WORK/fifo" $w

# ---- B: what a package requests is shown as it is ----
mkdir -p "$WORK/bsrc/bin"
cp $BB "$WORK/bsrc/bin/busybox"
# The virtual path holds CSI 2K, CSI 1G (erase the line, back to its
# start) and a right-to-left override, then harmless-looking text.
cat >"$WORK/b.ini" <<EOF
[Identity]
name = spoof
version = 1
[Application]
entry = file:///bin/busybox
arguments = true
[Namespace.Writable]
file:///x%C2%9B2K%C2%9B1G%20%20ro%20/tmp%E2%80%AE = file:///
EOF
out=$("$MOAT" pack "$WORK/bsrc" -m "$WORK/b.ini" -o "$WORK/b.mpk" 2>&1)
check_eq "B: a package requesting a grant with escapes in its path packs" "rc=0 " "rc=$? $out"
out=$("$MOAT" inspect "$WORK/b.mpk" 2>&1)
req=$(printf '%s\n' "$out" | sed -n '/^requests:/,/^files:/p')
if printf '%s' "$req" | LC_ALL=C grep -q '[^[:print:][:space:]]'; then
	fail "B: moat inspect shows requests in printable ASCII only" "$(printf '%s' "$req" | od -c | head -3 | tr '\n' '|')"
else
	pass "B: moat inspect shows requests in printable ASCII only"
fi
check_eq "B: moat inspect shows the real grant, escaped" \
	'  rw /x\302\2332K\302\2331G  ro /tmp\342\200\256 = /' "$(printf '%s\n' "$req" | grep '^  rw')"
out=$(timeout 20 "$MOAT" run "$WORK/b.mpk" 2>&1 </dev/null)
if printf '%s' "$out" | LC_ALL=C grep -q '[^[:print:][:space:]]'; then
	fail "B: moat run names the request in printable ASCII only" "$(printf '%s' "$out" | head -c 200)"
else
	pass "B: moat run names the request in printable ASCII only"
fi

# ---- C: a read-only mapping nested in a writable one ----
S=$WORK/srv
mkdir -p "$S/b/c" "$S/x" "$WORK/other"
echo secret >"$S/b/c/f"
echo ro >"$S/rofile"
chmod -R a+rwX "$S" "$WORK/other"
before=$(cd "$S" && find . -mindepth 1 -printf '%p %m %s %T@\n' | sort)
attack='cd /w
echo 1 > b/c/f; echo "write $?"
ln -s b/c lnk; echo hi > lnk/f; echo "via-symlink $?"
mv b b2; echo "mv-parent $?"
ln b/c/f hard; echo "hardlink $?"
mkdir b/c/new; echo "mkdir $?"
chmod 777 b/c/f; echo "chmod $?"
chmod 777 b/c; echo "chmod-root $?"
touch -d 2000-01-01 b/c/f; echo "utimes $?"
echo x > rofile; echo "file-mapping $?"
mv rofile r2; echo "mv-file-mapping $?"
mv x b/c/x; echo "mv-into $?"
mv lnk b/c/l2; echo "mv-link-into $?"
rm -rf b 2>/dev/null; echo "rm-rf $?"
ln -s /etc/passwd b/c/sl; echo "symlink-in $?"
mv b/c/f f2; echo "mv-out $?"
truncate -s 0 b/c/f; echo "truncate $?"
mv b/c/f /o/f 2>/dev/null; echo "across-mappings $?"
rm -f lnk'
want='write 1
via-symlink 1
mv-parent 1
hardlink 1
mkdir 1
chmod 1
chmod-root 1
utimes 1
file-mapping 1
mv-file-mapping 1
mv-into 1
mv-link-into 1
rm-rf 1
symlink-in 1
mv-out 1
truncate 1
across-mappings 1'
for who in root nobody; do
	[ $who = nobody ] && [ "$ROOTUSER" = 0 ] && continue
	as=()
	[ $who = nobody ] && as=("${NOBODY[@]}")
	timeout 30 "${as[@]}" "$MOAT" run --rw "$S:/w" --ro "$S/b/c:/ro" --ro "$S/rofile:/rof" \
		--rw "$WORK/other:/o" -- $BB sh -c "$attack" </dev/null >"$OUT" 2>"$ERR"
	check_eq "C ($who): every change at or in the nested read-only mapping refused" "$want" "$(cat "$OUT")"
	check_eq "C ($who): the host tree is unchanged" "$before" \
		"$(cd "$S" && find . -mindepth 1 -printf '%p %m %s %T@\n' | sort)"
done
# Forged: a socket node inside the read-only tree, and truncate+create.
timeout 20 "$MOAT" run --rw "$S:/w" --ro "$S/b/c:/ro" --ro "$TESTS:/t" -- \
	/t/escape gate chanread /w/b/c/f 0x52 </dev/null >"$OUT" 2>&1 # rdwr|create|truncate
check_eq "C: forged open of /w/b/c/f with O_CREAT|O_TRUNC refused" "gate chanread: -30 (EROFS)" \
	"$(grep -v calling "$OUT")"
check_eq "C: and the file keeps its contents" "secret" "$(cat "$S/b/c/f")"

# ---- D: the monitor's own /proc by other spellings ----
G=$WORK/g
mkdir -p "$G"
ln -s /proc/self/environ "$G/abs"
ln -s ../../proc/self/environ "$G/rel"
ln -s /proc/thread-self/environ "$G/ts"
ln -s ../../../../../../proc/./self/environ "$G/dots"
got=""
for p in /g/abs /g/rel /g/ts /g/dots /proc/self/environ /proc/1/root/proc/self/environ \
	/proc/net/../self/environ /proc/self/cwd/proc/self/environ; do
	MOAT_RED_SECRET=red-canary-$$ timeout 20 "$MOAT" run --ro /proc:/proc --ro "$G:/g" --ro "$TESTS:/t" -- \
		/t/escape gate chanread "$p" </dev/null >"$OUT" 2>&1
	grep -q "red-canary-$$" "$OUT" && got+=" $p"
	grep -q 'received descriptor' "$OUT" && got+=" $p(fd)"
done
check_eq "D: no spelling of /proc/self reaches the monitor's environment" "" "$got"

# ---- E: pack --from-host takes only ELF files as interpreter and libraries ----
E=$WORK/elf
mkdir -p "$E/evil" "$E/secretdir"
echo "root's secret" >"$E/secret"
echo "root's secret" >"$E/secretdir/s"
chmod 600 "$E/secret" "$E/secretdir/s"
echo 'int main(void) { return 0; }' >"$E/p.c"
echo 'int f(void) { return 1; }' >"$E/l.c"
if command -v cc >/dev/null && cc -shared -fPIC -o "$E/libx.so" "$E/l.c" 2>/dev/null; then
	cc -o "$E/interp" "$E/p.c" -Wl,--dynamic-linker="$E/secret"
	cc -o "$E/interpdir" "$E/p.c" -Wl,--dynamic-linker="$E/secretdir"
	cc -o "$E/needs" "$E/p.c" -Wl,--no-as-needed -L"$E" -l:libx.so -Wl,-rpath,"$E/evil"
	ln -s "$E/secret" "$E/evil/libx.so"
	for prog in interp interpdir needs; do
		rm -f "$E/out.mpk"
		out=$("$MOAT" pack --from-host "$E/$prog" --name e --version 1 -o "$E/out.mpk" 2>&1)
		rc=$?
		what=$E/secret
		[ $prog = interpdir ] && what=$E/secretdir
		check_eq "E: pack --from-host, $prog names a host secret: refused in one line" \
			"rc=1 moat pack: $what: named as an interpreter or library, but not an ELF file; refused|no package" \
			"rc=$rc $out|$([ -e "$E/out.mpk" ] && echo package || echo no package)"
	done
	out=$("$MOAT" pack --from-host /bin/true --name t --version 1 -o "$E/true.mpk" 2>&1)
	check_eq "E: pack --from-host of an ordinary program still packs" "rc=0 " "rc=$? $out"
	out=$(timeout 20 "$MOAT" run "$E/true.mpk" 2>&1 </dev/null)
	check_eq "E: and it runs" "rc=0 " "rc=$? $out"
else
	fail "E: setup" "no C compiler to make the hostile programs"
fi

# ---- F: the learned manifest out of reach, by identity ----
L=$WORK/learn
mkdir -p "$L/grant/sub" "$L/alias"
chmod -R 777 "$L"
if [ "$(id -u)" = 0 ] && mount --bind "$L/grant" "$L/alias" 2>/dev/null; then
	evil='busybox mv /g/l.ini /g/old 2>/dev/null; printf "[Application]\nentry = file:///bin/busybox\n[Namespace.Writable]\nfile:///pwn = file:///\n" >/g/l.ini'
	out=$(timeout 20 "$MOAT" run --rw "$L/grant:/g" --learn "$L/alias/l.ini" -- $BB sh -c "$evil" 2>&1 </dev/null)
	rc=$?
	check_eq "F: --learn FILE in a bind mount of a writable grant: refused" \
		"rc=2 moat: --learn $L/alias/l.ini: inside the writable grant of $L/grant, where the program could change it before it is run; write it elsewhere" \
		"rc=$rc $out"
	if grep -qs 'file:///pwn' "$L/alias/l.ini"; then
		fail "F: the program never writes the learned manifest" "it holds the program's own grants"
	else
		pass "F: the program never writes the learned manifest"
	fi
	out=$(timeout 20 "$MOAT" run --rw "$L/grant:/g" --learn "$L/alias/sub/l.ini" -- $BB true 2>&1 </dev/null)
	check_eq "F: --learn FILE deeper in the bind mount: refused" \
		"rc=2 moat: --learn $L/alias/sub/l.ini: inside the writable grant of $L/grant, where the program could change it before it is run; write it elsewhere" \
		"rc=$? $out"
	rm -f "$L/alias/l.ini" "$L/alias/old"
	out=$(timeout 20 "$MOAT" run --rw "$L/grant/sub:/g" --learn "$L/alias/l.ini" -- $BB true 2>&1 </dev/null)
	check_eq "F: --learn FILE beside (not in) a writable grant is written" \
		"rc=0 moat: learn mode: wrote $L/alias/l.ini" "rc=$? $out"
	umount "$L/alias"
else
	echo "SKIP F: needs root and mount --bind"
fi

# ---- G: dependency cycles and a package depending on itself ----
C=$WORK/cyc
mkdir -p "$C/pk" "$C/empty"
printf '[Identity]\nname = a\nversion = 1\n[Dependency.b]\nversion = >=1\n[Application]\nentry = file:///bin/busybox\narguments = true\n' >"$C/a.ini"
printf '[Identity]\nname = b\nversion = 1\n[Dependency.a]\nversion = >=1\n' >"$C/b.ini"
printf '[Identity]\nname = c\nversion = 1\n[Dependency.c]\nversion = >=1\n[Application]\nentry = file:///bin/busybox\n' >"$C/c.ini"
"$MOAT" pack "$WORK/small" -m "$C/a.ini" -o "$C/pk/a.mpk" >/dev/null 2>&1
"$MOAT" pack "$C/empty" -m "$C/b.ini" -o "$C/pk/b.mpk" >/dev/null 2>&1
"$MOAT" pack "$WORK/small" -m "$C/c.ini" -o "$C/pk/c.mpk" >/dev/null 2>&1
out=$(timeout 10 "$MOAT" run "$C/pk/a.mpk" 2>&1 </dev/null)
check_eq "G: a dependency cycle is refused in one line" "rc=2 moat: dependency cycle: a -> b -> a" "rc=$? $out"
out=$(timeout 10 "$MOAT" run "$C/pk/c.mpk" 2>&1 </dev/null)
check_eq "G: a package depending on itself is refused in one line" "rc=2 moat: dependency cycle: c -> c" "rc=$? $out"

# ---- G: a dependency's own grants are never applied, even with --accept-grants ----
mkdir -p "$C/dep" "$C/host"
echo "host file" >"$C/host/f"
printf '[Identity]\nname = greedydep\nversion = 1\n[Namespace.Writable]\nfile:///host = file://%s\n' "$C/host" >"$C/gd.ini"
printf '[Identity]\nname = app\nversion = 1\n[Dependency.greedydep]\nversion = >=1\n[Application]\nentry = file:///bin/busybox\narguments = sh -c "busybox cat /host/f; echo owned > /host/pwned"\n' >"$C/app.ini"
"$MOAT" pack "$C/empty" -m "$C/gd.ini" -o "$C/dep/gd.mpk" >/dev/null 2>&1
"$MOAT" pack "$WORK/small" -m "$C/app.ini" -o "$C/dep/app.mpk" >/dev/null 2>&1
out=$(timeout 20 "$MOAT" run --accept-grants "$C/dep/app.mpk" 2>&1 </dev/null)
check_eq "G: a dependency's [Namespace.Writable] is not granted, even with --accept-grants" \
	"no grant line|untouched" \
	"$(printf '%s\n' "$out" | grep -q 'granted at its request' && echo granted || echo no grant line)|$([ -e "$C/host/pwned" ] && echo pwned || echo untouched)"

# A manifest's error line shows no terminal control either: U+009B (CSI in
# UTF-8) decoded from a path is replaced, like C0 bytes.
cat >"$WORK/csi.ini" <<EOF2
[Application]
entry = file:///bin/busybox
[Namespace]
file:///a%C2%9B2Kb = file:///bin
file:///a%C2%9B2Kb = file:///usr
EOF2
out=$("$MOAT" run "$WORK/csi.ini" 2>&1 </dev/null)
rc=$?
if [ $rc -ne 0 ] && [ "$(printf '%s' "$out" | wc -l)" = 0 ] && ! printf '%s' "$out" | LC_ALL=C grep -q '[^ -~]'; then
	pass "a manifest error line is printable ASCII only (a decoded U+009B replaced)"
else
	fail "a manifest error line is printable ASCII only" "rc=$rc $(printf '%s' "$out" | od -c | head -3 | tr '\n' '|')"
fi
