#!/usr/bin/env bash
# The LibOS ladder (issue 3): real, dynamically linked Debian programs in a
# picoprocess -- shells, coreutils, text tools, compressors, tar, python3,
# sqlite3, perl -- each compared with the same command run natively, or
# with the host state it leaves behind.  A check that fails documents a
# LibOS feature that is still missing; it never passes by construction.
. "$(dirname "$0")/lib.sh"

# What a dynamic Debian program needs: its ld.so and libraries, /bin for
# #! lines and PATH lookups, /etc for passwd, group, nsswitch and ld.so.cache.
SYS="--ro /usr --ro /bin --ro /lib --ro /lib64 --ro /etc"
PY=/usr/bin/python3 # not a pyenv shim from PATH
L=$WORK/ladder      # everything the checks read or write lives below
mkdir -p "$L"

# errs FILE: the start of a captured stderr, on one line.
errs() { head -c 300 "$1" | tr '\n' '|'; }

# skip NAME WHY: a check that cannot run on this host (not counted).
skip() { echo "SKIP $1: $2"; }

# moat_run ARGS...: `moat run ARGS`, stdin from /dev/null.
moat_run() { "$MOAT" run "$@" </dev/null; }

# native CMD...: run CMD as same_output does natively (empty environment).
native() { (cd / && env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/ "$@") </dev/null; }

# A small tree with text, numbers, a symlink, an empty dir and odd modes.
T=$L/tree
mkdir -p "$T/src/lib" "$T/src/util/deep/er" "$T/docs" "$T/empty"
printf 'int main(void) { return 0; }\n' >"$T/src/main.c"
printf '#include "lib.h"\nint lib(void) { return 42; } /* TODO tidy */\n' >"$T/src/lib/lib.c"
printf 'int lib(void);\n' >"$T/src/lib/lib.h"
printf 'static int deep = 1; /* TODO remove */\n' >"$T/src/util/deep/er/x.c"
printf '# moat\nA sandbox. TODO: more docs.\n' >"$T/docs/README.md"
printf '%s\n' 10 9 100 1 55 9 3 10 10 >"$T/docs/numbers.txt"
printf 'apple 3\npear 10\napple 5\nfig 1\npear 2\n' >"$T/docs/fruit.txt"
ln -s ../docs/README.md "$T/src/readme-link"
chmod 600 "$T/src/lib/lib.h"
chmod 750 "$T/src/util"
find "$T" -exec touch -h -d '2020-01-02 03:04:05 UTC' {} +

# ---------------------------------------------------------------- 1. dash
O=$L/dash
mkdir -p "$O"
GRANTS="$SYS --ro $T --rw $O"
same_output "dash -c: pipes, subshells, redirections, \$(...), for, wait" /bin/dash -c '
set -u
O=$1; T=$2
echo "pipe: $(printf "pear\napple\nfig\n" | sort | tr a-z A-Z | head -n 2 | tr "\n" " ")"
(cd /; echo "subshell in $(pwd)"; exit 7); echo "subshell status $?"
echo "cwd unchanged: $PWD"
x=$(echo outer $(echo inner $(echo innermost))); echo "nested: $x"
for f in "$T"/docs/*.txt; do printf "%s has %s lines\n" "${f##*/}" "$(wc -l <"$f")"; done
echo first >"$O/r.txt"; echo second >>"$O/r.txt"; cat <"$O/r.txt"
exec 3>"$O/fd3.txt"; echo "via fd 3" >&3; exec 3>&-; cat "$O/fd3.txt"
ls /no/such/path 2>/dev/null || echo "ls failed quietly: $?"
cd /no/such/dir 2>/dev/null || echo "cd failed quietly"
{ echo "to stderr" >&2; echo "to stdout"; } 2>&1 | sort
n=0; while [ $n -lt 5 ]; do n=$((n + 1)); done; echo "while: $n"
(sleep 0.2; exit 3) & p1=$!
(exit 5) & p2=$!
sleep 0.1 &
wait $p1; echo "job 1 status $?"
wait $p2; echo "job 2 status $?"
wait; echo "all jobs done"
case "$x" in *innermost) echo "case matched";; esac
exit 4' dash "$O" "$T"
# A loop whose stdin is a file runs $(...) with fd 0 redirected: the fork
# happens while the shell's own stdin is not the console it started with.
GRANTS="$SYS --ro $T"
same_output "dash: \$(...) inside a while-read loop fed from a file" /bin/dash -c '
while read -r name n; do echo "$name $((n * 2)) $(echo "$name" | tr a-z A-Z)"; done <"$1"/docs/fruit.txt
echo end' dash "$T"
same_output "dash: subshell after exec </dev/null" /bin/dash -c 'exec </dev/null; (echo in subshell); echo "status $?"'

