/*
 * ckpt/image.c -- writing the image of a stopped picoprocess (format:
 * moat/snapshot.h) and hearing the verdict.
 *
 * Every thread is parked, so memory and the tables hold still.  What
 * host state the ABI does not show is read out here and put back if the
 * picoprocess goes on: bytes waiting in a pipe, the time left on a timer.
 */
#include "ckpt.h"

static void put_raw(struct ck_out *o, const void *p, uint64_t n)
{
	const char *s = p;
	while (n && !o->failed) {
		size_t chunk = n > (1u << 20) ? (1u << 20) : (size_t)n;
		long r = ck_below->stream_write(o->h, o->is_file ? o->off : MOAT_OFFSET_STREAM,
						s, chunk);
		if (r == -MOAT_EINTR)
			continue;
		if (r <= 0) {
			o->failed = 1;
			return;
		}
		s += r, n -= (uint64_t)r, o->off += (uint64_t)r;
	}
}

/* What the buffer holds goes out (before any read of the stream: the
 * client answers only what it has). */
static void ck_flush(struct ck_out *o)
{
	if (!o->blen)
		return;
	uint64_t end = o->off;
	o->off -= o->blen;
	put_raw(o, o->buf, o->blen);
	o->off = end;
	o->blen = 0;
}

/* A snapshot's records go out in writes of up to CK_OUT_BUF bytes, not
 * one a field (some 200 writes for an idle shell).  Without memory for
 * the buffer, unbuffered. */
#define CK_OUT_BUF 65536
static void buffer_on(struct ck_out *o)
{
	o->buf = ck_pages(CK_OUT_BUF);
	o->bcap = o->buf ? CK_OUT_BUF : 0;
	o->blen = 0;
}

static void buffer_off(struct ck_out *o)
{
	ck_flush(o);
	if (o->buf)
		ck_pages_free(o->buf, o->bcap);
	o->buf = NULL, o->bcap = 0;
}

void ck_put(struct ck_out *o, const void *p, uint64_t n)
{
	if (o->buf && n <= o->bcap - o->blen) {
		memcpy(o->buf + o->blen, p, n);
		o->blen += (uint32_t)n, o->off += n;
		return;
	}
	ck_flush(o);
	if (o->buf && n < o->bcap) {
		memcpy(o->buf, p, n);
		o->blen = (uint32_t)n, o->off += n;
		return;
	}
	put_raw(o, p, n);
}

void ck_put_rec(struct ck_out *o, uint32_t type, uint64_t len)
{
	struct moat_snap_rec rec = { .type = type, .len = len };
	ck_put(o, &rec, sizeof(rec));
}

void ck_put_pad(struct ck_out *o, uint64_t len)
{
	static const char zeros[8];
	if (len % 8)
		ck_put(o, zeros, 8 - len % 8);
}

/* --- streams --- */

struct drained { char *buf; uint64_t len, cap; };
static struct drained drained[CK_MAX_HANDLES];
static uint8_t deleted[CK_MAX_HANDLES];

/* Is the open file h gone from its name (deleted, or replaced)? */
static int file_deleted(moat_handle h, const char *uri)
{
	struct moat_attr by_handle, by_name;
	if (strncmp(uri, "file:", 5) ||
	    ck_below->stream_attr_query_by_handle(ck_real(h), &by_handle) < 0 ||
	    by_handle.kind != MOAT_KIND_FILE)
		return 0;
	if (ck_below->stream_attr_query(uri, 0, &by_name) < 0)
		return 1;
	return by_name.ino != by_handle.ino || by_name.dev != by_handle.dev;
}

