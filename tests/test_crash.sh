#!/usr/bin/env bash
# Abnormal ends are reported plainly: a crashing program gives 128+signal
# and one `moat: ...` line; a bad manifest or command line gives one line
# (or the usage text) and status 2, never a monitor crash.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
T=$BUILD/tests

# crashes PROG SIG STATUS: run a crashing test program.
crashes() {
	local prog=$1 sig=$2 want=$3
	if [ ! -x "$T/$prog" ]; then
		fail "$prog" "$T/$prog not built (make build/tests/$prog)"
		return
	fi
	"$MOAT" run -- "$T/$prog" >"$WORK/c.out" 2>"$WORK/c.err"
	check_eq "$prog: exit status $want" "$want" "$?"
	check_eq "$prog: output before the crash arrives" "before ${prog#crash_}" \
		"$(cat "$WORK/c.out")"
	local lines
	lines=$(wc -l <"$WORK/c.err")
	if [ "$lines" -eq 1 ] && grep -qE "^moat: .*killed by signal $sig\b" "$WORK/c.err"; then
		pass "$prog: one-line 'moat: ... killed by signal $sig' on stderr"
	else
		fail "$prog: one-line 'moat: ... killed by signal $sig' on stderr" \
			"$lines lines: $(head -c 300 "$WORK/c.err" | tr '\n' '|')"
	fi
	# The host is unharmed: the next picoprocess starts and runs.
	out=$("$MOAT" run -- $BB echo still alive 2>&1)
	check_eq "$prog: next picoprocess runs" "still alive" "$out"
}
crashes crash_segv 11 139
crashes crash_abort 6 134

# A malformed manifest: exactly one line naming FILE:LINE, status 2.
M=$WORK/m
mkdir -p "$M"
# bad_manifest NAME EXPECTED-REGEX CONTENT
bad_manifest() {
	local name=$1 re=$2
	printf '%s' "$3" >"$M/$name.ini"
	(cd "$M" && "$MOAT" run "$name.ini") >"$WORK/b.out" 2>"$WORK/b.err"
	local rc=$? lines
	lines=$(wc -l <"$WORK/b.err")
	if [ $rc -ne 2 ]; then
		fail "manifest $name: status 2" "status $rc: $(head -c 300 "$WORK/b.err" | tr '\n' '|')"
	elif [ "$lines" -ne 1 ]; then
		fail "manifest $name: one line" "$lines lines: $(head -c 300 "$WORK/b.err" | tr '\n' '|')"
	elif ! grep -qE "^moat: $re" "$WORK/b.err"; then
		fail "manifest $name: message" "[$(cat "$WORK/b.err")] does not match /^moat: $re/"
	elif [ -s "$WORK/b.out" ]; then
		fail "manifest $name: nothing ran" "stdout: $(head -c 100 "$WORK/b.out")"
	else
		pass "manifest $name: '$(cut -c1-70 "$WORK/b.err")'"
	fi
}
HDR='[Application]
entry = file:///bin/busybox
arguments = echo should not run
[Namespace]
file:///bin/busybox = file:///bin/busybox
'
bad_manifest unknown-key 'unknown-key\.ini:4: \[Application\] colour: .*unknown key' \
'[Application]
entry = file:///bin/busybox
arguments = echo should not run
colour = blue
[Namespace]
file:///bin/busybox = file:///bin/busybox
'
# (The section's line or that of its first key.)
bad_manifest unknown-section 'unknown-section\.ini:(6|7): \[Nmespace\].*unknown section' \
"$HDR[Nmespace]
file:///data = file:///tmp
"
bad_manifest missing-entry 'missing-entry\.ini: \[Application\] entry: missing' \
'[Application]
arguments = echo should not run
[Namespace]
file:///bin/busybox = file:///bin/busybox
'
bad_manifest bad-mapping 'bad-mapping\.ini:6: \[Namespace\].*expected' \
"$HDR"'file:///data
'
bad_manifest bad-mapping-uri 'bad-mapping-uri\.ini:6: \[Namespace\].*expected file:' \
"$HDR"'file:///data = /tmp
'
bad_manifest mapping-dotdot 'mapping-dotdot\.ini:6: \[Namespace\]' \
"$HDR"'file:///data = file:///tmp/../etc
'
bad_manifest nonexistent-host 'nonexistent-host\.ini:7: \[Namespace.Writable\].*/nonexistent/dir.*No such file' \
"$HDR"'[Namespace.Writable]
file:///out = file:///nonexistent/dir
'
bad_manifest unterminated-quote 'unterminated-quote\.ini:3: \[Application\] arguments: unterminated quote' \
'[Application]
entry = file:///bin/busybox
arguments = echo "hello
[Namespace]
file:///bin/busybox = file:///bin/busybox
'
bad_manifest syntax-error 'syntax-error\.ini:6: ' \
"$HDR"'this line is not ini
'
bad_manifest bad-limit 'bad-limit\.ini:7: \[Limits\] memory' \
"$HDR"'[Limits]
memory = lots
'
"$MOAT" run "$M/no-such.ini" >/dev/null 2>"$WORK/b.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$WORK/b.err")" -eq 1 ] && grep -q "no-such.ini" "$WORK/b.err"; then
	pass "missing manifest file: one line, status 2"
else
	fail "missing manifest file: one line, status 2" "status $rc: $(head -c 300 "$WORK/b.err" | tr '\n' '|')"
fi

# The command line: usage text and non-zero, never a crash.
# usage_error NAME ARGS...: status 2 with the usage text or one moat: line.
usage_error() {
	local name=$1; shift
	"$MOAT" "$@" >"$WORK/u.out" 2>"$WORK/u.err" </dev/null
	local rc=$?
	if [ $rc -ne 2 ]; then
		fail "$name" "status $rc: $(head -c 300 "$WORK/u.err" | tr '\n' '|')"
	elif grep -qiE 'sanitizer|runtime error|core dumped' "$WORK/u.err"; then
		fail "$name" "$(head -c 300 "$WORK/u.err" | tr '\n' '|')"
	elif ! grep -qE '^usage: moat run|^moat: ' "$WORK/u.err"; then
		fail "$name" "no usage or moat: line: $(head -c 300 "$WORK/u.err" | tr '\n' '|')"
	else
		pass "$name"
	fi
}
usage_error "moat with no arguments" 
usage_error "moat run with no arguments" run
usage_error "moat run --bogus" run --bogus -- $BB true
usage_error "moat run -x" run -x
usage_error "moat run -- with no program" run --
usage_error "moat run --ro with no argument" run --ro
usage_error "moat run --ro nonexistent" run --ro /nonexistent/path -- $BB true
usage_error "moat run --ro relative path" run --ro relative -- $BB true
usage_error "moat run --env without =" run --env NOEQUALS -- $BB true
usage_error "moat run nonexistent program" run -- /nonexistent/program
usage_error "moat unknown command" frobnicate
"$MOAT" run >/dev/null 2>"$WORK/u.err"
if grep -q '^usage: moat run' "$WORK/u.err"; then pass "moat run with no arguments prints usage"
else fail "moat run with no arguments prints usage" "$(head -c 200 "$WORK/u.err")"; fi
out=$("$MOAT" run --help 2>&1)
rc=$?
if [ $rc -eq 0 ] && [[ $out == usage:* ]]; then pass "moat run --help: usage on stdout, status 0"
else fail "moat run --help: usage on stdout, status 0" "status $rc"; fi