# ---------------------------------------------------------------- 2. bash
S=$L/script.bash
cat >"$S" <<'EOF'
#!/bin/bash
set -u
trap 'echo "EXIT trap, status $?"' EXIT
trap 'echo "TERM trap ran"; termed=1' TERM
greet() { local who=$1; echo "hello, $who (${#who} chars)"; }
fib() { if (($1 < 2)); then echo "$1"; else echo $(($(fib $(($1 - 1))) + $(fib $(($1 - 2))))); fi; }
arr=(zeta alpha "mid dle" beta)
arr+=(omega)
declare -A assoc=([one]=1 [two]=2 [three]=3)
greet world
echo "count ${#arr[@]}: ${arr[*]}; slice ${arr[*]:1:2}"
for i in "${!arr[@]}"; do printf '%d=%s\n' "$i" "${arr[$i]}"; done
printf '%s\n' "${arr[@]}" | sort
sum=0; for k in "${!assoc[@]}"; do sum=$((sum + assoc[$k])); done; echo "assoc sum $sum"
echo "fib 10 = $(fib 10)"
read -r a b <<<"here string"; echo "read [$a] [$b]"
str="The quick brown fox"; echo "${str^^} ${str// /_} ${str:4:5} ${#str}"
[[ $str =~ q(u)ick ]] && echo "regex ${BASH_REMATCH[1]}"
termed=0
kill -TERM $$
echo "after kill, termed=$termed"
exit 3
EOF
chmod 755 "$S"
GRANTS="$SYS --ro $S"
same_output "bash script run directly (#!): functions, arrays, traps, kill -TERM \$\$" "$S"
# Process substitution hands the reader a /dev/fd/N path.
GRANTS="$SYS"
same_output "bash process substitution <(...)" /bin/bash -c \
	'mapfile -t l < <(printf "l1\nl2\nl3\n"); echo "${#l[@]} ${l[2]}"; diff <(echo a) <(echo a) && echo same'
GRANTS="$SYS --ro $T"
same_output "cat /proc/self/fd/N reads the file open on fd N" /bin/bash -c \
	'exec 5<"$1"; cat /proc/self/fd/5; echo "status $?"' bash "$T/docs/fruit.txt"

# ----------------------------------------------------------- 3. coreutils
# $L is granted too, so that the `..` that ls -a shows of $T is the real one.
GRANTS="$SYS --ro $L"
SAME_ENV="TZ=UTC"
same_output "ls -laR of a tree (names from /etc/passwd)" /bin/ls -laR "$T"
same_output "sort -n" /usr/bin/sort -n "$T/docs/numbers.txt"
same_output "sort | uniq -c" /bin/sh -c "sort '$T/docs/numbers.txt' | uniq -c"
same_output "uniq -c" /usr/bin/uniq -c "$T/docs/numbers.txt"
same_output "wc" /usr/bin/wc "$T/docs/numbers.txt" "$T/docs/fruit.txt" "$T/src/main.c"
same_output "sha256sum" /usr/bin/sha256sum "$T/docs/numbers.txt" "$T/src/lib/lib.c"
same_output "date -d @0 -u" /bin/date -d @0 -u
same_output "date -d with a format" /bin/date -u -d '2024-02-29 13:14:15' '+%A %j %s %F %T'
same_output "env" /usr/bin/env
same_output "env -i with new variables" /usr/bin/env -i A=1 B='two words' /usr/bin/env
same_output "find . -name" /bin/sh -c "cd '$T' && find . -name '*.c' | sort"
same_output "find -type d -name" /usr/bin/find "$T" -type d -name 'e*'
unset SAME_ENV

# cp -r, mv, rm -r, mkdir -p: the host state afterwards.
C=$L/cp
mkdir -p "$C"
GRANTS="$SYS --ro $T --rw $C"
moat_run $GRANTS -- /bin/cp -r "$T/src" "$C/copy" 2>"$L/cp.err"
rc=$?
if [ $rc -eq 0 ] && diff -r --no-dereference "$T/src" "$C/copy" >/dev/null 2>&1 &&
	[ "$(stat -c %a "$C/copy/lib/lib.h")" = 600 ] && [ -L "$C/copy/readme-link" ]; then
	pass "cp -r copies the tree (contents, modes, symlink)"
else
	fail "cp -r copies the tree (contents, modes, symlink)" "rc $rc: $(errs "$L/cp.err"; diff -r --no-dereference "$T/src" "$C/copy" 2>&1 | head -3 | tr '\n' '|')"