/* Read what waits in stream h (a pipe's read end, a socketpair end). */
static void drain(moat_handle h)
{
	struct drained *d = &drained[h];
	moat_handle real = ck_real(h);
	const struct ck_handle *c = &ck_handles[h];
	d->len = 0;
	/* bytes given back by a checkpoint before come first */
	uint64_t back = c->pushback ? c->pb_len - c->pb_off : 0;
	if (back) {
		uint64_t cap = ((back + 65536 * 2) + 4095) & ~4095ULL;
		if (cap > d->cap) {
			ck_pages_free(d->buf, d->cap);
			d->buf = ck_pages(cap);
			d->cap = d->buf ? cap : 0;
		}
		if (!d->buf)
			return;
		memcpy(d->buf, c->pushback + c->pb_off, back);
		d->len = back;
	}
	for (;;) {
		if (ck_below->objects_wait_any(1, &real, 0) != 0)
			return;
		if (d->len + 65536 > d->cap) {
			uint64_t cap = d->cap ? d->cap * 2 : 65536 * 2;
			char *nb = ck_pages(cap);
			if (!nb)
				return;
			if (d->buf)
				memcpy(nb, d->buf, d->len), ck_pages_free(d->buf, d->cap);
			d->buf = nb, d->cap = cap;
		}
		long r = ck_below->stream_read(real, MOAT_OFFSET_STREAM, d->buf + d->len, 65536);
		if (r <= 0)
			return;
		d->len += (uint64_t)r;
	}
}

/* Put the bytes back where they were (the picoprocess goes on). */
static void undrain(moat_handle h, moat_handle writer)
{
	struct drained *d = &drained[h];
	moat_handle real = ck_real(writer);
	for (uint64_t off = 0; off < d->len && real >= 0;) {
		long r = ck_below->stream_write(real, MOAT_OFFSET_STREAM, d->buf + off, d->len - off);
		if (r <= 0)
			break;
		off += (uint64_t)r;
	}
	d->len = 0;
}

static int drains(const struct ck_handle *c)
{
	return c->origin == MOAT_SNAP_PIPE_READ || c->origin == MOAT_SNAP_DUPLEX;
}

/* The memory file's whole contents travel as its buffered bytes. */
static void read_memfd(moat_handle h, uint64_t size)
{
	struct drained *d = &drained[h];
	d->len = 0;
	uint64_t cap = (size + 4095) & ~4095ULL;
	if (cap > d->cap) {
		ck_pages_free(d->buf, d->cap);
		d->buf = ck_pages(cap ? cap : 4096);
		d->cap = d->buf ? cap : 0;
	}
	while (d->buf && d->len < size) {
		long r = ck_below->stream_read(ck_real(h), d->len, d->buf + d->len, size - d->len);
		if (r <= 0)
			break;
		d->len += (uint64_t)r;
	}
}

static uint32_t count_streams(void)
{
	uint32_t n = 0;
	for (int h = 3; h < (int)ck_handles_top(); h++)
		n += ck_handles[h].type == CK_H_STREAM;
	return n;
}

static void put_streams(struct ck_out *o)
{
	for (int h = 3; h < (int)ck_handles_top(); h++) {
		struct ck_handle *c = &ck_handles[h];
		if (c->type == CK_H_SEM || c->type == CK_H_EVENT) {
			struct moat_snap_sync s = {
				.handle = h, .kind = c->type == CK_H_SEM ? MOAT_SNAP_SEMAPHORE : MOAT_SNAP_EVENT,
				.a = c->a, .b = c->b };
			ck_put_rec(o, MOAT_SNAP_SYNC, sizeof(s));
			ck_put(o, &s, sizeof(s));
			continue;
		}
		if (c->type != CK_H_STREAM)
			continue;
		struct moat_attr at = { 0 };
		ck_below->stream_attr_query_by_handle(ck_real(h), &at);
		/* A file deleted while open travels whole, and comes back as a
		 * memory file: it has no name to be opened by any more. */
		const char *uri = deleted[h] ? "memfd:deleted" : c->uri;
		uint32_t ulen = (uint32_t)strlen(uri);
		struct moat_snap_stream s = {
			.handle = h, .origin = c->origin, .kind = at.kind,
			.access = deleted[h] ? MOAT_ACCESS_RDWR : c->access,
			.options = deleted[h] ? 0 : c->options, .peer = c->peer, .uri_len = ulen,
			.buffered = drained[h].len, .size = at.size, .mtime_ns = at.mtime_ns,
			.object = c->object,
		};
		ck_put_rec(o, MOAT_SNAP_STREAM, sizeof(s) + ulen + s.buffered);
		ck_put(o, &s, sizeof(s));
		ck_put(o, uri, ulen);
		ck_put(o, drained[h].buf, s.buffered);
		ck_put_pad(o, sizeof(s) + ulen + s.buffered);
	}
}

