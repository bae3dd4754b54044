#!/usr/bin/env bash
# directfs: attacks on the directories the monitor donates to the
# picoprocess (pal/linux/directfs.c, docs/security.md "directfs").
#
# A read-only directory mapping with nothing mapped beneath it is donated
# as an O_PATH descriptor at fd 7, the root of a detached copy of its
# mount tree; the PAL stats names directly in it with newfstatat.  Each
# attack runs build/tests/dfs_attack inside a picoprocess, through the
# LibOS or by calling the PAL's gate as a subverted LibOS would.  What
# must hold: '..' and symbolic links never lead out of the mapping; no
# call can open, read, write, map, link or rename through the
# descriptor; newfstatat needs a real descriptor and AT_SYMLINK_NOFOLLOW;
# a directory or file swapped for a link while the app stats never shows
# it anything outside; and what the PAL answers is what the host says.
. "$(dirname "$0")/lib.sh"

ATT=$BUILD/tests/dfs_attack
if [ ! -x "$ATT" ]; then
	fail "attack program" "$ATT is missing (make $BUILD/tests/dfs_attack)"
	exit 0
fi
RO=$WORK/ro RW=$WORK/rw OUT=$WORK/out CANARY=$WORK/canary
mkdir -p "$RO/d" "$RW" "$OUT"
echo "canary secret" >"$CANARY"
echo "public" >"$RO/f"
echo "inside" >"$RO/d/x"
echo "outside" >"$OUT/x"
ln -s ../canary "$RO/rel"       # climbs out of the mapping
ln -s "$CANARY" "$RO/abs"       # a host path
chmod -R a+rX "$WORK"
G=(--ro "$RO:/ro" --rw "$RW:/rw")

# run ATTEMPT...: the attack's output and, last, "status N".
run() {
	"$MOAT" run "${G[@]}" -- "$ATT" "$@" 2>/dev/null
	echo "status $?"
}
# killed NAME ATTEMPT...: the filter must end the picoprocess (159).
killed() {
	local name=$1; shift
	local out
	out=$(run "$@")
	case $out in
	*"status 159") pass "$name: killed by the filter" ;;
	*) fail "$name: killed by the filter" "$(echo "$out" | tr '\n' '|')" ;;
	esac
}
# line ATTEMPT...: the attack's result line (its first line that is not
# "calling the gate").
line() { run "$@" | grep -v 'calling the gate' | head -1; }

out=$("$MOAT" run --debug "${G[@]}" -- "$ATT" stat /ro/f 2>&1 >/dev/null | grep "^moat: directfs")
check_eq "the read-only mapping, and only it, is donated" \
	"moat: directfs: the picoprocess stats itself beneath 1 read-only mapping" "$out"

# The PAL's own answers are the host's.
host=$(stat -c 'ino=%i uid=%u gid=%g mode=%f size=%s' "$RO/f")
got=$(line stat /ro/f | sed 's/^stat: //')
check_eq "stat of a donated name shows the host's attributes" "$host" "$got"
host=$(stat -c 'ino=%i size=%s' "$RO/rel")
got=$(line lstat /ro/rel | sed 's/^lstat: //; s/ uid=.*size=/ size=/')
check_eq "lstat of a link in the mapping shows the link" "$host" "$got"
host=$(stat -c 'ino=%i uid=%u gid=%g mode=%f size=%s' "$RO/d/x")
got=$(line stat /ro/d/x | sed 's/^stat: //')
check_eq "stat of a deeper donated path shows the host's attributes" "$host" "$got"
check_eq "stat beneath a file: ENOTDIR" "stat: -20" "$(line stat /ro/f/x)"
check_eq "stat of an absent name: ENOENT" "stat: -2" "$(line stat /ro/d/nope)"
check_eq "open of an absent name: ENOENT" "read: -2" "$(line read /ro/nope)"
check_eq "open beneath a file: ENOTDIR" "read: -20" "$(line read /ro/f/x)"
check_eq "open of a donated name reads it (through the monitor)" "read: public" "$(line read /ro/f)"
check_eq "stat of ../canary (a link) is resolved as a virtual path: outside every mapping" \
	"stat: -2" "$(line stat /ro/rel)"
check_eq "stat of a link to a host path: outside every mapping" "stat: -2" "$(line stat /ro/abs)"
check_eq "a link's target is never read" "read: -2" "$(line read /ro/rel)"

# '..' and links beneath the donated descriptor, through the gate.
check_eq "gate: newfstatat(7, ../canary): '..' stays at the mapping's root" \
	"gstat: -2" "$(line gstat 7 ../canary 0x100)"
check_eq "gate: newfstatat(7, ..) is the mapping itself" \
	"gstat: 0 ino=$(stat -c %i "$RO") size=$(stat -c %s "$RO")" "$(line gstat 7 .. 0x100)"