fi
moat_run $GRANTS -- /bin/mv "$C/copy/util" "$C/moved" 2>"$L/mv.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$C/copy/util" ] && [ -f "$C/moved/deep/er/x.c" ]; then pass "mv a directory"
else fail "mv a directory" "rc $rc: $(errs "$L/mv.err")"; fi
moat_run $GRANTS -- /bin/mv "$C/copy/main.c" "$C/main-renamed.c" 2>"$L/mv2.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$C/copy/main.c" ] && cmp -s "$T/src/main.c" "$C/main-renamed.c"; then pass "mv a file"
else fail "mv a file" "rc $rc: $(errs "$L/mv2.err")"; fi
moat_run $GRANTS -- /bin/rm -r "$C/moved" 2>"$L/rm.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$C/moved" ]; then pass "rm -r a tree"
else fail "rm -r a tree" "rc $rc: $(errs "$L/rm.err"; ls -R "$C/moved" 2>&1 | head -3 | tr '\n' '|')"; fi
moat_run $GRANTS -- /bin/mkdir -p "$C/a/b/c/d" 2>"$L/mkdir.err"
rc=$?
if [ $rc -eq 0 ] && [ -d "$C/a/b/c/d" ]; then pass "mkdir -p"
else fail "mkdir -p" "rc $rc: $(errs "$L/mkdir.err")"; fi
moat_run $GRANTS -- /bin/mkdir -p "$C/a/b" 2>"$L/mkdir2.err"
check_eq "mkdir -p of an existing path succeeds" "0" "$?"
moat_run $GRANTS -- /bin/rm -r "$T/docs" 2>"$L/rmro.err"
rc=$?
if [ $rc -ne 0 ] && [ -f "$T/docs/numbers.txt" ] && grep -q 'Read-only file system' "$L/rmro.err"; then
	pass "rm -r in a read-only mapping fails with EROFS"
else
	fail "rm -r in a read-only mapping fails with EROFS" "rc $rc: $(errs "$L/rmro.err")"
fi

# timeout(1) arms a timer (timer_create, else alarm) and kills the child.
GRANTS="$SYS"
t0=$(date +%s%N)
moat_run $GRANTS -- /usr/bin/timeout 1 /bin/sleep 5 >"$L/timeout.out" 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ $rc -eq 124 ] && [ $ms -ge 900 ] && [ $ms -lt 3000 ]; then pass "timeout 1 sleep 5: status 124 after ~1 s"
else fail "timeout 1 sleep 5: status 124 after ~1 s" "status $rc after $ms ms: $(errs "$L/timeout.out")"; fi

