/*
 * ckpt/restore.c -- resuming an image before the LibOS runs again.
 *
 * The order matters: memory first (the image's own stream holds a handle
 * number the picoprocess may need), then every handle at its number
 * (gaps held by placeholders while the numbers fill up, since the PAL
 * gives the lowest free one), timers, the end of the LibOS's pause, and
 * last the threads.  The image is untrusted: every record is checked
 * before use, and anything it names is opened through the monitor under
 * today's grants.  A failure before the threads start is one line and
 * exit status 2: nothing of the app has run.
 */
#include "ckpt.h"

struct in {
	moat_handle h;
	uint64_t off, size;
	char *win;            /* the image's: a window of it, or NULL */
	uint64_t win_off, win_len;
};

static _Noreturn void fail(const char *a, const char *b, const char *c)
{
	ck_say("moat: resume: ", a, b, c);
	ck_below->process_exit(2, 0);
	__builtin_unreachable();
}

static const char *err_name(long r)
{
	const char *n = ext_errno_name(r < 0 ? -r : r);
	return n ? n : "error";
}

static void read_at(struct in *in, uint64_t off, char *d, uint64_t n)
{
	while (n) {
		size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
		long r = ck_below->stream_read(in->h, off, d, chunk);
		if (r == -MOAT_EINTR)
			continue;
		if (r <= 0)
			fail("the image", ": read failed: ", err_name(r));
		d += r, n -= (uint64_t)r, off += (uint64_t)r;
	}
}

/* Records are read through a window of CK_WIN bytes (one read where
 * there were a dozen small ones a record); page runs as big as the
 * window go straight to their place. */
#define CK_WIN 65536
static int from_window(struct in *in, void *p, uint64_t n)
{
	if (!in->win || n >= CK_WIN)
		return 0;
	if (in->off < in->win_off || in->off - in->win_off > in->win_len ||
	    n > in->win_len - (in->off - in->win_off)) {
		uint64_t len = in->size - in->off < CK_WIN ? in->size - in->off : CK_WIN;
		read_at(in, in->off, in->win, len);
		in->win_off = in->off, in->win_len = len;
	}
	memcpy(p, in->win + (in->off - in->win_off), n);
	in->off += n;
	return 1;
}

static void get(struct in *in, void *p, uint64_t n)
{
	char *d = p;
	if (n > in->size - in->off || in->off > in->size)
		fail("the image", " is truncated", "");
	if (from_window(in, p, n))
		return;
	while (n) {
		size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
		long r = ck_below->stream_read(in->h, in->off, d, chunk);
		if (r == -MOAT_EINTR)
			continue;
		if (r <= 0)
			fail("the image", ": read failed: ", err_name(r));
		d += r, n -= (uint64_t)r, in->off += (uint64_t)r;
	}
}

static void skip_pad(struct in *in, uint64_t len)
{
	in->off += (8 - len % 8) % 8;
}

static void get_rec(struct in *in, struct moat_snap_rec *rec, uint32_t want, uint64_t min)
{
	get(in, rec, sizeof(*rec));
	if (rec->type != want || rec->len < min || rec->len > in->size - in->off)
		fail("the image", " is malformed (a record out of order or of a wrong length)", "");
}

/* --- memory --- */

/* The base of a received image (moat receive, "snapshot:base"): the
 * pages its REF regions name.  None for any other resume: a REF region
 * then fails.  Opened at the first REF run, not before: most resumes
 * have none, and the monitor round trip that would refuse it is saved. */
static struct in base = { .h = MOAT_NO_HANDLE };
static int base_tried;

static void open_base(void)
{
	if (base_tried)
		return;
	base_tried = 1;
	long h = ck_below->stream_open("snapshot:base", MOAT_ACCESS_READ, 0, 0);
	struct moat_attr at;
	if (h < 0)
		return; /* not offered: no REF region may follow */
	if (ck_below->stream_attr_query_by_handle((moat_handle)h, &at) < 0)
		fail("snapshot:base", ": cannot see its size", "");
	base = (struct in){ .h = (moat_handle)h, .size = at.size };
}

/* Every process closes its copy before its handles come back: the
 * numbers are the app's. */
static void close_base(void)
{
	if (base.h != MOAT_NO_HANDLE)
		ck_below->object_close(base.h);
	base.h = MOAT_NO_HANDLE;
}

/* Each mapped run may split a host mapping in three: runs shorter than
 * REF_MAP_MIN pages are copied, and at most REF_MAPS are mapped per
 * process (the rest copied), so that a base fragmented by late rounds
 * cannot use up the host's mappings the app will need. */
#define REF_MAP_MIN 16
#define REF_MAPS 2048
static uint32_t ref_maps;

/* A REF run's pages from the base, checked against the base's size
 * here too, whatever the host checked.  Private anonymous memory maps
 * them copy-on-write (no copy now: the resume's time goes with the runs,
 * not the pages; the LibOS's MADV_DONTNEED puts fresh anonymous pages
 * in, so nothing reads the base's bytes back); anything else, or a
 * mapping refused, copies them. */
