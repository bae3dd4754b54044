/*
 * migmerge.c -- moat_mig_feed and moat_snap_merge on a migration stream
 * made here (tests/test_migrate.sh): MIB MiB of pre-copied pages, then a
 * final image whose one BASE region covers them, a few of its pages in
 * runs of its own (they must win over the base), one zero page in the
 * base (it must be left out).  Prints "ok feed N ms merge N ms" once the
 * merged image checks and holds the right bytes, else why.
 *
 *   migmerge [MIB]     (default 256)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "moat/snapshot.h"

#define A 0x100000000ull

static unsigned char *buf;
static size_t len, cap;

static void put(const void *p, size_t n)
{
	while (len + n > cap) {
		cap = cap ? 2 * cap : 1 << 20;
		buf = realloc(buf, cap);
	}
	memcpy(buf + len, p, n);
	len += n;
}

static void rec(uint32_t type, uint64_t n)
{
	struct moat_snap_rec r = { .type = type, .len = n };
	put(&r, sizeof(r));
}

static double ms(struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void page_of(unsigned char *p, uint64_t i, int own)
{
	memset(p, own ? 0xee : (int)(i % 251) + 1, 4096);
	memcpy(p, &i, sizeof(i));
	if (i == 5 && !own)
		memset(p, 0, 4096); /* a zero page in the base */
}

int main(int argc, char **argv)
{
	uint64_t pages = (argc > 1 ? strtoull(argv[1], NULL, 10) : 256) << 8;
	struct moat_snap_header h = { .version = MOAT_SNAP_VERSION };
	memcpy(h.magic, MOAT_SNAP_MAGIC, 8);
	put(&h, sizeof(h));
	unsigned char page[4096];
	for (uint64_t i = 0; i < pages; i += 256) {
		struct moat_snap_pages p = { A + i * 4096, 256 };
		rec(MOAT_SNAP_PAGES, sizeof(p) + 256 * 4096);
		put(&p, sizeof(p));
		for (uint64_t k = 0; k < 256; k++)
			page_of(page, i + k, 0), put(page, 4096);
	}
	struct moat_snap_round rd = { .pages = pages, .scanned = pages };
	rec(MOAT_SNAP_ROUND, sizeof(rd));
	put(&rd, sizeof(rd));
	struct moat_snap_info info = { .nthreads = 1, .nregions = 1, .memory = 16 * 4096 };
	rec(MOAT_SNAP_INFO, sizeof(info));
	put(&info, sizeof(info));
	struct moat_snap_region g = { .addr = A, .size = (pages + 64) * 4096, .prot = 3,
				      .kind = MOAT_SNAP_ANON, .flags = MOAT_SNAP_REGION_BASE,
				      .nruns = 1 };
	struct moat_snap_run run = { 10, 16 };
	rec(MOAT_SNAP_REGION, sizeof(g) + sizeof(run) + 16 * 4096);
	put(&g, sizeof(g));
	put(&run, sizeof(run));
	for (uint64_t k = 0; k < 16; k++)
		page_of(page, 10 + k, 1), put(page, 4096);
	struct moat_snap_thread t = { .fpsize = 0 };
	rec(MOAT_SNAP_THREAD, sizeof(t));
	put(&t, sizeof(t));
	rec(MOAT_SNAP_END, 0);

	char err[512];
	struct timespec t0;
	struct moat_mig *m = moat_mig_new(MOAT_MIG_KEEP, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ev = 0;
	for (size_t off = 0; m && off < len && ev != MOAT_MIG_END;) {
		size_t n = len - off < (1 << 20) ? len - off : (1 << 20);
		long k = moat_mig_feed(m, buf + off, n, &ev, err, sizeof(err));
		if (k < 0) {
			printf("feed: %s\n", err);
			return 1;
		}
		off += (size_t)k;
	}
	double feed = ms(&t0);
	int fd;
	size_t ilen;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!m || ev != MOAT_MIG_END || moat_snap_merge(m, &fd, &ilen, err, sizeof(err)) < 0) {
		printf("merge: %s\n", m && ev == MOAT_MIG_END ? err : "the stream did not end");
		return 1;
	}
	double merge = ms(&t0);
	const unsigned char *img = mmap(NULL, ilen, PROT_READ, MAP_SHARED, fd, 0);
	size_t off = sizeof(h);
	const struct moat_snap_rec *r;
	while ((r = moat_snap_next(img, ilen, &off)))
		if (r->type == MOAT_SNAP_INFO)
			memcpy(&info, r + 1, sizeof(info));
		else if (r->type == MOAT_SNAP_REGION)
			memcpy(&g, r + 1, sizeof(g));
	if (info.memory != (pages - 1) * 4096 || g.flags || g.nruns != 2) {
		printf("merged: memory %llu (expected %llu), flags %u, %u runs (expected 2)\n",
		       (unsigned long long)info.memory, (unsigned long long)(pages - 1) * 4096,
		       g.flags, g.nruns);
		return 1;
	}
	/* runs: pages 0-4, then 6..pages-1; page 10 is the region's own */
	const unsigned char *first = img + sizeof(h) + 16 + sizeof(info) + 16 + sizeof(g) + 16;
	const unsigned char *p10 = first + 5 * 4096 + 16 + 4 * 4096;
	unsigned char want[4096];
	page_of(want, 10, 1);
	if (memcmp(p10, want, 4096)) {
		printf("merged: page 10 is not the final image's own\n");
		return 1;
	}
	printf("ok feed %.1f ms merge %.1f ms (%llu MiB)\n", feed, merge,
	       (unsigned long long)(pages >> 8));
	moat_mig_free(m);
	free(buf);
	return 0;
}
