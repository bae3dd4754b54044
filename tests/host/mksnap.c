/*
 * mksnap.c -- hand-made checkpoint images and snapshot packages for the
 * host side's tests (tests/test_snapshot_host.sh) and the fuzz seeds.
 *
 *   mksnap image [--error TEXT] [--bad] [--aligned|--bad-pad]
 *                                            a raw image on stdout (--aligned:
 *                                            its region ALIGNED, a run of 16
 *                                            pages; --bad-pad: its padding
 *                                            not zero)
 *   mksnap check FILE                        moat_snap_check: "ok" or the fault
 *   mksnap package OUT.mpk --pico FILE [--dep NAME=VERSION]... [--error TEXT]
 *          [--bad] [--entry PATH]            a snapshot package
 *          [--scratch ARCHIVE [--scratch-len N]]   with ARCHIVE as its saved
 *                                            /tmp (scratch_len N: a lie)
 *   mksnap seeds DIR                         fuzz seeds for fuzz_snapshot
 *
 * The image is tiny and valid: INFO, one STREAM ("file:/data/a", 3
 * buffered bytes), one ANON REGION with one run of a page, one THREAD
 * with 512 bytes of FXSAVE state, END.  --bad breaks INFO's memory count
 * (the hashes stay right: only the record check can tell).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moat/package.h"
#include "moat/snapshot.h"

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	while (b->n + n + 8 > b->cap) {
		b->cap = b->cap ? 2 * b->cap : 4096;
		b->p = realloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void rec(struct buf *b, uint32_t type, const void *body, size_t n)
{
	struct moat_snap_rec r = { .type = type, .len = n };
	static const char zero[8];
	put(b, &r, sizeof(r));
	put(b, body, n);
	put(b, zero, (8 - n % 8) % 8);
}

/* aligned: the region is ALIGNED with a run of MOAT_SNAP_ALIGN_MIN pages
 * (its pages on a page of the image); 2: a byte of its padding not zero. */
static struct buf image_as(const char *error, int badcount, int aligned)
{
	struct buf b = { 0 };
	struct moat_snap_header h = { .version = MOAT_SNAP_VERSION };
	memcpy(h.magic, MOAT_SNAP_MAGIC, 8);
	put(&b, &h, sizeof(h));
	uint64_t npages = aligned ? MOAT_SNAP_ALIGN_MIN : 1;
	struct moat_snap_info info = { .taken_ns = 1700000000000000000ll, .nthreads = 1,
				       .nregions = 1, .nstreams = 1, .memory = npages * 4096 };
	if (badcount)
		info.memory += 4096;
	rec(&b, MOAT_SNAP_INFO, &info, sizeof(info));
	if (error) {
		rec(&b, MOAT_SNAP_ERROR, error, strlen(error));
		rec(&b, MOAT_SNAP_END, NULL, 0);
		return b;
	}
	const char uri[] = "file:/data/a";
	struct buf s = { 0 };
	struct moat_snap_stream st = { .handle = 3, .origin = MOAT_SNAP_OPENED, .kind = 1,
				       .access = 1, .peer = -1, .uri_len = sizeof(uri) - 1,
				       .buffered = 3 };
	put(&s, &st, sizeof(st));
	put(&s, uri, sizeof(uri) - 1);
	put(&s, "abc", 3);
	rec(&b, MOAT_SNAP_STREAM, s.p, s.n);
	struct buf r = { 0 };
	struct moat_snap_region reg = { .addr = 0x10000000, .size = (npages + 1) * 4096,
					.prot = 3, .kind = MOAT_SNAP_ANON, .nruns = 1,
					.flags = aligned ? MOAT_SNAP_REGION_ALIGNED : 0 };
	struct moat_snap_run run = { .first = 1, .npages = npages };
	static unsigned char page[4096];
	memset(page, 0x5a, sizeof(page));
	put(&r, &reg, sizeof(reg));
	put(&r, &run, sizeof(run));
	if (aligned) { /* the body begins after this record's header */
		size_t at = b.n + sizeof(struct moat_snap_rec) + r.n;
		size_t pad = (4096 - at % 4096) % 4096;
		static const unsigned char zeros[4096];
		put(&r, zeros, pad);
		if (aligned == 2 && pad)
			r.p[r.n - 1] = 1;
	}
	for (uint64_t i = 0; i < npages; i++)
		put(&r, page, sizeof(page));
	rec(&b, MOAT_SNAP_REGION, r.p, r.n);
	struct buf t = { 0 };
	struct moat_snap_thread th = { .fpsize = 512 };
	th.regs[16] = 0x10001000; /* rip */
	static unsigned char fp[512];
	put(&t, &th, sizeof(th));
	put(&t, fp, sizeof(fp));
	rec(&b, MOAT_SNAP_THREAD, t.p, t.n);
	rec(&b, MOAT_SNAP_END, NULL, 0);
	free(s.p);
	free(r.p);
	free(t.p);
	return b;
}

