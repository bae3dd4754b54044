/*
 * fuzz_migrate.c -- libFuzzer target: the migration stream as moat
 * receive takes it from the network (monitor/snapshot.c): moat_mig_feed
 * in pieces, then moat_snap_merge and moat_snap_merge_ref, then
 * moat_snap_check and moat_snap_check_ref on what they made.
 *
 * The first input byte picks the size of the pieces (1 to 256 bytes,
 * or all at once), so that every boundary inside a header, a PAGES
 * record or a padding is crossed.  A refusal must be one line; a merge
 * that succeeds must give an image the check accepts, with no BASE flag.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "moat/snapshot.h"

static void one_line(int r, const char *err)
{
	if (r < 0 && (!err[0] || strchr(err, '\n')))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	if (size < 1)
		return 0;
	size_t piece = data[0] ? data[0] : size;
	data++, size--;
	struct moat_mig *m = moat_mig_new(MOAT_MIG_KEEP, err, sizeof(err));
	if (!m)
		return 0;
	int event = MOAT_MIG_MORE, end = 0;
	for (size_t off = 0; off < size && !end;) {
		size_t n = size - off < piece ? size - off : piece;
		err[0] = 0;
		long k = moat_mig_feed(m, data + off, n, &event, err, sizeof(err));
		one_line((int)k, err);
		if (k < 0)
			break;
		if (k == 0 || (size_t)k > n)
			__builtin_trap(); /* progress, inside the piece */
		off += (size_t)k;
		end = event == MOAT_MIG_END;
	}
	if (end) {
		int fd;
		size_t len;
		err[0] = 0;
		int r = moat_snap_merge(m, &fd, &len, err, sizeof(err));
		one_line(r, err);
		if (r == 0) {
			void *img = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
			if (img == MAP_FAILED || moat_snap_check(img, len, err, sizeof(err)) < 0)
				__builtin_trap();
			munmap(img, len);
			close(fd);
		}
		/* moat receive's way: base pages named, not copied; what it
		 * makes, moat_snap_check_ref accepts. */
		int bfd;
		uint64_t bpages;
		err[0] = 0;
		int rr = moat_snap_merge_ref(m, &fd, &len, &bfd, &bpages, err, sizeof(err));
		one_line(rr, err);
		if (rr == 0) {
			void *img = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
			if (img == MAP_FAILED ||
			    moat_snap_check_ref(img, len, bpages, err, sizeof(err)) < 0)
				__builtin_trap();
			munmap(img, len);
			close(fd);
			close(bfd);
		}
	}
	moat_mig_free(m);
	return 0;
}