static void read_ref(struct in *in, const struct moat_snap_region *r,
		     const struct moat_snap_run *run, void *to, uint64_t *left)
{
	uint64_t at;
	if (*left < sizeof(at))
		fail("the image", ": a region's pages overrun its record", "");
	get(in, &at, sizeof(at));
	*left -= sizeof(at);
	if (at == MOAT_SNAP_REF_INLINE) {
		if (run->npages * 4096 > *left)
			fail("the image", ": a region's page runs are out of range", "");
		get(in, to, run->npages * 4096);
		*left -= run->npages * 4096;
		return;
	}
	open_base();
	if (base.h == MOAT_NO_HANDLE || at > base.size / 4096 ||
	    run->npages > base.size / 4096 - at)
		fail("the image", ": names pages of a base it was not given", "");
	if (r->kind == MOAT_SNAP_ANON && run->npages >= REF_MAP_MIN && ref_maps < REF_MAPS &&
	    ck_below->stream_map(base.h, to, at * 4096, run->npages * 4096,
				 r->prot | MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_MAP_FIXED) >= 0) {
		ref_maps++;
		return;
	}
	base.off = at * 4096;
	get(&base, to, run->npages * 4096);
}

/* An ALIGNED region's big run: the zeros before its pages skipped, the
 * pages mapped from the image copy-on-write (as read_ref maps a base's:
 * the image is a sealed read-only file; the LibOS's MADV_DONTNEED puts
 * fresh anonymous pages in), or copied if the mapping is refused or the
 * budget of mappings is spent. */
static void read_aligned(struct in *in, const struct moat_snap_region *r,
			 const struct moat_snap_run *run, void *to, uint64_t *left)
{
	uint64_t pad = (4096 - in->off % 4096) % 4096, n = run->npages * 4096;
	if (pad > *left || n > *left - pad)
		fail("the image", ": a region's page runs are out of range", "");
	in->off += pad, *left -= pad;
	if (ref_maps < REF_MAPS &&
	    ck_below->stream_map(in->h, to, in->off, n, r->prot | MOAT_PROT_READ | MOAT_PROT_WRITE,
				 MOAT_MAP_FIXED) >= 0) {
		ref_maps++;
		in->off += n, *left -= n;
		return;
	}
	get(in, to, n);
	*left -= n;
}

static void read_runs(struct in *in, const struct moat_snap_region *r, uint64_t *left)
{
	uint64_t npages = r->size / 4096, next = 0;
	int ref = (r->flags & MOAT_SNAP_REGION_REF) && r->kind != MOAT_SNAP_FILE &&
		  !(r->flags & MOAT_SNAP_REGION_SHARED);
	int aligned = (r->flags & MOAT_SNAP_REGION_ALIGNED) && r->kind == MOAT_SNAP_ANON &&
		      !(r->flags & (MOAT_SNAP_REGION_SHARED | MOAT_SNAP_REGION_REF));
	if ((r->flags & MOAT_SNAP_REGION_REF) && !ref)
		fail("the image", ": a base reference on a shared or file region", "");
	if ((r->flags & MOAT_SNAP_REGION_ALIGNED) && !aligned)
		fail("the image", ": aligned pages in a region that cannot have them", "");
	for (uint32_t k = 0; k < r->nruns; k++) {
		struct moat_snap_run run;
		if (*left < sizeof(run))
			fail("the image", ": a region's pages overrun its record", "");
		get(in, &run, sizeof(run));
		*left -= sizeof(run);
		if (run.first < next || run.npages == 0 || run.npages > npages - run.first ||
		    run.first > npages || (!ref && run.npages * 4096 > *left))
			fail("the image", ": a region's page runs are out of range", "");
		void *to = (void *)(r->addr + run.first * 4096);
		if (ref) {
			read_ref(in, r, &run, to, left);
		} else if (aligned && run.npages >= MOAT_SNAP_ALIGN_MIN) {
			read_aligned(in, r, &run, to, left);
		} else {
			get(in, to, run.npages * 4096);
			*left -= run.npages * 4096;
		}
		next = run.first + run.npages;
	}
}

/* The file the last FILE region mapped, kept open for the next: a
 * library's regions follow one another, and each open is a round trip
 * to the monitor.  Closed before the handles come back (their numbers
 * are the app's). */
static struct {
	long h;
	uint32_t access;
	uint64_t size;
	int64_t mtime_ns;
	int known;            /* size and mtime were seen */
	char uri[MOAT_URI_MAX];
} last_file = { .h = -1 };

static void close_last_file(void)
{
	if (last_file.h >= 0)
		ck_below->object_close((moat_handle)last_file.h);
	last_file.h = -1;
}

