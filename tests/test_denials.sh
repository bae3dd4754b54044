#!/usr/bin/env bash
# What is not granted cannot be reached from inside a picoprocess: paths
# outside every mapping, writes into read-only mappings, `..` walks and
# symbolic links that point out of a mapping.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox

D=$WORK/data           # granted read-only, seen at /data
O=$WORK/out            # granted read-write, seen at /out
mkdir -p "$D/sub" "$O"
echo "granted" >"$D/sub/file"
echo "original" >"$D/sub/keep"
echo "TOP SECRET" >"$WORK/secret"   # next to the mappings, never granted
ln -s "$WORK/secret" "$D/sub/abs-link"
ln -s ../../secret "$D/sub/rel-link"          # host: $WORK/secret
ln -s /etc/passwd "$D/sub/passwd-link"
ln -s ../../../etc/passwd "$D/rel-passwd"     # inside: /data/../../../etc/passwd
G="--ro $D:/data --rw $O:/out"

# run NAME EXPECTED-STDERR-REGEX CMD...: the app must fail (non-zero),
# print nothing on stdout (in particular no secret), and say why on
# stderr in busybox's words.
# (busybox sh words ENOENT on a redirect as "nonexistent directory".)
denied() {
	local name=$1 re=$2; shift 2
	"$MOAT" run $G -- "$@" >"$WORK/d.out" 2>"$WORK/d.err"
	local rc=$?
	if [ $rc -eq 0 ]; then
		fail "$name" "exit status 0, stdout [$(head -c 200 "$WORK/d.out")]"
	elif [ -s "$WORK/d.out" ]; then
		fail "$name" "stdout not empty: [$(head -c 200 "$WORK/d.out")]"
	elif ! grep -qE "$re" "$WORK/d.err"; then
		fail "$name" "stderr [$(head -c 300 "$WORK/d.err")] does not match /$re/"
	else
		pass "$name"
	fi
}
ENOENT_EACCES="No such file or directory|Permission denied"
EROFS_EACCES="Read-only file system|Permission denied"

# Sanity: the granted file is readable, so the denials below mean something.
out=$("$MOAT" run $G -- $BB cat /data/sub/file 2>&1)
check_eq "granted file is readable" "granted" "$out"

# Paths outside every mapping.
denied "host /etc/passwd is not visible" "can't open '/etc/passwd': ($ENOENT_EACCES)" \
	$BB cat /etc/passwd
denied "host path of a mapping is not visible at its host name" \
	"can't open '$D/sub/file': ($ENOENT_EACCES)" $BB cat "$D/sub/file"
denied "unmapped sibling of a mapping is not visible" \
	"can't open '/secret': ($ENOENT_EACCES)" $BB cat /secret
denied "ls of an unmapped directory fails" "($ENOENT_EACCES)" $BB ls /etc
denied "cannot create a file outside every mapping" \
	"can't create /newfile: ($ENOENT_EACCES|Read-only file system|nonexistent directory)" \
	$BB sh -c 'echo x > /newfile'

# `..` cannot climb out of a mapping.
denied "cat /data/../../etc/passwd" "($ENOENT_EACCES)" $BB cat /data/../../etc/passwd
denied "cat /data/sub/../../../etc/passwd" "($ENOENT_EACCES)" \
	$BB cat /data/sub/../../../etc/passwd
denied "cat /data/../secret (host sibling of the mapping)" "($ENOENT_EACCES)" \
	$BB cat /data/../secret
denied "cat /out/../data/../../$(basename "$WORK")/secret" "($ENOENT_EACCES)" \
	$BB cat "/out/../data/../../$(basename "$WORK")/secret"
"$MOAT" run $G --cwd /data/sub -- $BB cat ../../../../etc/passwd >"$WORK/d.out" 2>/dev/null
if [ $? -ne 0 ] && ! grep -q root: "$WORK/d.out"; then pass "relative ../../../../etc/passwd from cwd fails"
else fail "relative ../../../../etc/passwd from cwd fails" "read it: $(head -c 100 "$WORK/d.out")"; fi

# Symbolic links planted inside a granted directory do not lead out.
denied "absolute symlink to an ungranted host file" "($ENOENT_EACCES)" \
	$BB cat /data/sub/abs-link
denied "relative symlink to an ungranted host file" "($ENOENT_EACCES)" \
	$BB cat /data/sub/rel-link
denied "symlink to /etc/passwd" "($ENOENT_EACCES)" $BB cat /data/sub/passwd-link
denied "relative symlink ../../../etc/passwd" "($ENOENT_EACCES)" $BB cat /data/rel-passwd
denied "cp through a symlink to an ungranted file" "($ENOENT_EACCES)" \
	$BB cp /data/sub/abs-link /out/stolen
[ ! -e "$O/stolen" ] && pass "nothing copied out through the symlink" ||
	fail "nothing copied out through the symlink" "$O/stolen exists: $(head -c 50 "$O/stolen")"

