#!/usr/bin/env bash
# Crash containment: an app that corrupts its own LibOS and PAL (they
# share its address space), exhausts the LibOS's memory, calls the PAL's
# ABI with garbage, or ships a hostile ELF header ends only its own
# picoprocess, and moat says how in one line with status 128+N (or a clear
# reason).  Meanwhile a neighbouring picoprocess keeps echoing (its
# latency is printed), a host process of the test stays alive, and the
# next picoprocess runs.  tests/corrupt.c is the attacker.
. "$(dirname "$0")/lib.sh"

C=$BUILD/tests/corrupt
PICO=$MOAT_PICO
sym() { nm "$PICO" | awk -v s="$1" '$3 == s { print "0x" $1 }'; }
DATA=$(sym pal_abi) END=$(sym pico_end)
if [ -z "$DATA" ] || [ -z "$END" ] || [ ! -x "$C" ]; then
	fail "containment setup" "need nm, $PICO's symbols and $C"
	exit 0
fi

rm -f "$WORK/ready" "$WORK/stop"
python3 "$ROOT/tests/neighbour.py" "$MOAT" "until:$WORK/stop" "$WORK/ready" >"$WORK/nb.out" 2>&1 &
NB=$!
for _ in $(seq 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
sleep 60 &
SLEEPER=$!

# contained NAME STATUS STDERR-REGEX ARGS...: run corrupt ARGS; it must
# end within 20 s with STATUS and one stderr line matching the regex.
contained() {
	local name=$1 want=$2 re=$3; shift 3
	timeout -k 5 20 "$MOAT" run -- "$C" "$@" >"$WORK/c.out" 2>"$WORK/c.err"
	local rc=$? lines
	lines=$(wc -l <"$WORK/c.err")
	if [ $rc -ne "$want" ]; then
		fail "$name" "status $rc, expected $want: $(head -c 300 "$WORK/c.err" | tr '\n' '|')"
	elif [ "$lines" -ne 1 ] || ! grep -qE "^moat: $re\$" "$WORK/c.err"; then
		fail "$name" "stderr [$(head -c 300 "$WORK/c.err" | tr '\n' '|')] does not match /^moat: $re\$/"
	else
		pass "$name: $(cat "$WORK/c.err"), status $rc"
	fi
}
SEGV='picoprocess crashed: signal 11 \(Segmentation fault\)'
contained "0x41 over all the PAL's and LibOS's data and bss" 139 "$SEGV" \
	scribble "$DATA" $((END - DATA))
contained "the LibOS's ABI pointer zeroed" 139 "$SEGV" poke "$(sym abi)" 0
contained "the LibOS's descriptor table overwritten" 139 "$SEGV" scribble "$(sym fds)" 256
contained "the LibOS heap's free lists overwritten" 139 "$SEGV" scribble "$(sym free_lists)" 136
contained "a store into the PAL's code" 139 'corrupt killed by signal 11 \(Segmentation fault\)' \
	write-text 0x6f0000001000
contained "the PAL's code made PROT_NONE through the LibOS" 139 "$SEGV" \
	mprotect raw 0x6f0000000000 0x10000
contained "the PAL's code made PROT_NONE through the gate" 139 "$SEGV" \
	mprotect gate 0x6f0000000000 0x10000
contained "the PAL's code unmapped through the gate" 139 "$SEGV" munmap 0x6f0000000000 0x10000

# The LibOS's memory exhausted: all address space taken, then LibOS calls.
out=$(timeout -k 5 60 "$MOAT" run -- "$C" exhaust 2>&1)
rc=$?
if [ $rc -eq 0 ] && echo "$out" | grep -q '^exhaust: [0-9]* pipes, then: Cannot allocate memory$' &&
   echo "$out" | grep -q '^exhaust: malloc: NULL$'; then
	pass "the LibOS out of memory: calls fail with ENOMEM, the app goes on ($(echo "$out" | sed -n 2p))"
else
	fail "the LibOS out of memory" "status $rc: $(echo "$out" | tr '\n' '|' | head -c 300)"
fi

# Garbage arguments to every downcall of the PAL's ABI, each in a child.
# A call may kill its child, or (process_signal) the whole picoprocess:
# either way within the time, and said in one line.
nabi=$(( ($(grep -cE '^\s+(long|void) \(\*[a-z_]+\)' "$ROOT/include/moat/abi.h") - 3) ))
for seed in 1 2 3 4 5 6 7 8; do
	timeout -k 5 60 "$MOAT" run -- "$C" garbage "$DATA" "$nabi" "$seed" >"$WORK/g.out" 2>"$WORK/g.err"
	rc=$?
	last=$(tail -1 "$WORK/g.out")
	if [ $rc -eq 0 ] && [ "$last" = "garbage: done" ] && [ ! -s "$WORK/g.err" ]; then
		pass "garbage to the $nabi ABI calls, seed $seed: all returned or ended their child ($(grep -c 'killed by signal' "$WORK/g.out") children killed)"
	elif [ $rc -gt 128 ] && [ "$(wc -l <"$WORK/g.err")" -eq 1 ] &&
	     grep -qE "^moat: corrupt killed by signal $((rc - 128)) " "$WORK/g.err"; then
		pass "garbage to the ABI, seed $seed: the picoprocess ended itself: $(cat "$WORK/g.err"), status $rc"
	else
		fail "garbage to the ABI, seed $seed" "status $rc, last [$last], stderr [$(head -c 200 "$WORK/g.err")]"
	fi
done

# A wedged LibOS (its heap lock taken) spins like a busy loop: moat and
# everything in the picoprocess go when moat is killed.  SIGTERM comes
# once the program has wedged it (its "after" line: the next call hangs),
# SIGKILL a second later, before moat's own grace period (3 s) is over.
# (TMPDIR: moat's scratch directory, left behind when moat is killed,
# lands in $WORK.)
(
	TMPDIR=$WORK "$MOAT" run -- "$C" poke "$(sym heap_lock)" 1 >"$WORK/wedged.out" 2>/dev/null &
	m=$!
	for _ in $(seq 200); do grep -q after "$WORK/wedged.out" && break; sleep 0.05; done
	kill -TERM $m
	sleep 1
	kill -KILL $m
	wait $m
) 2>/dev/null
rc=$?
sleep 0.5
left=$(pgrep -f "$C poke" | wc -l)
check_eq "a wedged LibOS: moat killed after its SIGTERM went unheeded (137), nothing left" "137 0" "$rc $left"

# A program whose ELF headers put it over the PAL: refused, not loaded.
python3 - "$WORK/overpal" <<'PY'
import struct, sys
vaddr = 0x6f0000000000  # the PAL's gate
code = bytes.fromhex("b801000000bf01000000488d3513000000ba070000000f05"
                     "b83c000000bf2a0000000f05") + b"loaded\n"
hdr = 64 + 56
eh = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
    "<HHIQQQIHHHHHH", 2, 62, 1, vaddr + hdr, 64, 0, 0, 64, 56, 1, 0, 0, 0)