static long open_file(const char *uri, uint32_t access)
{
	if (last_file.h >= 0 && last_file.access == access && !strcmp(last_file.uri, uri))
		return last_file.h;
	close_last_file();
	long h = ck_below->stream_open(uri, access, 0, 0);
	if (h < 0)
		fail(uri, ": cannot be opened again: ", err_name(h));
	struct moat_attr at;
	last_file.known = ck_below->stream_attr_query_by_handle((moat_handle)h, &at) == 0;
	last_file.size = at.size, last_file.mtime_ns = at.mtime_ns;
	last_file.h = h, last_file.access = access;
	size_t n = strlen(uri);
	memcpy(last_file.uri, uri, n + 1); /* < MOAT_URI_MAX: restore_region checked */
	return h;
}

static void map_file(const struct moat_snap_region *r, const char *uri, uint32_t prot)
{
	uint32_t shared = r->flags & MOAT_SNAP_REGION_SHARED;
	long h = open_file(uri, shared && (r->prot & MOAT_PROT_WRITE) ? MOAT_ACCESS_RDWR
								       : MOAT_ACCESS_READ);
	if (last_file.known && !shared &&
	    (last_file.size != r->file_size || last_file.mtime_ns != r->file_mtime_ns))
		fail(uri, ": changed since the checkpoint (its pages are mapped from it)", "");
	long m = ck_below->stream_map((moat_handle)h, (void *)r->addr, r->offset, r->size, prot,
				      MOAT_MAP_NOREPLACE | (shared ? MOAT_MAP_SHARED : 0));
	if (m < 0)
		fail(uri, ": cannot be mapped at its address again: ", err_name(m));
}

static void restore_region(struct in *in, void *state_start, void *state_end, uint64_t len)
{
	struct moat_snap_region r;
	char uri[MOAT_URI_MAX];
	if (len < sizeof(r))
		fail("the image", ": a region record is too short", "");
	get(in, &r, sizeof(r));
	uint64_t left = len - sizeof(r);
	if (r.addr % 4096 || r.size % 4096 || !r.size || r.addr + r.size < r.addr ||
	    r.uri_len >= sizeof(uri) || r.uri_len > left || r.prot > 7)
		fail("the image", ": a region is malformed", "");
	get(in, uri, r.uri_len);
	uri[r.uri_len] = 0;
	left -= r.uri_len;
	uint32_t prot = r.prot | (r.nruns ? MOAT_PROT_READ | MOAT_PROT_WRITE : 0);
	if (r.kind == MOAT_SNAP_IMAGE) {
		if (r.addr != (uint64_t)state_start ||
		    r.addr + r.size != (uint64_t)state_end)
			fail("the image", ": taken by another build of moat-pico", "");
		/* Fresh zero pages in place of the LibOS's (which have not
		 * run: their bss untouched): a memset would fault in every
		 * page of it, some 128 of them, most to stay zero. */
		if (ck_below->vm_alloc(state_start, r.size, MOAT_PROT_READ | MOAT_PROT_WRITE,
				       MOAT_MAP_FIXED) < 0)
			memset(state_start, 0, r.size);
	} else if (r.kind == MOAT_SNAP_ANON) {
		long a = ck_below->vm_alloc((void *)r.addr, r.size, prot,
					    MOAT_MAP_NOREPLACE |
					    (r.flags & MOAT_SNAP_REGION_SHARED ? MOAT_MAP_SHARED : 0));
		if (a < 0)
			fail("memory", ": cannot be made again at its address: ", err_name(a));
	} else if (r.kind == MOAT_SNAP_FILE) {
		map_file(&r, uri, prot);
	} else {
		fail("the image", ": a region of an unknown kind", "");
	}
	read_runs(in, &r, &left);
	if (prot != r.prot && r.kind != MOAT_SNAP_IMAGE)
		ck_below->vm_protect((void *)r.addr, r.size, r.prot);
	if (r.kind != MOAT_SNAP_IMAGE) /* REF says where the pages came from, not what they are */
		ck_region_add(r.addr, r.size, r.prot, r.kind,
			      r.flags & ~(MOAT_SNAP_REGION_REF | MOAT_SNAP_REGION_ALIGNED),
			      r.uri_len ? uri : NULL, r.offset);
	for (uint32_t i = 0; i < ck_nregions; i++)
		if (ck_regions[i].addr == r.addr)
			ck_regions[i].dirty = r.kind != MOAT_SNAP_FILE || r.nruns > 0 ||
					      (r.prot & MOAT_PROT_WRITE);
	in->off += left; /* nothing should be left; the host checked */
	skip_pad(in, len);
}

/* --- handles --- */

struct pending_stream {
	struct moat_snap_stream s;
	char *uri;
	char *data;
};

static struct pending_stream *streams; /* by handle, from ck_pages */
static struct moat_snap_sync syncs[CK_MAX_HANDLES];
static uint8_t want[CK_MAX_HANDLES];   /* 1 stream, 2 sync, 3 made with its
					  peer, 4 an end of a shared pair */

/* Pipe pairs that ends of in more than one process share: process 1
 * makes them before it forks the others, which inherit them. */
