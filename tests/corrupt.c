/*
 * corrupt.c -- an app that attacks its own LibOS and PAL, which share its
 * address space.  The picoprocess may end; nothing else may notice.
 *
 *   corrupt scribble ADDR LEN      fill [ADDR, ADDR+LEN) with 0x41, then
 *                                  make system calls
 *   corrupt poke ADDR VALUE        store the 64-bit VALUE at ADDR, then
 *                                  make system calls
 *   corrupt write-text ADDR        store a byte into read-only PAL code
 *   corrupt mprotect raw|gate ADDR LEN
 *                                  make [ADDR, ADDR+LEN) PROT_NONE through
 *                                  the LibOS (raw) or straight through the
 *                                  PAL's gate, then make system calls
 *   corrupt munmap ADDR LEN        unmap it through the gate, then calls
 *   corrupt exhaust                take all free address space, then ask
 *                                  the LibOS for memory-hungry things
 *   corrupt getrandom-bad          getrandom() into an unmapped buffer:
 *                                  "getrandom: -1 Bad address" natively
 *   corrupt garbage ABI N SEED     call each of the N downcalls of the
 *                                  PAL's ABI table at ABI with garbage
 *                                  arguments, each in a forked child that
 *                                  has 2 s to end; one line per call
 *
 * "then make system calls": write "after\n" on stdout, open a file, exit 0.
 * Numbers may be hex (0x...).  Built static (build/tests/corrupt) and run
 * as an ordinary app by tests/test_security_containment.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define GATE 0x6f0000000000UL

static long gate_syscall(long nr, long a1, long a2, long a3)
{
	long ret = nr;
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "call *%[gate]\n\t"
			 "add $128, %%rsp"
			 : "+a"(ret)
			 : [gate] "r"(GATE), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "r8", "r9", "r10", "memory", "cc");
	return ret;
}

static long raw_syscall(long nr, long a1, long a2, long a3)
{
	long ret = nr;
	__asm__ volatile("syscall"
			 : "+a"(ret)
			 : "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

static _Noreturn void then_syscalls(void)
{
	static const char msg[] = "after\n";
	raw_syscall(SYS_write, 1, (long)msg, sizeof(msg) - 1);
	raw_syscall(SYS_openat, AT_FDCWD, (long)"/", O_RDONLY);
	raw_syscall(SYS_exit_group, 0, 0, 0);
	__builtin_unreachable();
}

static uint64_t num(const char *s)
{
	return strtoull(s, NULL, 0);
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Garbage: mostly random words, sometimes small numbers, NULL, or a
 * pointer into our own stack. */
static long garbage(void *stack)
{
	switch (rnd() % 4) {
	case 0: return (long)(rnd() % 64);
	case 1: return 0;
	case 2: return (long)stack;
	}
	return (long)rnd();
}

static int call_garbage(uint64_t table, int n, uint64_t seed)
{
	typedef long (*fn)(long, long, long, long, long, long);
	rng_state = seed ? seed : 1;
	for (int i = 0; i < n; i++) {
		fn f = ((fn *)(table + 8))[i];
		long a[6];
		char stack[256];
		for (int k = 0; k < 6; k++)
			a[k] = garbage(stack);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(2);
			long r = f(a[0], a[1], a[2], a[3], a[4], a[5]);
			printf("abi[%d]: returned %ld\n", i, r);
			fflush(stdout);
			_exit(0);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) < 0) {
			printf("abi[%d]: fork or wait failed: %s\n", i, strerror(errno));
			continue;
		}
		if (WIFSIGNALED(st))
			printf("abi[%d]: child killed by signal %d\n", i, WTERMSIG(st));
		else if (WEXITSTATUS(st))
			printf("abi[%d]: child exited %d\n", i, WEXITSTATUS(st));
		fflush(stdout);
	}
	printf("garbage: done\n");
	return 0;
}

static int exhaust(void)
{
	uint64_t total = 0;
	for (size_t sz = 1UL << 40; sz >= 4096; sz >>= 1) {
		while (mmap(NULL, sz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0) != MAP_FAILED)
			total += sz;
	}
	printf("exhaust: reserved %lu GiB; now pipes\n", (unsigned long)(total >> 30));
	fflush(stdout);
	int n = 0, p[2];
	while (n < 4096 && pipe(p) == 0)
		n++;
	printf("exhaust: %d pipes, then: %s\n", n, strerror(errno));
	char *big = malloc(1 << 20);
	printf("exhaust: malloc: %s\n", big ? "ok" : "NULL");
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(what, "scribble") && argc > 3) {
		memset((void *)num(argv[2]), 0x41, num(argv[3]));
		then_syscalls();
	} else if (!strcmp(what, "poke") && argc > 3) {
		*(volatile uint64_t *)num(argv[2]) = num(argv[3]);
		then_syscalls();
	} else if (!strcmp(what, "write-text") && argc > 2) {
		*(volatile char *)num(argv[2]) = 0x41;
		then_syscalls();
	} else if (!strcmp(what, "mprotect") && argc > 4) {
		long r = (!strcmp(argv[2], "gate") ? gate_syscall : raw_syscall)(
			SYS_mprotect, (long)num(argv[3]), (long)num(argv[4]), PROT_NONE);
		printf("mprotect: %ld\n", r);
		then_syscalls();
	} else if (!strcmp(what, "munmap") && argc > 3) {
		gate_syscall(SYS_munmap, (long)num(argv[2]), (long)num(argv[3]), 0);
		then_syscalls();
	} else if (!strcmp(what, "getrandom-bad")) {
		long r = syscall(SYS_getrandom, (void *)8, 16, 0);
		printf("getrandom: %ld %s\n", r, r < 0 ? strerror(errno) : "");
		return 0;
	} else if (!strcmp(what, "exhaust")) {
		return exhaust();
	} else if (!strcmp(what, "garbage") && argc > 4) {
		return call_garbage(num(argv[2]), (int)num(argv[3]), num(argv[4]));
	}
	fprintf(stderr, "usage: see tests/corrupt.c\n");
	return 2;
}
