#!/usr/bin/env bash
# Unmodified Debian busybox-static in a picoprocess behaves as it does
# natively: same stdout, stderr and exit status, byte for byte.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox

# A granted tree: $WORK/data holds the listed directory sub/, so that
# `ls -la sub` shows a real `..`.
D=$WORK/data
mkdir -p "$D/sub/dir"
printf 'pear\napple\nfig\nbanana\ncherry\napple\n' >"$D/sub/fruit"
printf 'line %s\n' $(seq 1 50) >"$D/sub/lines"
head -c 200000 /dev/urandom >"$D/sub/random.bin"
printf 'no newline at end' >"$D/sub/partial"
ln -s fruit "$D/sub/link"
chmod 640 "$D/sub/lines"
touch -d '2001-02-03 04:05:06 UTC' "$D/sub/partial" "$D/sub/dir"

GRANTS="--ro $D --ro /etc/passwd --ro /etc/group"
SAME_ENV="TZ=UTC"
same_output "busybox echo" $BB echo hello "two  spaces" -n
same_output "busybox cat granted file" $BB cat "$D/sub/fruit" "$D/sub/partial"
same_output "busybox cat large binary file" $BB cat "$D/sub/random.bin"
same_output "busybox ls -la granted dir" $BB ls -la "$D/sub"
same_output "busybox ls -ln --full-time" $BB ls -ln --full-time "$D/sub"
same_output "busybox sha256sum" $BB sha256sum "$D/sub/fruit" "$D/sub/random.bin"
same_output "busybox wc" $BB wc "$D/sub/fruit" "$D/sub/lines" "$D/sub/partial"
same_output "busybox head" $BB head -n 3 "$D/sub/lines"
same_output "busybox head -c" $BB head -c 10 "$D/sub/random.bin"
same_output "busybox sort" $BB sort "$D/sub/fruit"
same_output "busybox sort -u -r" $BB sort -u -r "$D/sub/fruit"
same_output "busybox readlink" $BB readlink "$D/sub/link"
same_output "busybox cat through in-mapping symlink" $BB cat "$D/sub/link"
same_output "busybox cat missing file: message and status" $BB cat "$D/sub/nonexistent"
same_output "busybox false" $BB false
same_output "busybox sh -c exit 42" $BB sh -c 'exit 42'
# The shell's `read` builtin waits for input with poll().
same_output "busybox sh read builtin from a file" \
	$BB sh -c "read a b < $D/sub/fruit; echo \"[\$a] [\$b]\"; read c; echo \"[\$c]\"" </dev/null
unset SAME_ENV

# Exit status and stdin pass through.
"$MOAT" run -- $BB sh -c 'exit 42' </dev/null >/dev/null 2>&1
check_eq "exit status 42 passes through" 42 $?
out=$(echo x | "$MOAT" run -- $BB cat)
check_eq "stdin passthrough (echo x | cat)" x "$out"
sum=$("$MOAT" run -- $BB sha256sum <"$D/sub/random.bin")
check_eq "large stdin passthrough (sha256sum <file)" "$(sha256sum <"$D/sub/random.bin")" "$sum"
"$MOAT" run -- $BB cat <"$D/sub/random.bin" | cmp -s - "$D/sub/random.bin"
check_eq "large stdin to stdout pipe is byte-exact" 0 $?

# Writable mappings: what the app writes is on the host afterwards.
O=$WORK/out
mkdir -p "$O"
"$MOAT" run --rw "$O" -- $BB sh -c "echo written by sh > $O/sh.txt"
check_eq "sh redirect creates host file" "written by sh" "$(cat "$O/sh.txt" 2>&1)"
"$MOAT" run --rw "$O" -- $BB sh -c "echo appended >> $O/sh.txt"
check_eq "sh append to host file" "written by sh|appended" "$(tr '\n' '|' <"$O/sh.txt" | sed 's/|$//')"
echo "short" >"$O/trunc.txt"
"$MOAT" run --rw "$O" -- $BB sh -c "echo replaced > $O/trunc.txt"
check_eq "sh > truncates an existing host file" "replaced" "$(cat "$O/trunc.txt")"
"$MOAT" run --ro "$D" --rw "$O" -- $BB cp "$D/sub/random.bin" "$O/copy.bin"
if cmp -s "$D/sub/random.bin" "$O/copy.bin"; then pass "busybox cp into writable mapping"
else fail "busybox cp into writable mapping" "host copy differs or is missing"; fi
out=$(printf 'via tee\n' | "$MOAT" run --rw "$O" -- $BB tee "$O/tee.txt")
check_eq "busybox tee writes stdout" "via tee" "$out"
check_eq "busybox tee writes host file" "via tee" "$(cat "$O/tee.txt" 2>&1)"
"$MOAT" run --rw "$O":/out --cwd /out -- $BB sh -c 'echo relative > rel.txt'
check_eq "relative write under --cwd in a virtual mapping" "relative" "$(cat "$O/rel.txt" 2>&1)"
"$MOAT" run --rw "$O" -- $BB mkdir "$O/newdir"
if [ -d "$O/newdir" ]; then pass "busybox mkdir in writable mapping"
else fail "busybox mkdir in writable mapping" "no directory on the host"; fi
"$MOAT" run --rw "$O" -- $BB touch "$O/touched" 2>"$WORK/touch.err"
if [ -f "$O/touched" ]; then pass "busybox touch creates a file in writable mapping"
else fail "busybox touch creates a file in writable mapping" "$(cat "$WORK/touch.err")"; fi

# The manifest form: `moat run app.ini` and `moat run app.ini -- ARGS`.
mkdir -p "$WORK/app/data"
echo "hello from the manifest" >"$WORK/app/data/greeting"
cat >"$WORK/app/app.ini" <<EOF
[Identity]
name = greeter
[Application]
entry = file:///bin/busybox
arguments = cat /data/greeting
environment = GREETING=hi there
[Namespace]
file:///bin/busybox = file:///bin/busybox
file:///data = file:data
EOF
out=$(cd / && "$MOAT" run "$WORK/app/app.ini" 2>&1)
check_eq "manifest: moat run app.ini" "hello from the manifest" "$out"
out=$(cd / && "$MOAT" run "$WORK/app/app.ini" -- echo other args 2>&1)
check_eq "manifest: moat run app.ini -- other args" "other args" "$out"
out=$("$MOAT" run "$WORK/app/app.ini" -- sh -c 'echo "$GREETING"' 2>&1)
check_eq "manifest: environment reaches the app" "hi there" "$out"
cat >"$WORK/app/cwd.ini" <<EOF
[Application]
entry = file:///bin/busybox
arguments = sh -c 'pwd; echo "\$0 [\$1]"' zero "two  words"
cwd = /data
[Namespace]
file:///bin/busybox = file:///bin/busybox
file:///data = file://$WORK/app/data
EOF
out=$("$MOAT" run "$WORK/app/cwd.ini" 2>&1 | tr '\n' '|')
check_eq "manifest: cwd and quoted arguments" "/data|zero [two  words]|" "$out"
out=$("$MOAT" run "$WORK/app/cwd.ini" -- cat greeting 2>&1)
check_eq "manifest: relative path resolves against cwd" "hello from the manifest" "$out"
