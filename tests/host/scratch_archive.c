/*
 * scratch_archive.c -- the snapshot's /tmp archive (monitor/scratch.c),
 * round trip and hostile input (run by tests/test_snapshot_host.sh).
 *
 *   scratch_archive roundtrip SRC DST   save SRC's tmp/, shm/, upper/ and
 *                                       load them into DST (tmp/ and shm/
 *                                       made as a new scratch has them);
 *                                       prints "ok BYTES"
 *   scratch_archive hostile DST         load each of a set of hand-made
 *                                       hostile archives into DST: each
 *                                       must be refused with one line, and
 *                                       nothing may appear outside DST;
 *                                       prints one line per case
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor_int.h"

struct buf { unsigned char *p; size_t n; };

static void put(struct buf *b, const void *p, size_t n)
{
	b->p = realloc(b->p, b->n + n + 8);
	memcpy(b->p + b->n, p, n);
	b->n += n;
	while (b->n % 8)
		b->p[b->n++] = 0;
}

/* One entry: kind, mode, path, data (as the archive lays them out). */
static void entry(struct buf *b, uint32_t kind, const char *path, const char *data,
		  uint64_t size)
{
	struct { uint32_t kind, mode, path_len, zero; uint64_t size; int64_t mtime; } e = {
		kind, 0644, (uint32_t)strlen(path), 0, size, 0
	};
	put(b, &e, sizeof(e));
	put(b, path, strlen(path));
	if (kind != 1)
		put(b, data, (size_t)size);
}

static void end(struct buf *b)
{
	static const char zero[32];
	put(b, zero, 32);
}

static int roundtrip(const char *src, const char *dst)
{
	struct pico in = { 0 }, out = { 0 };
	char err[512];
	snprintf(in.scratch, sizeof(in.scratch), "%s", src);
	snprintf(out.scratch, sizeof(out.scratch), "%s", dst);
	int fd = memfd_create("scr", 0);
	if (moat_scratch_save(&in, fd, 1 << 30, err, sizeof(err)) < 0) {
		printf("save: %s\n", err);
		return 1;
	}
	off_t len = lseek(fd, 0, SEEK_END);
	void *a = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (moat_scratch_load(&out, a, (size_t)len, getuid(), getgid(), err, sizeof(err)) < 0) {
		printf("load: %s\n", err);
		return 1;
	}
	printf("ok %lld\n", (long long)len);
	return 0;
}

static int hostile(const char *dst)
{
	struct pico out = { 0 };
	snprintf(out.scratch, sizeof(out.scratch), "%s", dst);
	static const char *const bad_paths[] = {
		"../escape", "tmp/../../escape", "/tmp/abs", "tmp//x", "tmp/./x", "tmp/x/",
		"etc/passwd", "tmpx/y", "", "tmp/..",
	};
	int failures = 0;
	for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		struct buf b = { 0 };
		char err[512] = "";
		put(&b, "MOATSCR1", 8);
		entry(&b, 2, bad_paths[i], "pwned\n", 6);
		end(&b);
		int r = moat_scratch_load(&out, b.p, b.n, getuid(), getgid(), err, sizeof(err));
		printf("%s %s: %s\n", r < 0 ? "refused" : "ACCEPTED", bad_paths[i], err);
		failures += r == 0;
		free(b.p);
	}
	/* A symlink to the host, then a file through it. */
	struct buf b = { 0 };
	char err[512] = "";
	put(&b, "MOATSCR1", 8);
	entry(&b, 3, "tmp/link", "/", 1);
	entry(&b, 2, "tmp/link/escaped", "pwned\n", 6);
	end(&b);
	int r = moat_scratch_load(&out, b.p, b.n, getuid(), getgid(), err, sizeof(err));
	printf("%s a file through a symlink: %s\n", r < 0 ? "refused" : "ACCEPTED", err);
	failures += r == 0;
	/* Truncated at every length, and lengths near 2^64. */
	int trunc_ok = 1;
	for (size_t n = 0; n < b.n; n++) {
		char d[PATH_MAX];
		snprintf(d, sizeof(d), "%s/t%zu", dst, n);
		mkdir(d, 0700);
		struct pico t = { 0 };
		snprintf(t.scratch, sizeof(t.scratch), "%s", d);
		if (moat_scratch_load(&t, b.p, n, getuid(), getgid(), err, sizeof(err)) == 0)
			trunc_ok = 0;
	}
	printf("%s every truncation\n", trunc_ok ? "refused" : "ACCEPTED");
	failures += !trunc_ok;
	free(b.p);
	b = (struct buf){ 0 };
	put(&b, "MOATSCR1", 8);
	struct { uint32_t kind, mode, path_len, zero; uint64_t size; int64_t mtime; } e = {
		2, 0644, 5, 0, UINT64_MAX - 3, 0
	};
	put(&b, &e, sizeof(e));
	put(&b, "tmp/x", 5);
	end(&b);
	r = moat_scratch_load(&out, b.p, b.n, getuid(), getgid(), err, sizeof(err));
	printf("%s a size near 2^64: %s\n", r < 0 ? "refused" : "ACCEPTED", err);
	failures += r == 0;
	free(b.p);
	return failures != 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "roundtrip"))
		return roundtrip(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "hostile"))
		return hostile(argv[2]);
	fprintf(stderr, "usage: scratch_archive roundtrip SRC DST | hostile DST\n");
	return 2;
}
