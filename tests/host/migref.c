/*
 * migref.c -- moat_snap_merge_ref and moat_snap_adopt, the path moat
 * receive hands a resume (tests/test_migrate.sh): a migration stream of
 * MIB MiB of pre-copied pages and a final image whose BASE region covers
 * them, some pages of its own.  The merged image must name the base's
 * pages (few runs, no copy), hold the final image's own pages inline,
 * pass moat_snap_check_ref and be refused by moat_snap_check, and every
 * page it names must be the one the stream sent (pre-copied over two
 * rounds, the second at lower addresses than the first); then each
 * tampered or truncated variant must be refused, in one line each:
 *
 *   ok merge N ms, R runs           (the good image)
 *   refused CASE: LINE              (one per case)
 *
 * and "FAIL ..." (exit 1) if anything else happens.
 *
 *   migref [MIB]     (default 16)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "moat/manifest.h"
#include "moat/snapshot.h"

#define A 0x100000000ull
#define SEALS (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)

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

static void page_of(unsigned char *p, uint64_t i, int own)
{
	memset(p, own ? 0xee : (int)(i % 251) + 1, 4096);
	memcpy(p, &i, sizeof(i));
}

static _Noreturn void die(const char *what, const char *why)
{
	printf("FAIL %s: %s\n", what, why);
	exit(1);
}

/* PAGES of pages [from, to), then a ROUND. */
static void round_of(uint64_t from, uint64_t to, uint32_t n)
{
	unsigned char page[4096];
	for (uint64_t i = from; i < to; i += 256) {
		struct moat_snap_pages p = { A + i * 4096, 256 };
		rec(MOAT_SNAP_PAGES, sizeof(p) + 256 * 4096);
		put(&p, sizeof(p));
		for (uint64_t k = 0; k < 256; k++)
			page_of(page, i + k, 0), put(page, 4096);
	}
	struct moat_snap_round rd = { .round = n, .pages = to - from, .scanned = to - from };
	rec(MOAT_SNAP_ROUND, sizeof(rd));
	put(&rd, sizeof(rd));
}

/* The stream: the upper half of pages 0..n-1 pre-copied in round 0, the
 * lower half in round 1 (the base's index, sorted at each ROUND, must
 * merge them), then FINAL with pages 10..25 of its own in the one BASE
 * region. */
static void make_stream(uint64_t pages)
{
	struct moat_snap_header h = { .version = MOAT_SNAP_VERSION };
	memcpy(h.magic, MOAT_SNAP_MAGIC, 8);
	put(&h, sizeof(h));
	unsigned char page[4096];
	round_of(pages / 2, pages, 0);
	round_of(0, pages / 2, 1);
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
}

/* A sealed memfd holding n bytes of p (unsealed if !seal). */
static int memfd_of(const void *p, size_t n, int seal)
{
	int fd = memfd_create("migref", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || (seal && fcntl(fd, F_ADD_SEALS, SEALS) < 0))
		die("memfd", "cannot make one");
	return fd;
}

/* The first REF run's base reference in the image, or NULL. */
static unsigned char *first_ref(unsigned char *img, size_t ilen)
{
	size_t off = sizeof(struct moat_snap_header);
	const struct moat_snap_rec *r;
	while ((r = moat_snap_next(img, ilen, &off))) {
		struct moat_snap_region g;
		if (r->type != MOAT_SNAP_REGION)
			continue;
		memcpy(&g, r + 1, sizeof(g));
		if (g.flags & MOAT_SNAP_REGION_REF)
			return (unsigned char *)(r + 1) + sizeof(g) + g.uri_len +
			       sizeof(struct moat_snap_run);
	}
	return NULL;
}

/* Every page the image names holds what the stream said: the final
 * image's own inline, the base's by reference. */
static void check_pages(const unsigned char *img, size_t ilen, int bfd)
{
	size_t off = sizeof(struct moat_snap_header);
	const struct moat_snap_rec *r;
	unsigned char want[4096], got[4096];
	uint64_t seen = 0;
	while ((r = moat_snap_next(img, ilen, &off))) {
		struct moat_snap_region g;
		if (r->type != MOAT_SNAP_REGION)
			continue;
		memcpy(&g, r + 1, sizeof(g));
		const unsigned char *p = (const unsigned char *)(r + 1) + sizeof(g) + g.uri_len;
		for (uint32_t k = 0; k < g.nruns; k++) {
			struct moat_snap_run run;
			uint64_t ref;
			memcpy(&run, p, sizeof(run));
			memcpy(&ref, p + sizeof(run), sizeof(ref));
			p += sizeof(run) + sizeof(ref);
			for (uint64_t j = 0; j < run.npages; j++, seen++) {
				uint64_t i = run.first + j;
				page_of(want, i, i >= 10 && i < 26);
				if (ref == MOAT_SNAP_REF_INLINE)
					memcpy(got, p + j * 4096, 4096);
				else if (pread(bfd, got, 4096, (off_t)((ref + j) * 4096)) != 4096)
					die("base", "cannot read it");
				if (memcmp(got, want, 4096))
					die("merged", "a page is not the one the stream sent");
			}
			p += ref == MOAT_SNAP_REF_INLINE ? run.npages * 4096 : 0;
		}
	}
	if (!seen)
		die("merged", "no page");
}