# ------------------------------------------------------- 4. grep, sed, awk
GRANTS="$SYS --ro $T"
same_output "grep -r" /bin/grep -rn TODO "$T"
same_output "grep -rl --include" /bin/grep -rl --include='*.c' 'int' "$T/src"
same_output "grep: no match is status 1" /bin/grep -r no-such-text "$T"
same_output "awk sums a column" /usr/bin/awk '{ s += $2; n[$1] += $2 } END { print "total", s, "apples", n["apple"], NR }' "$T/docs/fruit.txt"
# print | "cmd": awk popen()s `sh -c sort`, with the pipe as the shell's stdout.
same_output "awk prints into a pipe to sort" /usr/bin/awk '{ n[$1] += $2 } END { for (k in n) print k, n[k] | "sort" }' "$T/docs/fruit.txt"
E=$L/sed
mkdir -p "$E"
printf 'color=red\nsize=3\ncolor=blue\n' >"$E/conf"
chmod 640 "$E/conf"
moat_run $SYS --rw "$E" -- /bin/sed -i -e 's/color=/colour=/' -e 's/^size=3$/size=42/' "$E/conf" 2>"$L/sed.err"
rc=$?
got=$(tr '\n' '|' <"$E/conf")
left=$(ls -A "$E" | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$got" = "colour=red|size=42|colour=blue|" ] && [ "$left" = "conf " ] &&
	[ "$(stat -c %a "$E/conf")" = 640 ]; then
	pass "sed -i edits the host file in place (mode kept, no temp file left)"
else
	fail "sed -i edits the host file in place (mode kept, no temp file left)" "rc $rc, file [$got], dir [$left], mode $(stat -c %a "$E/conf"): $(errs "$L/sed.err")"
fi

# ------------------------------------------------------- 5. gzip and xz
Z=$L/z
mkdir -p "$Z"
# ~10 MB, deterministic: words, numbers and incompressible runs.
$PY - "$Z/orig" <<'EOF'
import random, sys
r = random.Random(42)
words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon"]
out = bytearray()
while len(out) < 10 * 1024 * 1024:
    out += r.choice(words) + b" " + str(r.randrange(1000000)).encode() + b"\n"
    if r.random() < 0.3:
        out += r.randbytes(64)
open(sys.argv[1], "wb").write(out[:10 * 1024 * 1024])
EOF
GRANTS="$SYS --rw $Z"
cp "$Z/orig" "$Z/gz"
gzip -n -c "$Z/orig" >"$Z/native.gz"
moat_run $GRANTS -- /bin/gzip -n "$Z/gz" 2>"$L/gzip.err"
rc=$?
if [ $rc -eq 0 ] && [ ! -e "$Z/gz" ] && cmp -s "$Z/native.gz" "$Z/gz.gz"; then pass "gzip 10 MB file: same bytes as native gzip"
else fail "gzip 10 MB file: same bytes as native gzip" "rc $rc: $(errs "$L/gzip.err"; ls "$Z" | tr '\n' ' ')"; fi
moat_run $GRANTS -- /bin/gzip -d "$Z/gz.gz" 2>"$L/gunzip.err"
rc=$?
if [ $rc -eq 0 ] && cmp -s "$Z/orig" "$Z/gz"; then pass "gunzip 10 MB file: byte-identical round trip"
else fail "gunzip 10 MB file: byte-identical round trip" "rc $rc: $(errs "$L/gunzip.err")"; fi
if command -v xz >/dev/null; then
	# -1: 3 MiB blocks, so -T2 really compresses on two threads.
	xz -T2 -1 -c "$Z/orig" >"$Z/native.xz"
	cp "$Z/orig" "$Z/xz"
	moat_run $GRANTS -- /usr/bin/xz -T2 -1 "$Z/xz" 2>"$L/xz.err"
	rc=$?
	if [ $rc -eq 0 ] && [ ! -e "$Z/xz" ] && cmp -s "$Z/native.xz" "$Z/xz.xz"; then pass "xz -T2 10 MB file: same bytes as native xz"
	else fail "xz -T2 10 MB file: same bytes as native xz" "rc $rc: $(errs "$L/xz.err")"; fi
	moat_run $GRANTS -- /usr/bin/xz -T2 -d "$Z/xz.xz" 2>"$L/unxz.err"
	rc=$?
	if [ $rc -eq 0 ] && cmp -s "$Z/orig" "$Z/xz"; then pass "xz -T2 -d: byte-identical round trip"
	else fail "xz -T2 -d: byte-identical round trip" "rc $rc: $(errs "$L/unxz.err")"; fi
else
	skip "xz -T2 round trip" "xz is not installed"
fi

# ----------------------------------------------------------------- 6. tar
A=$L/tar
mkdir -p "$A/m" "$A/n" "$A/plain"
cp "$Z/orig" "$T/src/lib/blob.bin" 2>/dev/null
touch -d '2020-01-02 03:04:05 UTC' "$T/src/lib/blob.bin" "$T/src/lib"
GRANTS="$SYS --ro $T --rw $A"
# tar z runs `/bin/sh -c gzip` in a child, which the shell forks again.
moat_run $GRANTS --cwd "$T" -- /bin/tar czf "$A/m.tgz" src docs empty 2>"$L/tarc.err"
rc=$?
if [ $rc -eq 0 ] && tar xzf "$A/m.tgz" -C "$A/n" 2>/dev/null && diff -r "$T/src" "$A/n/src" >/dev/null 2>&1 &&
	diff -r "$T/docs" "$A/n/docs" >/dev/null 2>&1 && [ -d "$A/n/empty" ]; then
	pass "tar czf of a tree (extracted natively: diff -r equal)"
else
	fail "tar czf of a tree (extracted natively: diff -r equal)" "rc $rc: $(errs "$L/tarc.err" | tr '\n' '|')"
fi
# Extract an archive made natively, so that xzf is tested on its own.
(cd "$T" && tar czf "$A/native.tgz" src docs empty)
moat_run $GRANTS --cwd "$A/m" -- /bin/tar xzf "$A/native.tgz" 2>"$L/tarx.err"
rc=$?
if [ $rc -eq 0 ] && diff -r "$T/src" "$A/m/src" >/dev/null 2>&1 && diff -r "$T/docs" "$A/m/docs" >/dev/null 2>&1 &&
	[ -d "$A/m/empty" ] && [ "$(stat -c '%a %Y' "$A/m/src/lib/lib.h")" = "$(stat -c '%a %Y' "$T/src/lib/lib.h")" ]; then
	pass "tar xzf: diff -r equal, modes and mtimes kept"
else
	fail "tar xzf: diff -r equal, modes and mtimes kept" "rc $rc, diff -r: [$(diff -r --no-dereference "$T" "$A/m" 2>&1 | head -3 | tr '\n' '|')], lib.h mode+mtime $(stat -c '%a %Y' "$A/m/src/lib/lib.h" 2>&1) vs $(stat -c '%a %Y' "$T/src/lib/lib.h"): $(errs "$L/tarx.err")"
fi
# Uncompressed tar needs no child process: create and extract in moat.
moat_run $GRANTS --cwd "$T" -- /bin/tar cf "$A/plain.tar" src docs empty 2>"$L/tarcp.err" &&
	moat_run $GRANTS --cwd "$A/plain" -- /bin/tar xf "$A/plain.tar" 2>>"$L/tarcp.err"
rc=$?
if [ $rc -eq 0 ] && diff -r "$T/src" "$A/plain/src" >/dev/null 2>&1 && diff -r "$T/docs" "$A/plain/docs" >/dev/null 2>&1; then
	pass "tar cf + tar xf (no compressor child): diff -r equal"
else
	fail "tar cf + tar xf (no compressor child): diff -r equal" "rc $rc: $(errs "$L/tarcp.err")"
fi
rm -f "$T/src/lib/blob.bin"
touch -d '2020-01-02 03:04:05 UTC' "$T/src/lib"

# ------------------------------------------------------------- 7. python3
P=$L/py
mkdir -p "$P" "$L/tmp"
cat >"$P/main.py" <<'EOF'
import hashlib, json, os, re, signal, subprocess, sys, tempfile, threading
data = sys.argv[1]
out = {}
doc = {"name": "moat", "tags": ["a", "b"], "n": 3, "nested": {"x": 1.5, "y": None}}
s = json.dumps(doc, sort_keys=True)
out["json"] = [json.loads(s) == doc, s]
text = "alpha=1, beta=22, gamma=333"
out["re"] = re.findall(r"(\w+)=(\d+)", text)
out["re_sub"] = re.sub(r"\d+", lambda m: str(len(m.group())), text)
out["sha256"] = hashlib.sha256(b"moat" * 10000).hexdigest()
out["md5"] = hashlib.md5(b"picoprocess").hexdigest()
results, lock = {}, threading.Lock()
def work(i):
    h = hashlib.sha1()
    for j in range(20000):
        h.update(b"%d:%d" % (i, j))
    with lock:
        results[i] = (threading.get_ident() != main_ident, h.hexdigest())
main_ident = threading.get_ident()
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
out["threads"] = [results[i] for i in range(4)]
p = subprocess.run(["ls"], cwd=data, capture_output=True, text=True)
out["subprocess"] = [p.returncode, p.stdout.split(), p.stderr]
walk = []
for root, dirs, files in os.walk(data):
    dirs.sort()
    walk.append([os.path.relpath(root, data), sorted(files)])
out["walk"] = walk
with tempfile.TemporaryDirectory() as td:
    out["tempdir"] = [os.path.dirname(td), os.path.isdir(td)]
    path = os.path.join(td, "x.txt")
    with open(path, "w") as f: f.write("temp data\n")
    with open(path) as f: out["tempfile"] = f.read()
out["tempdir_removed"] = not os.path.exists(td)
with tempfile.NamedTemporaryFile("w+") as f:
    f.write("named"); f.flush(); f.seek(0); out["namedtemp"] = f.read()
got = []
signal.signal(signal.SIGUSR1, lambda s, fr: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
out["sigusr1"] = got == [signal.SIGUSR1]
print(json.dumps(out, sort_keys=True, indent=1))
EOF
GRANTS="$SYS --ro $P --ro $T --rw $L/tmp:/tmp"
same_output "python3: json, re, hashlib, 4 threads, subprocess ls, os.walk, tempfile, SIGUSR1" $PY "$P/main.py" "$T"
# The /tmp mapping really is $L/tmp on the host.
out=$(moat_run $GRANTS -- $PY -c '
import os, tempfile
fd, name = tempfile.mkstemp(prefix="ladder-", dir="/tmp")
os.write(fd, b"kept"); os.close(fd); print(os.path.basename(name))' 2>&1)
if [ -n "$out" ] && [ "$(cat "$L/tmp/$out" 2>/dev/null)" = kept ]; then pass "python3 tempfile lands in the --rw host dir mapped at /tmp"
else fail "python3 tempfile lands in the --rw host dir mapped at /tmp" "$(echo "$out" | tail -3 | tr '\n' '|')"; fi
rm -f "$L/tmp"/ladder-*
# tar, cp -p and rsync compare fstat's owner with their own and fchown.
same_output "python3: fstat and stat agree on a new file's owner; fchown to it" $PY -c '
import os
fd = os.open("/tmp/ladder-owner", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
a, b = os.fstat(fd), os.stat("/tmp/ladder-owner")
print((a.st_uid, a.st_gid) == (b.st_uid, b.st_gid))
os.fchown(fd, b.st_uid, b.st_gid); print("fchown ok")
os.close(fd); os.unlink("/tmp/ladder-owner")'

cat >"$P/sq.py" <<'EOF'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute("create table t(k text primary key, v integer)")
con.executemany("insert into t values(?, ?)", [("k%03d" % i, i * i) for i in range(500)])
con.commit()
print(con.execute("select count(*), sum(v), max(k) from t").fetchone())
print(con.execute("select k from t where v between 100 and 200 order by v desc").fetchall())
con.close()
con = sqlite3.connect(":memory:")
print(con.execute("select upper('x'), 6 * 7").fetchone())
EOF
if native $PY -c 'import sqlite3' 2>/dev/null; then
	rm -f "$L/tmp/py.db"
	GRANTS="$SYS --ro $P --rw $L/tmp"
	# A fresh database file on each side, at the same path.
	same_output "python3 sqlite3 module: file database" /bin/sh -c "rm -f '$L/tmp/py.db'; $PY '$P/sq.py' '$L/tmp/py.db'"
	GRANTS="$SYS --ro $P"
	same_output "python3 sqlite3 module: :memory: database" $PY -c '
import sqlite3
con = sqlite3.connect(":memory:")
con.execute("create table t(a)"); con.executemany("insert into t values(?)", [(i,) for i in range(100)])
print(con.execute("select count(*), sum(a) from t").fetchone())'
else
	skip "python3 sqlite3 module" "not importable natively"
fi

# multiprocessing needs /dev/shm (sem_open) and futexes in MAP_SHARED
# memory that one process waits on and another wakes.
mkdir -p "$L/shm"
GRANTS="$SYS --ro $P --rw $L/tmp:/tmp --rw $L/shm:/dev/shm"
cat >"$P/lock.py" <<'EOF'
import multiprocessing as mp, time
def child(lock, q, tried):
    held = not lock.acquire(block=False)
    tried.set()
    with lock:
        q.put((held, time.monotonic()))
if __name__ == "__main__":
    lock = mp.Lock(); q = mp.Queue(); tried = mp.Event()
    lock.acquire()
    p = mp.Process(target=child, args=(lock, q, tried)); p.start()
    tried.wait(timeout=3); time.sleep(0.2)
    released = time.monotonic()
    lock.release()
    held, got = q.get(timeout=3)
    print("child found it held:", held, "and got it after the release:", got >= released)
    p.join(); print("child exit", p.exitcode)
EOF
out=$(timeout 6 "$MOAT" run $GRANTS -- $PY "$P/lock.py" </dev/null 2>"$L/lock.err")
rc=$?
check_eq "python3 multiprocessing Lock released by the parent wakes the child" \
	"0|child found it held: True and got it after the release: True|child exit 0" "$rc|$(echo "$out" | tr '\n' '|' | sed 's/|$//')"
cat >"$P/mp.py" <<'EOF'
import multiprocessing
def sq(x): return x * x
if __name__ == "__main__":
    with multiprocessing.Pool(2) as p:
        print(sum(p.map(sq, range(100))))
EOF
out=$(timeout 10 "$MOAT" run $GRANTS -- $PY "$P/mp.py" </dev/null 2>"$L/mp.err")
rc=$?
check_eq "python3 multiprocessing Pool(2)" "0 328350" "$rc $out$(tail -1 "$L/mp.err")"
cat >"$P/alrm.py" <<'EOF'
import signal, time
got = []
signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
t = time.monotonic()
signal.alarm(1)
while not got and time.monotonic() - t < 3:
    time.sleep(0.05)
print("alarm fired" if got else "no alarm", round(time.monotonic() - t))
EOF
same_output "python3 signal.alarm(1) runs the SIGALRM handler after ~1 s" $PY "$P/alrm.py"

# --------------------------------------------------------- 8. sqlite3 CLI
if command -v sqlite3 >/dev/null; then
	Q=$L/sqlite
	mkdir -p "$Q"
	SQL="create table t(name text, n int); insert into t values('a',1),('b',20),('a',300);
select name, sum(n), count(*) from t group by name order by name; select printf('%.3f', avg(n)) from t;"
	GRANTS="$SYS"
	same_output "sqlite3 CLI: :memory: database" /usr/bin/sqlite3 :memory: "$SQL"
	GRANTS="$SYS --rw $Q"
	same_output "sqlite3 CLI: file database" /bin/sh -c "rm -f '$Q/db'; sqlite3 '$Q/db' \"$SQL\""
else
	skip "sqlite3 CLI" "sqlite3 is not installed"
fi

# ---------------------------------------------------------- 9. lua, perl
if command -v lua5.4 >/dev/null; then
	GRANTS="$SYS"
	same_output "lua5.4: tables, strings, closures" lua5.4 -e '
local t = {} for i = 1, 10 do t[#t + 1] = i * i end
local s = 0 for _, v in ipairs(t) do s = s + v end
local function counter() local n = 0 return function() n = n + 1 return n end end
local c = counter() c() c()
print(s, c(), ("moat"):upper(), string.format("%05.1f", math.pi), ("a,b,c"):gsub(",", ";"))'
else
	skip "lua5.4" "lua5.4 is not installed"
fi
if command -v perl >/dev/null; then
	R=$L/perl
	mkdir -p "$R/n" "$R/m"
	cat >"$R/script.pl" <<'EOF'
use strict; use warnings;
my ($dir, $in) = @ARGV;
my %count;
open(my $fh, '<', $in) or die "open $in: $!";
while (my $line = <$fh>) { chomp $line; my ($k, $v) = split / /, $line; $count{$k} += $v; }
close $fh;
open(my $out, '>', "$dir/summary.txt") or die "write: $!";
for my $k (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count) {
    printf $out "%-6s %4d %s\n", $k, $count{$k}, '*' x $count{$k};
}
close $out;
my $s = "The Quick Brown Fox";
(my $t = lc $s) =~ s/(\w+)/\u$1/g;
my @w = reverse split ' ', $s;
print join(",", @w), " | ", $t, " | ", length($s), " | ", scalar(keys %count), "\n";
print "match: $1\n" if $s =~ /(Qu\w+)/;
open(my $rd, '<', "$dir/summary.txt") or die; my @lines = <$rd>; close $rd;
print "lines: ", scalar(@lines), "\n", @lines;
unlink "$dir/gone.txt"; open(my $g, '>>', "$dir/appended.txt") or die; print $g "a\n"; close $g;
opendir(my $dh, $dir) or die; print "dir: ", join(" ", sort grep { !/^\./ } readdir $dh), "\n"; closedir $dh;
EOF
	GRANTS="$SYS --ro $R/script.pl --ro $T --rw $R/m"
	native /usr/bin/perl "$R/script.pl" "$R/n" "$T/docs/fruit.txt" >"$R/n.out" 2>&1
	moat_run $GRANTS -- /usr/bin/perl "$R/script.pl" "$R/m" "$T/docs/fruit.txt" >"$R/m.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && cmp -s "$R/n.out" "$R/m.out" && diff -r "$R/n" "$R/m" >/dev/null 2>&1; then
		pass "perl: hash, strings, file I/O (stdout and files equal to native)"
	else
		fail "perl: hash, strings, file I/O (stdout and files equal to native)" "rc $rc: $(diff "$R/n.out" "$R/m.out" | head -5 | tr '\n' '|')"
	fi
else
	skip "perl" "perl is not installed"
fi

# --- 11. make drives gcc (cc1, as, collect2, ld); the binary runs natively ---
if command -v gcc >/dev/null && command -v make >/dev/null; then
	P=$WORK/ladder/cc
	mkdir -p "$P"
	cat >"$P/main.c" <<'C'
#include <stdio.h>
int add(int, int);
int main(void) { printf("sum=%d\n", add(2, 3)); return 0; }
C
	echo 'int add(int a, int b) { return a + b; }' >"$P/add.c"
	printf 'prog: main.o add.o\n\tgcc -o prog main.o add.o\n%%.o: %%.c\n\tgcc -O1 -c $<\n' >"$P/Makefile"
	out=$("$MOAT" run $SYS --rw "$P:/proj" --rw "$P:/tmp" --cwd /proj -- make 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -x "$P/prog" ]; then
		check_eq "make + gcc inside: the program runs natively" "sum=5" "$("$P/prog")"
	else
		fail "make + gcc inside" "status $rc: ${out:0:300}"
	fi
else
	echo "SKIP make + gcc: not installed"
fi

# --- 12. git init, add, commit and log in a writable mapping ---
if command -v git >/dev/null; then
	G=$WORK/ladder/git
	mkdir -p "$G"
	out=$("$MOAT" run $SYS --rw "$G:/repo" --cwd /repo --env HOME=/repo -- /bin/sh -c '
		git init -q . && git config user.email moat@example.com && git config user.name moat &&
		echo one > a.txt && git add a.txt && git commit -qm "first commit" &&
		echo two >> a.txt && git commit -qam "second commit" && git log --format=%s' 2>&1)
	check_eq "git init/add/commit/log inside" "second commit
first commit" "$out"
	check_eq "the repository reads back natively" "second commit
first commit" "$(git -C "$G" log --format=%s 2>&1)"
else
	echo "SKIP git: not installed"
fi

# ------------------------------------- every step: the ungranted stays out
# Each step's program tries to reach what its grants leave out: a secret
# file, a host git repository or database, and a host TCP service.  The
# same command natively succeeds and reaches it (so the probe means
# something); in moat it fails, prints nothing of the secret, and the host
# service sees no connection.
SECRET=$WORK/secret
mkdir -p "$SECRET" "$L/probe"
echo "CANARY-d41f" >"$SECRET/canary"
printf 'int secret = 1;\n' >"$SECRET/x.c"
if command -v sqlite3 >/dev/null; then sqlite3 "$SECRET/db" "create table t(a); insert into t values('CANARY-d41f');"; fi
if command -v git >/dev/null; then
	git -C "$SECRET" init -q repo && git -C "$SECRET/repo" -c user.email=a@b -c user.name=a commit -q --allow-empty -m CANARY-d41f
fi
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
while True:
    c, _ = s.accept(); open(sys.argv[2], "a").write("connection\n"); c.close()' \
	"$L/probe.port" "$L/probe.log" &
LISTENER=$!
for _ in $(seq 50); do [ -s "$L/probe.port" ] && break; sleep 0.1; done
PORT=$(cat "$L/probe.port")
GRANTS="$SYS --ro $T --rw $L/probe"

# unreachable NAME CMD...: natively CMD exits 0 (it reached the secret or
# the service); in moat it exits non-zero, shows no canary, connects nowhere.
unreachable() {
	local name=$1; shift
	: >"$L/probe.log"
	native "$@" >"$L/probe.native" 2>&1
	local nrc=$?
	# The listener logs a native connection after accepting it: let that
	# line land before the log is emptied, or it counts against moat.
	for _ in $(seq 10); do [ -s "$L/probe.log" ] && break; sleep 0.05; done
	: >"$L/probe.log"
	rm -rf "$L/probe/"* # what the native run wrote there
	"$MOAT" run $GRANTS -- "$@" </dev/null >"$L/probe.moat" 2>&1
	local mrc=$?
	sleep 0.1 # and a connection moat let through would be logged by now
	if [ $nrc -ne 0 ]; then
		fail "$name" "natively the probe did not reach its target (status $nrc): $(errs "$L/probe.native")"
	elif [ $mrc -eq 0 ] || grep -q CANARY-d41f "$L/probe.moat" || [ -s "$L/probe.log" ]; then
		fail "$name" "moat status $mrc, host connections $(wc -l <"$L/probe.log"): $(errs "$L/probe.moat")"
	else
		pass "$name (status $mrc: $(grep -v '^moat:' "$L/probe.moat" | head -1 | cut -c1-90))"
	fi
}

unreachable "1. dash cannot read an ungranted file" /bin/dash -c 'read -r l <"$1" && echo "$l"' dash "$SECRET/canary"
unreachable "2. bash cannot connect to an ungranted host port (/dev/tcp)" /bin/bash -c \
	"exec 3<>/dev/tcp/127.0.0.1/$PORT && echo connected"
unreachable "3. coreutils: sha256sum cannot read an ungranted file" /usr/bin/sha256sum "$SECRET/canary"
unreachable "3. coreutils: cp cannot copy it into a writable mapping" /bin/cp "$SECRET/canary" "$L/probe/stolen"
[ -e "$L/probe/stolen" ] && fail "3. cp wrote nothing" "$L/probe/stolen exists" || pass "3. cp wrote nothing"
unreachable "4. grep -r finds nothing of an ungranted tree" /bin/grep -r CANARY "$SECRET"
unreachable "5. gzip cannot compress an ungranted file" /bin/gzip -c "$SECRET/canary"
unreachable "6. tar cannot archive an ungranted tree" /bin/tar cf - "$SECRET"
unreachable "7. python3 cannot connect to an ungranted host port" $PY -c \
	"import socket; socket.create_connection(('127.0.0.1', $PORT)); print('connected')"
unreachable "7. python3 cannot open an ungranted file" $PY -c "print(open('$SECRET/canary').read())"
if command -v sqlite3 >/dev/null; then
	unreachable "8. sqlite3 cannot open an ungranted database" /usr/bin/sqlite3 "$SECRET/db" 'select * from t'
fi
unreachable "9. perl cannot read an ungranted file" /usr/bin/perl -e 'open my $f, "<", $ARGV[0] or die "$!\n"; print <$f>' "$SECRET/canary"
if command -v lua5.4 >/dev/null; then
	unreachable "9. lua5.4 cannot read an ungranted file" /usr/bin/lua5.4 -e "io.write(assert(io.open('$SECRET/canary')):read('a'))"
fi
if command -v gcc >/dev/null; then
	unreachable "11. gcc cannot compile an ungranted source" /usr/bin/gcc -fsyntax-only "$SECRET/x.c"
fi
if command -v git >/dev/null; then
	unreachable "12. git cannot read an ungranted repository" /usr/bin/git ls-remote "$SECRET/repo"
fi
kill $LISTENER 2>/dev/null
wait $LISTENER 2>/dev/null || true