#define CK_MAX_SHARED 256
struct shared_pair {
	uint64_t id;          /* even */
	uint32_t origin;      /* of the first end seen */
	int seen_in;          /* the first process (section) that holds one */
	int shared;
	moat_handle end[2];   /* real: read (or first) end, the other */
	uint8_t used[2];      /* by this process */
};
static struct shared_pair pairs[CK_MAX_SHARED];
static uint32_t npairs;

static struct shared_pair *pair_of(uint64_t object)
{
	for (uint32_t i = 0; i < npairs; i++)
		if (pairs[i].id == (object & ~1ULL) && pairs[i].shared)
			return &pairs[i];
	return NULL;
}

static void read_stream(struct in *in, uint64_t len)
{
	struct moat_snap_stream s;
	if (len < sizeof(s))
		fail("the image", ": a stream record is too short", "");
	get(in, &s, sizeof(s));
	if (s.handle < 3 || s.handle >= CK_MAX_HANDLES || want[s.handle] ||
	    s.uri_len >= MOAT_URI_MAX || (uint64_t)s.uri_len + s.buffered != len - sizeof(s))
		fail("the image", ": a stream record is malformed", "");
	struct pending_stream *p = &streams[s.handle];
	p->s = s;
	if (s.object && pair_of(s.object)) {
		/* process 1 made it, with its bytes: only its number here */
		want[s.handle] = 4;
		in->off += len - sizeof(s);
		skip_pad(in, len);
		return;
	}
	p->uri = ck_pages(s.uri_len + 1);
	p->data = s.buffered ? ck_pages(s.buffered) : NULL;
	if (!p->uri || (s.buffered && !p->data))
		fail("the image", ": no memory for a stream's bytes", "");
	get(in, p->uri, s.uri_len);
	p->uri[s.uri_len] = 0;
	get(in, p->data, s.buffered);
	skip_pad(in, len);
	want[s.handle] = 1;
}

/* Make stream h again; the real handle (a pipe: read end in the low
 * half, write end in the high). */
static long make_stream(int h)
{
	struct pending_stream *p = &streams[h];
	struct moat_snap_stream *s = &p->s;
	moat_handle rd, wr;
	long r;
	switch (s->origin) {
	case MOAT_SNAP_OPENED:
		r = ck_below->stream_open(p->uri, s->access, s->options, 0);
		if (r < 0)
			fail(p->uri, ": not reachable now: ", err_name(r));
		if (!strncmp(p->uri, "memfd:", 6) && s->buffered)
			ck_below->stream_write((moat_handle)r, 0, p->data, s->buffered);
		return r;
	case MOAT_SNAP_PIPE_READ:
	case MOAT_SNAP_DUPLEX:
	case MOAT_SNAP_PIPE_WRITE:
		r = ck_below->stream_pipe(&rd, &wr, s->origin == MOAT_SNAP_DUPLEX ? MOAT_PIPE_DUPLEX : 0);
		if (r < 0)
			fail("a pipe", ": cannot be made again: ", err_name(r));
		return ((long)wr << 32) | (uint32_t)rd;
	case MOAT_SNAP_CLOSED:
	default:
		/* A connection to the outside arrives reset, as in gVisor: a
		 * duplex pipe whose other end went away with a byte unread
		 * fails its next read with ECONNRESET and writes with EPIPE. */
		r = ck_below->stream_pipe(&rd, &wr, MOAT_PIPE_DUPLEX);
		if (r < 0)
			fail("a connection", ": cannot be stood in for: ", err_name(r));
		ck_below->stream_write(rd, MOAT_OFFSET_STREAM, "", 1);
		ck_below->object_close(wr);
		return rd;
	}
}

static int is_pair(uint32_t origin)
{
	return origin == MOAT_SNAP_PIPE_READ || origin == MOAT_SNAP_PIPE_WRITE ||
	       origin == MOAT_SNAP_DUPLEX;
}

/* Is handle q the other end of the pair h belongs to? */
static int ends_match(int h, int q)
{
	if (q < 3 || q >= CK_MAX_HANDLES || want[q] != 1)
		return 0;
	const struct moat_snap_stream *a = &streams[h].s, *b = &streams[q].s;
	int kinds = a->origin == MOAT_SNAP_DUPLEX ? b->origin == MOAT_SNAP_DUPLEX
						  : is_pair(b->origin) && b->origin != a->origin &&
						    b->origin != MOAT_SNAP_DUPLEX;
	return kinds && b->peer == h && (a->object ^ b->object) == 1;
}

/* n bytes from memory into pipe end w. */
static void refill_mem(moat_handle w, const char *p, uint64_t n)
{
	for (uint64_t off = 0; off < n;) {
		long r = ck_below->stream_write(w, MOAT_OFFSET_STREAM, p + off, n - off);
		if (r <= 0)
			fail("a pipe", ": its bytes cannot be put back", "");
		off += (uint64_t)r;
	}
}

/* A pipe pair: h's end at h, the other at its peer's number if the
 * image holds that end too, else closed. */