static struct buf image(const char *error, int badcount)
{
	return image_as(error, badcount, 0);
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* Hostile seeds: lengths near 2^64 where a sum could wrap. */
static int seeds(const char *dir)
{
	char path[4096];
	struct buf b = image(NULL, 0);
	snprintf(path, sizeof(path), "%s/valid", dir);
	if (write_file(path, b.p, b.n) < 0)
		return 1;
	struct buf e = image("process 1 has a child process (pid 2)", 0);
	snprintf(path, sizeof(path), "%s/error", dir);
	write_file(path, e.p, e.n);
	/* record 1 (STREAM) with len = 2^64 - 8, then buffered near 2^64 */
	size_t stream_at = 16 + 16 + sizeof(struct moat_snap_info);
	unsigned char *c = malloc(b.n);
	uint64_t v;
	memcpy(c, b.p, b.n);
	v = UINT64_MAX - 7;
	memcpy(c + stream_at + 8, &v, 8);
	snprintf(path, sizeof(path), "%s/len-wrap", dir);
	write_file(path, c, b.n);
	memcpy(c, b.p, b.n);
	v = UINT64_MAX - 12 + 1; /* uri_len + buffered wraps to the body */
	memcpy(c + stream_at + 16 + offsetof(struct moat_snap_stream, buffered), &v, 8);
	snprintf(path, sizeof(path), "%s/buffered-wrap", dir);
	write_file(path, c, b.n);
	/* the region's run: npages near 2^64 / 4096 */
	size_t region_at = stream_at + 16 + ((sizeof(struct moat_snap_stream) + 15 + 7) & ~7ul);
	memcpy(c, b.p, b.n);
	v = (UINT64_MAX / 4096) + 1;
	memcpy(c + region_at + 16 + sizeof(struct moat_snap_region) + 8, &v, 8);
	snprintf(path, sizeof(path), "%s/npages-wrap", dir);
	write_file(path, c, b.n);
	memcpy(c, b.p, b.n);
	v = UINT64_MAX - 4095; /* the region's size: addr + size wraps */
	memcpy(c + region_at + 16 + 8, &v, 8);
	snprintf(path, sizeof(path), "%s/size-wrap", dir);
	write_file(path, c, b.n);
	free(c);
	free(b.p);
	free(e.p);
	/* an ALIGNED region's big run, and its padding not zero */
	for (int a = 1; a <= 2; a++) {
		struct buf g = image_as(NULL, 0, a);
		snprintf(path, sizeof(path), "%s/%s", dir, a == 1 ? "aligned" : "aligned-pad");
		write_file(path, g.p, g.n);
		free(g.p);
	}
	return 0;
}

/* The saved /tmp ARCHIVE compressed into a file beside the package
 * (zpath), as its source; its [Snapshot] lines in keys. */
static int scratch_source(const char *archive, const char *len_lie, char *zpath,
			  struct moat_pkg_source *src, char *keys, size_t klen)
{
	char err[512], hash[17];
	FILE *f = fopen(archive, "rb");
	static char a[1 << 20];
	size_t n = f ? fread(a, 1, sizeof(a), f) : 0;
	if (f)
		fclose(f);
	int fd = mkstemp(zpath);
	if (!f || fd < 0 || moat_snap_compress(a, n, fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "mksnap package: --scratch %s: %s\n", archive,
			!f || fd < 0 ? strerror(errno) : err);
		return -1;
	}
	close(fd);
	moat_snap_hash64(a, n, hash);
	snprintf(keys, klen, "scratch_len = %s\nscratch_hash = %s\n", len_lie ? len_lie : "", hash);
	if (!len_lie)
		snprintf(keys, klen, "scratch_len = %zu\nscratch_hash = %s\n", n, hash);
	*src = (struct moat_pkg_source){ .path = (char *)MOAT_SNAP_SCRATCH_PATH,
					 .mode = S_IFREG | 0600, .host = zpath };
	return 0;
}

static int package(int argc, char **argv)
{
	const char *out = argv[2], *pico = NULL, *error = NULL, *entry = "/bin/busybox";
	const char *scratch = NULL, *scratch_len = NULL;
	char deps[4096] = "", hash[33], ihash[17], err[1024];
	size_t dl = 0;
	int bad = 0;
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--pico") && i + 1 < argc) {
			pico = argv[++i];
		} else if (!strcmp(argv[i], "--error") && i + 1 < argc) {
			error = argv[++i];
		} else if (!strcmp(argv[i], "--entry") && i + 1 < argc) {
			entry = argv[++i];
		} else if (!strcmp(argv[i], "--bad")) {
			bad = 1;
		} else if (!strcmp(argv[i], "--scratch") && i + 1 < argc) {
			scratch = argv[++i];
		} else if (!strcmp(argv[i], "--scratch-len") && i + 1 < argc) {
			scratch_len = argv[++i];
		} else if (!strcmp(argv[i], "--dep") && i + 1 < argc && strchr(argv[i + 1], '=')) {
			char *d = argv[++i], *eq = strchr(d, '=');
			dl += (size_t)snprintf(deps + dl, sizeof(deps) - dl,
					       "\n[Dependency.%.*s]\nversion = =%s\n", (int)(eq - d), d,
					       eq + 1);
		} else {
			fprintf(stderr, "mksnap package: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (!pico || moat_snap_file_hash(pico, hash) < 0) {
		fprintf(stderr, "mksnap package: --pico FILE needed\n");
		return 2;
	}
	struct buf b = image(error, bad);
	moat_snap_hash64(b.p, b.n, ihash);
	char zpath[4200], spath[4200], keys[256] = "";
	char *dir = realpath(".", NULL);
	snprintf(zpath, sizeof(zpath), "%s/.mksnap-XXXXXX", dir);
	snprintf(spath, sizeof(spath), "%s/.mksnap-scratch-XXXXXX", dir);
	free(dir);
	struct moat_pkg_source src[2];
	if (scratch && scratch_source(scratch, scratch_len, spath, &src[1], keys, sizeof(keys)) < 0)
		return 1;
	char *manifest;
	int mlen = asprintf(&manifest,
			    "[Package]\nmanifest_version = 1\n\n[Identity]\nname = busybox-snapshot\n"
			    "version = 1\n\n[Application]\nentry = file://%s\n%s\n[Namespace]\n"
			    "file:///data = file:///srv/data\n\n[Snapshot]\npico = %s\napp = busybox\n"
			    "extensions = ckpt\ncwd = file:///\ntaken = 2026-12-04T19:00:00Z\n"
			    "image_len = %zu\nimage_hash = %s\n%s",
			    entry, deps, hash, b.n, ihash, keys);
	int fd = mkstemp(zpath);
	if (fd < 0 || moat_snap_compress(b.p, b.n, fd, err, sizeof(err)) < 0) {
		fprintf(stderr, "mksnap package: %s\n", fd < 0 ? strerror(errno) : err);
		return 1;
	}
	close(fd);
	src[0] = (struct moat_pkg_source){ .path = (char *)MOAT_SNAP_PATH, .mode = S_IFREG | 0600,
					   .host = zpath };
	int r = moat_package_write(out, manifest, (size_t)mlen, src, scratch ? 2 : 1, err,
				   sizeof(err));
	unlink(zpath);
	if (scratch)
		unlink(spath);
	free(manifest);
	free(b.p);
	if (r < 0) {
		fprintf(stderr, "mksnap package: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "image")) {
		const char *error = NULL;
		int bad = 0, aligned = 0;
		for (int i = 2; i < argc; i++)
			if (!strcmp(argv[i], "--error") && i + 1 < argc)
				error = argv[++i];
			else if (!strcmp(argv[i], "--bad"))
				bad = 1;
			else if (!strcmp(argv[i], "--aligned"))
				aligned = aligned ? aligned : 1;
			else if (!strcmp(argv[i], "--bad-pad"))
				aligned = 2;
		struct buf b = image_as(error, bad, aligned);
		fwrite(b.p, 1, b.n, stdout);
		free(b.p);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "check")) {
		int fd = open(argv[2], O_RDONLY);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0)
			return perror(argv[2]), 1;
		char *p = malloc((size_t)st.st_size + 1), err[512];
		if (read(fd, p, (size_t)st.st_size) != st.st_size)
			return perror(argv[2]), 1;
		close(fd);
		int r = moat_snap_check(p, (size_t)st.st_size, err, sizeof(err));
		printf("%s\n", r < 0 ? err : "ok");
		free(p);
		return r < 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "package"))
		return package(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "seeds"))
		return seeds(argv[2]);
	fprintf(stderr, "usage: mksnap image|check FILE|package OUT.mpk --pico FILE|seeds DIR\n");
	return 2;
}