check_eq "gate: newfstatat(7, ../../../../etc/passwd)" "gstat: -2" \
	"$(line gstat 7 ../../../../etc/passwd 0x100)"
check_eq "gate: through a relative link that climbs out (rel/.)" "gstat: -2" \
	"$(line gstat 7 rel/. 0x100)"
check_eq "gate: through a link to a host path (abs/.): the empty root" "gstat: -2" \
	"$(line gstat 7 abs/. 0x100)"
check_eq "gate: d/../../canary" "gstat: -2" "$(line gstat 7 d/../../canary 0x100)"

# The filter's argument checks.
killed "gate: newfstatat(AT_FDCWD, canary)" gstat -100 "$CANARY" 0x100
killed "gate: newfstatat(7, f) without AT_SYMLINK_NOFOLLOW" gstat 7 f 0
killed "gate: newfstatat(-1, canary)" gstat -1 "$CANARY" 0x100
killed "gate: openat(7, f, O_RDONLY|O_NOFOLLOW)" gopenat 7 f 0x20000
killed "gate: openat(7, f, O_PATH|O_NOFOLLOW)" gopenat 7 f 0x220000
killed "gate: openat(7, f, O_RDONLY) without O_NOFOLLOW" gopenat 7 f 0
killed "gate: openat(AT_FDCWD, canary)" gopenat -100 "$CANARY" 0x20000
killed "gate: openat2(7, f)" gopenat2 7 f
killed "gate: linkat(7, f, 7, g)" glinkat 7 f 7 g
killed "gate: renameat(7, f, 7, g)" grenameat 7 f 7 g

# Every allowlisted call that takes a descriptor, on the O_PATH one.
out=$(run gfdops 7 | grep '^gfdops ' | grep -v ': -9$')
check_eq "gate: read, write, mmap, truncate, fsync, locks, poll, sockets on fd 7: all EBADF" "" "$out"

# A hard link and a rename from the read-only mapping into a writable one.
check_eq "link /ro/f /rw/f is refused" "link: -30" "$(line link /ro/f /rw/f)"
check_eq "rename /ro/f /rw/g is refused" "rename: -30" "$(line rename /ro/f /rw/g)"
[ -e "$RW/f" ] || [ -e "$RW/g" ] && fail "nothing appears in the writable mapping" "$(ls "$RW")" ||
	pass "nothing appears in the writable mapping"
[ "$(cat "$RO/f")" = public ] && pass "the read-only file is unchanged" ||
	fail "the read-only file is unchanged" "$(cat "$RO/f")"

# Races: the host swaps a directory (then a file) for a link to outside
# while the app stats through it; the app must never see the outside.
swap() { # swap NAME KIND TARGET: until killed
	while :; do
		rm -rf "$RO/$1"
		if [ "$2" = dir ]; then mkdir "$RO/$1" && echo in >"$RO/$1/x"
		else echo in >"$RO/$1"; fi
		rm -rf "$RO/$1"
		ln -s "$3" "$RO/$1"
	done 2>/dev/null
}
rm -rf "$RO/d"
swap d dir "$OUT" & SW=$!
out=$(line statloop /ro/d/x 3000 "$(stat -c %i "$OUT/x")")
kill $SW; wait $SW 2>/dev/null
case $out in
"statloop: 0 of 3000 had inode"*) pass "a directory swapped for a link mid-walk: never the outside file ($out)" ;;
*) fail "a directory swapped for a link mid-walk" "$out" ;;
esac
rm -rf "$RO/d"
swap d dir ../out & SW=$!
out=$(line statloop /ro/d/x 3000 "$(stat -c %i "$OUT/x")")
kill $SW; wait $SW 2>/dev/null
case $out in
"statloop: 0 of 3000 had inode"*) pass "a directory swapped for a link that climbs out: never the outside file ($out)" ;;
*) fail "a directory swapped for a link that climbs out" "$out" ;;
esac
swap e file "$CANARY" & SW=$!
out=$(line statloop /ro/e 3000 "$(stat -c %i "$CANARY")")
kill $SW; wait $SW 2>/dev/null
case $out in
"statloop: 0 of 3000 had inode"*) pass "a donated name swapped for a link: never the outside file ($out)" ;;
*) fail "a donated name swapped for a link" "$out" ;;
esac

# Unprivileged: the same containment as the user nobody.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	NOGROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
	AS=(setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups)
	out=$("${AS[@]}" "$MOAT" run "${G[@]}" -- "$ATT" gstat 7 ../canary 0x100 2>/dev/null | tail -1)
	check_eq "as nobody: '..' stays at the mapping's root" "gstat: -2" "$out"
	out=$("${AS[@]}" "$MOAT" run "${G[@]}" -- "$ATT" stat /ro/f 2>/dev/null | sed 's/ uid=.*mode=/ mode=/')
	check_eq "as nobody: stat of a donated name" \
		"$(stat -c 'stat: ino=%i mode=%f size=%s' "$RO/f")" "$out"
fi