static void make_pair(int h)
{
	struct moat_snap_stream *s = &streams[h].s;
	long r = make_stream(h);
	moat_handle rd = (moat_handle)(r & 0xffffffff), wr = (moat_handle)(r >> 32);
	moat_handle self = s->origin == MOAT_SNAP_PIPE_WRITE ? wr : rd;
	moat_handle other = self == rd ? wr : rd;
	int peer = s->peer;
	ck_handle_bind(h, self);
	if (ends_match(h, peer)) {
		want[peer] = 3;
		ck_handle_bind(peer, other);
		ck_handle_stream(peer, streams[peer].s.origin, "", streams[peer].s.access, 0, h);
		ck_handles[peer].object = streams[peer].s.object;
	} else {
		/* The writer is gone (or another process's, made anew by
		 * it): the bytes that waited go in before that end closes. */
		if (s->buffered && s->origin != MOAT_SNAP_PIPE_WRITE)
			refill_mem(other, streams[h].data, s->buffered);
		ck_below->object_close(other);
		peer = -1;
	}
	ck_handle_stream(h, s->origin, "", s->access, 0, peer);
	ck_handles[h].object = s->object;
}

/* An end of a shared pair, inherited from process 1: its number. */
static void bind_shared(int h)
{
	struct moat_snap_stream *s = &streams[h].s;
	struct shared_pair *sp = pair_of(s->object);
	int end = (int)(s->object & 1);
	if (!sp)
		fail("a pipe", ": shared, but not made", "");
	sp->used[end] = 1;
	ck_handle_bind(h, sp->end[end]);
	int peer = s->peer;
	if (peer < 3 || peer >= CK_MAX_HANDLES || want[peer] != 4 ||
	    (streams[peer].s.object ^ s->object) != 1)
		peer = -1;
	ck_handle_stream(h, s->origin, "", s->access, 0, peer);
	ck_handles[h].object = s->object;
}

/* The shared ends this process does not hold. */
static void close_unused_shared(void)
{
	for (uint32_t i = 0; i < npairs; i++)
		for (int e = 0; e < 2; e++)
			if (pairs[i].shared && !pairs[i].used[e] && pairs[i].end[e] >= 0) {
				ck_below->object_close(pairs[i].end[e]);
				pairs[i].end[e] = MOAT_NO_HANDLE;
			}
}

/* Make every handle again and give it its number (the numbers are the
 * checkpointer's, track.c: the PAL's may differ). */
static void restore_handles(void)
{
	for (int h = 3; h < CK_MAX_HANDLES; h++) {
		if (!want[h] || want[h] == 3)
			continue;
		if (want[h] == 4) {
			bind_shared(h);
			continue;
		}
		if (want[h] == 2) {
			struct moat_snap_sync *s = &syncs[h];
			long r = s->kind == MOAT_SNAP_SEMAPHORE ? ck_below->semaphore_create(s->a, s->b)
								 : ck_below->event_create(s->a, s->b);
			if (r < 0)
				fail("a synchronisation object", ": cannot be made again: ",
				     err_name(r));
			ck_handle_bind(h, r);
			ck_handle_set(h, s->kind == MOAT_SNAP_SEMAPHORE ? CK_H_SEM : CK_H_EVENT, s->a, s->b);
			continue;
		}
		struct moat_snap_stream *s = &streams[h].s;
		if (is_pair(s->origin)) {
			make_pair(h);
			continue;
		}
		long r = make_stream(h);
		ck_handle_bind(h, r);
		if (s->origin == MOAT_SNAP_OPENED)
			ck_handle_stream(h, s->origin, streams[h].uri, s->access, s->options, -1);
		else
			ck_handle_stream(h, MOAT_SNAP_CLOSED, "", MOAT_ACCESS_RDWR, 0, -1);
	}
	close_unused_shared();
	/* Bytes that waited in pipes go back in, through the writing end. */
	for (int h = 3; h < CK_MAX_HANDLES; h++) {
		if (!want[h] || want[h] == 4 || !streams[h].s.buffered || !strncmp(streams[h].uri, "memfd:", 6))
			continue;
		int w = ck_handles[h].peer;
		moat_handle real = w >= 0 ? ck_real(w) : MOAT_NO_HANDLE;
		for (uint64_t off = 0; real >= 0 && off < streams[h].s.buffered;) {
			long n = ck_below->stream_write(real, MOAT_OFFSET_STREAM, streams[h].data + off,
							streams[h].s.buffered - off);
			if (n <= 0)
				break;
			off += (uint64_t)n;
		}
	}
}

/* --- the whole --- */

static void *state_lo, *state_hi;

void ck_resume_set_state(void *lo, void *hi)
{
	state_lo = lo, state_hi = hi;
}

/* A child being resumed: where it tells process 1 it is in place. */
static moat_handle ready_fd = MOAT_NO_HANDLE;

/* One process's records, from its INFO at in->off: memory, handles,
 * threads, timers; then it goes on where it stopped.  'first': process
 * 1, which tells the monitor once everything is in place. */