/* The state of each semaphore and event, read now that every thread is
 * stopped: a wait with no time takes a unit or a synchronisation
 * event's signal, which is then given back. */
static void read_sync_states(void)
{
	for (int h = 3; h < (int)ck_handles_top(); h++) {
		struct ck_handle *c = &ck_handles[h];
		moat_handle mh = ck_real(h);
		if (c->type == CK_H_EVENT) {
			c->b = ck_below->objects_wait_any(1, &mh, 0) == 0;
			if (c->b && c->a == MOAT_EVENT_SYNCHRONIZATION)
				ck_below->event_set(mh);
		} else if (c->type == CK_H_SEM) {
			uint32_t n = 0;
			while (n < c->b && ck_below->objects_wait_any(1, &mh, 0) == 0)
				n++;
			if (n)
				ck_below->semaphore_release(mh, n);
			c->a = n;
		}
	}
}

/* "process N" of this process, for the messages. */
static const char *self_name(char *buf, size_t len)
{
	char n[16];
	rt_snprintf(n, sizeof(n), "%d", ck_self_pid);
	return ext_msg(buf, len, "process ", n, NULL, NULL), buf;
}

/* What of the process tree cannot be captured; NULL if it all can. */
static const char *tree_uncapturable(int request, char *why, size_t len)
{
	char me[32], n[16];
	self_name(me, sizeof(me));
	int tree = ck_nkids > 0 || ck_is_forked_child;
	if (ck_children != (int32_t)ck_nkids)
		return ext_msg(why, len, me, " has more child processes than the checkpointer tracks"
			       " (64)", NULL, NULL), why;
	if (tree && request == MOAT_SNAP_REQ_MIGRATE)
		return ext_msg(why, len, me, " is one of a tree of processes: a process tree "
			       "cannot be migrated yet", NULL, NULL), why;
	if (ck_is_forked_child && ck_nkids > 0) {
		rt_snprintf(n, sizeof(n), "%d", ck_kids[0].pid);
		return ext_msg(why, len, me, " has a child process (pid ", n,
			       "): only the children of process 1 can be checkpointed yet"), why;
	}
	for (uint32_t i = 0; tree && i < ck_nregions; i++)
		if (ck_regions[i].kind == MOAT_SNAP_ANON && ck_regions[i].flags & MOAT_SNAP_REGION_SHARED)
			return ext_msg(why, len, me, ": memory shared with another process (MAP_SHARED"
				       " of no file) cannot be checkpointed yet", NULL, NULL), why;
	return NULL;
}

/* What cannot be captured, named; NULL if everything can. */
static const char *uncapturable(int request, char *why, size_t len)
{
	const char *lost = ck_tracking_lost();
	char me[32];
	self_name(me, sizeof(me));
	if (lost)
		return ext_msg(why, len, "the checkpointer lost track of the picoprocess: ", lost,
			       NULL, NULL), why;
	if (tree_uncapturable(request, why, len))
		return why;
	for (int h = 3; h < (int)ck_handles_top(); h++) {
		struct ck_handle *c = &ck_handles[h];
		char hn[16];
		rt_snprintf(hn, sizeof(hn), "%d", h);
		if (c->type == CK_H_OPAQUE)
			return ext_msg(why, len, me, ": handle ", hn,
				       ": its making was not recorded"), why;
		if (c->type == CK_H_THREAD)
			return ext_msg(why, len, me, ": handle ", hn,
				       ": a thread handle held open is not captured"), why;
		if (c->type == CK_H_STREAM && c->origin == MOAT_SNAP_OPENED &&
		    !strncmp(c->uri, "unix.client:", 12))
			c->origin = MOAT_SNAP_CLOSED;
		if (c->type == CK_H_STREAM && c->origin == MOAT_SNAP_OPENED &&
		    !strncmp(c->uri, "tcp.client:", 11))
			c->origin = MOAT_SNAP_CLOSED;
	}
	return NULL;
}

/* --- timers --- */

static void stop_timers(struct moat_snap_timer *t, uint32_t *n)
{
	*n = 0;
	for (uint32_t w = 0; w < 3; w++) {
		if (!ck_timers[w].armed)
			continue;
		uint64_t v = 0, i = 0;
		ck_below->timer_set(w, 0, 0, &v, &i);
		if (!v)
			v = 1; /* due: fires at once on resume */
		t[(*n)++] = (struct moat_snap_timer){ .which = w, .value_ns = v, .interval_ns = i };
	}
}

