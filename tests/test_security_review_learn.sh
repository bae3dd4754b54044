#!/usr/bin/env bash
# Issue 12, findings 1, 7 and 13 (the manifest): what learn mode writes and
# what the manifest reader accepts.
#
# 1: learn mode wrote the app's file names into the learned manifest as
#    they were.  A name holding a newline, "[Namespace.Writable]", " = file:"
#    and " ;" (a comment to the end of the line) became a writable grant of
#    the host's "/" the next time the manifest ran.
# 7: lines over libinih's 200-byte buffer were cut and each piece parsed as
#    a line: a learned manifest with a long path did not load, and a long
#    comment turned the read-only mappings after it writable.
# 13: a FIFO given as the manifest hung in open().
. "$(dirname "$0")/lib.sh"

BUSYBOX=/bin/busybox
ROUNDTRIP=$BUILD/host/learn_roundtrip

# ---- the round trip, property-tested on the host side ----
# Every byte but '/' and NUL in names, 255-byte names, INI syntax, '%'
# escapes, random names and a 3000-byte path: learned, written, parsed
# back, the grants compared (tests/host/learn_roundtrip.c).
if [ -x "$ROUNDTRIP" ]; then
	mkdir "$WORK/rt"
	out=$("$ROUNDTRIP" "$WORK/rt" 2>&1)
	[[ $out == "ok "*" paths" ]] &&
		pass "learned grants of ~1600 hostile names and a 3000-byte path read back exactly, read-only" ||
		fail "learned grants of hostile names read back exactly" "$(echo "$out" | head -c 800)"
else
	fail "learned grants of hostile names read back exactly" "$ROUNDTRIP not built (make $ROUNDTRIP)"
fi

# ---- the attack of finding 1, end to end ----
# The writable grant must lie outside /tmp: there the picoprocess has its
# private /tmp, and the host's is out of its reach even in learn mode.
OUTSIDE=$(mktemp -d /var/tmp/moat-learn.XXXXXX)
chmod 755 "$OUTSIDE"
trap 'rm -rf "$WORK" "$OUTSIDE"' EXIT

# Run inside, in learn mode, with /w granted writable: make directories
# whose names hold the attack, and read them back through their host paths
# (learn mode lets it).
cat >"$OUTSIDE/attack.sh" <<'EOF'
W=$1
nl='
'
a1="x = file:"; a2="tmp ;${nl}[Namespace.Writable]"
b1="y = file:"; b2=" ;"
mkdir "/w/$a1" "/w/$a1/$a2" "/w/$b1" "/w/$b1/$b2" || exit 1
ls "$W/$a1/$a2" "$W/$b1/$b2" >/dev/null && echo listed
EOF
# The same with a file under a 400-byte path, on its own: libinih did not
# load a learned manifest with it at all.
cat >"$OUTSIDE/long.sh" <<'EOF'
W=$1
long=/w/long
mkdir $long || exit 1
for i in 1 2 3 4; do long="$long/$(printf 'd%.0s' $(seq 95))$i;#="; mkdir "$long" || exit 1; done
echo deep >"$long/read.txt"; echo unread >"$long/other.txt"
cat "$W${long#/w}/read.txt"
EOF
LONGDIR=/long
for i in 1 2 3 4; do LONGDIR="$LONGDIR/$(printf 'd%.0s' $(seq 95))$i;#="; done

