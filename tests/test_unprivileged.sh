#!/usr/bin/env bash
# moat needs no privilege: the busybox checks pass as user nobody (through
# setpriv when the suite runs as root), and a grant never gives the user
# more than the host already allows.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox

if [ "$(id -u)" -eq 0 ]; then
	if ! command -v setpriv >/dev/null; then
		fail "setpriv available" "needed to drop to nobody (util-linux)"
		exit 0
	fi
	NOGROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
	AS=(setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups)
	OWNER=nobody
else
	AS=()            # already unprivileged
	OWNER=$(id -un)
fi
# as CMD...: run CMD unprivileged.
as() { "${AS[@]}" "$@"; }

check_eq "runs unprivileged" "$(id -u "$OWNER")" "$(as id -u)"
if ! as test -x "$MOAT" || ! as test -r "$MOAT_PICO"; then
	fail "moat reachable by $OWNER" "$MOAT or $MOAT_PICO not readable/executable by $OWNER"
	exit 0
fi

D=$WORK/data           # readable by everyone
O=$WORK/out            # owned by the unprivileged user
mkdir -p "$D" "$O" "$WORK/rootonly"
echo "hello from the host" >"$D/greeting"
chmod -R a+rX "$D"
chown "$OWNER" "$O"
echo "root's" >"$WORK/rootonly/file"
chmod 700 "$WORK/rootonly"

out=$(as "$MOAT" run -- $BB echo hello nobody 2>&1)
check_eq "unprivileged: busybox echo" "hello nobody" "$out"
out=$(as "$MOAT" run --ro "$D" -- $BB cat "$D/greeting" 2>&1)
check_eq "unprivileged: busybox cat granted file" "hello from the host" "$out"
out=$(as "$MOAT" run --ro "$D":/data -- $BB ls / /data 2>&1 | tr '\n' ' ')
check_eq "unprivileged: ls shows only the mappings (and the scratch dev, tmp)" "/: data dev tmp usr  /data: greeting " "$out"
out=$(echo piped | as "$MOAT" run -- $BB cat 2>&1)
check_eq "unprivileged: stdin passthrough" "piped" "$out"
as "$MOAT" run -- $BB sh -c 'exit 42' >/dev/null 2>&1
check_eq "unprivileged: exit status passthrough" 42 $?

as "$MOAT" run --rw "$O" -- $BB sh -c "echo written by nobody > $O/w.txt" 2>"$WORK/err"
check_eq "unprivileged: write into writable mapping" "written by nobody" "$(cat "$O/w.txt" "$WORK/err" 2>&1)"
check_eq "unprivileged: written file owned by $OWNER" "$OWNER" "$(stat -c %U "$O/w.txt" 2>&1)"
as "$MOAT" run --ro "$D" --rw "$O" -- $BB cp "$D/greeting" "$O/copy" 2>"$WORK/err"
check_eq "unprivileged: busybox cp into writable mapping" "hello from the host" "$(cat "$O/copy" "$WORK/err" 2>&1)"
out=$(echo teed | as "$MOAT" run --rw "$O" -- $BB tee "$O/tee.txt" 2>&1)
check_eq "unprivileged: busybox tee" "teed teed" "$out $(cat "$O/tee.txt" 2>&1)"

# The manifest form works unprivileged too.
cat >"$WORK/app.ini" <<EOF
[Application]
entry = file:///bin/busybox
arguments = cat /data/greeting
[Namespace]
file:///bin/busybox = file:///bin/busybox
file:///data = file://$D
EOF
chmod 644 "$WORK/app.ini"
out=$(as "$MOAT" run "$WORK/app.ini" 2>&1)
check_eq "unprivileged: moat run app.ini" "hello from the host" "$out"

# A crash is reported the same way without privilege.
if [ -x "$BUILD/tests/crash_segv" ]; then
	as "$MOAT" run -- "$BUILD/tests/crash_segv" >/dev/null 2>"$WORK/err"
	rc=$?
	if [ $rc -eq 139 ] && grep -q '^moat: .*killed by signal 11' "$WORK/err"; then
		pass "unprivileged: crash reported as 139"
	else
		fail "unprivileged: crash reported as 139" "status $rc: $(head -c 200 "$WORK/err")"
	fi
fi

# Grants do not widen the user's own rights (only when dropping from root:
# an ordinary user could own these files).
if [ ${#AS[@]} -gt 0 ]; then
	out=$(as "$MOAT" run --ro /etc/shadow -- $BB cat /etc/shadow 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"Permission denied"* ]] && [[ $out != *root:* ]]; then
		pass "unprivileged: granted /etc/shadow still unreadable"
	else
		fail "unprivileged: granted /etc/shadow still unreadable" "status $rc: $(echo "$out" | head -c 100)"
	fi
	as "$MOAT" run --rw "$D" -- $BB sh -c "echo x > $D/new" >/dev/null 2>&1
	if [ ! -e "$D/new" ]; then pass "unprivileged: --rw on a root-owned dir does not make it writable"
	else fail "unprivileged: --rw on a root-owned dir does not make it writable" "$D/new created"; fi
	as "$MOAT" run --ro "$WORK/rootonly/file" -- $BB cat "$WORK/rootonly/file" >"$WORK/out.txt" 2>&1
	rc=$?
	if [ $rc -ne 0 ] && ! grep -q "root's" "$WORK/out.txt"; then
		pass "unprivileged: cannot grant a file in a dir it cannot search"
	else
		fail "unprivileged: cannot grant a file in a dir it cannot search" "status $rc: $(head -c 100 "$WORK/out.txt")"
	fi
fi