static void restart_timers(const struct moat_snap_timer *t, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		ck_below->timer_set(t[k].which, t[k].value_ns, t[k].interval_ns, NULL, NULL);
}

/* --- memory --- */


/* The page runs of a region, found once and kept for the writing: every
 * non-zero page of memory the picoprocess made; of a file map that was
 * ever writable (rewritten code, relocated data), each page that differs
 * from the file's, which a resume maps again.  Unchanged pages of a file
 * or package are recorded by reference, not copied. */
struct runs {
	struct moat_snap_run *v;
	uint32_t n, cap;
	uint64_t bytes;
	int base;           /* MOAT_SNAP_REGION_BASE: runs hold what the base lacks */
};
static struct runs region_runs[CK_MAX_REGIONS];

static int page_zero(const uint64_t *p)
{
	uint64_t acc = 0;
	for (int i = 0; i < 512; i++)
		acc |= p[i];
	return acc == 0;
}

/* The file's bytes are read CK_FILE_CHUNK at a time (a page at a time
 * was ~500 reads for python3's code), into memory of the checkpointer's
 * own (not the LibOS's data, which the image holds); bytes past the
 * file's end read as zeros. */
#define CK_FILE_CHUNK 65536
static struct { char *buf; uint64_t off; int valid; } fchunk;

static int page_as_file(moat_handle f, uint64_t off, const void *page)
{
	static char one[4096];
	if (!fchunk.buf)
		fchunk.buf = ck_pages(CK_FILE_CHUNK);
	if (!fchunk.buf) { /* no memory: a page at a time */
		long n = ck_below->stream_read(f, off, one, sizeof(one));
		if (n < 0)
			return 0;
		memset(one + n, 0, sizeof(one) - (size_t)n);
		return memcmp(one, page, sizeof(one)) == 0;
	}
	if (!fchunk.valid || off < fchunk.off || off - fchunk.off > CK_FILE_CHUNK - 4096) {
		long n = ck_below->stream_read(f, off, fchunk.buf, CK_FILE_CHUNK);
		if (n < 0)
			return 0;
		memset(fchunk.buf + n, 0, CK_FILE_CHUNK - (size_t)n);
		fchunk.off = off, fchunk.valid = 1;
	}
	return memcmp(fchunk.buf + (off - fchunk.off), page, 4096) == 0;
}

static int run_push(struct runs *rs, uint64_t first, uint64_t n)
{
	if (rs->n && rs->v[rs->n - 1].first + rs->v[rs->n - 1].npages == first) {
		rs->v[rs->n - 1].npages += n;
	} else {
		if (rs->n == rs->cap) {
			uint32_t cap = rs->cap ? rs->cap * 2 : 256;
			struct moat_snap_run *v = ck_pages(cap * sizeof(*v));
			if (!v)
				return -1;
			if (rs->v)
				memcpy(v, rs->v, rs->n * sizeof(*v)),
					ck_pages_free(rs->v, rs->cap * sizeof(*v));
			rs->v = v, rs->cap = cap;
		}
		rs->v[rs->n++] = (struct moat_snap_run){ first, n };
	}
	rs->bytes += n * 4096;
	return 0;
}

/* Which pages of a private anonymous region (or the LibOS's data) may
 * hold data, asked of the host in bulk (MOAT_PROC_RESIDENCY) so that
 * pages never written are not read: reading one faults in a page of
 * zeros, ~10 us each, and a first checkpoint of an idle shell read
 * some 2600 of them (its stack's 8 MiB, the LibOS's bss).  The map
 * covers [map_first, map_first + map_n) pages of the region; a page
 * outside it, or any page once the host could not tell, is read. */
#define CK_RES_MIN 16 /* pages: a smaller region is read as before */
static struct {
	uint8_t map[MOAT_RESIDENCY_MAX / 8];
	uint64_t first, n;
	int off;     /* the host cannot tell: read every page */
} res;

