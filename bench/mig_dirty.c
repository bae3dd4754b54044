/*
 * mig_dirty.c -- the process bench/migrate.sh moves: it mallocs MIB
 * mebibytes, writes every page (a non-zero pattern), prints "ready",
 * then, every millisecond, changes RATE/1000 megabytes of them (round
 * robin) and appends one line "T N" to its stdout: T the wall clock in
 * microseconds, N a counter.  The largest step between two lines' T is
 * the time the app saw itself stopped (a migration's downtime, as the
 * app sees it); N going up by one each line shows nothing was lost or
 * repeated.  It runs for SECONDS, then checks its whole heap against
 * what it wrote and prints "heap ok" or "heap CORRUPT at page P".
 *
 *   mig_dirty MIB RATE_MB_S SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_us(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: mig_dirty MIB RATE_MB_S SECONDS\n");
		return 2;
	}
	size_t pages = (size_t)strtoul(argv[1], NULL, 10) << 8;
	double rate = strtod(argv[2], NULL);
	uint64_t seconds = strtoul(argv[3], NULL, 10);
	unsigned char *heap = malloc(pages << 12);
	uint32_t *gen = calloc(pages, sizeof(*gen)); /* what each page holds */
	if (!pages || !heap || !gen)
		return 1;
	for (size_t p = 0; p < pages; p++)
		memset(heap + (p << 12), (int)(1 + p % 251), 4096);
	printf("ready\n");
	fflush(stdout);
	double per_ms = rate * 1048576.0 / 4096.0 / 1000.0, owed = 0;
	size_t next = 0;
	uint64_t end = now_us(CLOCK_MONOTONIC) + seconds * 1000000, n = 0;
	while (now_us(CLOCK_MONOTONIC) < end) {
		for (owed += per_ms; owed >= 1; owed -= 1, next = (next + 1) % pages) {
			gen[next]++;
			memset(heap + (next << 12), (int)((1 + next % 251 + gen[next]) & 0xff), 4096);
		}
		printf("%llu %llu\n", (unsigned long long)now_us(CLOCK_REALTIME),
		       (unsigned long long)n++);
		fflush(stdout);
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	for (size_t p = 0; p < pages; p++) {
		unsigned char want = (unsigned char)((1 + p % 251 + gen[p]) & 0xff);
		for (size_t i = 0; i < 4096; i++)
			if (heap[(p << 12) + i] != want) {
				printf("heap CORRUPT at page %zu\n", p);
				return 1;
			}
	}
	printf("heap ok\n");
	return 0;
}