size = hdr + len(code)
ph = struct.pack("<IIQQQQQQ", 1, 5, 0, vaddr, vaddr, size, size, 0x1000)
open(sys.argv[1], "wb").write(eh + ph + code)
PY
chmod 755 "$WORK/overpal"
"$WORK/overpal" >/dev/null
check_eq "the ELF over the PAL runs natively (exit 42)" "42" "$?"
"$MOAT" run -- "$WORK/overpal" >"$WORK/e.out" 2>"$WORK/e.err"
rc=$?
if [ $rc -eq 127 ] && [ ! -s "$WORK/e.out" ] &&
   grep -qx "moat: libos: cannot run $WORK/overpal (or its #! interpreter): not an ELF program or #! script" "$WORK/e.err"; then
	pass "an ELF over the PAL is refused: $(cat "$WORK/e.err"), status 127"
else
	fail "an ELF over the PAL is refused" "status $rc, out [$(cat "$WORK/e.out")], err [$(cat "$WORK/e.err")]"
fi

# Found by the garbage calls: getrandom into a bad buffer ended the
# picoprocess ("getrandom failed", 127); now EFAULT, as natively.
same_output "getrandom into an unmapped buffer: EFAULT, as natively" "$C" getrandom-bad

# Everybody else carried on.
out=$("$MOAT" run -- /bin/busybox echo still alive 2>&1)
check_eq "the next picoprocess runs" "still alive" "$out"
if kill -0 $SLEEPER 2>/dev/null && [ "$(awk '{ print $3 }' /proc/$SLEEPER/stat)" = S ]; then
	pass "the host process beside the attacks is alive and sleeping"
else
	fail "the host process beside the attacks is alive" "pid $SLEEPER"
fi
kill $SLEEPER 2>/dev/null
touch "$WORK/stop"
wait $NB
nrc=$?
nb=$(cat "$WORK/nb.out")
echo "neighbour during the containment attacks: $nb"
max=$(echo "$nb" | sed -n 's/.*max \([0-9]*\)\..*/\1/p')
if [ $nrc -eq 0 ] && [ -n "$max" ] && [ "$max" -lt 2000 ]; then
	pass "the neighbouring picoprocess answered throughout ($nb)"
else
	fail "the neighbouring picoprocess answered throughout" "$nb"
fi