static int may_skip(const struct ck_region *r, int base)
{
	return !base && !res.off && r->size / 4096 >= CK_RES_MIN &&
	       !(r->flags & MOAT_SNAP_REGION_SHARED) &&
	       (r->kind == MOAT_SNAP_IMAGE || r->kind == MOAT_SNAP_ANON ||
		r->kind == MOAT_SNAP_FILE);
}

/* Page p of region r is as a resume would make it (zeros; a file
 * map's page as the file's), known without reading it?  Asks for the
 * next MOAT_RESIDENCY_MAX pages when p leaves the map. */
static int absent(const struct ck_region *r, uint64_t p)
{
	if (p < res.first || p >= res.first + res.n) {
		uint64_t left = r->size / 4096 - p;
		struct moat_residency q = { .addr = r->addr + p * 4096, .map = res.map,
			.npages = left < MOAT_RESIDENCY_MAX ? left : MOAT_RESIDENCY_MAX,
			.flags = r->kind == MOAT_SNAP_FILE ? MOAT_RESIDENCY_FILE : 0 };
		res.n = 0;
		if (ck_below->process_control(MOAT_PROC_RESIDENCY, 0, (int64_t)(uintptr_t)&q) < 0) {
			res.off = 1;
			return 0;
		}
		res.first = p, res.n = q.npages;
	}
	uint64_t i = p - res.first;
	return !(res.map[i / 8] >> (i % 8) & 1);
}

/* Which pages of region r to save.  In a migration's final image
 * ('final'), private anonymous memory and the LibOS's data leave out
 * what the pre-copy sent and the page still holds. */
static int find_runs(const struct ck_region *r, struct runs *rs, int final)
{
	rs->n = 0, rs->bytes = 0, rs->base = 0;
	if (!r->dirty || (r->flags & MOAT_SNAP_REGION_SHARED && r->kind == MOAT_SNAP_FILE))
		return 0;
	rs->base = final && r->kind != MOAT_SNAP_FILE && !(r->flags & MOAT_SNAP_REGION_SHARED);
	moat_handle f = MOAT_NO_HANDLE;
	fchunk.valid = 0; /* another file, or the same changed */
	if (r->kind == MOAT_SNAP_FILE) {
		long h = ck_below->stream_open(r->uri, MOAT_ACCESS_READ, 0, 0);
		f = h < 0 ? MOAT_NO_HANDLE : (moat_handle)h;
	}
	if (!(r->prot & MOAT_PROT_READ))
		ck_below->vm_protect((void *)r->addr, r->size, MOAT_PROT_READ);
	int bad = 0, skip = may_skip(r, rs->base) && (r->kind != MOAT_SNAP_FILE || f != MOAT_NO_HANDLE);
	res.n = 0;
	for (uint64_t p = 0; p < r->size / 4096 && !bad; p++) {
		const void *page = (const void *)(r->addr + p * 4096);
		if (skip && absent(r, p))
			continue;
		int same = rs->base ? ck_mig_same((uint64_t)page)
			   : r->kind != MOAT_SNAP_FILE ? page_zero(page)
			   : f != MOAT_NO_HANDLE && page_as_file(f, r->offset + p * 4096, page);
		if (!same)
			bad = run_push(rs, p, 1);
	}
	if (!(r->prot & MOAT_PROT_READ))
		ck_below->vm_protect((void *)r->addr, r->size, r->prot);
	if (f != MOAT_NO_HANDLE)
		ck_below->object_close(f);
	return bad;
}

/* The zeros before a run's pages in an ALIGNED region, written at
 * image offset 'at' (just after its struct moat_snap_run). */
static uint64_t run_pad(int aligned, const struct moat_snap_run *run, uint64_t at)
{
	if (!aligned || run->npages < MOAT_SNAP_ALIGN_MIN)
		return 0;
	return (4096 - at % 4096) % 4096;
}

static void put_runs(struct ck_out *o, const struct ck_region *r, const struct runs *rs,
		     int aligned)
{
	static const char zeros[4096];
	if (!(r->prot & MOAT_PROT_READ))
		ck_below->vm_protect((void *)r->addr, r->size, MOAT_PROT_READ);
	for (uint32_t k = 0; k < rs->n; k++) {
		ck_put(o, &rs->v[k], sizeof(rs->v[k]));
		ck_put(o, zeros, run_pad(aligned, &rs->v[k], o->off));
		ck_put(o, (const void *)(r->addr + rs->v[k].first * 4096), rs->v[k].npages * 4096);
	}
	if (!(r->prot & MOAT_PROT_READ))
		ck_below->vm_protect((void *)r->addr, r->size, r->prot);
}