# Planted in a writable mapping, a symlink does not let the app write out.
ln -s "$WORK/secret" "$O/wlink"
ln -s "$WORK" "$O/dirlink"
denied "write through a symlink to an ungranted file" "($ENOENT_EACCES|nonexistent directory)" \
	$BB sh -c 'echo pwned > /out/wlink'
denied "append through a symlink to an ungranted file" "($ENOENT_EACCES|nonexistent directory)" \
	$BB sh -c 'echo pwned >> /out/wlink'
denied "read through a symlink to an ungranted directory" "($ENOENT_EACCES)" \
	$BB cat /out/dirlink/secret
denied "create through a symlink to an ungranted directory" \
	"($ENOENT_EACCES|nonexistent directory)" $BB sh -c 'echo pwned > /out/dirlink/planted'
check_eq "host file behind a writable-mapping symlink unchanged" "TOP SECRET" "$(cat "$WORK/secret")"
[ ! -e "$WORK/planted" ] && pass "nothing created behind a directory symlink" ||
	fail "nothing created behind a directory symlink" "$WORK/planted exists"
rm -f "$O/wlink" "$O/dirlink"

# A symlink the app makes itself in a writable mapping does not lead out
# either: either making it fails (not implemented or refused), or reading
# through it does.
"$MOAT" run $G -- $BB ln -s /etc/passwd /out/mylink >"$WORK/ln.out" 2>"$WORK/ln.err"
lnrc=$?
"$MOAT" run $G -- $BB ln -s ../../../../../../etc/passwd /out/myrel >/dev/null 2>&1
if [ $lnrc -ne 0 ]; then
	if [ -L "$O/mylink" ]; then fail "app-made symlink: failed ln leaves nothing" "ln said $lnrc but $O/mylink exists"
	else pass "app-made symlink: ln -s refused ($(head -c 80 "$WORK/ln.err"))"; fi
fi
denied "app-made absolute symlink does not lead to /etc/passwd" "($ENOENT_EACCES)" \
	$BB cat /out/mylink
denied "app-made relative symlink does not lead to /etc/passwd" "($ENOENT_EACCES)" \
	$BB cat /out/myrel
if [ -L "$O/mylink" ]; then
	check_eq "app-made symlink has the target the app gave" /etc/passwd "$(readlink "$O/mylink")"
fi

# Read-only mappings stay unchanged.
denied "write into a read-only mapping (sh >)" "can't create /data/sub/new: ($EROFS_EACCES)" \
	$BB sh -c 'echo x > /data/sub/new'
denied "overwrite a file in a read-only mapping" "can't create /data/sub/keep: ($EROFS_EACCES)" \
	$BB sh -c 'echo changed > /data/sub/keep'
denied "append to a file in a read-only mapping" "can't create /data/sub/keep: ($EROFS_EACCES)" \
	$BB sh -c 'echo changed >> /data/sub/keep'
denied "busybox cp into a read-only mapping" "($EROFS_EACCES)" \
	$BB cp /data/sub/file /data/sub/copy
denied "busybox rm in a read-only mapping" "($EROFS_EACCES)" $BB rm /data/sub/keep
denied "busybox mkdir in a read-only mapping" "($EROFS_EACCES)" $BB mkdir /data/newdir
denied "busybox mv in a read-only mapping" "($EROFS_EACCES)" \
	$BB mv /data/sub/keep /data/sub/moved
denied "busybox touch in a read-only mapping" "($EROFS_EACCES)" $BB touch /data/sub/touched
denied "busybox tee into a read-only mapping" "($EROFS_EACCES)" $BB tee /data/sub/teed </dev/null
check_eq "read-only host file unchanged" "original" "$(cat "$D/sub/keep" 2>&1)"
left=$(cd "$D" && find . | sort | tr '\n' ' ')
check_eq "nothing created or removed in the read-only host dir" \
	". ./rel-passwd ./sub ./sub/abs-link ./sub/file ./sub/keep ./sub/passwd-link ./sub/rel-link " "$left"
check_eq "host secret unchanged" "TOP SECRET" "$(cat "$WORK/secret")"

# A read-only single-file grant cannot be written either.
"$MOAT" run --ro "$D/sub/keep:/keep" -- $BB sh -c 'echo changed > /keep' >/dev/null 2>&1
rc=$?
if [ $rc -ne 0 ] && [ "$(cat "$D/sub/keep")" = original ]; then pass "read-only file grant not writable"
else fail "read-only file grant not writable" "status $rc, host file now [$(cat "$D/sub/keep")]"; fi

# `ls /` shows only the roots of the mappings (and the program's own).
out=$("$MOAT" run $G -- $BB ls / 2>&1 | tr '\n' ' ')
# dev and tmp: the private scratch /dev/shm and /tmp the monitor adds
check_eq "ls / shows only mapping roots" "data dev out tmp usr " "$out"
out=$("$MOAT" run $G -- $BB ls /usr /usr/bin 2>&1 | tr '\n' ' ')
check_eq "program's directory shows only the program" "/usr: bin  /usr/bin: busybox " "$out"