# attack USER: the learn run and the learned run, as USER ("" = me).
attack() {
	local who=$1 tag=${1:-$(id -un)} as=()
	[ -n "$who" ] && as=(setpriv --reuid="$who" --regid="$who" --clear-groups --inh-caps=-all)
	local W=$OUTSIDE/w$who L=$OUTSIDE/learned$who.ini T=$OUTSIDE/target$who
	mkdir -p "$W" "$T"
	chmod 777 "$W" "$T"
	chmod 777 "$OUTSIDE"
	out=$(timeout 60 "${as[@]}" "$MOAT" run --learn "$L" --rw "$W:/w" \
		--ro "$OUTSIDE/attack.sh:/attack.sh" -- $BUSYBOX sh /attack.sh "$W" 2>&1)
	check_eq "learn mode runs the attack ($tag)" "listed|moat: learn mode: wrote $L" "$(echo "$out" | tr '\n' '|' | sed 's/|$//')"

	# What a user would look at: one writable section, holding only the
	# grant that was given; no line granting the host's "/".
	local writable
	writable=$(awk '/^\[Namespace.Writable\]/ { n++; next } n' "$L" | grep -v '^$')
	if [ "$(grep -c '^\[Namespace.Writable\]' "$L")" = 1 ] &&
		[ "$writable" = "file:///w = file://$W" ] && ! grep -Eq '= *file:/+ *(;|$)' "$L"; then
		pass "the learned manifest grants nothing writable but /w, and not / ($tag)"
	else
		fail "the learned manifest grants nothing writable but /w, and not / ($tag)" \
			"$(grep -n 'Namespace\|file:/ \|file:/$' "$L" | head -8 | tr '\n' '|')"
	fi

	# The learned manifest, run: the injected grant would let this write
	# a host file through "$W/y" -> "/".
	timeout 60 "${as[@]}" "$MOAT" run "$L" -- $BUSYBOX sh -c "echo pwned >'$W/y/${T#/}/pwned'" >/dev/null 2>&1
	[ -e "$T/pwned" ] && fail "a write through the learned names does not reach the host ($tag)" "$T/pwned was written" ||
		pass "a write through the learned names does not reach the host ($tag)"
	out=$(timeout 60 "${as[@]}" "$MOAT" run "$L" -- $BUSYBOX sh -c \
		"for d in '$W/x = file:/tmp ;'*; do [ -d \"\$d\" ] && echo A; done; [ -d '$W/y = file:/ ;' ] && echo B" 2>&1)
	check_eq "the learned manifest grants the names reached ($tag)" "A|B" "$(echo "$out" | tr '\n' '|' | sed 's/|$//')"

	local L2=$OUTSIDE/long$who.ini
	out=$(timeout 60 "${as[@]}" "$MOAT" run --learn "$L2" --rw "$W:/w" \
		--ro "$OUTSIDE/long.sh:/long.sh" -- $BUSYBOX sh /long.sh "$W" 2>&1)
	out=$(timeout 60 "${as[@]}" "$MOAT" run "$L2" -- $BUSYBOX cat "$W$LONGDIR/read.txt" "$W$LONGDIR/other.txt" 2>&1)
	check_eq "a learned manifest with a 400-byte path loads and grants exactly that path ($tag)" \
		"deep|cat: can't open '$W$LONGDIR/other.txt': No such file or directory" \
		"$(echo "$out" | tr '\n' '|' | sed 's/|$//')"
}

attack ""
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	attack 65534
fi