/* May region r's big runs be page-aligned (the flag ALIGNED)?  Only where
 * the stream's offsets are the image's: process 1's snapshot. */
static int may_align(const struct ck_region *r, const struct runs *rs, int final)
{
	return !final && !ck_is_forked_child && r->kind == MOAT_SNAP_ANON &&
	       !(r->flags & MOAT_SNAP_REGION_SHARED) && !rs->base;
}

static void put_region(struct ck_out *o, struct ck_region *r, const struct runs *rs, int final)
{
	uint32_t ulen = r->uri ? (uint32_t)strlen(r->uri) : 0;
	int aligned = may_align(r, rs, final);
	struct moat_snap_region s = {
		.addr = r->addr, .size = r->size, .prot = r->prot, .kind = r->kind,
		.flags = r->flags | (rs->base ? MOAT_SNAP_REGION_BASE : 0) |
			 (aligned ? MOAT_SNAP_REGION_ALIGNED : 0),
		.nruns = rs->n, .offset = r->offset, .uri_len = ulen,
	};
	if (r->kind == MOAT_SNAP_FILE) {
		struct moat_attr at = { 0 };
		if (ck_below->stream_attr_query(r->uri, 0, &at) == 0)
			s.file_size = at.size, s.file_mtime_ns = at.mtime_ns;
	}
	/* the padding depends on where each run lands: walk them */
	uint64_t at = o->off + sizeof(struct moat_snap_rec) + sizeof(s) + ulen;
	for (uint32_t k = 0; k < rs->n; k++) {
		at += sizeof(struct moat_snap_run);
		at += run_pad(aligned, &rs->v[k], at) + rs->v[k].npages * 4096;
	}
	uint64_t len = at - o->off - sizeof(struct moat_snap_rec);
	ck_put_rec(o, MOAT_SNAP_REGION, len);
	ck_put(o, &s, sizeof(s));
	ck_put(o, r->uri, ulen);
	put_runs(o, r, rs, aligned);
	ck_put_pad(o, len);
}

/* --- the image --- */

static void put_thread(struct ck_out *o, const struct ck_thread *t)
{
	struct moat_snap_thread s = { .fsbase = t->fsbase, .gsbase = t->gsbase,
				      .fpsize = t->fpsize };
	memcpy(s.regs, t->regs, sizeof(s.regs));
	ck_put_rec(o, MOAT_SNAP_THREAD, sizeof(s) + t->fpsize);
	ck_put(o, &s, sizeof(s));
	ck_put(o, t->fp, t->fpsize);
	ck_put_pad(o, sizeof(s) + t->fpsize);
}

static void put_error(struct ck_out *o, const char *why)
{
	size_t n = strlen(why);
	ck_put_rec(o, MOAT_SNAP_ERROR, n);
	ck_put(o, why, n);
	ck_put_pad(o, n);
	ck_put_rec(o, MOAT_SNAP_END, 0);
}

/* Open the stream and read the request byte the monitor put first in
 * it (moat/snapshot.h); a file is always a snapshot. */
static int open_out(struct ck_out *o, int *request)
{
	int file = strncmp(ck_opt.out, "file:", 5) == 0;
	long h = ck_below->stream_open(ck_opt.out, file ? MOAT_ACCESS_WRITE : MOAT_ACCESS_RDWR,
				       file ? MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE : 0, 0600);
	if (h < 0) {
		const char *e = ext_errno_name(-h);
		ck_say("moat: checkpoint: ", ck_opt.out, ": cannot open: ", e ? e : "error");
		return -1;
	}
	*o = (struct ck_out){ .h = (moat_handle)h, .is_file = file };
	*request = MOAT_SNAP_REQ_SNAPSHOT;
	if (file)
		return 0;
	char c = 0;
	long r;
	do
		r = ck_below->stream_read(o->h, MOAT_OFFSET_STREAM, &c, 1);
	while (r == -MOAT_EINTR);
	if (r != 1 || (c != MOAT_SNAP_REQ_SNAPSHOT && c != MOAT_SNAP_REQ_MIGRATE)) {
		ck_below->object_close(o->h);
		return -1; /* the client is gone, or this is no request */
	}
	*request = c;
	return 0;
}