static _Noreturn void restore_process(struct in *in, int first)
{
	struct moat_snap_rec rec;
	struct moat_snap_info info;
	get_rec(in, &rec, MOAT_SNAP_INFO, sizeof(info));
	get(in, &info, sizeof(info));
	in->off += rec.len - sizeof(info);
	skip_pad(in, rec.len);
	if (info.nthreads == 0 || info.nthreads > CK_MAX_THREADS)
		fail("the image", ": holds no thread, or too many", "");
	ck_mono_offset = info.monotonic_ns - ck_below->system_time(MOAT_CLOCK_MONOTONIC);

	struct moat_snap_timer timers[3];
	uint32_t ntimers = 0, nthreads = 0;
	ck_lock();
	ck_nregions = 0;
	ck_region_add((uint64_t)state_lo, (uint64_t)((char *)state_hi - (char *)state_lo),
		      MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_SNAP_IMAGE, 0, NULL, 0);
	for (;;) {
		get(in, &rec, sizeof(rec));
		if (rec.len > in->size - in->off)
			fail("the image", " is truncated", "");
		if (rec.type == MOAT_SNAP_END || rec.type == MOAT_SNAP_PROCESS)
			break;
		switch (rec.type) {
		case MOAT_SNAP_STREAM:
			read_stream(in, rec.len);
			break;
		case MOAT_SNAP_SYNC: {
			struct moat_snap_sync s;
			if (rec.len != sizeof(s))
				fail("the image", ": a sync record is malformed", "");
			get(in, &s, sizeof(s));
			if (s.handle < 3 || s.handle >= CK_MAX_HANDLES || want[s.handle] ||
			    (s.kind != MOAT_SNAP_SEMAPHORE && s.kind != MOAT_SNAP_EVENT))
				fail("the image", ": a sync record is malformed", "");
			syncs[s.handle] = s;
			want[s.handle] = 2;
			break;
		}
		case MOAT_SNAP_TIMER:
			if (rec.len != sizeof(timers[0]) || ntimers == 3)
				fail("the image", ": a timer record is malformed", "");
			get(in, &timers[ntimers], sizeof(timers[0]));
			if (timers[ntimers].which > 2)
				fail("the image", ": a timer record is malformed", "");
			ntimers++;
			break;
		case MOAT_SNAP_REGION:
			restore_region(in, state_lo, state_hi, rec.len);
			break;
		case MOAT_SNAP_THREAD: {
			struct moat_snap_thread s;
			if (rec.len < sizeof(s) || nthreads == info.nthreads)
				fail("the image", ": a thread record is malformed", "");
			get(in, &s, sizeof(s));
			struct ck_thread *t = &ck_threads[nthreads++];
			if (s.fpsize > CK_FP_MAX || rec.len != sizeof(s) + s.fpsize ||
			    (s.fpsize && s.fpsize < 512))
				fail("the image", ": a thread record is malformed", "");
			memcpy(t->regs, s.regs, sizeof(t->regs));
			t->fsbase = s.fsbase, t->gsbase = s.gsbase, t->fpsize = s.fpsize;
			get(in, t->fp, s.fpsize);
			uint32_t magic1;
			memcpy(&magic1, t->fp + 464, 4);
			t->xsave = s.fpsize > 512 && magic1 == 0x46505853u;
			skip_pad(in, rec.len);
			break;
		}
		default:
			fail("the image", " holds a record this moat does not know", "");
		}
		if (rec.type == MOAT_SNAP_STREAM || rec.type == MOAT_SNAP_REGION)
			continue; /* they skipped their own padding */
		if (rec.type != MOAT_SNAP_THREAD)
			skip_pad(in, rec.len);
	}
	if (nthreads != info.nthreads)
		fail("the image", ": its threads are missing", "");
	ck_below->object_close(in->h);
	if (in->win)
		ck_pages_free(in->win, CK_WIN);
	in->win = NULL;
	close_last_file();
	close_base();
	restore_handles();
	ck_unlock();
	ck_generation = info.generation + 1;
	ck_live_threads = (int32_t)nthreads;
	/* From here on a thread may run (the POSIX timers' clock among them)
	 * and signal the process: a host signal's upcall on this thread, or
	 * on a new one before its ck_jump (clone copies the bases), finds the
	 * LibOS's record of the first thread through GS, not garbage. */
	ck_below->segment_base_set(MOAT_SEGMENT_GS, ck_threads[0].gsbase);
	ck_restoring = 0;
	ck_pause_end();
	for (uint32_t t = 1; t < nthreads; t++) {
		void *stack = ck_pages(65536);
		long th = stack ? ck_below->thread_create(&ck_threads[t], stack, 65536, 0) : -MOAT_ENOMEM;
		if (th < 0)
			fail("a thread", ": cannot be made again: ", err_name(th));
		ck_below->object_close((moat_handle)th);
	}
	/* Timers last, once every other thread has its own bases again (a
	 * signal's upcall finds the LibOS's thread through GS) and waits in
	 * ck_jump for the go. */
	while (__atomic_load_n(&ck_threads_ready, __ATOMIC_SEQ_CST) < (int32_t)nthreads - 1)
		ck_below->thread_yield();
	for (uint32_t k = 0; k < ntimers; k++) {
		ck_below->timer_set(timers[k].which, timers[k].value_ns, timers[k].interval_ns,
				    NULL, NULL);
		ck_timers[timers[k].which] = (struct ck_timer){ 1, timers[k].value_ns,
								timers[k].interval_ns };
	}
	/* Everything is in place: say so (a migration's source ends now; a
	 * child tells process 1, which waits for it). */
	if (first) {
		ck_below->stream_open("snapshot:running", MOAT_ACCESS_READ, 0, 0);
	} else {
		ck_below->stream_write(ready_fd, MOAT_OFFSET_STREAM, "K", 1);
		ck_below->object_close(ready_fd);
	}
	ck_threads_go();
	ck_jump(&ck_threads[0]);
}

