#!/usr/bin/env bash
# Syscall-site rewriting (libos/rewrite.c, bench/syscall-rewrite.md): a
# static program making millions of calls through rewritten sites,
# signals landing during fast calls with registers and vector state
# kept, fork and execve after patching, threads racing to one fresh site,
# a jump straight to a patched site's 'syscall', JIT code left alone --
# each compared with a native run; `--trace` naming the patched sites;
# and the switches that turn rewriting off.
. "$(dirname "$0")/lib.sh"
# The suite may run with MOAT_NO_REWRITE=1 (every other file then runs
# with rewriting off); this file turns it on and off itself.
unset MOAT_NO_REWRITE

PROG=$BUILD/tests/rewrite
GRANTS="--ro $PROG"
# SKIP_FULL=1 skips the two long runs (for a quick look while editing).
SKIP_FULL=${SKIP_FULL:-}; [ -n "$SKIP_FULL" ] || same_output "rewritten sites: 1e6 getpid/getppid, pipe I/O, signals, registers, fork, threads, execve" \
	"$PROG"
# With rewriting off every call traps and nothing is patched, so a million
# calls prove no more than a thousand: the small run keeps CI short.
GRANTS="--no-rewrite --ro $PROG"
[ -n "$SKIP_FULL" ] || same_output "the same program with rewriting off (--no-rewrite, small)" "$PROG" small

# Which sites --trace reports as patched.  Addresses from the binary.
site_after() { # the 'syscall' right after the start of function $1
	objdump -d --no-show-raw-insn "$PROG" |
		awk -v f="<$1>:" '$2 == f { on = 1; next } on && /syscall/ { sub(":", "", $1); print "0x" $1; exit }'
}
trace=$WORK/trace.txt
"$MOAT" run --trace --ro "$PROG" -- "$PROG" small >"$WORK/small.out" 2>"$trace"
rc=$?
check_eq "small run under --trace ends well" "0 0" "$rc $(grep -c ': NO' "$WORK/small.out")"
for fn in __getpid syscall race_call site_fn run_fn; do
	s=$(site_after "$fn")
	n=$(grep -c "rewrite: site $s (.*): patched" "$trace")
	# getpid and syscall() are patched once per image (before and after
	# execve) and in the forked children; race_call once, by one of the
	# four threads racing to it.
	case $fn in
	race_call | site_fn | run_fn) want=1 ;;
	*) want=ok ;;
	esac
	if [ -z "$s" ]; then
		fail "--trace shows $fn's site patched" "no syscall found in $fn"
	elif [ "$want" = 1 ] && [ "$n" -eq 1 ]; then
		pass "--trace shows $fn's site ($s) patched exactly once"
	elif [ "$want" = ok ] && [ "$n" -ge 2 ]; then
		pass "--trace shows $fn's site ($s) patched (in $n images)"
	else
		fail "--trace shows $fn's site ($s) patched" "$n times: $(grep "site $s" "$trace" | head -3)"
	fi
done
# call_site_sys jumps to site_fn's 'syscall': that traps, and the site,
# whose instruction before is now the jump to its stub, is left alone.
s=$(site_after site_fn)
grep -q "rewrite: site $s .*left alone: the instruction before it cannot move" "$trace" &&
	pass "a jump to a patched site's syscall traps, and the site is not patched again" ||
	fail "a jump to a patched site's syscall traps, and the site is not patched again" \
		"$(grep "site $s" "$trace")"
grep -q "rewrite: site 0x[0-9a-f]* (?+0x[0-9a-f]*): left alone: not in a private read-only file mapping" "$trace" &&
	pass "JIT code in anonymous memory is left alone" ||
	fail "JIT code in anonymous memory is left alone" "$(grep 'left alone' "$trace" | head -3)"
# No site is patched twice in one image: the trap after a patch is from
# a branch straight to the 'syscall', or a call sent back to trap.
dups=$(grep -o "rewrite: site 0x[0-9a-f]* (.*): patched" "$trace" | sort | uniq -c | awk '$1 > 4' | wc -l)
check_eq "no site is patched more often than once per process image" 0 "$dups"

# Every way of turning it off.
"$MOAT" run --trace --no-rewrite --ro "$PROG" -- "$PROG" small >/dev/null 2>"$trace"
check_eq "--no-rewrite: no site is patched" 0 "$(grep -c 'rewrite: site' "$trace")"
MOAT_NO_REWRITE=1 "$MOAT" run --trace --ro "$PROG" -- "$PROG" small >/dev/null 2>"$trace"
check_eq "MOAT_NO_REWRITE=1: no site is patched" 0 "$(grep -c 'rewrite: site' "$trace")"
cat >"$WORK/off.ini" <<EOF
[Application]
entry = file://$PROG
arguments = small
[Namespace]
file://$PROG = file://$PROG
[Tuning]
rewrite = no
EOF
"$MOAT" run --trace "$WORK/off.ini" >"$WORK/off.out" 2>"$trace"
check_eq "[Tuning] rewrite = no: the program runs, no site is patched" "0 0" \
	"$(grep -c ': NO' "$WORK/off.out") $(grep -c 'rewrite: site' "$trace")"