/* The verdict: one byte after the image ('E' for a file: it was the
 * point of asking). */
static int verdict(struct ck_out *o)
{
	buffer_off(o);
	if (o->is_file)
		return MOAT_SNAP_VERDICT_CONTINUE;
	ck_below->stream_shutdown(o->h, MOAT_SHUT_WRITE);
	char v = 0;
	long r;
	do
		r = ck_below->stream_read(o->h, MOAT_OFFSET_STREAM, &v, 1);
	while (r == -MOAT_EINTR);
	return r == 1 && v == MOAT_SNAP_VERDICT_END ? MOAT_SNAP_VERDICT_END
						    : MOAT_SNAP_VERDICT_CONTINUE;
}

/* The stream to write to: a new one, with its header, or in a
 * migration's final pause the migration's.  0, or -1 (no checkpoint). */
static int begin_image(struct ck_out *o, int *request, int *final)
{
	*final = ck_mig_state() != CK_MIG_NONE;
	if (*final) {
		*request = MOAT_SNAP_REQ_MIGRATE;
		return ck_mig_final(o) ? 0 : -1; /* not the client's pause: go on */
	}
	if (open_out(o, request) < 0)
		return -1;
	struct moat_snap_header hdr = { .version = MOAT_SNAP_VERSION };
	memcpy(hdr.magic, MOAT_SNAP_MAGIC, 8);
	ck_put(o, &hdr, sizeof(hdr));
	return 0;
}

/* No image after all: the reason, the END, the verdict (ignored). */
static int refuse(struct ck_out *o, const char *why)
{
	put_error(o, why);
	verdict(o);
	ck_below->object_close(o->h);
	ck_mig_end();
	return MOAT_SNAP_VERDICT_CONTINUE;
}

/* Which children ended (reaped now; a later wait gets their status from
 * track.c), then the PROCESS record, then the client's go: every
 * process of the tree has stopped.  0, or -1. */
static int announce(struct ck_out *o)
{
	for (uint32_t i = 0; i < ck_nkids; i++) {
		int32_t st = 0;
		if (!ck_kids[i].ended &&
		    ck_below->process_wait(ck_kids[i].pid, MOAT_WAIT_NOHANG, &st) == ck_kids[i].pid)
			ck_kids[i].ended = 1, ck_kids[i].status = st;
	}
	long pgid = ck_below->process_control(MOAT_PROC_GET_GROUP, 0, 0);
	struct moat_snap_process p = { .pid = ck_self_pid, .ppid = ck_is_forked_child ? 1 : 0,
				       .pgid = pgid > 0 ? (int32_t)pgid : ck_self_pid,
				       .nchildren = ck_nkids };
	uint64_t len = sizeof(p) + ck_nkids * sizeof(struct moat_snap_child);
	ck_put_rec(o, MOAT_SNAP_PROCESS, len);
	ck_put(o, &p, sizeof(p));
	for (uint32_t i = 0; i < ck_nkids; i++) {
		struct moat_snap_child c = { .pid = ck_kids[i].pid, .status = ck_kids[i].status,
					     .ended = ck_kids[i].ended };
		ck_put(o, &c, sizeof(c));
	}
	/* A client that never answers (it gave up on another process of
	 * the tree without taking this one's stream) must not hold it. */
	char go = 0;
	long r;
	int64_t end = ck_below->system_time(MOAT_CLOCK_MONOTONIC) + CK_GO_NS;
	do {
		int64_t left = end - ck_below->system_time(MOAT_CLOCK_MONOTONIC);
		r = left <= 0 ? -MOAT_ETIMEDOUT : ck_below->objects_wait_any(1, &o->h, left);
		if (r == 0)
			r = ck_below->stream_read(o->h, MOAT_OFFSET_STREAM, &go, 1);
	} while (r == -MOAT_EINTR);
	return !o->failed && r == 1 && go == MOAT_SNAP_GO ? 0 : -1;
}

