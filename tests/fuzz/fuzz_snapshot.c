/*
 * fuzz_snapshot.c -- libFuzzer target: moat_snap_check, the host's check
 * of a raw checkpoint image (monitor/snapshot.c), which reads what a
 * picoprocess wrote.
 *
 * The input is an image, copied into a buffer of exactly its size (so
 * that AddressSanitizer sees any read past it).  The check must refuse it
 * with one line naming the record, or accept it; an accepted image must
 * keep the promises its readers (moat checkpoint, moat inspect) rely on:
 * walking it with moat_snap_next stays inside it and ends at END, every
 * record's body is inside it, a STREAM's URI and buffered bytes and a
 * REGION's runs are inside their record (an ALIGNED region's big runs
 * with their pages on a page of the image), and INFO's counts are true.
 *
 * moat_snap_check_ref (REF regions allowed, as moat receive makes them)
 * refuses in one line too, and accepts whatever moat_snap_check does.
 *
 * The same bytes, with the magic of a saved /tmp archive put in front,
 * go through moat_scratch_check too (a snapshot's /.moat/scratch.zst):
 * refused with one line, or accepted with counts the bytes can hold.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moat/snapshot.h"

static void walk(const unsigned char *img, size_t len)
{
	size_t off = sizeof(struct moat_snap_header), prev = 0;
	const struct moat_snap_rec *r;
	uint32_t nthreads = 0, nregions = 0, nstreams = 0, error = 0;
	struct moat_snap_info info = { 0 };
	while ((r = moat_snap_next(img, len, &off))) {
		const unsigned char *body = (const unsigned char *)(r + 1);
		if (off <= prev || off > len || body + r->len > img + len)
			__builtin_trap();
		prev = off;
		if (r->type == MOAT_SNAP_INFO)
			memcpy(&info, body, sizeof(info));
		if (r->type == MOAT_SNAP_ERROR)
			error = 1;
		if (r->type == MOAT_SNAP_STREAM) {
			struct moat_snap_stream s;
			memcpy(&s, body, sizeof(s));
			if (sizeof(s) + (uint64_t)s.uri_len + s.buffered != r->len)
				__builtin_trap();
			nstreams++;
		}
		if (r->type == MOAT_SNAP_REGION) {
			struct moat_snap_region g;
			memcpy(&g, body, sizeof(g));
			uint64_t at = sizeof(g) + g.uri_len;
			for (uint32_t i = 0; i < g.nruns; i++) {
				struct moat_snap_run run;
				if (at + sizeof(run) > r->len)
					__builtin_trap();
				memcpy(&run, body + at, sizeof(run));
				at += sizeof(run);
				/* ALIGNED: a big run's pages begin on a page of the image */
				if ((g.flags & MOAT_SNAP_REGION_ALIGNED) &&
				    run.npages >= MOAT_SNAP_ALIGN_MIN) {
					size_t abs = (size_t)(body - img) + at;
					at += (MOAT_SNAP_PAGE - abs % MOAT_SNAP_PAGE) % MOAT_SNAP_PAGE;
					if (((size_t)(body - img) + at) % MOAT_SNAP_PAGE)
						__builtin_trap();
				}
				at += run.npages * MOAT_SNAP_PAGE;
				if (at > r->len || (run.first + run.npages) * MOAT_SNAP_PAGE > g.size)
					__builtin_trap();
			}
			nregions++;
		}
		if (r->type == MOAT_SNAP_THREAD)
			nthreads++;
	}
	/* moat_snap_next stops at END, the last record */
	if (off + sizeof(struct moat_snap_rec) != len)
		__builtin_trap();
	if (!error && (info.nthreads != nthreads || info.nregions != nregions ||
		       info.nstreams != nstreams || nthreads == 0))
		__builtin_trap();
	char text[256];
	if (moat_snap_error_text(img, len, text, sizeof(text)) != (int)error ||
	    (error && strlen(text) >= sizeof(text)))
		__builtin_trap();
}

static void scratch(const uint8_t *data, size_t size)
{
	unsigned char *a = malloc(size + 8);
	char err[512] = "";
	struct moat_scratch_counts c;
	if (!a)
		return;
	memcpy(a, "MOATSCR1", 8);
	memcpy(a + 8, data, size);
	int r = moat_scratch_check(a, size + 8, &c, err, sizeof(err));
	if (r < 0 && (!err[0] || strchr(err, '\n')))
		__builtin_trap();
	/* every entry is at least 32 bytes and a path: the counts are bounded */
	if (r == 0 && (c.bytes > size || (c.files + c.dirs + c.links) * 40 > size))
		__builtin_trap();
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	scratch(data, size);
	unsigned char *img = malloc(size ? size : 1);
	char err[512];
	if (!img)
		return 0;
	memcpy(img, data, size);
	err[0] = 0;
	int r = moat_snap_check(img, size, err, sizeof(err));
	if (r < 0 && (!err[0] || strchr(err, '\n')))
		__builtin_trap(); /* a refusal says why, on one line */
	if (r == 0)
		walk(img, size);
	/* moat receive's check (REF regions naming a base of 16 pages):
	 * the same one line when it refuses, and never stricter. */
	err[0] = 0;
	int rr = moat_snap_check_ref(img, size, 16, err, sizeof(err));
	if ((rr < 0 && (!err[0] || strchr(err, '\n'))) || (r == 0 && rr < 0))
		__builtin_trap();
	free(img);
	return 0;
}