sed -i 's/rewrite = no/rewrite = perhaps/' "$WORK/off.ini"
out=$("$MOAT" run "$WORK/off.ini" 2>&1)
[[ $out == *"[Tuning] rewrite: expected yes or no, got 'perhaps'"* ]] &&
	pass "[Tuning] rewrite takes yes or no: $out" || fail "[Tuning] rewrite takes yes or no" "$out"

# A dynamic program: libc's and ld.so's sites, and the stub pages in maps.
SYS="--ro /usr --ro /lib --ro /lib64 --ro /etc"
out=$("$MOAT" run $SYS -- /usr/bin/python3 -c '
import os
print(any("[moat-stubs]" in l for l in open("/proc/self/maps")))
print(all(os.getpid() == 1 for _ in range(100000)))' 2>&1)
check_eq "python3: patched libc sites answer, stub pages show as [moat-stubs]" "True
True" "$out"

# glibc's read ('cmpb $0, __libc_single_threaded(%rip); je; xor %eax,
# %eax; syscall'): the run of three moves to a stub, so a read loop stops
# trapping after its first call.  --debug counts the calls that trapped.
D=$WORK/readdata
mkdir -p "$D"
head -c 4194304 /dev/urandom >"$D/big" # 1024 reads of 4 KiB
want=$(md5sum <"$D/big" | cut -d' ' -f1)
trapped() { sed -n 's/.*rewrite: pid 1: \([0-9]*\) calls trapped.*/\1/p' "$1" | tail -1; }
read_loop='
import os, sys, hashlib, threading
if sys.argv[1] == "threads":    # glibc then takes the branch to its other path
    t = threading.Thread(target=os.getpid); t.start(); t.join()
fd = os.open(sys.argv[2], os.O_RDONLY); h = hashlib.md5(); n = 0
while True:
    b = os.read(fd, 4096)
    if not b: break
    h.update(b); n += 1
print(n, h.hexdigest())'
for how in plain threads; do
	out=$("$MOAT" run --debug $SYS --ro "$D" -- /usr/bin/python3 -c "$read_loop" "$how" "$D/big" \
		2>"$WORK/read.err")
	n=$(trapped "$WORK/read.err")
	if [ "$out" = "1024 $want" ] && [ -n "$n" ] && [ "$n" -lt 300 ]; then
		pass "python3 ($how): 1024 os.read of 4 KiB through glibc's read, right bytes, $n calls trapped in all"
	else
		fail "python3 ($how): 1024 os.read of 4 KiB through glibc's read, few traps" \
			"out '$out' (want '1024 $want'), $n trapped: $(grep 'rewrite:' "$WORK/read.err" | head -5)"
	fi
done
# The same with static glibc (busybox-static's md5sum reads 4 KiB at a time).
out=$("$MOAT" run --debug --ro "$D" -- /bin/busybox md5sum "$D/big" 2>"$WORK/read.err")
n=$(trapped "$WORK/read.err")
if [ "$out" = "$want  $D/big" ] && [ -n "$n" ] && [ "$n" -lt 100 ]; then
	pass "busybox (static glibc) md5sum of 4 MiB: right sum, $n calls trapped in all"
else
	fail "busybox (static glibc) md5sum of 4 MiB, few traps" \
		"out '$out', $n trapped: $(grep 'rewrite:' "$WORK/read.err" | head -5)"
fi
# Rewriting off: every read traps (the count is what it claims).
out=$("$MOAT" run --debug --no-rewrite --ro "$D" -- /bin/busybox md5sum "$D/big" 2>"$WORK/read.err")
n=$(trapped "$WORK/read.err")
if [ "$out" = "$want  $D/big" ] && [ -n "$n" ] && [ "$n" -gt 1024 ]; then
	pass "--no-rewrite: the same md5sum, and every read traps ($n calls trapped)"
else
	fail "--no-rewrite: every read traps" "out '$out', $n trapped"
fi
# Sites first reached while other threads run (glibc's start of a new
# thread) are patched too: a run whose first instruction lies in one
# aligned 8- or 16-byte block.  Traps at sites left alone stay few.
lone() { sed -n 's/.*rewrite: pid 1: .*; \([0-9]*\) at [0-9]* sites left alone.*/\1/p' "$1" | tail -1; }
out=$("$MOAT" run --debug $SYS -- /usr/bin/python3 -c '
import threading
r = []
for i in range(200):
    t = threading.Thread(target=r.append, args=(i,)); t.start(); t.join()
print(sum(r))' 2>"$WORK/thr.err")
n=$(lone "$WORK/thr.err")
if [ "$out" = 19900 ] && [ -n "$n" ] && [ "$n" -lt 50 ]; then
	pass "python3: 200 threads started and joined, $n traps at sites left alone"
else
	fail "python3: 200 threads, few traps at sites left alone" \
		"out '$out', $n: $(grep 'rewrite:' "$WORK/thr.err" | head -5)"
fi