int ck_checkpoint(uint32_t nthreads, const char *error)
{
	struct ck_out o;
	char why[300];
	int request, final;
	if (begin_image(&o, &request, &final) < 0)
		return MOAT_SNAP_VERDICT_CONTINUE;
	if (!error)
		error = uncapturable(request, why, sizeof(why));
	if (error)
		return refuse(&o, error);
	if (request == MOAT_SNAP_REQ_MIGRATE && !final) {
		/* Pre-copy first, while the app runs; the image at the next pause. */
		if (ck_precopy_start(&o) < 0)
			return refuse(&o, "the pre-copy thread cannot start");
		return MOAT_SNAP_VERDICT_CONTINUE;
	}
	if (request == MOAT_SNAP_REQ_SNAPSHOT && !o.is_file && !final && announce(&o) < 0) {
		ck_below->object_close(o.h);
		return MOAT_SNAP_VERDICT_CONTINUE; /* the client gave up */
	}
	if (request == MOAT_SNAP_REQ_SNAPSHOT && !final)
		buffer_on(&o);
	read_sync_states();
	for (int h = 3; h < (int)ck_handles_top(); h++) {
		struct ck_handle *c = &ck_handles[h];
		drained[h].len = 0;
		deleted[h] = 0;
		if (c->type == CK_H_STREAM && drains(c))
			drain(h);
		else if (c->type == CK_H_STREAM && c->origin == MOAT_SNAP_OPENED &&
			 (!strncmp(c->uri, "memfd:", 6) ||
			  (deleted[h] = (uint8_t)file_deleted((moat_handle)h, c->uri)))) {
			struct moat_attr at = { 0 };
			if (ck_below->stream_attr_query_by_handle(ck_real(h), &at) == 0)
				read_memfd(h, at.size);
		}
	}
	struct moat_snap_timer timers[3];
	uint32_t ntimers;
	stop_timers(timers, &ntimers);

	uint64_t bytes = 0;
	for (uint32_t i = 0; i < ck_nregions; i++) {
		if (find_runs(&ck_regions[i], &region_runs[i], final) < 0) {
			restart_timers(timers, ntimers);
			return refuse(&o, "no memory to list the pages to save");
		}
		bytes += region_runs[i].bytes;
	}
	struct moat_snap_info info = {
		.taken_ns = ck_below->system_time(MOAT_CLOCK_REALTIME),
		.monotonic_ns = ck_below->system_time(MOAT_CLOCK_MONOTONIC) + ck_mono_offset,
		.nthreads = nthreads, .nregions = ck_nregions, .nstreams = count_streams(),
		.generation = ck_generation, .memory = bytes,
	};
	ck_put_rec(&o, MOAT_SNAP_INFO, sizeof(info));
	ck_put(&o, &info, sizeof(info));
	put_streams(&o);
	for (uint32_t k = 0; k < ntimers; k++) {
		ck_put_rec(&o, MOAT_SNAP_TIMER, sizeof(timers[k]));
		ck_put(&o, &timers[k], sizeof(timers[k]));
	}
	for (uint32_t i = 0; i < ck_nregions; i++)
		put_region(&o, &ck_regions[i], &region_runs[i], final);
	for (uint32_t t = 0; t < nthreads; t++)
		put_thread(&o, &ck_threads[t]);
	ck_put_rec(&o, MOAT_SNAP_END, 0);

	ck_flush(&o);
	int v = o.failed ? MOAT_SNAP_VERDICT_CONTINUE : verdict(&o);
	buffer_off(&o);
	if (o.failed)
		ck_say("moat: checkpoint: ", ck_opt.out,
		       ": writing the image failed; the picoprocess goes on", "");
	ck_below->object_close(o.h);
	ck_mig_end();
	if (v == MOAT_SNAP_VERDICT_END)
		return v;
	for (int h = 3; h < (int)ck_handles_top(); h++) {
		if (!drained[h].len || !drains(&ck_handles[h]))
			continue;
		if (ck_handles[h].peer >= 0)
			undrain(h, ck_handles[h].peer);
		else if (ck_pushback(h, drained[h].buf, drained[h].len) == 0)
			drained[h].len = 0; /* the writer is another process's */
	}
	restart_timers(timers, ntimers);
	return v;
}
