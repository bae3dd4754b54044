/*
 * listing.c -- what a picoprocess's directory listings may cost the host.
 *
 * A listing is a memfd the monitor writes (policy.c, listing_fd), so its
 * pages are the monitor's, charged to the monitor's cgroup and not to
 * the picoprocess's [Limits] memory; and a picoprocess can hold as many
 * as it has descriptors, each as large as the directory.  So every
 * listing handed out is entered in this ledger, which keeps a writable
 * descriptor of it (the picoprocess only ever gets a read-only one, and
 * may not add seals).  The listings are sealed against writes and growth
 * but not against shrinking: through its descriptor the monitor can
 * truncate one to nothing and so take its pages back.
 *
 * The ledger holds at most max_bytes of listings (page-rounded) and
 * max_count of them.  Before a new one would go past either, listings
 * the picoprocess has closed are dropped (a write lease on the monitor's
 * descriptor succeeds only when no other open file, in the picoprocess
 * or in flight on the channel, refers to it); and if that is not enough,
 * the oldest listings still held are truncated to nothing.  A program
 * holding more than the budget of listings open at once then reads the
 * oldest as empty directories.  A single listing larger than the whole
 * budget is refused (ENOMEM) before it is built.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy_int.h"

struct held {
	int fd;        /* the monitor's writable descriptor */
	size_t bytes;  /* its pages */
};

struct listing_ledger {
	struct held *held;     /* oldest first */
	int n, cap;
	int sweep_at;          /* look for closed ones when n reaches this */
	size_t bytes;
	size_t max_bytes;
	int max_count;
};

#define SWEEP_MIN 32

struct listing_ledger *ledger_new(size_t max_bytes, int max_count)
{
	struct listing_ledger *lg = calloc(1, sizeof(*lg));
	if (!lg)
		return NULL;
	lg->max_bytes = max_bytes;
	lg->max_count = max_count;
	lg->sweep_at = SWEEP_MIN;
	return lg;
}

void ledger_free(struct listing_ledger *lg)
{
	if (!lg)
		return;
	for (int i = 0; i < lg->n; i++)
		close(lg->held[i].fd);
	free(lg->held);
	free(lg);
}

size_t ledger_max_bytes(const struct listing_ledger *lg)
{
	return lg->max_bytes;
}

size_t ledger_bytes(const struct listing_ledger *lg)
{
	return lg->bytes;
}

/* Does anything besides the monitor still have listing FD open?  A write
 * lease is granted only to the one open file of an inode.  Where leases
 * cannot be taken at all, every listing counts as held. */
static int still_open(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
		return 1;
	fcntl(fd, F_SETLEASE, F_UNLCK);
	return 0;
}

static void drop(struct listing_ledger *lg, int i, int truncate)
{
	if (truncate && ftruncate(lg->held[i].fd, 0) < 0) {
		/* cannot happen (the ledger's descriptor is writable and the
		 * listing not sealed against shrinking); it is closed anyway */
	}
	close(lg->held[i].fd);
	lg->bytes -= lg->held[i].bytes;
	memmove(&lg->held[i], &lg->held[i + 1], (size_t)(lg->n - i - 1) * sizeof(lg->held[0]));
	lg->n--;
}

/* Forget the listings the picoprocess has closed. */
static void sweep(struct listing_ledger *lg)
{
	for (int i = 0; i < lg->n;) {
		if (still_open(lg->held[i].fd))
			i++;
		else
			drop(lg, i, 0);
	}
	lg->sweep_at = 2 * lg->n + SWEEP_MIN;
}

static int over(const struct listing_ledger *lg, size_t bytes)
{
	return lg->bytes + bytes > lg->max_bytes || lg->n + 1 > lg->max_count;
}

int ledger_make_room(struct listing_ledger *lg, size_t bytes)
{
	if (bytes > lg->max_bytes)
		return -ENOMEM;
	if (lg->n >= lg->sweep_at || over(lg, bytes))
		sweep(lg);
	while (lg->n && over(lg, bytes))
		drop(lg, 0, 1);
	return 0;
}

int ledger_add(struct listing_ledger *lg, int fd, size_t bytes)
{
	if (lg->n == lg->cap) {
		int cap = lg->cap ? 2 * lg->cap : 64;
		struct held *h = realloc(lg->held, (size_t)cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		lg->held = h;
		lg->cap = cap;
	}
	lg->held[lg->n++] = (struct held){ fd, bytes };
	lg->bytes += bytes;
	return 0;
}
