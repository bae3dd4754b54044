/*
 * benchlib.h -- the timing loop shared by spawn_bench.c and net_bench.c
 * (syscall_bench.c has its own copy of the same loop).
 *
 * bench_op() runs an operation once to warm up, calibrates its loop count
 * so that one repetition takes about target_ns (doubling a batch until it takes a tenth of the
 * target, then scaling up), times `reps` repetitions and prints one line
 * with the time per operation of each repetition, in nanoseconds:
 *
 *     OP ITERATIONS NS_REP1 NS_REP2 ...
 *
 * which is the format bench/report.py reads.  The clock is read twice
 * per repetition only, so its cost (a trapped syscall under moat, which
 * has no vDSO) is amortised over the whole repetition.
 */
#ifndef MOAT_BENCHLIB_H
#define MOAT_BENCHLIB_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *bench_prog = "bench";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", bench_prog, what, errno ? strerror(errno) : "failed");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* min_iters: the least number of operations in a repetition (for slow
 * operations, where a handful would make a noisy median). */
static void bench_op(const char *name, void (*fn)(long), uint64_t target_ns, int reps,
		     long min_iters)
{
	long n = 1;
	uint64_t t;
	fn(1); /* warm-up: first-time costs (page faults, a fresh connection) */
	for (;;) {
		uint64_t t0 = now_ns();
		fn(n);
		t = now_ns() - t0;
		if (t >= target_ns / 10 || n >= (1L << 30))
			break;
		n *= 2;
	}
	long iters = (long)((double)n * (double)target_ns / (double)(t ? t : 1));
	if (iters < min_iters)
		iters = min_iters;
	if (iters < 1)
		iters = 1;
	printf("%s %ld", name, iters);
	fflush(stdout);
	for (int r = 0; r < reps; r++) {
		uint64_t t0 = now_ns();
		fn(iters);
		printf(" %.1f", (double)(now_ns() - t0) / (double)iters);
		fflush(stdout);
	}
	printf("\n");
	fflush(stdout);
}

static int bench_wanted(const char *name, char **only, int n_only)
{
	if (!n_only)
		return 1;
	for (int i = 0; i < n_only; i++)
		if (!strcmp(only[i], name))
			return 1;
	return 0;
}

#endif
