/*
 * ext_bench.c -- what one extension layer adds to a downcall.
 *
 * Built by bench/run.sh with `gcc -O2 -Iinclude` together with
 * extensions/passthrough/passthrough.c (the very layer moat-pico links,
 * compiled with the same optimisation); not a test.  Usage:
 *
 *     ext_bench [--smoke]
 *
 * A table whose system_time and stream_read are stubs that return at
 * once stands for the PAL; the passthrough layer is stacked on it as
 * moat-pico stacks it.  Each line, as in syscall_bench.c, is
 *
 *     OP ITERATIONS NS_REP1 NS_REP2 ...
 *
 * for: direct_call (the LibOS's call through the PAL's table: what a
 * downcall costs with no extension, beyond the PAL's own work),
 * passthrough_call (the same call through the layer) and
 * passthrough_read (stream_read, four arguments, through the layer).
 * Their difference is the layer's cost per downcall.  The table pointer
 * is re-read from a volatile each time, so no call is inlined away.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "moat/abi.h"
#include "moat/extension.h"

const struct moat_abi *passthrough_init(struct moat_ext_args *a);

static volatile long sink;

__attribute__((noinline)) static long stub_time(uint32_t clock)
{
	return clock;
}

__attribute__((noinline)) static long stub_read(moat_handle h, uint64_t off, void *buf,
						size_t len)
{
	(void)off, (void)buf;
	return h + (long)len;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct moat_abi *volatile table;

static void op_time(long n)
{
	for (long i = 0; i < n; i++)
		sink += table->system_time(1);
}

static void op_read(long n)
{
	char b[8];
	for (long i = 0; i < n; i++)
		sink += table->stream_read(3, 0, b, sizeof(b));
}

static void run(const char *name, const struct moat_abi *t, void (*op)(long), int reps,
		uint64_t target_ns)
{
	long n = 1000;
	table = t;
	for (;;) { /* calibrate: one repetition takes about target_ns */
		uint64_t t0 = now_ns();
		op(n);
		uint64_t dt = now_ns() - t0;
		if (dt >= target_ns / 4)
			break;
		n *= 4;
	}
	printf("%s %ld", name, n);
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = now_ns();
		op(n);
		printf(" %.2f", (double)(now_ns() - t0) / (double)n);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	int smoke = argc > 1 && !strcmp(argv[1], "--smoke");
	static struct moat_abi pal;
	pal.version = MOAT_ABI_VERSION;
	pal.size = sizeof(pal);
	pal.system_time = stub_time;
	pal.stream_read = stub_read;
	struct moat_ext_args a = { .below = &pal, .options = "" };
	const struct moat_abi *above = passthrough_init(&a);
	int reps = smoke ? 3 : 5;
	uint64_t target = smoke ? 3000000 : 30000000;
	for (int round = 0; round < 2; round++) { /* interleaved, twice */
		run("direct_call", &pal, op_time, reps, target);
		run("passthrough_call", above, op_time, reps, target);
		run("direct_read", &pal, op_read, reps, target);
		run("passthrough_read", above, op_read, reps, target);
	}
	return 0;
}
