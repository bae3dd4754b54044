# moat -- build, test and run.  `make run` and `make test` install what
# they need from Debian first (see `make deps`).

PREFIX ?= /usr/local
B := build
CC ?= gcc

HOST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Iinclude -Imonitor -I$(B)/gen
# zstd compresses checkpoint images (monitor/snapshot.c); jansson reads an
# OCI bundle's config.json (tools/oci.c).
HOST_LIBS := -lzstd -ljansson
# The monitor is the privileged part: stack protector, position-
# independent with full RELRO.  FORTIFY only without ASan (they clash).
HARDEN_FLAGS := -fstack-protector-strong -fPIE -pie -Wl,-z,relro,-z,now
FORTIFY_FLAGS := -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Inside the picoprocess: no libc, no TLS, no stack protector (it would
# read the app's %fs), position-independent code linked at a fixed address.
PICO_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Iinclude -Irt \
	-ffreestanding -fno-stack-protector -fpie -fno-plt \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-tree-loop-distribute-patterns -fcf-protection=none \
	-fvisibility=hidden -fno-common -include rt/hidden.h \
	-mgeneral-regs-only

# monitor/filter_rules.c is a build tool (the seccomp allowlist, compiled
# with libseccomp into build/gen/filter_allowlist.inc), not part of moat.
MONITOR_SRC := $(filter-out monitor/filter_rules.c,$(wildcard monitor/*.c))
TOOL_SRC := $(wildcard tools/*.c)
RT_SRC := $(wildcard rt/*.c)
PAL_SRC := $(wildcard pal/linux/*.c)
PAL_ASM := $(wildcard pal/linux/*.S)
LIBOS_SRC := $(wildcard libos/*.c)
# Extensions (extensions/NAME/): linked into moat-pico; their option
# parsers and the registry are compiled into moat too, which validates a
# choice before start with the same code.
EXT_SRC := $(wildcard extensions/*.c extensions/*/*.c)
EXT_HOST_SRC := extensions/common.c $(wildcard extensions/*/options.c)
EXT_HDRS := $(wildcard extensions/*.h extensions/*/*.h extensions/*/*.inc)

HOST_HDRS := $(wildcard include/moat/*.h monitor/*.h tools/*.h) $(EXT_HDRS)
PICO_HDRS := $(wildcard include/moat/*.h rt/*.h pal/linux/*.h libos/*.h libos/*.def) $(EXT_HDRS)

RT_OBJ := $(RT_SRC:%.c=$(B)/%.o)
PAL_OBJ := $(PAL_SRC:%.c=$(B)/%.o) $(PAL_ASM:%.S=$(B)/%.o)
LIBOS_ASM := $(wildcard libos/*.S)
LIBOS_OBJ := $(LIBOS_SRC:%.c=$(B)/%.o) $(LIBOS_ASM:%.S=$(B)/%.o) $(B)/gen/syscall_names.o
EXT_OBJ := $(EXT_SRC:%.c=$(B)/%.o)
# Static test programs run inside picoprocesses (tests/*.c), and a
# picoprocess image with no LibOS: the PAL, the extensions and
# tests/abi/counter.c in the LibOS's place (the checkpointer's proof that
# it needs nothing of the LibOS).
TEST_PROGS := $(patsubst tests/%.c,$(B)/tests/%,$(wildcard tests/*.c)) $(B)/tests/abi-pico

DEBIAN_PKGS := gcc make libc6-dev libseccomp-dev libxxhash-dev libzstd-dev libjansson-dev busybox-static
TEST_PKGS := python3 file binutils curl sqlite3 xz-utils perl gzip tar bash coreutils grep sed findutils lua5.4 git redis-server redis-tools nginx-light
BENCH_PKGS := hyperfine bubblewrap runsc python3 sqlite3 procps curl redis-server redis-tools nginx-light wrk
# What building CRIU v4.2 from source needs (bench/ckpt_criu.sh's baseline;
# Debian's criu 3.17 fails on recent kernels).  `make bench` installs them
# (bench-criu-deps) but builds no CRIU: point CRIU=PATH at your build.
CRIU_BUILD_PKGS := gcc make pkg-config libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler \
	protobuf-compiler python3-protobuf libcap-dev libnl-3-dev libnet1-dev libbsd-dev \
	libaio-dev libgnutls28-dev libdrm-dev
# libFuzzer: clang and its runtime (libclang_rt.fuzzer), for tests/fuzz/.
FUZZ_PKGS := clang-14 libclang-rt-14-dev
# LTP (issue 16): the source and strict runner live beside the repository
# (LTP_SHARED).  `make test` builds 63 of its tests (tests/ltp/fast.list)
# with these; `make ltp` builds all of them (ltp-build) and runs whole
# lists natively, in moat and under gVisor.
LTP_SHARED ?= ../shared/ltp
LTPROOT ?= $(B)/ltp
LTP_LISTS ?= gramine_subset tier1_simple
LTP_RUNNERS ?= native moat runsc
LTP_TEST_PKGS := autoconf automake m4 pkg-config bc
LTP_PKGS := $(LTP_TEST_PKGS) python3 runsc

.PHONY: ltp ltp-build ltp-fast ltp-deps
.PHONY: all run test test-security fuzz fuzz-deps bench bench-smoke deps test-deps bench-deps bench-criu-deps install clean

all: $(B)/moat $(B)/moat-pico $(B)/libos.checked $(B)/extensions.checked

$(B)/gen/filter_allowlist.inc: monitor/filter_rules.c include/moat/channel.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O1 -Wall -Wextra -Iinclude $(HARDEN_FLAGS) -o $(B)/gen/filter_rules $< -lseccomp
	$(B)/gen/filter_rules > $@.tmp && mv $@.tmp $@

$(B)/moat: $(MONITOR_SRC) $(TOOL_SRC) $(EXT_HOST_SRC) $(HOST_HDRS) $(B)/gen/filter_allowlist.inc
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(HARDEN_FLAGS) $(FORTIFY_FLAGS) -o $@ $(MONITOR_SRC) $(TOOL_SRC) $(EXT_HOST_SRC) $(HOST_LIBS)

# The same tool built with AddressSanitizer and UBSan; the tests use it.
$(B)/san/moat: $(MONITOR_SRC) $(TOOL_SRC) $(EXT_HOST_SRC) $(HOST_HDRS) $(B)/gen/filter_allowlist.inc
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(HARDEN_FLAGS) $(SAN_FLAGS) -o $@ $(MONITOR_SRC) $(TOOL_SRC) $(EXT_HOST_SRC) $(HOST_LIBS)

# The checkpointer's page digests use vector registers (ckpt/digest.inc
# says why that is safe there); nothing else inside the picoprocess may.
$(B)/extensions/ckpt/digest_sse2.o: PICO_CFLAGS := $(filter-out -mgeneral-regs-only,$(PICO_CFLAGS)) -msse2
$(B)/extensions/ckpt/digest_avx2.o: PICO_CFLAGS := $(filter-out -mgeneral-regs-only,$(PICO_CFLAGS)) -mavx2
# The LibOS: every function another file calls has its prototype in a
# header (the system-call handlers theirs in libos/syscalls.h, made from
# libos/syscalls.def), so a definition that disagrees does not compile;
# a call listed twice in syscalls.def is an error too (override-init).
$(B)/libos/%.o: PICO_WARN := -Werror=missing-prototypes -Werror=strict-prototypes -Werror=override-init
$(B)/%.o: %.c $(PICO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(PICO_CFLAGS) $(PICO_WARN) -c -o $@ $<

$(B)/%.o: %.S
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

# Names of Linux system calls, for the LibOS's "unimplemented" log lines.
$(B)/gen/syscall_names.c: /usr/include/x86_64-linux-gnu/asm/unistd_64.h
	@mkdir -p $(@D)
	{ echo 'const char *const syscall_names[] = {'; \
	  awk '/^#define __NR_/ { n = $$2; sub("__NR_", "", n); printf "\t[%s] = \"%s\",\n", $$3, n }' $<; \
	  echo '};'; \
	  echo 'const unsigned syscall_names_len = sizeof(syscall_names) / sizeof(syscall_names[0]);'; } > $@

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(PICO_CFLAGS) -c -o $@ $<

$(B)/moat-pico: $(RT_OBJ) $(PAL_OBJ) $(LIBOS_OBJ) $(EXT_OBJ) pal/linux/pico.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,pal/linux/pico.ld -Wl,--build-id=none \
		-Wl,--no-warn-rwx-segments -o $@ $(PAL_OBJ) $(LIBOS_OBJ) $(EXT_OBJ) $(RT_OBJ) -lgcc
	@addr=$$(nm $@ | awk '$$3 == "moat_gate" { print $$1 }'); \
	if [ "$$addr" != "00006f0000000000" ]; then \
		echo "moat-pico: gate at $$addr, expected MOAT_GATE_ADDR 0x6f0000000000" >&2; rm -f $@; exit 1; fi

$(B)/tests/abi-pico: $(RT_OBJ) $(PAL_OBJ) $(EXT_OBJ) $(B)/tests/abi/counter.o pal/linux/pico.ld
	$(CC) -nostdlib -static -no-pie -Wl,-T,pal/linux/pico.ld -Wl,--build-id=none \
		-Wl,--no-warn-rwx-segments -o $@ $(PAL_OBJ) $(B)/tests/abi/counter.o $(EXT_OBJ) $(RT_OBJ) -lgcc

# Rule 1 of DESIGN.md: the LibOS and the extensions never talk to the host.
# And the LibOS reaches the PAL only through the table init() hands it:
# its objects may use the runtime (rt/) and each other, and no other
# symbol -- no pal_*, no pico.ld symbol (its image bounds come in the
# boot info), no extension.  Both link into one image, so only this
# check keeps a LibOS file from calling the PAL directly.
$(B)/libos.checked: $(LIBOS_OBJ) $(RT_OBJ) $(EXT_OBJ)
	@if objdump -d $^ | grep -E '\s(syscall|sysenter|int +\$$0x80)\b'; then \
		echo "LibOS/runtime/extension objects contain a system-call instruction" >&2; exit 1; fi
	@mkdir -p $(@D)
	@nm --defined-only $(LIBOS_OBJ) $(RT_OBJ) | awk 'NF == 3 { print $$3 }' | sort -u > $@.ok
	@bad=$$(nm -u $(LIBOS_OBJ) | awk 'NF == 2 { print $$2 }' | sort -u | comm -23 - $@.ok); \
	rm -f $@.ok; \
	if [ -n "$$bad" ]; then \
		echo "LibOS objects reference symbols outside libos/ and rt/:" $$bad >&2; exit 1; fi
	@touch $@

# An extension reaches the host only through the table it was given: its
# objects may use the runtime (rt/) and each other, and no other symbol
# (no pal_*, no LibOS function, no pal_abi).
$(B)/extensions.checked: $(EXT_OBJ) $(RT_OBJ)
	@nm --defined-only $^ | awk 'NF == 3 { print $$3 }' | sort -u > $@.ok
	@bad=$$(nm -u $(EXT_OBJ) | awk 'NF == 2 { print $$2 }' | sort -u | comm -23 - $@.ok); \
	rm -f $@.ok; \
	if [ -n "$$bad" ]; then \
		echo "extension objects reference symbols outside extensions/ and rt/: $$bad" >&2; exit 1; fi
	@touch $@

deps:
	@missing=$$(for p in $(DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test-deps: deps
	@missing=$$(for p in $(TEST_PKGS) $(FUZZ_PKGS) $(LTP_TEST_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

bench-deps: deps
	@missing=$$(for p in $(BENCH_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

bench-criu-deps:
	@missing=$$(for p in $(CRIU_BUILD_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

run: deps
	$(MAKE) all
	./examples/demo.sh

test: test-deps bench-deps
	$(MAKE) all $(B)/san/moat $(TEST_PROGS) $(FUZZ_BINS) $(HOST_TESTS)
	@# The LTP tests build (a few minutes the first time) while the first
	@# test files run; tests/test_ltp.sh waits for it.
	nice -n 10 tests/ltp/build-fast.sh $(LTP_SHARED) $(B)/ltp-fast tests/ltp/fast.list >$(B)/ltp-fast.log 2>&1 &
	MOAT=$(B)/san/moat tests/run.sh

# LTP: ltp-fast builds the tests `make test` runs (tests/test_ltp.sh), a
# few minutes once (in the background of the first tests in `make test`),
# then cached in build/ltp-fast; ltp-build all of LTP's
# system-call tests (10-15 minutes); `make ltp` runs LTP_LISTS under
# LTP_RUNNERS (the Gramine subset about 30 minutes) and writes docs/compatibility.md's
# LTP section.  LTPROOT=DIR uses an LTP built elsewhere.
ltp-fast:
	tests/ltp/build-fast.sh $(LTP_SHARED) $(B)/ltp-fast tests/ltp/fast.list

ltp-build: deps
	$(LTP_SHARED)/build.sh $(B)/ltp

ltp-deps: deps
	@missing=$$(for p in $(LTP_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

ltp: ltp-deps
	$(MAKE) all
	@if [ "$(LTPROOT)" = "$(B)/ltp" ]; then $(MAKE) ltp-build; fi
	LTPROOT=$(LTPROOT) LTP_SHARED=$(LTP_SHARED) B=$(B) \
		tests/ltp/lists.sh $(B)/ltp-results "$(LTP_LISTS)" "$(LTP_RUNNERS)"
	python3 tests/ltp/report.py $(B)/ltp-results docs/compatibility.md

test-security: test-deps
	$(MAKE) all $(B)/san/moat $(TEST_PROGS) $(FUZZ_BINS) $(HOST_TESTS)
	MOAT=$(B)/san/moat tests/run.sh security

# libFuzzer targets (tests/fuzz/): `make fuzz` runs each for FUZZ_SECONDS
# and merges new coverage into the seed corpus tests/fuzz/corpus/TARGET/;
# `make test` runs each briefly (tests/test_security_fuzz.sh).
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := channel manifest elf package control snapshot migrate
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)
FUZZ_FLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Iinclude -Imonitor \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_MONITOR := monitor/channel.c monitor/path.c monitor/policy.c monitor/owner.c monitor/netgrant.c monitor/listing.c monitor/manifest.c monitor/union.c \
	monitor/learn.c monitor/package.c monitor/depends.c monitor/sockets.c monitor/scratch.c \
	monitor/guard.c monitor/snapshot.c monitor/procinfo.c $(EXT_HOST_SRC)

$(B)/fuzz/fuzz_channel $(B)/fuzz/fuzz_manifest $(B)/fuzz/fuzz_package $(B)/fuzz/fuzz_snapshot $(B)/fuzz/fuzz_migrate: $(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_MONITOR) $(HOST_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_MONITOR) -lxxhash -lzstd

# Host-side test programs (tests/host/): the monitor's code driven
# directly, built with the sanitizers; run by tests/test_*.sh.
HOST_TESTS := $(patsubst tests/host/%.c,$(B)/host/%,$(wildcard tests/host/*.c))
$(HOST_TESTS): $(B)/host/%: tests/host/%.c $(FUZZ_MONITOR) $(HOST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) $(SAN_FLAGS) -o $@ $< $(FUZZ_MONITOR) $(HOST_LIBS)

# The control socket (monitor/control.c), with moat_monitor_signal stubbed.
$(B)/fuzz/fuzz_control: tests/fuzz/fuzz_control.c monitor/control.c $(FUZZ_MONITOR) $(HOST_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< monitor/control.c $(FUZZ_MONITOR) -lxxhash -lzstd

$(B)/fuzz/fuzz_elf: tests/fuzz/fuzz_elf.c libos/elf_check.c libos/elf_check.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_elf.c libos/elf_check.c

fuzz-deps: deps
	@missing=$$(for p in $(FUZZ_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

fuzz: fuzz-deps
	$(MAKE) $(FUZZ_BINS)
	tests/fuzz/run.sh --merge $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(B)/tests/%: tests/%.c
	@mkdir -p $(@D)
	$(CC) -static -O1 -Wall -Wextra -Iinclude -o $@ $<

bench: bench-deps bench-criu-deps
	$(MAKE) all
	bench/run.sh

bench-smoke: bench-deps
	$(MAKE) all
	bench/run.sh --smoke

install: all
	install -D -m 0755 $(B)/moat $(DESTDIR)$(PREFIX)/bin/moat
	install -D -m 0644 $(B)/moat-pico $(DESTDIR)$(PREFIX)/lib/moat/moat-pico

clean:
	rm -rf $(B)