/* --- a process tree --- */

struct section {
	struct moat_snap_process p;
	uint64_t info_off;    /* where its INFO record begins */
};
static struct section sections[MOAT_SNAP_MAX_CHILDREN + 1];
static uint32_t nsections;
static struct moat_snap_child first_kids[MOAT_SNAP_MAX_CHILDREN];

static void note_pair(const struct moat_snap_stream *s, int section)
{
	if (!s->object || (s->origin != MOAT_SNAP_PIPE_READ && s->origin != MOAT_SNAP_PIPE_WRITE &&
			   s->origin != MOAT_SNAP_DUPLEX))
		return;
	uint64_t id = s->object & ~1ULL;
	for (uint32_t i = 0; i < npairs; i++)
		if (pairs[i].id == id) {
			pairs[i].shared |= pairs[i].seen_in != section;
			return;
		}
	if (npairs == CK_MAX_SHARED)
		fail("the image", ": more pipes than a resume makes (256)", "");
	pairs[npairs++] = (struct shared_pair){ .id = id, .origin = s->origin,
						.seen_in = section,
						.end = { MOAT_NO_HANDLE, MOAT_NO_HANDLE } };
}

/* Every PROCESS record and every pipe end, read ahead: where each
 * process's records begin, and which pipes more than one holds. */
static void scan_tree(struct in *in)
{
	struct moat_snap_rec rec;
	for (;;) {
		uint64_t at = in->off;
		get(in, &rec, sizeof(rec));
		if (rec.len > in->size - in->off)
			fail("the image", " is truncated", "");
		if (rec.type == MOAT_SNAP_END)
			break;
		if (rec.type == MOAT_SNAP_PROCESS) {
			struct section *sc = &sections[nsections];
			if (nsections == MOAT_SNAP_MAX_CHILDREN + 1 || rec.len < sizeof(sc->p))
				fail("the image", ": a process record is malformed", "");
			get(in, &sc->p, sizeof(sc->p));
			uint64_t kids = (rec.len - sizeof(sc->p)) / sizeof(struct moat_snap_child);
			if (sc->p.nchildren != kids || sc->p.nchildren > MOAT_SNAP_MAX_CHILDREN ||
			    (nsections == 0) != (sc->p.pid == 1) ||
			    (nsections && (sc->p.nchildren || sc->p.pid <= sections[nsections - 1].p.pid)))
				fail("the image", ": a process record is malformed", "");
			if (nsections == 0)
				get(in, first_kids, kids * sizeof(struct moat_snap_child));
			in->off = at + sizeof(rec) + rec.len;
			skip_pad(in, rec.len);
			sc->info_off = in->off;
			nsections++;
			continue;
		}
		if (rec.type == MOAT_SNAP_STREAM && nsections) {
			struct moat_snap_stream s;
			if (rec.len < sizeof(s))
				fail("the image", ": a stream record is too short", "");
			get(in, &s, sizeof(s));
			note_pair(&s, (int)nsections - 1);
		}
		in->off = at + sizeof(rec) + rec.len;
		skip_pad(in, rec.len);
	}
}

/* Write n bytes of the image at 'off' into the pipe end w. */
static void refill(struct in *in, uint64_t off, uint64_t n, moat_handle w)
{
	static char buf[65536];
	in->off = off;
	while (n) {
		uint64_t k = n > sizeof(buf) ? sizeof(buf) : n;
		get(in, buf, k);
		for (uint64_t done = 0; done < k;) {
			long r = ck_below->stream_write(w, MOAT_OFFSET_STREAM, buf + done, k - done);
			if (r <= 0)
				fail("a pipe", ": its bytes cannot be put back", "");
			done += (uint64_t)r;
		}
		n -= k;
	}
}

