#!/usr/bin/env bash
# Rule 1 of DESIGN.md, checked on the built objects: the LibOS and the
# runtime never talk to the host; the picoprocess image has exactly one
# system-call instruction, the PAL's gate at MOAT_GATE_ADDR.
. "$(dirname "$0")/lib.sh"
PICO=$MOAT_PICO
GATE=6f0000000000
SYSCALL_RE='\s(syscall|sysenter|int\s+\$0x80)(\s|$)'

if ! command -v objdump >/dev/null; then
	fail "objdump available" "install binutils (make test-deps)"
	exit 0
fi

# The pattern finds what it should: the PAL's gate object has one.
n=$(objdump -d "$BUILD/pal/linux/gate.o" 2>/dev/null | grep -cE "$SYSCALL_RE")
check_eq "pattern finds the syscall in pal/linux/gate.o" 1 "$n"

objs=$(ls "$BUILD"/libos/*.o "$BUILD"/rt/*.o "$BUILD"/gen/*.o 2>/dev/null)
nobj=$(echo "$objs" | grep -c '\.o$')
libos_objs=$(ls "$BUILD"/libos/*.o 2>/dev/null | wc -l)
if [ "$libos_objs" -lt 1 ] || [ ! -e "$BUILD/rt/rt.o" ]; then
	fail "LibOS and runtime objects built" "found $libos_objs in $BUILD/libos, rt.o: $(ls "$BUILD/rt" 2>&1)"
else
	# Every object disassembles to real code (so an empty grep means something).
	insns=$(objdump -d $objs | grep -cE '^\s+[0-9a-f]+:\s')
	if [ "$insns" -gt 1000 ]; then pass "LibOS/runtime objects disassemble ($nobj objects, $insns instructions)"
	else fail "LibOS/runtime objects disassemble" "only $insns instructions in $nobj objects"; fi
	hits=$(for o in $objs; do objdump -d "$o" | grep -E "$SYSCALL_RE" | sed "s|^|$(basename "$o"): |"; done)
	if [ -z "$hits" ]; then pass "no syscall/sysenter/int \$0x80 in LibOS and runtime objects"
	else fail "no syscall/sysenter/int \$0x80 in LibOS and runtime objects" "$(echo "$hits" | head -5 | tr '\n' '|')"; fi
fi

if [ ! -e "$PICO" ]; then
	fail "moat-pico built" "$PICO missing"
	exit 0
fi
addr=$(nm "$PICO" | awk '$3 == "moat_gate" { print $1 }')
check_eq "moat_gate symbol at 0x$GATE" "0000$GATE" "$addr"
dis=$(objdump -d "$PICO")
n=$(echo "$dis" | grep -cE "$SYSCALL_RE")
check_eq "exactly one system-call instruction in moat-pico" 1 "$n"
at=$(echo "$dis" | grep -E "$SYSCALL_RE" | awk -F: '{ gsub(/ /, "", $1); print $1 }' | head -1)
check_eq "the one syscall instruction is at moat_gate" "$GATE" "$at"
# The count above covers the whole image only if objdump disassembled
# every section that holds code.
xsecs=$(objdump -h "$PICO" | awk '/^ *[0-9]+ / { name = $2; getline; if ($0 ~ /CODE/) print name }' | tr '\n' ' ')
dsecs=$(echo "$dis" | sed -n 's/^Disassembly of section \(.*\):$/\1/p' | tr '\n' ' ')
check_eq "every executable section of moat-pico is disassembled" "$xsecs" "$dsecs"
# No segment is both writable and executable, so the image cannot grow a
# second syscall instruction by writing its own code.
wx=$(readelf -lW "$PICO" | awk '$1 == "LOAD" && $(NF-1) ~ /W/ && $(NF-1) ~ /E/')
nload=$(readelf -lW "$PICO" | grep -c '^ *LOAD')
if [ "$nload" -ge 1 ] && [ -z "$wx" ]; then pass "no writable+executable segment in moat-pico"
else fail "no writable+executable segment in moat-pico" "$nload LOAD segments; W+E: $wx"; fi

# A fatal PAL error names moat-pico on stderr and exits 127: started by
# hand, with no boot block on its descriptor, it stops at the first check.
err=$("$PICO" 4<&- 2>&1 >/dev/null); rc=$?
check_eq "a fatal PAL error prints its prefix and exits 127" \
	"moat-pico: no boot block: moat-pico is started by 'moat run'|127" "$err|$rc"

# docs/security.md lists exactly the host calls the filter allows, and no
# more than 40 of them.
filter_calls=$("$MOAT" filter | grep -o 'syscall "[a-z_0-9]*"' | sed 's/syscall "\(.*\)"/\1/' | sort -u)
doc_calls=$(sed -n '/^| Call | Arguments allowed/,/^$/p' "$ROOT/docs/security.md" |
	grep -o '^| `[a-z_0-9]*`' | tr -d '|` ' | sort -u)
check_eq "docs/security.md host-syscall table matches the filter" "$filter_calls" "$doc_calls"
n=$(echo "$filter_calls" | wc -l)
if [ "$n" -le 40 ]; then pass "filter allows $n host calls (at most 40)"; else fail "filter size" "$n host calls"; fi

# docs/compatibility.md lists exactly the calls of libos/syscalls.def, the
# one list the dispatch table and the handlers' prototypes are made from.
table_calls=$(${CC:-cc} -E -P -I "$ROOT" -x c - <<'C' | tr ' ' '\n' | grep . | LC_ALL=C sort
#define SYSCALL0(name, ...) name
#define SYSCALL1 SYSCALL0
#define SYSCALL2 SYSCALL0
#define SYSCALL3 SYSCALL0
#define SYSCALL4 SYSCALL0
#define SYSCALL5 SYSCALL0
#define SYSCALL6 SYSCALL0
#define ALIAS(name, other) name
#define CONTEXT(name) name
#define RETURN(name, value) name
#include "libos/syscalls.def"
C
)
listed=$(sed -n '/<!-- syscalls -->/,/<!-- \/syscalls -->/p' "$ROOT/docs/compatibility.md" |
	grep -v '^<!--\|^```' | tr ' ' '\n' | grep . | LC_ALL=C sort)
check_eq "docs/compatibility.md lists the LibOS's system calls ($(echo "$table_calls" | wc -l))" "$table_calls" "$listed"
check_eq "libos/syscalls.def names each call once" "" "$(echo "$table_calls" | uniq -d | tr '\n' ' ')"

# The list is checked against the handlers: a LibOS file compiled the way
# the Makefile compiles them fails on a handler whose parameters disagree
# with its entry, and on a handler (or any function) with no prototype.
cc_libos=$(cd "$ROOT" && env -u MAKEFLAGS -u MAKELEVEL make -s -n -B build/libos/mm.o 2>/dev/null |
	grep -- ' -c -o build/libos/mm.o libos/mm.c$' | sed 's| -c -o build/libos/mm.o libos/mm.c$||')
probe() { # probe NAME SOURCE [HEADER]: the LibOS's compiler must reject SOURCE
	local out
	if [ -z "$cc_libos" ]; then fail "$1" "no compile command from make -n"; return; fi
	printf '#include "%s"\n%s\n' "${3:-libos.h}" "$2" > "$WORK/probe.c"
	if out=$(cd "$ROOT" && $cc_libos -Ilibos -Ipal/linux -c -o "$WORK/probe.o" "$WORK/probe.c" 2>&1); then
		fail "$1" "compiled"
	else pass "$1 ($(echo "$out" | sed -n 's/.*error: //p' | head -1))"; fi
}
probe "a handler whose parameters disagree with syscalls.def does not compile" \
	'long sys_read(int fd, void *buf) { (void)fd; (void)buf; return 0; }'
probe "a LibOS function with no prototype does not compile" \
	'long sys_not_listed(int fd) { return fd; }'
if (cd "$ROOT" && $cc_libos -Ilibos -c -o "$WORK/probe.o" -x c - <<<'#include "libos.h"
long sys_read(int fd, void *buf, size_t len) { (void)buf; return fd + (long)len; }' 2>/dev/null); then
	pass "the same compile accepts a handler that agrees"
else fail "the same compile accepts a handler that agrees" "rejected"; fi
# The PAL's host calls are typed too: the fatal-error write that once lost
# its length (so the prefix above was never printed) is now an error.
probe "a host call with an argument missing does not compile" \
	'void probe(void); void probe(void) { host_write(2, "moat-pico: "); }' pal.h

# The LibOS's boundary (Makefile, build/libos.checked): its objects may
# reference only each other's symbols and the runtime's.  The check,
# run the way the Makefile runs it, on the built objects passes; with
# one more LibOS object that calls the PAL directly it refuses the build
# and names the symbol.
objs_of() { # objs_of VAR: the Makefile's object list VAR, in $BUILD
	(cd "$ROOT" && env -u MAKEFLAGS -u MAKELEVEL make -s B="$BUILD" -f Makefile -f - print \
		<<<"print: ; @echo \$($1)")
}
libos_o=$(objs_of LIBOS_OBJ) rt_o=$(objs_of RT_OBJ) ext_o=$(objs_of EXT_OBJ)
boundary() { # boundary EXTRA_OBJ...: make's LibOS checks with these objects added
	rm -rf "$WORK/b"
	(cd "$ROOT" && env -u MAKEFLAGS -u MAKELEVEL make -s B="$WORK/b" \
		LIBOS_OBJ="$libos_o $*" RT_OBJ="$rt_o" EXT_OBJ="$ext_o" "$WORK/b/libos.checked" 2>&1)
}
if out=$(boundary); then pass "the LibOS boundary check passes on the built LibOS"
else fail "the LibOS boundary check passes on the built LibOS" "$(echo "$out" | tail -2 | tr '\n' '|')"; fi
printf '%s\n' '#include "libos.h"' \
	'extern const struct moat_abi pal_abi; /* the PAL own table, not the one handed over */' \
	'const void *probe_pal(void);' 'const void *probe_pal(void) { return &pal_abi; }' > "$WORK/probe_pal.c"
if (cd "$ROOT" && $cc_libos -Ilibos -c -o "$WORK/probe_pal.o" "$WORK/probe_pal.c" 2>&1); then
	if out=$(boundary "$WORK/probe_pal.o"); then
		fail "a LibOS object that references a PAL symbol fails the build" "accepted"
	else check_eq "a LibOS object that references a PAL symbol fails the build" \
		"LibOS objects reference symbols outside libos/ and rt/: pal_abi" "$(echo "$out" | grep -m1 '^LibOS objects')"
	fi
else fail "the PAL-referencing probe compiles" "$cc_libos"; fi
# And the image bounds come from the boot info: no LibOS object names a
# symbol of the PAL's linker script.
refs=$(nm -u $libos_o 2>/dev/null | grep -E ' pico_(start|end|state_start|state_end)$' | sort -u)
check_eq "no LibOS object references pico.ld's symbols" "" "$refs"
