/*
 * listing.c -- directory listings: building them (the linux_dirent64
 * records of a host directory, the package union and the mappings
 * beneath), and what a picoprocess's listings may cost the host.
 *
 * A listing is a memfd the monitor writes (listing_fd below), so its
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* --- building listings --- */

/* Append one linux_dirent64 record to the listing buffer. */

int listing_add(struct listing *l, uint64_t ino, uint8_t type,
		       const char *name)
{
	size_t nlen = strlen(name);
	size_t reclen = (19 + nlen + 1 + 7) & ~(size_t)7;
	if (l->max && l->len + reclen > l->max)
		return -ENOMEM; /* more than all the listings may hold at once */
	if (l->len + reclen > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		while (cap < l->len + reclen)
			cap *= 2;
		char *b = realloc(l->buf, cap);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	struct moat_dirent *d = (void *)(l->buf + l->len);
	memset(d, 0, reclen);
	d->ino = ino;
	d->next = (int64_t)(l->len + reclen);
	d->reclen = (uint16_t)reclen;
	d->type = type;
	memcpy(d->name, name, nlen);
	l->len += reclen;
	return 0;
}

int listing_has(const struct listing *l, const char *name, size_t n)
{
	for (size_t off = 0; off < l->len;) {
		const struct moat_dirent *d = (const void *)(l->buf + off);
		if (!strncmp(d->name, name, n) && d->name[n] == 0)
			return 1;
		off += d->reclen;
	}
	return 0;
}

/* Names of mappings that sit directly beneath virtual directory 'dir'. */
static int listing_add_mounts(struct moat_policy *p, struct listing *l,
			      const char *dir)
{
	size_t dlen = strlen(dir);
	for (int i = 0; i < p->n; i++) {
		const char *v = p->maps[i].vpath;
		if (dlen == 1) {
			v += 1;
		} else {
			if (strncmp(v, dir, dlen) || v[dlen] != '/')
				continue;
			v += dlen + 1;
		}
		if (!*v)
			continue;
		size_t n = (size_t)(strchrnul(v, '/') - v);
		char name[NAME_MAX + 1];
		if (n > NAME_MAX || listing_has(l, v, n))
			continue;
		memcpy(name, v, n);
		name[n] = 0;
		int r = listing_add(l, 2, DT_DIR, name);
		if (r < 0)
			return r;
	}
	return 0;
}

static int listing_read_dir(struct listing *l, int dirfd)
{
	char buf[8192];
	for (;;) {
		long n = syscall(SYS_getdents64, dirfd, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (long off = 0; off < n;) {
			struct moat_dirent *d = (void *)(buf + off);
			int r = listing_add(l, d->ino, d->type, d->name);
			if (r < 0)
				return r;
			off += d->reclen;
		}
	}
}

int moat_policy_listing_budget(struct moat_policy *p, uint64_t bytes, int count)
{
	ledger_free(p->listings);
	p->listings = ledger_new(bytes, count);
	return p->listings ? 0 : -ENOMEM;
}

static struct listing_ledger *listings_of(struct moat_policy *p)
{
	if (!p->listings)
		p->listings = ledger_new(MOAT_LISTING_BYTES_MAX, MOAT_LISTINGS_MAX);
	return p->listings;
}


/* Seal the listing into a memfd and hand out a read-only descriptor: the
 * only thing a picoprocess ever gets for a directory.  Sealed against
 * writing and growing, not shrinking: the ledger keeps a writable
 * descriptor, so that the monitor alone can take the pages back. */
static int listing_fd(struct moat_policy *p, struct listing *l)
{
	struct listing_ledger *lg = listings_of(p);
	size_t pages = (l->len + 4095) & ~(size_t)4095;
	int r = lg ? ledger_make_room(lg, pages) : -ENOMEM;
	if (r < 0)
		return r;
	int fd = memfd_create("moat-dir", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if ((l->len && write(fd, l->buf, l->len) != (ssize_t)l->len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* Reopened, as memfd_create's own file does not count as a writer
	 * for the ledger's lease test. */
	int rw = moat_reopen(fd, O_RDWR), ro = moat_reopen(fd, O_RDONLY);
	close(fd);
	if (rw >= 0 && ro >= 0 && (r = ledger_add(lg, rw, pages)) == 0)
		return ro;
	if (rw >= 0)
		close(rw);
	if (ro >= 0)
		close(ro);
	return rw < 0 ? rw : ro < 0 ? ro : r;
}

/* A directory's listing as a read-only sealed memfd: the union's (for a
 * package path), the host directory's, or an empty one (a directory
 * that exists only because mappings sit beneath it), with the names of
 * the mappings beneath it added. */
int listing_open(struct moat_policy *p, struct target *t, int hostdir, int from_union)
{
	struct listing_ledger *lg = listings_of(p);
	struct listing l = { .max = lg ? ledger_max_bytes(lg) : 1 };
	int r = 0;
	if (from_union)
		r = union_list(p, t, &l);
	else if (hostdir >= 0)
		r = listing_read_dir(&l, hostdir);
	else
		r = listing_add(&l, 1, DT_DIR, ".") ?: listing_add(&l, 1, DT_DIR, "..");
	if (r == 0)
		r = listing_add_mounts(p, &l, t->vpath);
	if (r == 0)
		r = listing_fd(p, &l);
	free(l.buf);
	return r;
}