# The rest of what learn mode writes: arguments with ' ;' and quotes read
# back as they were; an environment value that a line cannot hold is left
# out with one line, not written to mean something else.
L=$OUTSIDE/args.ini
out=$(timeout 60 "$MOAT" run --learn "$L" --env 'A=x ;[Namespace.Writable]' -- $BUSYBOX echo 'a ;b' '"q\' 2>&1)
check_eq "learn mode leaves out an environment value a manifest line cannot hold" \
	"a ;b \"q\\|moat: learn mode: $L: left out [Application] environment, which holds a newline, blanks at its ends or ' ;' that a manifest line cannot hold|moat: learn mode: wrote $L" \
	"$(echo "$out" | tr '\n' '|' | sed 's/|$//')"
out=$(timeout 60 "$MOAT" run "$L" 2>&1)
check_eq "learned arguments with ' ;' and quotes read back as they were" 'a ;b "q\' "$out"

# A udp grant is written as udp (it was written as tcp).
L=$OUTSIDE/udp.ini
timeout 60 "$MOAT" run --learn "$L" --net 'udp.client://*:53=udp.client://127.0.0.1:53' -- $BUSYBOX true >/dev/null 2>&1
check_eq "learn mode writes a udp grant as udp" "udp.client://*:53 = udp.client://127.0.0.1:53" \
	"$(grep 'client://' "$L")"

# ---- the learned manifest out of the program's reach ----
# Written inside the writable grant, the program could write the rest of
# the file before moat writes its part at the start: newlines, then a
# [Namespace.Writable] of its own.
W=$OUTSIDE/wreach T=$OUTSIDE/treach
mkdir -p "$W" "$T"
out=$(timeout 60 "$MOAT" run --learn "$W/learned.ini" --rw "$W:/w" -- $BUSYBOX sh -c \
	'head -c 65536 /dev/zero | tr "\0" "\n" >/w/learned.ini; printf "[Namespace.Writable]\nfile:///pwn = file:///\n" >>/w/learned.ini' 2>&1)
rc=$?
check_eq "--learn inside a writable grant is refused" \
	"moat: --learn $W/learned.ini: inside the writable grant of $W, where the program could change it before it is run; write it elsewhere|2" \
	"$out|$rc"
timeout 60 "$MOAT" run "$W/learned.ini" -- $BUSYBOX sh -c "echo pwned >/pwn/${T#/}/pwned" >/dev/null 2>&1
[ -e "$T/pwned" ] && fail "a learned manifest the program wrote into grants nothing" "$T/pwned was written" ||
	pass "a learned manifest the program wrote into grants nothing"

# ---- finding 7: long lines mean what they say ----
D=$WORK/ro
mkdir "$D"
chmod 777 "$D"
{
	printf '[Application]\nentry = file://%s\n[Namespace]\nfile://%s = file://%s\n' $BUSYBOX $BUSYBOX $BUSYBOX
	# 199 bytes of comment, then what libinih took for a line of its own
	printf '; %s[Namespace.Writable]\n' "$(printf 'x%.0s' $(seq 197))"
	printf 'file:///ro = file://%s\n' "$D"
} >"$WORK/long-comment.ini"
out=$(timeout 60 "$MOAT" run "$WORK/long-comment.ini" -- sh -c 'echo x >/ro/f' 2>&1)
[ ! -e "$D/f" ] && [[ $out == *"Read-only file system"* ]] &&
	pass "a long comment line leaves the mapping after it read-only" ||
	fail "a long comment line leaves the mapping after it read-only" "host file written: $out"

{
	printf '[Application]\nentry = file://%s\n[Namespace]\n' $BUSYBOX
	printf 'file://%s = file://%s\n' $BUSYBOX $BUSYBOX
	printf 'file:///d%s = file:///nonexistent%s\n' "$(printf 'v%.0s' $(seq 150))" "$(printf 'h%.0s' $(seq 150))"
} >"$WORK/long-bad.ini"
out=$("$MOAT" run "$WORK/long-bad.ini" 2>&1)
rc=$?
check_eq "a long bad mapping is one error naming its line" \
	"moat: $WORK/long-bad.ini:5: [Namespace] file:///d$(printf 'v%.0s' $(seq 150)): host path '/nonexistent$(printf 'h%.0s' $(seq 150))': No such file or directory|2" \
	"$out|$rc"

{
	printf '[Application]\nentry = file://%s\n' $BUSYBOX
	printf '%s\n' "$(printf 'j%.0s' $(seq 300))"
} >"$WORK/long-junk.ini"
out=$("$MOAT" run "$WORK/long-junk.ini" 2>&1)
check_eq "a long line without '=' is a syntax error at its line" \
	"moat: $WORK/long-junk.ini:3: syntax error: expected [Section] or key = value" "$out"

# Percent-encoding in a hand-written manifest: %2E%2E is still '..'.
printf '[Application]\nentry = file://%s\n[Namespace]\nfile:///x = file://%s/%%2E%%2E\n' $BUSYBOX "$D" >"$WORK/dots.ini"
out=$("$MOAT" run "$WORK/dots.ini" 2>&1)
check_eq "an encoded '..' is refused as '..' is" \
	"moat: $WORK/dots.ini:4: [Namespace] file:///x: host path '$D/..' must be absolute, without '..'" "$out"

# ---- finding 13: a manifest that is not a regular file ----
mkfifo "$WORK/fifo.ini"
out=$(timeout 10 "$MOAT" run "$WORK/fifo.ini" 2>&1)
rc=$?
check_eq "a FIFO as the manifest is refused at once" \
	"moat: $WORK/fifo.ini: cannot open manifest: it is a FIFO, not a regular file|2" "$out|$rc"
# A writer waiting on the FIFO is not released (nor its message lost).
( exec 3>"$WORK/fifo.ini"; echo released >"$WORK/released"; echo message >&3 ) &
writer=$!
sleep 0.2
out=$(timeout 10 "$MOAT" run "$WORK/fifo.ini" 2>&1)
sleep 0.2
[ ! -e "$WORK/released" ] && pass "a writer waiting on the FIFO stays waiting" ||
	fail "a writer waiting on the FIFO stays waiting" "it was released: $out"
got=$(timeout 10 cat "$WORK/fifo.ini")
wait $writer
check_eq "the writer's message reaches its real reader" message "$got"
out=$(timeout 10 "$MOAT" run "$WORK" 2>&1)
check_eq "a directory as the manifest is refused" \
	"moat: $WORK: cannot open manifest: it is a directory, not a regular file" "$out"
out=$(timeout 10 "$MOAT" run /dev/zero 2>&1)
check_eq "a device as the manifest is refused" \
	"moat: /dev/zero: cannot open manifest: it is a character device, not a regular file" "$out"