/* moat_snap_adopt must refuse: print its one line. */
static void refused(const char *what, int img_fd, size_t ilen, int base_fd)
{
	struct moat_manifest m = { .is_snapshot = 1 };
	char n[32], err[1024];
	snprintf(n, sizeof(n), "%zu", ilen);
	m.snap.image_len = n;
	m.snap.image_hash = "0000000000000000";
	struct moat_snap_loaded s;
	if (moat_snap_adopt("migrated.mpk", &m, img_fd, base_fd, -1, &s, err, sizeof(err)) == 0)
		die(what, "accepted");
	if (strchr(err, '\n') || !*err)
		die(what, "not one line");
	printf("refused %s: %s\n", what, err);
}

int main(int argc, char **argv)
{
	uint64_t pages = (argc > 1 ? strtoull(argv[1], NULL, 10) : 16) << 8;
	char err[512];
	make_stream(pages);
	struct moat_mig *m = moat_mig_new(MOAT_MIG_KEEP, err, sizeof(err));
	int ev = 0;
	for (size_t off = 0; m && off < len && ev != MOAT_MIG_END;) {
		long k = moat_mig_feed(m, buf + off, len - off, &ev, err, sizeof(err));
		if (k < 0)
			die("feed", err);
		off += (size_t)k;
	}
	int fd, bfd;
	size_t ilen;
	uint64_t bpages;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!m || ev != MOAT_MIG_END ||
	    moat_snap_merge_ref(m, &fd, &ilen, &bfd, &bpages, err, sizeof(err)) < 0)
		die("merge", m && ev == MOAT_MIG_END ? err : "the stream did not end");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	moat_mig_free(m);
	if (fcntl(fd, F_ADD_SEALS, SEALS) < 0) /* as moat receive does */
		die("merged", "cannot seal it");
	unsigned char *img = malloc(ilen);
	if (!img || pread(fd, img, ilen, 0) != (ssize_t)ilen)
		die("merged", "cannot read it");
	if (bpages != pages || ilen > 64 * 4096)
		die("merged", "the base's pages were copied, or the base is not the stream's");
	if (moat_snap_check_ref(img, ilen, bpages, err, sizeof(err)) < 0)
		die("moat_snap_check_ref", err);
	check_pages(img, ilen, bfd);
	if (moat_snap_check(img, ilen, err, sizeof(err)) == 0)
		die("moat_snap_check", "accepted base references");
	printf("refused by moat_snap_check: %s\n", err);

	/* The good one, adopted; then the bad ones. */
	struct moat_manifest mf = { .is_snapshot = 1 };
	char n[32];
	snprintf(n, sizeof(n), "%zu", ilen);
	mf.snap.image_len = n;
	mf.snap.image_hash = "0000000000000000";
	struct moat_snap_loaded s;
	if (moat_snap_adopt("migrated.mpk", &mf, fd, bfd, -1, &s, err, sizeof(err)) < 0)
		die("adopt", err);
	moat_snap_unload(&s);
	printf("ok merge %.1f ms, %zu bytes of image for %llu base pages\n",
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, ilen,
	       (unsigned long long)bpages);

	int unsealed = memfd_of(img, ilen, 0);
	refused("an unsealed image", unsealed, ilen, bfd);
	int shortimg = memfd_of(img, ilen - 8, 1);
	refused("a truncated image", shortimg, ilen - 8, bfd);
	refused("an image shorter than image_len", shortimg, ilen, bfd);
	unsigned char *ref = first_ref(img, ilen);
	if (!ref)
		die("merged", "no REF region");
	uint64_t bad = bpages - 1; /* a run of many pages from the last one */
	memcpy(ref, &bad, sizeof(bad));
	int tampered = memfd_of(img, ilen, 1);
	refused("a base reference past the base", tampered, ilen, bfd);
	refused("base references without a base", fd, ilen, -1);
	unsigned char page[4096] = { 0 };
	int small = memfd_of(page, sizeof(page), 1);
	refused("a base shorter than the image names", fd, ilen, small);
	close(unsealed), close(shortimg), close(tampered), close(small), close(fd), close(bfd);
	free(img);
	free(buf);
	return 0;
}