/* Process 1 makes the shared pipes, with the bytes that waited in them. */
static void make_shared(struct in *in)
{
	int any = 0;
	for (uint32_t i = 0; i < npairs; i++) {
		if (!pairs[i].shared)
			continue;
		any = 1;
		moat_handle rd, wr;
		long r = ck_below->stream_pipe(&rd, &wr, pairs[i].origin == MOAT_SNAP_DUPLEX ?
						MOAT_PIPE_DUPLEX : 0);
		if (r < 0)
			fail("a pipe", ": cannot be made again: ", err_name(r));
		pairs[i].end[0] = rd, pairs[i].end[1] = wr;
	}
	if (!any)
		return; /* no bytes to put back: no second walk of the image */
	struct moat_snap_rec rec;
	in->off = sizeof(struct moat_snap_header);
	for (;;) {
		uint64_t at = in->off;
		get(in, &rec, sizeof(rec));
		if (rec.type == MOAT_SNAP_END)
			break;
		struct moat_snap_stream s;
		struct shared_pair *sp;
		if (rec.type == MOAT_SNAP_STREAM && rec.len >= sizeof(s)) {
			get(in, &s, sizeof(s));
			if (s.buffered && (sp = pair_of(s.object)) &&
			    (uint64_t)s.uri_len + s.buffered == rec.len - sizeof(s))
				refill(in, at + sizeof(rec) + sizeof(s) + s.uri_len, s.buffered,
				       sp->end[!(s.object & 1)]);
		}
		in->off = at + sizeof(rec) + rec.len;
		skip_pad(in, rec.len);
	}
}

/* fork until the child has pid 'pid' (a fresh namespace gives pids in
 * order: the ones below are taken by children that end at once).  0 in
 * that child, 1 in process 1. */
static int fork_as(int32_t pid)
{
	char n[16];
	rt_snprintf(n, sizeof(n), "%d", pid);
	for (int tries = 0; tries < 65536; tries++) {
		int32_t self = 0, st;
		long r = ck_below->process_fork(&self);
		if (r == 0 && self != pid)
			ck_below->process_exit(0, 0);
		if (r == 0)
			return 0;
		if (r < 0)
			fail("process ", n, ": cannot be made again");
		if (r == pid)
			return 1;
		ck_below->process_wait((int32_t)r, 0, &st);
		if (r > pid)
			break;
	}
	fail("process ", n, ": its pid is taken");
}

/* Each live child of process 1, forked with its own pid; it restores
 * its own records and says so, or process 1 fails too. */
static void make_children(struct in *in)
{
	for (uint32_t k = 1; k < nsections; k++) {
		moat_handle rd, wr;
		char n[16], c = 0;
		rt_snprintf(n, sizeof(n), "%d", sections[k].p.pid);
		if (ck_below->stream_pipe(&rd, &wr, 0) < 0)
			fail("process ", n, ": no pipe to hear from it");
		if (fork_as(sections[k].p.pid) == 0) {
			ck_below->object_close(rd);
			ready_fd = wr;
			ck_is_forked_child = 1, ck_self_pid = sections[k].p.pid;
			ck_children = 0, ck_nkids = 0;
			int32_t g = sections[k].p.pgid;
			if (g != 1)
				ck_below->process_control(MOAT_PROC_SET_GROUP, 0,
							  g == sections[k].p.pid ? 0 : g);
			in->off = sections[k].info_off;
			restore_process(in, 0);
		}
		ck_below->object_close(wr);
		long r;
		do
			r = ck_below->stream_read(rd, MOAT_OFFSET_STREAM, &c, 1);
		while (r == -MOAT_EINTR);
		ck_below->object_close(rd);
		if (r != 1 || c != 'K')
			fail("process ", n, ": could not be resumed (above, why)");
	}
	for (uint32_t i = 0; i < sections[0].p.nchildren; i++)
		ck_kids[ck_nkids++] = (struct ck_kid){ .pid = first_kids[i].pid,
						       .status = first_kids[i].status,
						       .ended = first_kids[i].ended };
	ck_children = (int32_t)ck_nkids;
}

void ck_resume(void)
{
	struct in in = { 0 };
	ck_restoring = 1;
	long h = ck_below->stream_open(ck_opt.in, MOAT_ACCESS_READ, 0, 0);
	if (h < 0)
		fail(ck_opt.in, ": cannot open the image: ", err_name(h));
	struct moat_attr at;
	if (ck_below->stream_attr_query_by_handle((moat_handle)h, &at) < 0)
		fail(ck_opt.in, ": cannot see its size", "");
	in = (struct in){ .h = (moat_handle)h, .size = at.size, .win = ck_pages(CK_WIN) };
	streams = ck_pages(sizeof(*streams) * CK_MAX_HANDLES);
	if (!streams)
		fail("the image", ": no memory", "");

	struct moat_snap_header hdr;
	get(&in, &hdr, sizeof(hdr));
	if (memcmp(hdr.magic, MOAT_SNAP_MAGIC, 8) || hdr.version != MOAT_SNAP_VERSION)
		fail(ck_opt.in, ": not a checkpoint image of this version", "");
	struct moat_snap_rec first;
	get(&in, &first, sizeof(first));
	in.off = sizeof(hdr);
	if (first.type != MOAT_SNAP_PROCESS)
		restore_process(&in, 1); /* one process */
	scan_tree(&in);
	if (nsections == 0)
		fail("the image", ": names no process", "");
	make_shared(&in);
	make_children(&in);
	in.off = sections[0].info_off;
	restore_process(&in, 1);
}
