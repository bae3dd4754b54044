#!/usr/bin/env bash
# Extensions (docs/extensions.md): the stack chosen by [Extensions] and
# --ext, trace, faults, passthrough, and the one-line refusals.
. "$(dirname "$0")/lib.sh"
BB=/bin/busybox
D=$WORK/data
mkdir -p "$D" "$WORK/out" "$WORK/native"
chmod 777 "$WORK/out"
for f in a b c d e f; do echo "file $f" >"$D/$f"; done
cp "$D/a" "$D/c" "$WORK/native/"
PROBE=$BUILD/tests/enosys_probe
[ -x "$PROBE" ] || make -s -C "$ROOT" "build/tests/enosys_probe" >/dev/null

run() { "$MOAT" run --ro "$D" --rw "$WORK/out" "$@"; }

# --- no extension: behaviour unchanged ---
GRANTS="--ro $D" same_output "no extension: busybox cat as natively" $BB cat "$D/a" "$D/b"
GRANTS="--ro $D --ext passthrough" same_output "passthrough: busybox cat as natively" \
	$BB cat "$D/a" "$D/b"

# --- trace: the downcalls of a known program, in order ---
run --ext trace:file="$WORK/out/t.log" -- $BB cat "$D/a" >"$WORK/cat.out" 2>"$WORK/cat.err"
check_eq "trace: the program's output unchanged" "file a" "$(cat "$WORK/cat.out")"
check_eq "trace to a file: nothing on stderr" "" "$(cat "$WORK/cat.err")"
got=$(awk -v f="\"file:$D/a\"" '
	$4 ~ /^stream_open\(/ && index($0, f) { h = $0; sub(/.*\) = /, "", h); sub(/ .*/, "", h); print "open"; next }
	h != "" && $4 == "stream_read(" h "," && /"file a\\n"/ { print "read"; next }
	$4 ~ /^stream_write\(1,/ && /"file a\\n"/ { print "write"; next }
	h != "" && $4 == "object_close(" h ")" { print "close"; h = ""; next }
	$4 ~ /^process_exit\(0,/ { print "exit" }' "$WORK/out/t.log" | tr '\n' ' ')
check_eq "trace: open, read, write, close, exit of busybox cat, in order" \
	"open read write close exit " "$got"
if grep -q '^\[pid 1 t1\] stream_open("file:'"$D"'/a", READ, 0, 00) = [0-9]* <0\.[0-9]*>$' "$WORK/out/t.log"; then
	pass "trace: strace-like line with the decoded URI, flags, result and duration"
else
	fail "trace: line format" "$(grep "$D/a" "$WORK/out/t.log" | head -2)"
fi
if grep -q ' = -2 ENOENT <' <(run --ext trace -- $BB cat "$D/nosuch" 2>&1); then
	pass "trace: an error shows its errno name (to stderr by default)"
else
	fail "trace: errno name" "no '= -2 ENOENT' line"
fi

# --- trace:summary: the table counts what the text trace shows ---
run --ext trace:summary,file="$WORK/out/s.log" -- $BB cat "$D/a" "$D/nosuch" >/dev/null 2>&1
lines=$(awk '/^\[pid 1 / && $4 ~ /\(/ { c = $4; sub(/\(.*/, "", c); n[c]++; if (/\) = -[0-9]+ E/) e[c]++ }
	END { for (c in n) printf "%s %d %d\n", c, n[c], e[c] + 0 }' "$WORK/out/s.log" | sort)
table=$(awk '/^-----/ { part++; next } part == 1 { print $6, $4, $5 }' "$WORK/out/s.log" | sort)
if [ -n "$lines" ] && [ "$lines" == "$table" ]; then
	pass "trace:summary: calls and errors per downcall match the text trace"
else
	fail "trace:summary counts" "$(diff <(echo "$lines") <(echo "$table") | head -6 | tr '\n' '|')"
fi
run --ext trace:summary,quiet -- "$PROBE" >"$WORK/probe.out" 2>"$WORK/probe.err"
enosys=$(sed -n '/answered ENOSYS/,$p' "$WORK/probe.err" | grep -E 'bpf|io_uring' | tr -s ' ' | tr '\n' '|')
check_eq "trace:summary: the system calls answered ENOSYS, with counts" \
	" 2 bpf (321)| 1 io_uring_setup (425)|" "$enosys"
if grep -q '^\[pid' "$WORK/probe.err"; then fail "trace:quiet" "per-call lines printed"
else pass "trace:quiet: the summary alone"; fi

# --- trace:format=json ---
run --ext trace:format=json,file="$WORK/out/j.log" -- $BB cat "$D/a" >/dev/null 2>&1
if python3 - "$WORK/out/j.log" "file:$D/a" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
opens = [r for r in rows if r.get("call") == "stream_open" and r["args"][0] == sys.argv[2]]
assert opens and opens[0]["result"] >= 0 and opens[0]["errno"] is None, opens
assert all({"pid", "tid", "call", "args", "result", "errno", "ns"} <= set(r) for r in rows)
PY
then pass "trace:format=json: JSON Lines with pid, tid, call, args, result, errno, ns"
else fail "trace:format=json" "$(head -c 300 "$WORK/out/j.log")"; fi

# --- moat trace summary FILE: the table again, from the JSON trace ---
run --ext trace:format=json,summary,file="$WORK/out/js.log" -- "$PROBE" >/dev/null 2>&1
"$MOAT" trace summary "$WORK/out/js.log" >"$WORK/js.sum" 2>"$WORK/js.err"; rc=$?
if [ $rc == 0 ] && [ -s "$WORK/js.sum" ] && grep -v '^{' "$WORK/out/js.log" | cmp -s - "$WORK/js.sum" &&
   grep -q '^ *2 bpf (321)$' "$WORK/js.sum"; then
	pass "moat trace summary FILE: the same table and ENOSYS list as --ext trace:summary printed"
else
	fail "moat trace summary" "rc $rc: $(diff <(grep -v '^{' "$WORK/out/js.log") "$WORK/js.sum" | head -5 | tr '\n' '|') $(cat "$WORK/js.err")"
fi
# Across processes: per pid, calls and errors of each downcall.
counts() { awk '/^downcalls of pid/ { pid = $4 } /^-----/ { part = !part; next }
	part && NF == 6 { print pid, $6, $4, $5 }' "$@" | sort; }
run --ext trace:format=json,summary,file="$WORK/out/jm.log" -- $BB sh -c "$BB cat $D/a; $BB cat $D/nosuch; :" >/dev/null 2>&1
"$MOAT" trace summary "$WORK/out/jm.log" >"$WORK/jm.sum" 2>&1
want=$(grep -v '^{' "$WORK/out/jm.log" | counts) got=$(counts "$WORK/jm.sum")
if [ -n "$want" ] && [ "$want" == "$got" ] && [ "$(echo "$got" | cut -d' ' -f1 | sort -u | wc -l)" -ge 3 ]; then
	pass "moat trace summary FILE: three processes, calls and errors per pid as trace:summary counted"
else
	fail "moat trace summary, processes" "$(diff <(echo "$want") <(echo "$got") | head -6 | tr '\n' '|')"
fi
"$MOAT" trace summary "$WORK/out/t.log" >/dev/null 2>"$WORK/ts.err"; rc=$?
check_eq "moat trace summary of a text trace: one line, status 1" \
	"1|moat trace summary: $WORK/out/t.log: no JSON trace lines (write it with --ext trace:format=json,file=$WORK/out/t.log)" \
	"$rc|$(cat "$WORK/ts.err")"

# --- trace: processes ---
run --ext trace:file="$WORK/out/f.log" -- $BB sh -c "$BB true; $BB true; :" >/dev/null 2>&1
if grep -q '^\[pid 2 t1\] process_fork(' "$WORK/out/f.log" && grep -q '^\[pid 3 ' "$WORK/out/f.log"; then
	pass "trace: a forked child traces under its own pid"
else
	fail "trace: pids" "$(grep -o '^\[pid [0-9]* t[0-9]*\]' "$WORK/out/f.log" | sort -u | tr '\n' ' ')"
fi

# --- faults: the Nth call, as the app sees it ---
# The 2nd stream_open under $D is b's: cat reports what a missing file
# reports natively, byte for byte (the native run has no b).
(cd "$WORK/native" && $BB cat a b c) >"$WORK/n.out" 2>"$WORK/n.err"; nrc=$?
run --cwd "$D" --ext "faults:call=stream_open,uri=file://$D/*,error=ENOENT,nth=2" -- \
	$BB cat a b c >"$WORK/m.out" 2>"$WORK/m.err"; mrc=$?
if [ $nrc == $mrc ] && cmp -s "$WORK/n.out" "$WORK/m.out" && cmp -s "$WORK/n.err" "$WORK/m.err"; then
	pass "faults nth=2: the 2nd open fails as a missing file does natively"
else
	fail "faults nth=2 ENOENT" "rc $nrc/$mrc, $(cat "$WORK/m.err")"
fi
run --cwd "$D" --ext "faults:call=stream_open,uri=file://$D/*,error=ENOSPC,nth=2" -- \
	$BB cat a b c >"$WORK/m.out" 2>"$WORK/m.err"; mrc=$?
want="cat: can't open 'b': $(python3 -c 'import os; print(os.strerror(28))')"
check_eq "faults error=ENOSPC: the app prints strerror(ENOSPC), exit 1" \
	"file a|file c|$want|1" "$(tr '\n' '|' <"$WORK/m.out")$(cat "$WORK/m.err")|$mrc"
run --cwd "$D" --ext "faults:call=stream_open,uri=file://$D/*,error=EIO,every=2" -- \
	$BB cat a b c d e f >"$WORK/m.out" 2>/dev/null
check_eq "faults every=2: the 2nd, 4th and 6th opens fail" "a c e" \
	"$(awk '{ printf "%s%s", s, $2; s = " " }' "$WORK/m.out")"
run --cwd "$D" --ext "faults:call=stream_open,uri=file://$D/b,error=EACCES;call=stream_open,uri=file://$D/d,error=ECONNRESET" -- \
	$BB cat a b c d >/dev/null 2>"$WORK/m.err"
check_eq "faults: two rules separated by ';'" \
	"cat: can't open 'b': Permission denied|cat: can't open 'd': Connection reset by peer|" \
	"$(tr '\n' '|' <"$WORK/m.err")"
seeded() {
	run --cwd "$D" --ext "faults:call=stream_open,uri=file://$D/*,error=EIO,p=0.5,seed=$1" -- \
		$BB cat a b c d e f a b c d e f 2>/dev/null | awk '{ printf "%s", $2 }'
}
s1=$(seeded 42) s2=$(seeded 42) s3=$(seeded 7)
if [ "$s1" == "$s2" ] && [ ${#s1} -gt 0 ] && [ ${#s1} -lt 12 ] && [ "$s1" != "$s3" ]; then
	pass "faults p=0.5,seed=42: the same files fail in two runs ($s1), another seed differs ($s3)"
else
	fail "faults seeded" "[$s1] [$s2] [$s3]"
fi
head -c 200000 /dev/urandom >"$D/big"
run --ext "faults:call=stream_read,uri=file://$D/*,error=short" \
	--ext trace:file="$WORK/out/short.log" -- $BB cat "$D/big" >"$WORK/m.out" 2>/dev/null
if cmp -s "$D/big" "$WORK/m.out" &&
   grep -q "stream_read([0-9]*, 0, \".*, 32768) = 32768" "$WORK/out/short.log"; then
	pass "faults error=short: reads arrive halved below, the app still reads it all"
else
	fail "faults short" "$(cat "$WORK/m.out") $(grep -m2 'stream_read([0-9]*, 0' "$WORK/out/short.log")"
fi

"$MOAT" run --ext faults:call=stream_write,uri=console:1,error=EIO,nth=2 -- \
	$BB sh -c 'echo one; echo two; echo three' >"$WORK/m.out" 2>"$WORK/m.err"
check_eq "faults uri=console:1: the 2nd write to stdout fails with EIO" \
	"one three |sh: write error: Input/output error" "$(tr '\n' ' ' <"$WORK/m.out")|$(cat "$WORK/m.err")"
if [ -x /usr/bin/sqlite3 ]; then
	Q=$WORK/db; mkdir -p "$Q"; chmod 777 "$Q"
	/usr/bin/sqlite3 "$Q/t.db" "create table t(x); insert into t values (1),(2),(3);"
	"$MOAT" run --ro /usr --ro /lib --ro /lib64 --rw "$Q" \
		--ext "faults:call=stream_write,uri=file://$Q/t.db,error=ENOSPC,nth=1" -- \
		/usr/bin/sqlite3 "$Q/t.db" "begin; delete from t; insert into t values (4); commit;" \
		>/dev/null 2>"$Q/err"; rc=$?
	check_eq "faults: sqlite3 under ENOSPC fails the statement and keeps its database" \
		"13|Error: stepping, database or disk is full (13)|ok 1 2 3" \
		"$rc|$(cat "$Q/err")|$(/usr/bin/sqlite3 "$Q/t.db" "pragma integrity_check; select * from t;" | tr '\n' ' ' | sed 's/ $//')"
fi

if [ -x /usr/bin/python3 ]; then
	W=$WORK/web; mkdir -p "$W"; echo page >"$W/index.html"
	(cd "$W" && exec python3 -c 'import http.server, sys
s = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open(sys.argv[1], "w").write(str(s.server_address[1])); s.serve_forever()' "$W/port" >/dev/null 2>&1) &
	WEB=$!
	for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
	P=$(cat "$W/port")
	cat >"$W/client.py" <<'PY'
import http.client, sys
for attempt in range(1, 4):
    try:
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
        c.request("GET", "/index.html")
        r = c.getresponse()
        print("attempt", attempt, r.status, r.read().decode().strip())
        break
    except ConnectionResetError as e:
        print("attempt", attempt, "ConnectionResetError:", e)
PY
	"$MOAT" run --ro /usr --ro /lib --ro /lib64 --ro /etc --ro "$W/client.py" \
		--net "tcp.client://127.0.0.1:$P=tcp.client://127.0.0.1:$P" \
		--ext "faults:call=stream_read,uri=tcp.client://*:$P,error=ECONNRESET,nth=1" -- \
		/usr/bin/python3 "$W/client.py" "$P" >"$W/out" 2>&1
	kill $WEB 2>/dev/null; wait $WEB 2>/dev/null
	check_eq "faults: a python3 HTTP client sees ECONNRESET on its 1st read and retries" \
		"attempt 1 ConnectionResetError: [Errno 104] Connection reset by peer|attempt 2 200 page|" \
		"$(tr '\n' '|' <"$W/out")"
fi

# --- a stack of two, in both orders ---
rule="faults:call=stream_open,uri=file://$D/*,error=ENOSPC,nth=2"
run --ext trace:file="$WORK/out/above.log" --ext "$rule" -- $BB cat "$D/a" "$D/b" >/dev/null 2>&1
run --ext "$rule" --ext trace:file="$WORK/out/below.log" -- $BB cat "$D/a" "$D/b" >/dev/null 2>&1
above=$(grep -c "stream_open(\"file:$D/b\".* = -28 ENOSPC" "$WORK/out/above.log")
below=$(grep -c "stream_open(\"file:$D/b\"" "$WORK/out/below.log")
check_eq "stack: trace above faults sees the injected error; below, never the failed call" \
	"1 0" "$above $below"

# --- refusals: one line, exit status 2 ---
refused() { # NAME WANT ARGS...: exit 2 and exactly the one line WANT on stderr
	local name=$1 want=$2; shift 2
	"$MOAT" run "$@" >"$WORK/r.out" 2>"$WORK/r.err"; local rc=$?
	check_eq "$name" "2|$want" "$rc|$(cat "$WORK/r.err")"
}
refused "--ext unknown: one line, exit 2" \
	"moat: --ext nosuch: unknown extension; expected trace, faults, passthrough, record or replay" \
	--ext nosuch -- $BB true
refused "--ext trace bad option: names extension and key" \
	"moat: --ext trace: format: expected text or json, got 'xml'" \
	--ext trace:format=xml -- $BB true
refused "--ext faults bad error: names extension and key" \
	"moat: --ext faults: error: expected EIO, ENOSPC, ECONNRESET, EINTR, EACCES (any errno name) or short, got 'EFOO'" \
	--ext faults:call=stream_open,error=EFOO -- $BB true
refused "--ext faults: a call no rule can fail" \
	"moat: --ext faults: call: 'thread_yield' is not a downcall a rule can fail; expected stream_open, stream_read, stream_write, ... (docs/extensions.md)" \
	--ext faults:call=thread_yield,error=EIO -- $BB true
printf '[Application]\nentry = file://%s\n[Namespace]\nfile://%s = file://%s\n[Extensions]\ntrace = summary\nfaults = call=stream_open,nth=x,error=EIO\n' \
	$BB $BB $BB >"$WORK/bad.ini"
refused "[Extensions] bad option: file, line, section, extension and key" \
	"moat: $WORK/bad.ini:7: [Extensions] faults: nth: expected a number >= 1, got 'x'" "$WORK/bad.ini"
printf '[Application]\nentry = file://%s\narguments = cat %s/a\n[Namespace]\nfile://%s = file://%s\nfile://%s = file://%s\n[Extensions]\ntrace = quiet\ntrace = summary\n' \
	$BB "$D" $BB $BB "$D" "$D" >"$WORK/good.ini"
"$MOAT" run --ext faults:call=stream_open,uri=file://$D/a,error=EIO "$WORK/good.ini" >"$WORK/g.out" 2>"$WORK/g.err"
if grep -q "can't open '$D/a': " "$WORK/g.err" && grep -q ' stream_open$' "$WORK/g.err" &&
   ! grep -q '^\[pid' "$WORK/g.err"; then
	pass "[Extensions] keys merge (trace = quiet + summary) and --ext adds below them"
else
	fail "[Extensions] manifest" "$(head -c 300 "$WORK/g.err")"
fi
run --ext trace:file=/nowhere/t.log -- $BB true >/dev/null 2>"$WORK/r.err"; rc=$?
if [ $rc == 2 ] && grep -q "file: cannot open /nowhere/t.log: ENOENT (it must be inside a writable mapping)" "$WORK/r.err"; then
	pass "trace:file outside every writable mapping: refused in the picoprocess, exit 2"
else
	fail "trace:file outside" "rc $rc: $(cat "$WORK/r.err")"
fi

# --- record and replay (one process, one thread) ---
RRP=$BUILD/tests/rr_probe
[ -x "$RRP" ] || make -s -C "$ROOT" "build/tests/rr_probe" >/dev/null
R=$WORK/rr
mkdir -p "$R/in" "$R/log"
chmod 777 "$R/log"
echo "recorded input" >"$R/in/x.txt"
"$MOAT" run --ro "$R/in" --rw "$R/log" --ext record:file="$R/log/p.rr" -- "$RRP" "$R/in/x.txt" \
	>"$R/rec.out" 2>"$R/rec.err"
rm -rf "$R/in"
"$MOAT" run --ro "$R/log" --ext replay:file="$R/log/p.rr" -- "$RRP" "$R/in/x.txt" \
	>"$R/rep.out" 2>"$R/rep.err"; rc=$?
"$MOAT" run --ro "$R/log" -- "$RRP" "$R/in/x.txt" >"$R/plain.out" 2>&1
if [ $rc == 0 ] && cmp -s "$R/rec.out" "$R/rep.out" && grep -q "x.txt: recorded input" "$R/rep.out" &&
   ! cmp -s "$R/rec.out" "$R/plain.out"; then
	pass "record, then replay with the input gone: time, random bits and the file, byte for byte"
else
	fail "record/replay" "rc $rc: $(cat "$R/rep.err") | $(cat "$R/rec.out") | $(cat "$R/rep.out")"
fi
"$MOAT" run --ro "$R/log" --ext replay:file="$R/log/p.rr" -- "$RRP" "$R/in/other.txt" \
	>/dev/null 2>"$R/div.err"; rc=$?
check_eq "replay: a program that leaves the log stops with one line, status 125" \
	"125|moat: --ext replay: diverged at logged downcall N: the app made stream_open(\"file:$R/in/other.txt\") where the log holds stream_open with other arguments" \
	"$rc|$(sed -E 's/downcall [0-9]+:/downcall N:/' "$R/div.err")"
if [ -x /usr/bin/python3 ]; then
	mkdir -p "$R/in"
	echo "python input" >"$R/in/x.txt"
	printf 'import time, random, os\nprint(time.time(), random.random(), os.urandom(4).hex(), hash("a"))\nprint(open("%s").read())\n' \
		"$R/in/x.txt" >"$R/t.py"
	PYG="--ro /usr --ro /lib --ro /lib64 --ro /etc --ro $R/t.py"
	"$MOAT" run $PYG --ro "$R/in" --rw "$R/log" --ext record:file="$R/log/py.rr" -- /usr/bin/python3 "$R/t.py" >"$R/py1.out" 2>&1
	rm -rf "$R/in"
	"$MOAT" run $PYG --ro "$R/log" --ext replay:file="$R/log/py.rr" -- /usr/bin/python3 "$R/t.py" >"$R/py2.out" 2>&1; rc=$?
	if [ $rc == 0 ] && cmp -s "$R/py1.out" "$R/py2.out" && grep -q "python input" "$R/py2.out"; then
		pass "record/replay: python3 using time, random and a file, byte for byte"
	else
		fail "record/replay python3" "rc $rc: $(head -c 300 "$R/py2.out")"
	fi
fi
if [ -x /usr/bin/sqlite3 ]; then
	mkdir -p "$R/db"; chmod 777 "$R/db"
	/usr/bin/sqlite3 "$R/db/t.db" "create table t(x); insert into t values (1),(2);"
	SQ="insert into t values (random()); select count(*), sum(x) from t; select datetime('now');"
	"$MOAT" run --ro /usr --ro /lib --ro /lib64 --rw "$R/db" --rw "$R/log" --ext record:file="$R/log/q.rr" -- \
		/usr/bin/sqlite3 "$R/db/t.db" "$SQ" >"$R/q1.out" 2>&1
	rm -rf "$R/db"
	"$MOAT" run --ro /usr --ro /lib --ro /lib64 --ro "$R/log" --ext replay:file="$R/log/q.rr" -- \
		/usr/bin/sqlite3 "$R/db/t.db" "$SQ" >"$R/q2.out" 2>&1; rc=$?
	if [ $rc == 0 ] && cmp -s "$R/q1.out" "$R/q2.out" && grep -q '^3|' "$R/q2.out"; then
		pass "record/replay: sqlite3 (random(), now, a write), the database gone, byte for byte"
	else
		fail "record/replay sqlite3" "rc $rc: $(head -c 200 "$R/q2.out") vs $(head -c 200 "$R/q1.out")"
	fi
fi
mkdir -p "$R/in"
printf 'hello pipe\nsecond\n' >"$R/in/x"
CMD="busybox cat $R/in/x | busybox tr a-z A-Z; echo \$(busybox date +%s) \$(busybox od -An -N4 -tx1 /dev/urandom); busybox cat $R/in/x | busybox wc -l"
"$MOAT" run --ro "$R/in" --rw "$R/log" --ext record:file="$R/log/sh.rr" -- $BB sh -c "$CMD" >"$R/sh1.out" 2>&1
rm -rf "$R/in"
"$MOAT" run --ro "$R/log" --ext replay:file="$R/log/sh.rr" -- $BB sh -c "$CMD" >"$R/sh2.out" 2>&1; rc=$?
if [ $rc == 0 ] && cmp -s "$R/sh1.out" "$R/sh2.out" && grep -q "HELLO PIPE" "$R/sh2.out" && [ -s "$R/log/sh.rr.2" ]; then
	pass "record/replay: a shell pipeline across processes (a log per process), byte for byte"
else
	fail "record/replay pipeline" "rc $rc: $(head -c 300 "$R/sh2.out") vs $(head -c 300 "$R/sh1.out")"
fi
# stdin is an input like any other: its bytes are in the log.
printf 'from stdin\nline two\n' | "$MOAT" run --rw "$R/log" --ext record:file="$R/log/in.rr" -- \
	$BB sh -c "busybox tr a-z A-Z | busybox cat -n; echo \$(busybox od -An -N2 -tx1 /dev/urandom)" >"$R/in1.out" 2>&1
"$MOAT" run --ro "$R/log" --ext replay:file="$R/log/in.rr" -- \
	$BB sh -c "busybox tr a-z A-Z | busybox cat -n; echo \$(busybox od -An -N2 -tx1 /dev/urandom)" </dev/null >"$R/in2.out" 2>&1; rc=$?
if [ $rc == 0 ] && cmp -s "$R/in1.out" "$R/in2.out" && grep -q "FROM STDIN" "$R/in2.out"; then
	pass "record/replay: a pipeline reading stdin, replayed with stdin empty, byte for byte"
else
	fail "record/replay stdin" "rc $rc: $(head -c 300 "$R/in2.out") vs $(head -c 300 "$R/in1.out")"
fi
# The network: a python3 HTTP client through a tcp.client grant; the
# server answers with the time and random bytes, and is gone at replay.
if [ -x /usr/bin/python3 ]; then
	N=$WORK/net; mkdir -p "$N"
	python3 -c 'import http.server, os, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %f %s\n" % (self.path, time.time(), os.urandom(8).hex())).encode() * 3000
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1])); s.serve_forever()' "$N/port" >/dev/null 2>&1 &
	SRV=$!
	for _ in $(seq 50); do [ -s "$N/port" ] && break; sleep 0.1; done
	P=$(cat "$N/port")
	cat >"$N/get.py" <<'PY'
import hashlib, http.client, sys
for path in ("/a", "/b"):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    print(r.status, r.getheader("Date"), len(body), hashlib.sha256(body).hexdigest(), body[:60].decode())
PY
	NG="--ro /usr --ro /lib --ro /lib64 --ro /etc --ro $N/get.py"
	"$MOAT" run $NG --rw "$R/log" --net "tcp.client://127.0.0.1:$P=tcp.client://127.0.0.1:$P" \
		--ext record:file="$R/log/net.rr" -- /usr/bin/python3 "$N/get.py" "$P" >"$N/rec.out" 2>&1
	kill $SRV 2>/dev/null; wait $SRV 2>/dev/null
	"$MOAT" run $NG --ro "$R/log" --ext replay:file="$R/log/net.rr" -- \
		/usr/bin/python3 "$N/get.py" "$P" >"$N/rep.out" 2>&1; rc=$?
	"$MOAT" run $NG --net "tcp.client://127.0.0.1:$P=tcp.client://127.0.0.1:$P" -- \
		/usr/bin/python3 "$N/get.py" "$P" >"$N/plain.out" 2>&1
	if [ $rc == 0 ] && cmp -s "$N/rec.out" "$N/rep.out" && [ "$(grep -c '^200 ' "$N/rep.out")" == 2 ] &&
	   grep -q ConnectionRefused "$N/plain.out"; then
		pass "record/replay: a python3 HTTP client over tcp.client, the server gone, byte for byte"
	else
		fail "record/replay network" "rc $rc: $(head -c 300 "$N/rep.out") vs $(head -c 300 "$N/rec.out")"
	fi
fi
# Signals: where they arrive is logged, counted in downcalls, and replay
# hands them on at the same count (real ones are dropped, no timer armed).
RSIG=$BUILD/tests/rr_signal
[ -x "$RSIG" ] || make -s -C "$ROOT" "build/tests/rr_signal" >/dev/null
"$MOAT" run --rw "$R/log" --ext record:file="$R/log/sig.rr" -- "$RSIG" >"$R/sig1.out" 2>&1
"$MOAT" run --ro "$R/log" --ext replay:file="$R/log/sig.rr" -- "$RSIG" >"$R/sig2.out" 2>&1; rc=$?
if [ $rc == 0 ] && cmp -s "$R/sig1.out" "$R/sig2.out" && grep -q "^tick 5 after" "$R/sig2.out" &&
   grep -q "^pause ended by tick 6" "$R/sig2.out" && grep -q "^nanosleep: -1 Interrupted" "$R/sig2.out"; then
	pass "record/replay: setitimer ticks during a loop, alarm ending pause() and nanosleep(), byte for byte"
else
	fail "record/replay signals" "rc $rc: $(head -c 300 "$R/sig2.out") vs $(head -c 300 "$R/sig1.out")"
fi
SPIN=$BUILD/tests/rr_spin
[ -x "$SPIN" ] || make -s -C "$ROOT" "build/tests/rr_spin" >/dev/null
timeout 60 "$MOAT" run --rw "$R/log" --ext record:file="$R/log/spin.rr" -- "$SPIN" >"$R/spin1.out" 2>&1
timeout 60 "$MOAT" run --ro "$R/log" --ext replay:file="$R/log/spin.rr" -- "$SPIN" >"$R/spin2.out" 2>"$R/spin2.err"; rc=$?
if [ $rc == 0 ] && cmp -s "$R/spin1.out" "$R/spin2.out" && grep -q "^ticks 3$" "$R/spin2.out" &&
   grep -q "^moat: --ext replay: a signal reached the program between downcalls when recorded; " "$R/spin2.err"; then
	pass "record/replay: signals awaited in a loop without system calls, replayed at ticks, said on stderr"
else
	fail "record/replay spin" "rc $rc: $(cat "$R/spin2.out" "$R/spin2.err" | head -c 300)"
fi
if [ -x /usr/bin/python3 ]; then
	cat >"$R/sig.py" <<'PY'
import signal, time
n = [0]
def tick(sig, frame): n[0] += 1
signal.signal(signal.SIGALRM, tick)
signal.setitimer(signal.ITIMER_REAL, 0.003, 0.003)
i = 0
while n[0] < 5:
    time.monotonic(); i += 1
signal.setitimer(signal.ITIMER_REAL, 0)
print("ticks", n[0], "after", i, "clock reads")
signal.alarm(1); signal.pause(); print("pause ended by tick", n[0])
PY
	PSG="--ro /usr --ro /lib --ro /lib64 --ro /etc --ro $R/sig.py"
	"$MOAT" run $PSG --rw "$R/log" --ext record:file="$R/log/psig.rr" -- /usr/bin/python3 "$R/sig.py" >"$R/psig1.out" 2>&1
	"$MOAT" run $PSG --ro "$R/log" --ext replay:file="$R/log/psig.rr" -- /usr/bin/python3 "$R/sig.py" >"$R/psig2.out" 2>&1; rc=$?
	if [ $rc == 0 ] && cmp -s "$R/psig1.out" "$R/psig2.out" && grep -q "^pause ended by tick 6$" "$R/psig2.out"; then
		pass "record/replay: python3 signal.setitimer ticks and signal.pause(), byte for byte"
	else
		fail "record/replay python3 signals" "rc $rc: $(head -c 300 "$R/psig2.out") vs $(head -c 300 "$R/psig1.out")"
	fi
fi
TRAP='got=0; trap "got=1; echo USR1 after \$i checks" USR1; (busybox sleep 0.05; kill -USR1 $$) & i=0
while [ $got = 0 ]; do i=$((i+1)); [ -e /nonexistent ]; done; wait; echo done $i'
"$MOAT" run --rw "$R/log" --ext record:file="$R/log/trap.rr" -- $BB sh -c "$TRAP" >"$R/trap1.out" 2>&1
"$MOAT" run --ro "$R/log" --ext replay:file="$R/log/trap.rr" -- $BB sh -c "$TRAP" >"$R/trap2.out" 2>&1; rc=$?
if [ $rc == 0 ] && cmp -s "$R/trap1.out" "$R/trap2.out" && grep -q "^USR1 after [0-9]* checks" "$R/trap2.out"; then
	pass "record/replay: a shell trap on a signal from a child process, at the same loop count"
else
	fail "record/replay trap" "rc $rc: $(head -c 300 "$R/trap2.out") vs $(head -c 300 "$R/trap1.out")"
fi
if [ -x /usr/bin/python3 ]; then
	"$MOAT" run --ro /usr --ro /lib --ro /lib64 --ro /etc --rw "$R/log" --ext record:file="$R/log/th.rr" -- \
		/usr/bin/python3 -c 'import threading; threading.Thread(target=print).start()' >/dev/null 2>"$R/th.err"
	if grep -q "^moat: --ext record: only single-threaded programs can be recorded or replayed; refusing thread_create (EAGAIN)$" "$R/th.err" &&
	   grep -q "can't start new thread" "$R/th.err"; then
		pass "record: a second thread is refused with one line (EAGAIN to the app)"
	else
		fail "record: thread" "$(head -c 300 "$R/th.err")"
	fi
fi

# --- the build's check: an extension reaches the PAL only through its table ---
printf 'long pal_thread_yield(void);\nlong cheat(void) { return pal_thread_yield(); }\n' >"$WORK/cheat.c"
printf 'void *memcpy(void *, const void *, unsigned long);\nvoid *fine(void *a) { return memcpy(a, a, 1); }\n' >"$WORK/fine.c"
for f in cheat fine; do gcc -O2 -ffreestanding -fvisibility=hidden -c -o "$WORK/$f.o" "$WORK/$f.c"; done
make -s -C "$ROOT" B="$WORK/b" EXT_OBJ="$WORK/cheat.o" "$WORK/b/extensions.checked" >/dev/null 2>"$WORK/mk.err"; crc=$?
make -s -C "$ROOT" B="$WORK/b" EXT_OBJ="$WORK/fine.o" "$WORK/b/extensions.checked" >/dev/null 2>&1; frc=$?
if [ $crc != 0 ] && grep -q "outside extensions/ and rt/: pal_thread_yield" "$WORK/mk.err" && [ $frc == 0 ]; then
	pass "build: an extension object calling a PAL function is refused, the runtime allowed"
else
	fail "build check" "cheat $crc, fine $frc: $(cat "$WORK/mk.err")"
fi
