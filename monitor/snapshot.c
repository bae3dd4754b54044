/*
 * snapshot.c -- the host side of checkpoints (include/moat/snapshot.h,
 * docs/checkpoint.md): the record check of a raw image, its zstd
 * compression into a snapshot package and back into a memfd for resume,
 * and the snapshot manifest the monitor writes for a run.
 *
 * The raw image comes from inside a picoprocess: untrusted.  Every length
 * is checked against what is left of the image before it is added to
 * anything, so that a length near 2^64 cannot wrap a bound.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
/* xxHash in its header-only mode, as package.c */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "moat/manifest.h"
#include "moat/package.h"
#include "moat/snapshot.h"

_Static_assert(sizeof(struct moat_snap_header) == 16, "header layout");
_Static_assert(sizeof(struct moat_snap_rec) == 16, "record layout");
_Static_assert(sizeof(struct moat_snap_info) == 40, "info layout");
_Static_assert(sizeof(struct moat_snap_stream) == 64, "stream layout");
_Static_assert(sizeof(struct moat_snap_sync) == 16, "sync layout");
_Static_assert(sizeof(struct moat_snap_timer) == 24, "timer layout");
_Static_assert(sizeof(struct moat_snap_region) == 64, "region layout");
_Static_assert(sizeof(struct moat_snap_run) == 16, "run layout");
_Static_assert(sizeof(struct moat_snap_thread) == 168, "thread layout");

#define ERROR_TEXT_MAX 4096 /* an ERROR record's text at most */

static const char *const type_names[MOAT_SNAP_NTYPES] = {
	"END", "INFO", "STREAM", "SYNC", "TIMER", "REGION", "THREAD", "ERROR", "PAGES", "ROUND",
	"PROCESS",
};

/* The phase of each type: records come in this order (snapshot.h). */
static int phase(uint32_t type)
{
	switch (type) {
	case MOAT_SNAP_INFO: return 1;
	case MOAT_SNAP_STREAM: case MOAT_SNAP_SYNC: return 2;
	case MOAT_SNAP_TIMER: return 3;
	case MOAT_SNAP_REGION: return 4;
	case MOAT_SNAP_THREAD: return 5;
	default: return 6; /* ERROR, END */
	}
}

struct walk {
	char *err;
	size_t errlen;
	size_t index, off;     /* the record being checked */
	uint32_t type;
	int last_phase;
	int64_t last_handle;   /* STREAM and SYNC: ascending */
	uint64_t region_end;   /* REGION: ascending, not overlapping */
	int have_region;
	int have_info, have_error;
	int allow_base;        /* a migration's FINAL: REGION_BASE allowed */
	int allow_ref;         /* a received image: REGION_REF allowed, */
	uint64_t ref_pages;    /* naming pages of a base this long */
	struct moat_snap_info info;
	uint64_t nthreads, nregions, nstreams, memory;
	/* A process tree: PROCESS records open sections. */
	int tree, nsections;
	size_t section_index;  /* the index of the section's PROCESS record */
	int32_t last_pid;
	struct moat_snap_child first_kids[MOAT_SNAP_MAX_CHILDREN]; /* process 1's */
	uint32_t first_nkids, live_kids;
};

__attribute__((format(printf, 2, 3)))
static int bad(struct walk *w, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(w->err, w->errlen, "record %zu at offset %zu (%s): %s", w->index, w->off,
		 w->type < MOAT_SNAP_NTYPES ? type_names[w->type] : "unknown type", why);
	return -1;
}

static int check_handle(struct walk *w, int32_t handle)
{
	if (handle < 0)
		return bad(w, "negative handle %d", handle);
	if (handle <= w->last_handle)
		return bad(w, "handle %d after handle %" PRId64 ": not ascending", handle,
			   w->last_handle);
	w->last_handle = handle;
	return 0;
}

static int check_stream(struct walk *w, const unsigned char *b, uint64_t len)
{
	struct moat_snap_stream s;
	if (len < sizeof(s))
		return bad(w, "%" PRIu64 " bytes, shorter than its fixed part (%zu)", len, sizeof(s));
	memcpy(&s, b, sizeof(s));
	uint64_t rest = len - sizeof(s);
	if (s.uri_len > rest || s.buffered != rest - s.uri_len)
		return bad(w, "length %" PRIu64 " is not %zu + uri_len %u + buffered %" PRIu64, len,
			   sizeof(s), s.uri_len, s.buffered);
	if (s.origin < MOAT_SNAP_OPENED || s.origin > MOAT_SNAP_CLOSED)
		return bad(w, "unknown origin %u", s.origin);
	if (s.zero)
		return bad(w, "reserved field is not zero");
	if (s.peer < -1)
		return bad(w, "peer handle %d", s.peer);
	if (memchr(b + sizeof(s), 0, s.uri_len))
		return bad(w, "the URI holds a NUL byte");
	w->nstreams++;
	return check_handle(w, s.handle);
}

static int check_sync(struct walk *w, const unsigned char *b, uint64_t len)
{
	struct moat_snap_sync s;
	if (len != sizeof(s))
		return bad(w, "%" PRIu64 " bytes, expected %zu", len, sizeof(s));
	memcpy(&s, b, sizeof(s));
	if (s.kind != MOAT_SNAP_SEMAPHORE && s.kind != MOAT_SNAP_EVENT)
		return bad(w, "unknown kind %u", s.kind);
	return check_handle(w, s.handle);
}

static int check_timer(struct walk *w, const unsigned char *b, uint64_t len)
{
	struct moat_snap_timer t;
	if (len != sizeof(t))
		return bad(w, "%" PRIu64 " bytes, expected %zu", len, sizeof(t));
	memcpy(&t, b, sizeof(t));
	return t.zero ? bad(w, "reserved field is not zero") : 0;
}

/* A REF region's run: where its pages are.  The bytes it takes in the
 * record (8, or 8 and its pages), or -1. */
static int check_ref(struct walk *w, uint32_t i, const struct moat_snap_run *run,
		     const unsigned char *b, uint64_t left, uint64_t *inline_pages)
{
	uint64_t ref;
	if (left < sizeof(ref))
		return bad(w, "run %u: past the end of the record", i);
	memcpy(&ref, b, sizeof(ref));
	*inline_pages = ref == MOAT_SNAP_REF_INLINE ? run->npages : 0;
	if (ref != MOAT_SNAP_REF_INLINE &&
	    (ref > w->ref_pages || run->npages > w->ref_pages - ref))
		return bad(w, "run %u: base pages %" PRIu64 "+%" PRIu64 " outside the base's %" PRIu64,
			   i, ref, run->npages, w->ref_pages);
	return 0;
}

/* An ALIGNED region's big run: the zeros that put its pages at a
 * multiple of 4096 in the image ('abs': the image offset of b).  The
 * bytes they take, or -1. */
static int64_t check_pad(struct walk *w, uint32_t i, const unsigned char *b, uint64_t left,
			 uint64_t abs)
{
	uint64_t pad = (MOAT_SNAP_PAGE - abs % MOAT_SNAP_PAGE) % MOAT_SNAP_PAGE;
	if (pad > left)
		return bad(w, "run %u: its alignment runs past the end of the record", i);
	for (uint64_t k = 0; k < pad; k++)
		if (b[k])
			return bad(w, "run %u: its alignment is not zero", i);
	return (int64_t)pad;
}

/* The runs of a region: ascending, inside it, each with its pages;
 * 'abs' is the image offset of b. */
static int check_runs(struct walk *w, const struct moat_snap_region *r, const unsigned char *b,
		      uint64_t len, uint64_t abs)
{
	uint64_t at = 0, next_page = 0, pages = r->size / MOAT_SNAP_PAGE;
	int ref = (r->flags & MOAT_SNAP_REGION_REF) != 0;
	int aligned = (r->flags & MOAT_SNAP_REGION_ALIGNED) != 0;
	for (uint32_t i = 0; i < r->nruns; i++) {
		struct moat_snap_run run;
		uint64_t here;
		if (len - at < sizeof(run))
			return bad(w, "run %u: past the end of the record", i);
		memcpy(&run, b + at, sizeof(run));
		at += sizeof(run);
		if (run.npages == 0)
			return bad(w, "run %u: no pages", i);
		if (run.first < next_page)
			return bad(w, "run %u: page %" PRIu64 " is not after the previous run", i,
				   run.first);
		if (run.first > pages || run.npages > pages - run.first)
			return bad(w, "run %u: pages %" PRIu64 "+%" PRIu64 " outside the region's %" PRIu64,
				   i, run.first, run.npages, pages);
		here = run.npages;
		if (ref && check_ref(w, i, &run, b + at, len - at, &here) < 0)
			return -1;
		at += ref ? sizeof(uint64_t) : 0;
		if (aligned && run.npages >= MOAT_SNAP_ALIGN_MIN) {
			int64_t pad = check_pad(w, i, b + at, len - at, abs + at);
			if (pad < 0)
				return -1;
			at += (uint64_t)pad;
		}
		if (here > (len - at) / MOAT_SNAP_PAGE)
			return bad(w, "run %u: %" PRIu64 " pages past the end of the record", i,
				   run.npages);
		at += here * MOAT_SNAP_PAGE;
		next_page = run.first + run.npages;
		w->memory += run.npages * MOAT_SNAP_PAGE; /* < 2^47: regions do not overlap */
	}
	if (at != len)
		return bad(w, "%" PRIu64 " bytes after its last run", len - at);
	return 0;
}

static int check_region(struct walk *w, const unsigned char *b, uint64_t len)
{
	struct moat_snap_region r;
	if (len < sizeof(r))
		return bad(w, "%" PRIu64 " bytes, shorter than its fixed part (%zu)", len, sizeof(r));
	memcpy(&r, b, sizeof(r));
	if (r.kind < MOAT_SNAP_ANON || r.kind > MOAT_SNAP_IMAGE)
		return bad(w, "unknown kind %u", r.kind);
	/* ALIGNED only in an image: a migration's FINAL never carries it
	 * (its offsets are the stream's, not the merged image's) */
	uint32_t known = MOAT_SNAP_REGION_SHARED | (w->allow_base ? MOAT_SNAP_REGION_BASE : 0) |
			 (w->allow_ref ? MOAT_SNAP_REGION_REF : 0) |
			 (w->allow_base ? 0 : MOAT_SNAP_REGION_ALIGNED);
	if (r.zero || (r.flags & ~known))
		return bad(w, "reserved bits set");
	if ((r.flags & MOAT_SNAP_REGION_ALIGNED) &&
	    ((r.flags & (MOAT_SNAP_REGION_SHARED | MOAT_SNAP_REGION_REF)) ||
	     r.kind != MOAT_SNAP_ANON))
		return bad(w, "the aligned flag on a shared or base region, or one not of kind ANON");
	if ((r.flags & (MOAT_SNAP_REGION_BASE | MOAT_SNAP_REGION_REF)) &&
	    ((r.flags & MOAT_SNAP_REGION_SHARED) || r.kind == MOAT_SNAP_FILE))
		return bad(w, "the base flag on a shared or file region");
	if (r.addr % MOAT_SNAP_PAGE || r.size % MOAT_SNAP_PAGE || r.size == 0)
		return bad(w, "address %#" PRIx64 " size %#" PRIx64 ": not whole pages", r.addr,
			   r.size);
	if (r.addr + r.size < r.addr || r.addr + r.size > (1ull << 47))
		return bad(w, "address %#" PRIx64 " size %#" PRIx64 ": outside the address space",
			   r.addr, r.size);
	if (w->have_region && r.addr < w->region_end)
		return bad(w, "address %#" PRIx64 " overlaps or precedes the previous region", r.addr);
	if ((r.kind == MOAT_SNAP_FILE) != (r.uri_len > 0))
		return bad(w, "a URI of %u bytes for a region of kind %u", r.uri_len, r.kind);
	if (r.uri_len > len - sizeof(r))
		return bad(w, "uri_len %u past the end of the record", r.uri_len);
	if (memchr(b + sizeof(r), 0, r.uri_len))
		return bad(w, "the URI holds a NUL byte");
	w->have_region = 1;
	w->region_end = r.addr + r.size;
	w->nregions++;
	return check_runs(w, &r, b + sizeof(r) + r.uri_len, len - sizeof(r) - r.uri_len,
			  w->off + sizeof(struct moat_snap_rec) + sizeof(r) + r.uri_len);
}

static int check_thread(struct walk *w, const unsigned char *b, uint64_t len)
{
	struct moat_snap_thread t;
	if (len < sizeof(t))
		return bad(w, "%" PRIu64 " bytes, shorter than its fixed part (%zu)", len, sizeof(t));
	memcpy(&t, b, sizeof(t));
	if (t.fpsize > MOAT_SNAP_FPSTATE_MAX)
		return bad(w, "fpsize %u is over %u", t.fpsize, MOAT_SNAP_FPSTATE_MAX);
	if (len != sizeof(t) + t.fpsize)
		return bad(w, "length %" PRIu64 " is not %zu + fpsize %u", len, sizeof(t), t.fpsize);
	if (t.zero)
		return bad(w, "reserved field is not zero");
	w->nthreads++;
	return 0;
}

static int check_process(struct walk *w, const unsigned char *b, uint64_t len);

static int check_body(struct walk *w, const unsigned char *b, uint64_t len)
{
	switch (w->type) {
	case MOAT_SNAP_INFO:
		if (w->have_info || w->index != (w->tree ? w->section_index + 1 : 0))
			return bad(w, "INFO must be the first record (of its process), once");
		if (len != sizeof(w->info))
			return bad(w, "%" PRIu64 " bytes, expected %zu", len, sizeof(w->info));
		memcpy(&w->info, b, sizeof(w->info));
		w->have_info = 1;
		return 0;
	case MOAT_SNAP_STREAM: return check_stream(w, b, len);
	case MOAT_SNAP_SYNC: return check_sync(w, b, len);
	case MOAT_SNAP_TIMER: return check_timer(w, b, len);
	case MOAT_SNAP_REGION: return check_region(w, b, len);
	case MOAT_SNAP_THREAD: return check_thread(w, b, len);
	case MOAT_SNAP_ERROR:
		if (len == 0 || len > ERROR_TEXT_MAX)
			return bad(w, "%" PRIu64 " bytes of text (1 to %d)", len, ERROR_TEXT_MAX);
		w->have_error = 1;
		return 0;
	case MOAT_SNAP_PROCESS:
		return check_process(w, b, len);
	case MOAT_SNAP_PAGES: case MOAT_SNAP_ROUND:
		return bad(w, "a migration record in an image (moat_snap_merge makes an image of a "
			   "migration stream)");
	}
	return 0;
}

/* Is pid a live child process 1 named? */
static int live_child(const struct walk *w, int32_t pid)
{
	for (uint32_t i = 0; i < w->first_nkids; i++)
		if (w->first_kids[i].pid == pid && !w->first_kids[i].ended)
			return 1;
	return 0;
}

static int check_children(struct walk *w, const struct moat_snap_process *p,
			  const unsigned char *b)
{
	for (uint32_t i = 0; i < p->nchildren; i++) {
		struct moat_snap_child c;
		memcpy(&c, b + i * sizeof(c), sizeof(c));
		if (c.pid <= 1 || c.ended > 1 || c.zero || (!c.ended && c.status))
			return bad(w, "child %u: pid %d, ended %u: malformed", i, c.pid, c.ended);
		for (uint32_t j = 0; j < i; j++)
			if (w->first_kids[j].pid == c.pid)
				return bad(w, "child pid %d twice", c.pid);
		w->first_kids[i] = c;
		w->live_kids += !c.ended;
	}
	w->first_nkids = p->nchildren;
	return 0;
}

/* PROCESS: a section of its own; process 1 first, then its live
 * children in ascending pid order, each once. */
static int check_process(struct walk *w, const unsigned char *b, uint64_t len)
{
	struct moat_snap_process p;
	if (len < sizeof(p))
		return bad(w, "%" PRIu64 " bytes, shorter than its fixed part (%zu)", len, sizeof(p));
	memcpy(&p, b, sizeof(p));
	if (p.nchildren > MOAT_SNAP_MAX_CHILDREN ||
	    len != sizeof(p) + p.nchildren * sizeof(struct moat_snap_child))
		return bad(w, "length %" PRIu64 " does not hold its %u children", len, p.nchildren);
	if (p.pgid <= 0)
		return bad(w, "process group %d", p.pgid);
	if (w->nsections == 0) {
		if (w->index != 0 || p.pid != 1 || p.ppid != 0)
			return bad(w, "the first process must be process 1, first");
		w->tree = 1;
		w->nsections = 1;
		w->last_pid = 1;
		return check_children(w, &p, b + sizeof(p));
	}
	if (!w->tree || p.ppid != 1 || p.nchildren || p.pid <= w->last_pid ||
	    !live_child(w, p.pid))
		return bad(w, "process %d: not a live child of process 1 in ascending order, or with"
			   " children of its own", p.pid);
	w->last_pid = p.pid;
	w->nsections++;
	return 0;
}

/* At END: the counts INFO announced. */
static int check_counts(struct walk *w)
{
	if (w->have_error)
		return 0; /* a failed checkpoint: only its reason counts */
	if (!w->have_info)
		return bad(w, "no INFO record");
	if (w->nthreads == 0)
		return bad(w, "no THREAD record");
	if (w->info.nthreads != w->nthreads || w->info.nregions != w->nregions ||
	    w->info.nstreams != w->nstreams)
		return bad(w, "INFO says %u threads, %u regions, %u streams; the image has %" PRIu64
			   ", %" PRIu64 ", %" PRIu64, w->info.nthreads, w->info.nregions,
			   w->info.nstreams, w->nthreads, w->nregions, w->nstreams);
	if (w->info.memory != w->memory)
		return bad(w, "INFO says %" PRIu64 " bytes of memory; the runs hold %" PRIu64,
			   w->info.memory, w->memory);
	return 0;
}

/* A PROCESS record ends the section before it: its counts, then a
 * fresh start for the next process's records. */
static int section_end(struct walk *w)
{
	if (!w->tree)
		return bad(w, "PROCESS in an image that did not begin with one");
	if (check_counts(w) < 0)
		return -1;
	w->section_index = w->index;
	w->last_phase = 0;
	w->last_handle = -1;
	w->have_region = w->have_info = 0;
	w->region_end = 0;
	w->nthreads = w->nregions = w->nstreams = w->memory = 0;
	return 0;
}

/* The check of moat_snap_check; allow_base for a migration's FINAL,
 * ref_pages + 1 (0: none) for a received image with REF regions. */
static int check_image(const void *image, size_t len, int allow_base, uint64_t ref_pages1,
		       char *err, size_t errlen)
{
	const unsigned char *p = image;
	struct walk w = { .err = err, .errlen = errlen, .last_handle = -1,
			  .allow_base = allow_base, .allow_ref = ref_pages1 != 0,
			  .ref_pages = ref_pages1 ? ref_pages1 - 1 : 0 };
	struct moat_snap_header h;
	if (len < sizeof(h)) {
		snprintf(err, errlen, "%zu bytes: too short for an image", len);
		return -1;
	}
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, MOAT_SNAP_MAGIC, 8)) {
		snprintf(err, errlen, "not a checkpoint image (bad magic)");
		return -1;
	}
	if (h.version != MOAT_SNAP_VERSION || h.flags) {
		snprintf(err, errlen, "image version %u flags %#x; this moat reads version %d",
			 h.version, h.flags, MOAT_SNAP_VERSION);
		return -1;
	}
	size_t off = sizeof(h);
	for (;; w.index++) {
		struct moat_snap_rec r;
		w.off = off;
		w.type = MOAT_SNAP_NTYPES;
		if (len - off < sizeof(r))
			return bad(&w, "the image ends without an END record");
		memcpy(&r, p + off, sizeof(r));
		w.type = r.type;
		if (r.type >= MOAT_SNAP_NTYPES)
			return bad(&w, "unknown record type %u", r.type);
		if (r.zero)
			return bad(&w, "reserved field is not zero");
		size_t room = len - off - sizeof(r);
		if (r.len > room)
			return bad(&w, "length %" PRIu64 " past the end of the image (%zu left)", r.len,
				   room);
		size_t pad = (8 - r.len % 8) % 8;
		if (pad > room - r.len)
			return bad(&w, "its padding runs past the end of the image");
		for (size_t i = 0; i < pad; i++)
			if (p[off + sizeof(r) + r.len + i])
				return bad(&w, "padding is not zero");
		if (w.have_error && r.type != MOAT_SNAP_END)
			return bad(&w, "a record after ERROR");
		if (r.type == MOAT_SNAP_PROCESS && w.index && section_end(&w) < 0)
			return -1;
		if (r.type == MOAT_SNAP_PROCESS) {
			if (check_body(&w, p + off + sizeof(r), r.len) < 0)
				return -1;
			off += sizeof(r) + r.len + pad;
			continue;
		}
		if (r.type != MOAT_SNAP_ERROR && phase(r.type) < w.last_phase)
			return bad(&w, "out of order (records go INFO, STREAM/SYNC, TIMER, REGION, "
				   "THREAD, END)");
		if (r.type != MOAT_SNAP_ERROR)
			w.last_phase = phase(r.type);
		if (r.type != MOAT_SNAP_INFO && r.type != MOAT_SNAP_ERROR && !w.have_info &&
		    !(r.type == MOAT_SNAP_END && w.have_error))
			return bad(&w, "INFO must be the first record");
		if (check_body(&w, p + off + sizeof(r), r.len) < 0)
			return -1;
		off += sizeof(r) + r.len + pad;
		if (r.type != MOAT_SNAP_END)
			continue;
		if (r.len)
			return bad(&w, "END has a body of %" PRIu64 " bytes", r.len);
		if (off != len)
			return bad(&w, "%zu bytes after the END record", len - off);
		if (w.tree && !w.have_error && (uint32_t)w.nsections != w.live_kids + 1)
			return bad(&w, "process 1 names %u live children; the image holds %d",
				   w.live_kids, w.nsections - 1);
		return check_counts(&w);
	}
}

int moat_snap_check(const void *image, size_t len, char *err, size_t errlen)
{
	return check_image(image, len, 0, 0, err, errlen);
}

int moat_snap_check_ref(const void *image, size_t len, uint64_t base_pages, char *err,
			size_t errlen)
{
	if (base_pages > MOAT_SNAP_MAX_IMAGE / MOAT_SNAP_PAGE) {
		snprintf(err, errlen, "a base of %" PRIu64 " pages: too large", base_pages);
		return -1;
	}
	return check_image(image, len, 0, base_pages + 1, err, errlen);
}

const struct moat_snap_rec *moat_snap_next(const void *image, size_t len, size_t *off)
{
	if (*off > len || len - *off < sizeof(struct moat_snap_rec))
		return NULL;
	const struct moat_snap_rec *r = (const void *)((const char *)image + *off);
	if (r->type == MOAT_SNAP_END)
		return NULL;
	*off += sizeof(*r) + ((r->len + 7) & ~7ull);
	return r;
}

int moat_snap_error_text(const void *image, size_t len, char *out, size_t outlen)
{
	size_t off = sizeof(struct moat_snap_header);
	const struct moat_snap_rec *r;
	while ((r = moat_snap_next(image, len, &off))) {
		if (r->type != MOAT_SNAP_ERROR)
			continue;
		const unsigned char *t = (const void *)(r + 1);
		size_t n = 0;
		for (uint64_t i = 0; i < r->len && n + 5 < outlen; i++) {
			if (t[i] >= ' ' && t[i] < 0x7f)
				out[n++] = (char)t[i];
			else if (t[i] != '\n' || i + 1 < r->len)
				n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", t[i]);
		}
		if (outlen)
			out[n < outlen ? n : outlen - 1] = 0;
		return 1;
	}
	return 0;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* The last file hashed, by identity: a resume hashes moat-pico twice
 * (its [Snapshot] pico checked, then the new run's manifest written),
 * 1.4 MB each time.  The same inode, size, mtime and ctime within one
 * moat process is the same file (a write changes ctime). */
static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	char hex[33];
} hash_seen;

static int same_file(const struct stat *st)
{
	return hash_seen.hex[0] && st->st_dev == hash_seen.dev && st->st_ino == hash_seen.ino &&
	       st->st_size == hash_seen.size &&
	       st->st_mtim.tv_sec == hash_seen.mtime.tv_sec &&
	       st->st_mtim.tv_nsec == hash_seen.mtime.tv_nsec &&
	       st->st_ctim.tv_sec == hash_seen.ctime.tv_sec &&
	       st->st_ctim.tv_nsec == hash_seen.ctime.tv_nsec;
}

int moat_snap_file_hash(const char *path, char out[33])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat before;
	int known = fstat(fd, &before) == 0 && S_ISREG(before.st_mode);
	if (known && same_file(&before)) {
		close(fd);
		memcpy(out, hash_seen.hex, 33);
		return 0;
	}
	XXH3_state_t *st = XXH3_createState();
	static unsigned char buf[1 << 16];
	ssize_t n;
	XXH3_128bits_reset(st);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		XXH3_128bits_update(st, buf, (size_t)n);
	int e = errno;
	struct stat after;
	/* kept only if nothing changed the file while it was read */
	int keep = known && n == 0 && fstat(fd, &after) == 0 && after.st_size == before.st_size &&
		   after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
		   after.st_mtim.tv_nsec == before.st_mtim.tv_nsec &&
		   after.st_ctim.tv_sec == before.st_ctim.tv_sec &&
		   after.st_ctim.tv_nsec == before.st_ctim.tv_nsec;
	close(fd);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	XXH3_freeState(st);
	if (n < 0) {
		errno = e;
		return -1;
	}
	hex(c.digest, 16, out);
	if (keep) {
		hash_seen.dev = before.st_dev, hash_seen.ino = before.st_ino;
		hash_seen.size = before.st_size;
		hash_seen.mtime = before.st_mtim, hash_seen.ctime = before.st_ctim;
		memcpy(hash_seen.hex, out, 33);
	}
	return 0;
}

void moat_snap_hash64(const void *buf, size_t len, char out[17])
{
	XXH64_canonical_t c;
	XXH64_canonicalFromHash(&c, XXH3_64bits(buf, len));
	hex(c.digest, 8, out);
}

static int write_all(int fd, const void *b, size_t n)
{
	const char *p = b;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int moat_snap_compress(const void *image, size_t len, int fd, char *err, size_t errlen)
{
	return moat_snap_compress_at(image, len, 3, fd, err, errlen);
}

int moat_snap_compress_at(const void *image, size_t len, int level, int fd, char *err,
			  size_t errlen)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	size_t cap = ZSTD_CStreamOutSize();
	char *buf = malloc(cap);
	int r = cc && buf ? 0 : -1;
	if (r < 0)
		snprintf(err, errlen, "out of memory");
	if (r == 0)
		ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, level);
	ZSTD_inBuffer in = { image, len, 0 };
	for (size_t left = 1; r == 0 && left;) {
		ZSTD_outBuffer o = { buf, cap, 0 };
		left = ZSTD_compressStream2(cc, &o, &in, ZSTD_e_end);
		if (ZSTD_isError(left)) {
			snprintf(err, errlen, "compressing: %s", ZSTD_getErrorName(left));
			r = -1;
		} else if (write_all(fd, buf, o.pos) < 0) {
			snprintf(err, errlen, "writing: %s", strerror(errno));
			r = -1;
		}
	}
	free(buf);
	ZSTD_freeCCtx(cc);
	return r;
}

/* "[Snapshot] KEY: ..." errors for a snapshot package. */
static int unsigned_value(const char *v, uint64_t *out)
{
	char *end;
	if (!v || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end || errno)
		return -1;
	*out = x;
	return 0;
}

/* What is inflated: the image or the saved /tmp, and its length's key. */
struct blob {
	const char *path;     /* in the package */
	const char *what;     /* "the image", "the saved /tmp" */
	const char *len_key, *hash_key;
	const char *len_text, *hash_text;   /* as the manifest has them */
	uint64_t max;
	uint64_t len, zlen;   /* its length (checked), and compressed */
};

/* Decompress zlen bytes at 'z' into memfd fd: exactly b->len bytes,
 * one frame, nothing after it; hash them on the way. */
static int inflate(const void *z, uint64_t zlen, int fd, const struct blob *b, char hexout[17],
		   char *err, size_t errlen)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	size_t cap = ZSTD_DStreamOutSize();
	char *buf = malloc(cap);
	XXH3_state_t *st = XXH3_createState();
	int r = dc && buf && st ? 0 : -1;
	if (r < 0)
		snprintf(err, errlen, "out of memory");
	else
		XXH3_64bits_reset(st);
	ZSTD_inBuffer in = { z, zlen, 0 };
	uint64_t total = 0;
	size_t more = 1;
	while (r == 0 && (in.pos < in.size || more)) {
		ZSTD_outBuffer o = { buf, cap, 0 };
		more = ZSTD_decompressStream(dc, &o, &in);
		if (ZSTD_isError(more)) {
			snprintf(err, errlen, "%s does not decompress: %s", b->what,
				 ZSTD_getErrorName(more));
			r = -1;
		} else if (o.pos > b->len - total) {
			snprintf(err, errlen, "%s is longer than its %s (%" PRIu64 ")", b->what,
				 b->len_key, b->len);
			r = -1;
		} else if (more && in.pos == in.size && o.pos == 0) {
			snprintf(err, errlen, "the compressed %s is truncated", b->what + 4);
			r = -1;
		} else if (more == 0 && in.pos < in.size) {
			snprintf(err, errlen, "data after the compressed %s", b->what + 4);
			r = -1;
		} else if (write_all(fd, buf, o.pos) < 0) {
			snprintf(err, errlen, "writing %s to memory: %s", b->what, strerror(errno));
			r = -1;
		} else {
			XXH3_64bits_update(st, buf, o.pos);
			total += o.pos;
		}
		if (r == 0 && more == 0 && in.pos == in.size)
			break;
	}
	if (r == 0 && total != b->len) {
		snprintf(err, errlen, "%s is %" PRIu64 " bytes, its %s says %" PRIu64, b->what,
			 total, b->len_key, b->len);
		r = -1;
	}
	if (r == 0) {
		XXH64_canonical_t c;
		XXH64_canonicalFromHash(&c, XXH3_64bits_digest(st));
		hex(c.digest, 8, hexout);
	}
	free(buf);
	ZSTD_freeDCtx(dc);
	if (st)
		XXH3_freeState(st);
	return r;
}

/* The fast way for a small frame that names its own length, b->len,
 * and ends exactly at zlen (what moat_snap_compress writes): one pass of
 * ZSTD_decompress straight into the memfd, its pages made by
 * MAP_POPULATE in one system call, then hashed in place.  The streaming
 * way's 128 KiB buffer and window fault in ~100 fresh pages first (a
 * user page fault costs ~10 us here): for an idle shell's 250 KB image
 * this way took 3.9 ms against 6.4 (loaded machine); but populating a
 * shared mapping costs ~3 times a write() per page, so from
 * INFLATE_MAPPED_MAX on (10 MB: 135 ms against 55) the streaming way
 * wins.  zstd checks the frame's real length against the one it names.
 * 1 done, 0 for the streaming way (any other frame: it says what is
 * wrong), -1 with err. */
#define INFLATE_MAPPED_MAX (512 << 10)
static int inflate_mapped(const void *z, uint64_t zlen, int fd, const struct blob *b,
			  char hexout[17], char *err, size_t errlen)
{
	if (b->len == 0 || b->len > INFLATE_MAPPED_MAX)
		return 0;
	size_t whole = ZSTD_findFrameCompressedSize(z, zlen);
	unsigned long long named = ZSTD_getFrameContentSize(z, zlen);
	if (ZSTD_isError(whole) || whole != zlen || named != b->len ||
	    ftruncate(fd, (off_t)b->len) < 0)
		return 0;
	void *m = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (m == MAP_FAILED) {
		if (ftruncate(fd, 0) < 0) {
			snprintf(err, errlen, "writing %s to memory: %s", b->what, strerror(errno));
			return -1;
		}
		return 0;
	}
	size_t got = ZSTD_decompress(m, b->len, z, zlen);
	int r = 1;
	if (ZSTD_isError(got)) {
		snprintf(err, errlen, "%s does not decompress: %s", b->what, ZSTD_getErrorName(got));
		r = -1;
	} else if (got != b->len) {
		snprintf(err, errlen, "%s is %zu bytes, its %s says %" PRIu64, b->what, got,
			 b->len_key, b->len);
		r = -1;
	} else {
		XXH64_canonical_t c;
		XXH64_canonicalFromHash(&c, XXH3_64bits(m, b->len));
		hex(c.digest, 8, hexout);
	}
	munmap(m, b->len); /* before the seal: no writable mapping may remain */
	return r;
}

/* [Snapshot]'s length and hash of a blob, checked as text. */
static int blob_keys(struct blob *b, char *why, size_t whylen)
{
	if (unsigned_value(b->len_text, &b->len) < 0 || b->len > b->max) {
		snprintf(why, whylen, "[Snapshot] %s: expected a number of bytes up to %llu",
			 b->len_key, (unsigned long long)b->max);
		return -1;
	}
	if (!b->hash_text || strlen(b->hash_text) != 16 ||
	    strspn(b->hash_text, "0123456789abcdef") != 16) {
		snprintf(why, whylen, "[Snapshot] %s: expected 16 hex digits", b->hash_key);
		return -1;
	}
	return 0;
}

/* A blob of the package, decompressed into a new sealed memfd mapped at
 * *map (b->len bytes; one byte's mapping for an empty one) and checked
 * against its hash.  The fd, or -1 with why. */
static int blob_load(struct moat_package *pkg, struct blob *b, const void **map, char *why,
		     size_t whylen)
{
	char got[17];
	const struct moat_pkg_entry *e = moat_package_lookup(pkg, b->path);
	*map = NULL;
	if (!e || (e->mode & S_IFMT) != S_IFREG) {
		snprintf(why, whylen, "no %s in the package", b->path);
		return -1;
	}
	/* The entry is inside the file: moat_package_open checked it. */
	void *z = e->size ? mmap(NULL, e->size, PROT_READ, MAP_PRIVATE, moat_package_fd(pkg),
				 (off_t)e->offset) : NULL;
	int fd = memfd_create("moat-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r = z != MAP_FAILED && e->size && fd >= 0 ? 0 : -1;
	if (r < 0)
		snprintf(why, whylen, !e->size ? "the compressed %s is empty" : "%s",
			 !e->size ? b->what + 4 : strerror(errno));
	else if ((r = inflate_mapped(z, e->size, fd, b, got, why, whylen)) >= 0)
		r = r ? 0 : inflate(z, e->size, fd, b, got, why, whylen);
	if (r == 0 && strcmp(got, b->hash_text)) {
		snprintf(why, whylen, "%s's hash is %s, [Snapshot] %s says %s (damaged or altered)",
			 b->what, got, b->hash_key, b->hash_text);
		r = -1;
	}
	b->zlen = e->size;
	if (z && z != MAP_FAILED)
		munmap(z, e->size);
	if (r == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK |
			    F_SEAL_SEAL) < 0) {
		snprintf(why, whylen, "sealing %s: %s", b->what, strerror(errno));
		r = -1;
	}
	void *m = r == 0 ? mmap(NULL, b->len ? b->len : 1, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	if (m == MAP_FAILED) {
		snprintf(why, whylen, "mapping %s: %s", b->what, strerror(errno));
		r = -1;
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*map = m;
	return fd;
}

static void blob_unmap(const void *map, uint64_t len)
{
	if (map)
		munmap((void *)map, len ? len : 1);
}

/* The saved /tmp, when the snapshot carries one (scratch_len in its
 * [Snapshot]); an archive without the key, or the key without the
 * archive, is refused: one was removed. */
static int load_scratch(struct moat_package *pkg, const struct moat_manifest *m,
			struct moat_snap_loaded *out, char *why, size_t whylen)
{
	struct blob b = { MOAT_SNAP_SCRATCH_PATH, "the saved /tmp", "scratch_len", "scratch_hash",
			  m->snap.scratch_len, m->snap.scratch_hash, MOAT_SNAP_MAX_SCRATCH, 0, 0 };
	const void *map;
	if (!m->snap.scratch_len && !m->snap.scratch_hash) {
		if (!moat_package_lookup(pkg, MOAT_SNAP_SCRATCH_PATH))
			return 0;
		snprintf(why, whylen, "%s: no scratch_len in [Snapshot]", MOAT_SNAP_SCRATCH_PATH);
		return -1;
	}
	if (blob_keys(&b, why, whylen) < 0)
		return -1;
	int fd = blob_load(pkg, &b, &map, why, whylen);
	if (fd < 0)
		return -1;
	char detail[400];
	int r = moat_scratch_check(map, b.len, &out->scratch, detail, sizeof(detail));
	blob_unmap(map, b.len);
	if (r < 0) {
		snprintf(why, whylen, "%s: %s", MOAT_SNAP_SCRATCH_PATH, detail);
		close(fd);
		return -1;
	}
	out->scratch_fd = fd;
	out->scratch_len = b.len;
	out->scratch_zlen = b.zlen;
	return 0;
}

int moat_snap_load(const char *path, const struct moat_manifest *m, struct moat_snap_loaded *out,
		   char *err, size_t errlen)
{
	char why[512], detail[400];
	struct blob b = { MOAT_SNAP_PATH, "the image", "image_len", "image_hash",
			  m->snap.image_len, m->snap.image_hash, MOAT_SNAP_MAX_IMAGE, 0, 0 };
	const void *img = NULL;
	memset(out, 0, sizeof(*out));
	out->memfd = out->scratch_fd = out->base_fd = -1;
	if (!m->is_snapshot) {
		snprintf(err, errlen, "%s: not a snapshot (no [Snapshot] section)", path);
		return -1;
	}
	if (blob_keys(&b, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	struct moat_package *pkg = moat_package_open(path, 1, err, errlen);
	if (!pkg)
		return -1;
	int fd = blob_load(pkg, &b, &img, why, sizeof(why)), r = fd < 0 ? -1 : 0;
	out->zlen = b.zlen;
	if (r == 0 && moat_snap_check(img, b.len, detail, sizeof(detail)) < 0) {
		snprintf(why, sizeof(why), "the image is malformed: %s", detail);
		r = -1;
	}
	if (r == 0)
		r = load_scratch(pkg, m, out, why, sizeof(why));
	moat_package_close(pkg);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		blob_unmap(img, b.len);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	out->memfd = fd;
	out->image = img;
	out->len = b.len;
	return 0;
}

/* An image or saved /tmp handed over in memory (moat receive's merged
 * image, in the process that forked this one): it must be a memfd sealed
 * against writes and size changes (nothing can alter it between this
 * check and the picoprocess reading it) of exactly [Snapshot]'s length.
 * A duplicate descriptor, mapped read-only at *map; or -1 with why.  No
 * hash: these bytes never left this host's memory, and the structure is
 * checked by the caller as for a package. */
static int adopt_fd(int fd, struct blob *b, const void **map, char *why, size_t whylen)
{
	const int need = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
	struct stat st;
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	*map = NULL;
	if (blob_keys(b, why, whylen) < 0)
		return -1;
	if (seals < 0 || (seals & need) != need) {
		snprintf(why, whylen, "%s handed over in memory is not sealed", b->what);
		return -1;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != b->len) {
		snprintf(why, whylen, "%s handed over in memory is %lld bytes, its %s says %" PRIu64,
			 b->what, (long long)st.st_size, b->len_key, b->len);
		return -1;
	}
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	void *m = dup >= 0 ? mmap(NULL, b->len ? b->len : 1, PROT_READ, MAP_SHARED, dup, 0)
		  : MAP_FAILED;
	if (m == MAP_FAILED) {
		snprintf(why, whylen, "mapping %s: %s", b->what, strerror(errno));
		if (dup >= 0)
			close(dup);
		return -1;
	}
	*map = m;
	return dup;
}

/* The saved /tmp handed over in memory, checked as in load_scratch. */
static int adopt_scratch(const struct moat_manifest *m, int fd, struct moat_snap_loaded *out,
			 char *why, size_t whylen)
{
	struct blob b = { MOAT_SNAP_SCRATCH_PATH, "the saved /tmp", "scratch_len", "scratch_hash",
			  m->snap.scratch_len, m->snap.scratch_hash, MOAT_SNAP_MAX_SCRATCH, 0, 0 };
	const void *map;
	if (!m->snap.scratch_len && !m->snap.scratch_hash && fd < 0)
		return 0;
	int dup = adopt_fd(fd, &b, &map, why, whylen);
	if (dup < 0)
		return -1;
	char detail[400];
	int r = moat_scratch_check(map, b.len, &out->scratch, detail, sizeof(detail));
	blob_unmap(map, b.len);
	if (r < 0) {
		snprintf(why, whylen, "the saved /tmp: %s", detail);
		close(dup);
		return -1;
	}
	out->scratch_fd = dup;
	out->scratch_len = b.len;
	return 0;
}

/* The base of a REF image: sealed too, whole pages.  Its page count,
 * through *pages; a duplicate descriptor, or -1 with why. */
static int adopt_base(int fd, uint64_t *pages, char *why, size_t whylen)
{
	const int need = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & need) != need || fstat(fd, &st) < 0 ||
	    st.st_size % MOAT_SNAP_PAGE || (uint64_t)st.st_size > MOAT_SNAP_MAX_IMAGE) {
		snprintf(why, whylen, "the base handed over in memory is not sealed whole pages");
		return -1;
	}
	*pages = (uint64_t)st.st_size / MOAT_SNAP_PAGE;
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (dup < 0)
		snprintf(why, whylen, "the base: %s", strerror(errno));
	return dup;
}

int moat_snap_adopt(const char *path, const struct moat_manifest *m, int image_fd,
		    int base_fd, int scratch_fd, struct moat_snap_loaded *out, char *err,
		    size_t errlen)
{
	uint64_t base_pages = 0;
	char why[512], detail[400];
	struct blob b = { MOAT_SNAP_PATH, "the image", "image_len", "image_hash",
			  m->snap.image_len, m->snap.image_hash, MOAT_SNAP_MAX_IMAGE, 0, 0 };
	const void *img = NULL;
	memset(out, 0, sizeof(*out));
	out->memfd = out->scratch_fd = out->base_fd = -1;
	if (!m->is_snapshot) {
		snprintf(err, errlen, "%s: not a snapshot (no [Snapshot] section)", path);
		return -1;
	}
	int fd = adopt_fd(image_fd, &b, &img, why, sizeof(why)), r = fd < 0 ? -1 : 0;
	if (r == 0 && base_fd >= 0 && (out->base_fd = adopt_base(base_fd, &base_pages, why,
								  sizeof(why))) < 0)
		r = -1;
	if (r == 0 && (base_fd >= 0 ? moat_snap_check_ref(img, b.len, base_pages, detail,
							  sizeof(detail))
		       : moat_snap_check(img, b.len, detail, sizeof(detail))) < 0) {
		snprintf(why, sizeof(why), "the image is malformed: %s", detail);
		r = -1;
	}
	if (r == 0)
		r = adopt_scratch(m, scratch_fd, out, why, sizeof(why));
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		blob_unmap(img, b.len);
		if (fd >= 0)
			close(fd);
		if (out->base_fd >= 0)
			close(out->base_fd);
		out->base_fd = -1;
		return -1;
	}
	out->memfd = fd;
	out->image = img;
	out->len = b.len;
	return 0;
}

void moat_snap_unload(struct moat_snap_loaded *s)
{
	if (s->image)
		munmap((void *)s->image, s->len ? s->len : 1);
	if (s->memfd >= 0)
		close(s->memfd);
	if (s->scratch_fd >= 0)
		close(s->scratch_fd);
	if (s->base_fd >= 0)
		close(s->base_fd);
	memset(s, 0, sizeof(*s));
	s->memfd = s->scratch_fd = s->base_fd = -1;
}

/* ---- the snapshot manifest ---- */

static int keep_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("._-=,/+@", c);
}

char *moat_snap_ext_encode(const struct moat_manifest *m)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	for (int i = 0; i < m->nexts; i++) {
		fprintf(f, "%s%s", i ? " " : "", m->exts[i].name);
		/* a resumed run records the checkpointer as a fresh one */
		const char *o = strcmp(m->exts[i].name, "ckpt") ? m->exts[i].options : "";
		if (*o)
			fputc(':', f);
		for (; *o; o++)
			if (keep_byte((unsigned char)*o))
				fputc(*o, f);
			else
				fprintf(f, "%%%02X", (unsigned char)*o);
	}
	fclose(f);
	return out;
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int moat_snap_ext_decode(const char *v, int (*add)(void *, const char *, const char *),
			 void *ctx)
{
	char name[64], opts[4096];
	while (*v) {
		while (*v == ' ')
			v++;
		if (!*v)
			break;
		size_t n = strcspn(v, ": ");
		if (n == 0 || n >= sizeof(name))
			return -1;
		memcpy(name, v, n);
		name[n] = 0;
		v += n;
		size_t k = 0;
		if (*v == ':')
			for (v++; *v && *v != ' '; v++) {
				int c = *v;
				if (c == '%') {
					int a = unhex(v[1]), b = a < 0 ? -1 : unhex(v[2]);
					if (b < 0)
						return -1;
					c = a * 16 + b;
					v += 2;
				}
				if (c == 0 || k + 1 >= sizeof(opts))
					return -1;
				opts[k++] = (char)c;
			}
		opts[k] = 0;
		if (add(ctx, name, opts) < 0)
			return -1;
	}
	return 0;
}

static void put_limits(FILE *f, const struct moat_limits *l)
{
	const struct moat_limit_key *keys = moat_limit_keys;
	int any = 0;
	for (size_t i = 0; keys[i].key; i++) {
		uint64_t v = *(const uint64_t *)((const char *)l + keys[i].off);
		if (!v)
			continue;
		fprintf(f, "%s%s = %" PRIu64 "\n", any++ ? "" : "\n[Limits]\n", keys[i].key, v);
	}
	if (l->cpus)
		fprintf(f, "%scpus = %" PRIu64 ".%03" PRIu64 "\n", any++ ? "" : "\n[Limits]\n",
			l->cpus / 1000, l->cpus % 1000);
}

/* Each layer's identity: [Dependency.NAME] with its exact version,
 * bottom first, so that resolving them again stacks them the same. */
static int put_dependencies(FILE *f, const struct moat_manifest *m, char *err, size_t errlen)
{
	for (int i = 0; i < m->nlayers; i++) {
		struct moat_package *pkg = moat_package_open(m->layers[i], 0, err, errlen);
		if (!pkg)
			return -1;
		size_t len;
		const char *text = moat_package_manifest(pkg, &len);
		struct moat_manifest pm;
		int r = moat_manifest_parse_package(text, len, m->layers[i], &pm, err, errlen);
		moat_package_close(pkg);
		if (r < 0)
			return -1;
		if (pm.name && pm.version)
			fprintf(f, "\n[Dependency.%s]\nversion = =%s\n", pm.name, pm.version);
		moat_manifest_free(&pm);
	}
	return 0;
}

char *moat_snap_manifest(const struct moat_manifest *m, const char *pico_path, char *err,
			 size_t errlen)
{
	char pico[33], *out = NULL;
	size_t len = 0;
	if (moat_snap_file_hash(pico_path, pico) < 0) {
		snprintf(err, errlen, "%s: %s", pico_path, strerror(errno));
		return NULL;
	}
	FILE *f = open_memstream(&out, &len);
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	const char *base = m->entry ? strrchr(m->entry, '/') : NULL;
	const char *app = base ? base + 1 : m->entry ? m->entry : "app";
	char name[65];
	int n = 0;
	for (const char *c = app; *c && n < 48; c++) /* [Identity] name: letters, digits, ._+- */
		name[n++] = keep_byte((unsigned char)*c) && !strchr("=,/@", *c) ? *c : '_';
	name[n] = 0;
	fprintf(f, "# A checkpoint written by moat checkpoint (docs/checkpoint.md).\n"
		"[Package]\nManifestVersion = 1\n\n[Identity]\nName = %s-snapshot\nversion = 1\n",
		n ? name : "app");
	fputs("\n[Application]\nentry = ", f);
	moat_manifest_put_uri(f, m->entry ? m->entry : "/");
	fputc('\n', f);
	if (m->uid || m->gid)
		fprintf(f, "user = %d:%d\n", m->uid, m->gid);
	if (put_dependencies(f, m, err, errlen) < 0) {
		fclose(f);
		free(out);
		return NULL;
	}
	/* The run's own grants, as requests: they grant nothing by
	 * themselves at resume (docs/package-format.md, Policy). */
	fputs("\n[Namespace]\n", f);
	for (int i = 0; i < m->nmaps; i++)
		if (!m->maps[i].writable)
			moat_manifest_put_map(f, m->maps[i].vpath, m->maps[i].hpath);
	fputs("\n[Namespace.Writable]\n", f);
	for (int i = 0; i < m->nmaps; i++)
		if (m->maps[i].writable)
			moat_manifest_put_map(f, m->maps[i].vpath, m->maps[i].hpath);
	for (int i = 0; i < m->nnets; i++) {
		moat_manifest_put_net(f, &m->nets[i]);
		fputc('\n', f);
	}
	put_limits(f, &m->limits);
	char *exts = moat_snap_ext_encode(m);
	fprintf(f, "\n[Snapshot]\npico = %s\napp = %s\nextensions = %s\ncwd = ", pico,
		n ? name : "app", exts ? exts : "");
	free(exts);
	moat_manifest_put_uri(f, m->cwd ? m->cwd : "/");
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(out);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return out;
}

/* ---- a migration stream: its parser and the merge (moat migrate, moat receive) ----
 *
 * The stream comes from a picoprocess (the source's checkpointer) and
 * over the network (the target): untrusted twice.  The parser is fed in
 * pieces of any size, so it is a small state machine: the header, then
 * for each record its 16-byte header, its body, its padding.  Bodies are
 * never held whole: PAGES bytes go straight into the base (a memfd, one
 * 4096-byte slot per page address, found through a hash index), FINAL
 * records into another memfd; only ROUND and ERROR bodies (at most 4096
 * bytes) are kept in the parser itself. */

#define MIG_ADDR_LIMIT (1ull << 47) /* the user address space, as check_region */
#define MIG_SMALL 4096              /* ROUND and ERROR bodies at most */
#define MIG_INDEX_MIN 4096          /* hash slots at first; a power of two */

enum mig_state { MS_HEADER, MS_RECHDR, MS_BODY, MS_PAD, MS_DONE, MS_FAILED };

struct moat_mig {
	enum moat_mig_mode mode;
	enum mig_state state;
	int final;                     /* FINAL has begun (INFO or ERROR) */
	unsigned char small[MIG_SMALL];/* the header, a record header, a small body */
	size_t have;                   /* bytes in small */
	struct moat_snap_rec rec;      /* the record being read */
	uint64_t rec_off;              /* its offset in the stream */
	uint64_t body_have, pad_left;
	struct moat_snap_pages pages;  /* PAGES: its fixed part, once read */
	uint64_t cur_slot;             /* the base slot of the page being filled */
	int base_fd, final_fd;         /* KEEP only */
	uint64_t nslots, final_len;
	uint64_t *keys, *slots, cap;   /* the index: key (addr >> 12) + 1, 0 free */
	struct base_ent *sorted;       /* the base's first nsorted slots by address, */
	uint64_t nsorted;              /* kept up at each ROUND (mig_sort_base) */
	struct moat_mig_stats st;
};

const struct moat_mig_stats *moat_mig_stats(const struct moat_mig *m)
{
	return &m->st;
}

struct moat_mig *moat_mig_new(enum moat_mig_mode mode, char *err, size_t errlen)
{
	struct moat_mig *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->mode = mode;
	m->base_fd = m->final_fd = -1;
	if (mode == MOAT_MIG_KEEP) {
		m->base_fd = memfd_create("moat-mig-base", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		m->final_fd = memfd_create("moat-mig-final", MFD_CLOEXEC);
		if (m->base_fd < 0 || m->final_fd < 0) {
			snprintf(err, errlen, "memfd_create: %s", strerror(errno));
			moat_mig_free(m);
			return NULL;
		}
	}
	return m;
}

void moat_mig_free(struct moat_mig *m)
{
	if (!m)
		return;
	free(m->sorted);
	if (m->base_fd >= 0)
		close(m->base_fd);
	if (m->final_fd >= 0)
		close(m->final_fd);
	free(m->keys);
	free(m->slots);
	free(m);
}

__attribute__((format(printf, 4, 5)))
static long mig_bad(struct moat_mig *m, char *err, size_t errlen, const char *fmt, ...)
{
	char why[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "offset %" PRIu64 ": %s", m->rec_off, why);
	m->state = MS_FAILED;
	return -1;
}

static uint64_t *index_find(uint64_t *keys, uint64_t cap, uint64_t key)
{
	uint64_t i = (key * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1);
	while (keys[i] && keys[i] != key)
		i = (i + 1) & (cap - 1);
	return &keys[i];
}

static int index_grow(struct moat_mig *m)
{
	uint64_t cap = m->cap ? 2 * m->cap : MIG_INDEX_MIN;
	uint64_t *keys = calloc(cap, sizeof(*keys)), *slots = calloc(cap, sizeof(*slots));
	if (!keys || !slots) {
		free(keys);
		free(slots);
		return -1;
	}
	for (uint64_t i = 0; i < m->cap; i++)
		if (m->keys[i]) {
			uint64_t *k = index_find(keys, cap, m->keys[i]);
			*k = m->keys[i];
			slots[k - keys] = m->slots[i];
		}
	free(m->keys);
	free(m->slots);
	m->keys = keys, m->slots = slots, m->cap = cap;
	return 0;
}

/* The base slot of page address addr, a new one if it has none yet. */
static int base_slot(struct moat_mig *m, uint64_t addr, uint64_t *slot)
{
	if ((m->nslots + 1) * 2 > m->cap && index_grow(m) < 0)
		return -1;
	uint64_t *k = index_find(m->keys, m->cap, (addr >> 12) + 1);
	if (!*k) {
		*k = (addr >> 12) + 1;
		m->slots[k - m->keys] = m->nslots++;
		m->st.base_pages = m->nslots;
	}
	*slot = m->slots[k - m->keys];
	return 0;
}

static int pwrite_all(int fd, const void *b, size_t n, uint64_t off)
{
	const char *p = b;
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w, off += (uint64_t)w;
	}
	return 0;
}

/* Bytes of a FINAL record, kept for the merge. */
static int keep_final(struct moat_mig *m, const void *b, size_t n)
{
	if (m->mode != MOAT_MIG_KEEP || !n)
		return 0;
	if (pwrite_all(m->final_fd, b, n, m->final_len) < 0)
		return -1;
	m->final_len += n;
	return 0;
}

/* Up to 'want' bytes into small; how many were taken. */
static size_t take(struct moat_mig *m, const unsigned char *p, size_t n, size_t want)
{
	size_t k = want - m->have < n ? want - m->have : n;
	memcpy(m->small + m->have, p, k);
	m->have += k;
	return k;
}

static long mig_header(struct moat_mig *m, char *err, size_t errlen)
{
	struct moat_snap_header h;
	memcpy(&h, m->small, sizeof(h));
	if (memcmp(h.magic, MOAT_SNAP_MAGIC, 8))
		return mig_bad(m, err, errlen, "not a migration stream (bad magic)");
	if (h.version != MOAT_SNAP_VERSION || h.flags)
		return mig_bad(m, err, errlen, "stream version %u flags %#x; this moat reads "
			       "version %d", h.version, h.flags, MOAT_SNAP_VERSION);
	if (keep_final(m, &h, sizeof(h)) < 0) /* the merge's input is an image */
		return mig_bad(m, err, errlen, "keeping the stream: %s", strerror(errno));
	m->state = MS_RECHDR;
	m->have = 0;
	return 0;
}

/* A record header: its type allowed here, its length bounded by its type. */
static long mig_record(struct moat_mig *m, char *err, size_t errlen)
{
	struct moat_snap_rec *r = &m->rec;
	memcpy(r, m->small, sizeof(*r));
	m->have = 0;
	if (r->type >= MOAT_SNAP_NTYPES)
		return mig_bad(m, err, errlen, "unknown record type %u", r->type);
	const char *name = type_names[r->type];
	if (r->zero)
		return mig_bad(m, err, errlen, "%s: reserved field is not zero", name);
	if (r->len > MOAT_SNAP_MAX_IMAGE - m->st.total)
		return mig_bad(m, err, errlen, "%s: length %" PRIu64 ": the stream would be longer "
			       "than %llu bytes", name, r->len, (unsigned long long)MOAT_SNAP_MAX_IMAGE);
	int pre = r->type == MOAT_SNAP_PAGES || r->type == MOAT_SNAP_ROUND;
	if (m->final && pre)
		return mig_bad(m, err, errlen, "%s after the final image began", name);
	if (!m->final && !pre && r->type != MOAT_SNAP_INFO && r->type != MOAT_SNAP_ERROR)
		return mig_bad(m, err, errlen, "%s before INFO or ERROR", name);
	if (r->type == MOAT_SNAP_PAGES &&
	    (r->len < sizeof(m->pages) + MOAT_SNAP_PAGE || (r->len - sizeof(m->pages)) % MOAT_SNAP_PAGE))
		return mig_bad(m, err, errlen, "PAGES of %" PRIu64 " bytes: not 16 + whole pages", r->len);
	if (r->type == MOAT_SNAP_ROUND && r->len != sizeof(struct moat_snap_round))
		return mig_bad(m, err, errlen, "ROUND of %" PRIu64 " bytes, expected %zu", r->len,
			       sizeof(struct moat_snap_round));
	if (r->type == MOAT_SNAP_ERROR && (r->len == 0 || r->len > ERROR_TEXT_MAX))
		return mig_bad(m, err, errlen, "ERROR of %" PRIu64 " bytes (1 to %d)", r->len,
			       ERROR_TEXT_MAX);
	if (r->type == MOAT_SNAP_END && r->len)
		return mig_bad(m, err, errlen, "END has a body of %" PRIu64 " bytes", r->len);
	m->final |= !pre;
	if (m->final && keep_final(m, r, sizeof(*r)) < 0)
		return mig_bad(m, err, errlen, "keeping the stream: %s", strerror(errno));
	m->body_have = 0;
	m->pad_left = (8 - r->len % 8) % 8;
	m->state = r->len ? MS_BODY : MS_PAD; /* an empty record ends at once */
	return 0;
}

static long mig_pages_fixed(struct moat_mig *m, char *err, size_t errlen)
{
	memcpy(&m->pages, m->small, sizeof(m->pages));
	m->have = 0;
	uint64_t a = m->pages.addr, n = m->pages.npages;
	if (a % MOAT_SNAP_PAGE)
		return mig_bad(m, err, errlen, "PAGES at %#" PRIx64 ": not page-aligned", a);
	if (n != (m->rec.len - sizeof(m->pages)) / MOAT_SNAP_PAGE)
		return mig_bad(m, err, errlen, "PAGES says %" PRIu64 " pages in %" PRIu64 " bytes", n,
			       m->rec.len);
	if (a >= MIG_ADDR_LIMIT || n > (MIG_ADDR_LIMIT - a) / MOAT_SNAP_PAGE)
		return mig_bad(m, err, errlen, "PAGES at %#" PRIx64 " +%" PRIu64 " pages: outside the "
			       "address space", a, n);
	return 0;
}

/* n bytes of page data at 'pos' (bytes from the first page) into the
 * base, one pwrite per stretch of consecutive slots. */
static int base_put(struct moat_mig *m, const unsigned char *p, size_t n, uint64_t pos)
{
	uint64_t start_off = 0;
	const unsigned char *start = p;
	size_t len = 0;
	while (n) {
		uint64_t in = pos % MOAT_SNAP_PAGE;
		size_t k = MOAT_SNAP_PAGE - in < n ? MOAT_SNAP_PAGE - in : n;
		if (in == 0 && base_slot(m, m->pages.addr + pos, &m->cur_slot) < 0)
			return -1;
		uint64_t off = m->cur_slot * MOAT_SNAP_PAGE + in;
		if (len && start_off + len != off) {
			if (pwrite_all(m->base_fd, start, len, start_off) < 0)
				return -1;
			len = 0;
		}
		if (!len)
			start = p, start_off = off;
		len += k, p += k, n -= k, pos += k;
	}
	return len ? pwrite_all(m->base_fd, start, len, start_off) : 0;
}

/* Part of a body: where it goes depends on the record. */
static long mig_body(struct moat_mig *m, const unsigned char *p, size_t n, char *err,
		     size_t errlen)
{
	uint64_t left = m->rec.len - m->body_have;
	size_t k = left < n ? (size_t)left : n;
	switch (m->rec.type) {
	case MOAT_SNAP_PAGES:
		if (m->body_have < sizeof(m->pages)) {
			k = take(m, p, k, sizeof(m->pages));
			if (m->have == sizeof(m->pages) && mig_pages_fixed(m, err, errlen) < 0)
				return -1;
			break;
		}
		if (m->mode == MOAT_MIG_KEEP && base_put(m, p, k, m->body_have - sizeof(m->pages)) < 0)
			return mig_bad(m, err, errlen, "keeping pre-copied pages: %s",
				       errno ? strerror(errno) : "out of memory");
		m->st.precopy_bytes += k;
		break;
	case MOAT_SNAP_ROUND: case MOAT_SNAP_ERROR:
		k = take(m, p, k, (size_t)m->rec.len);
		if (m->final && keep_final(m, p, k) < 0)
			return mig_bad(m, err, errlen, "keeping the stream: %s", strerror(errno));
		break;
	default:
		if (keep_final(m, p, k) < 0)
			return mig_bad(m, err, errlen, "keeping the stream: %s", strerror(errno));
	}
	m->body_have += k;
	if (m->body_have == m->rec.len)
		m->state = MS_PAD;
	return (long)k;
}

static void mig_error_text(struct moat_mig *m)
{
	size_t n = 0, cap = sizeof(m->st.error_text);
	for (uint64_t i = 0; i < m->rec.len && n + 5 < cap; i++) {
		unsigned char c = m->small[i];
		if (c >= ' ' && c < 0x7f)
			m->st.error_text[n++] = (char)c;
		else if (c != '\n' || i + 1 < m->rec.len)
			n += (size_t)snprintf(m->st.error_text + n, cap - n, "\\x%02x", c);
	}
	m->st.error_text[n < cap ? n : cap - 1] = 0;
	m->st.error = 1;
}

/* A record is whole: its event, if any. */
static void mig_sort_base(struct moat_mig *m);

static long mig_record_end(struct moat_mig *m, int *event, char *err, size_t errlen)
{
	m->state = MS_RECHDR;
	m->have = 0;
	switch (m->rec.type) {
	case MOAT_SNAP_ROUND: {
		struct moat_snap_round r;
		memcpy(&r, m->small, sizeof(r));
		if (r.zero || r.round != m->st.rounds)
			return mig_bad(m, err, errlen, "ROUND %u where round %u ends", r.round,
				       m->st.rounds);
		m->st.round = r;
		m->st.rounds++;
		*event = MOAT_MIG_ROUND;
		mig_sort_base(m);
		break;
	}
	case MOAT_SNAP_ERROR:
		mig_error_text(m);
		break;
	case MOAT_SNAP_END:
		m->state = MS_DONE;
		*event = MOAT_MIG_END;
		break;
	}
	return 0;
}

static long mig_step(struct moat_mig *m, const unsigned char *p, size_t n, int *event,
		     char *err, size_t errlen)
{
	size_t k = 0;
	switch (m->state) {
	case MS_HEADER:
		k = take(m, p, n, sizeof(struct moat_snap_header));
		if (m->have == sizeof(struct moat_snap_header) && mig_header(m, err, errlen) < 0)
			return -1;
		break;
	case MS_RECHDR:
		k = take(m, p, n, sizeof(struct moat_snap_rec));
		if (m->have == sizeof(struct moat_snap_rec) && mig_record(m, err, errlen) < 0)
			return -1;
		break;
	case MS_BODY: {
		long r = mig_body(m, p, n, err, errlen);
		if (r < 0)
			return -1;
		k = (size_t)r;
		break;
	}
	case MS_PAD:
		for (; k < n && m->pad_left; k++, m->pad_left--)
			if (p[k])
				return mig_bad(m, err, errlen, "%s: padding is not zero",
					       type_names[m->rec.type]);
		if (m->final && keep_final(m, p, k) < 0)
			return mig_bad(m, err, errlen, "keeping the stream: %s", strerror(errno));
		break;
	case MS_DONE:
		return mig_bad(m, err, errlen, "bytes after the END record");
	case MS_FAILED:
		snprintf(err, errlen, "the stream was refused already");
		return -1;
	}
	m->st.total += k;
	m->st.final_bytes += m->final ? k : 0;
	if (m->state == MS_PAD && !m->pad_left && mig_record_end(m, event, err, errlen) < 0)
		return -1;
	return (long)k;
}

long moat_mig_feed(struct moat_mig *m, const void *buf, size_t n, int *event, char *err,
		   size_t errlen)
{
	const unsigned char *p = buf;
	size_t used = 0;
	*event = MOAT_MIG_MORE;
	if (m->state == MS_FAILED) {
		snprintf(err, errlen, "the stream was refused already");
		return -1;
	}
	while (used < n && *event == MOAT_MIG_MORE) {
		if (m->state == MS_RECHDR && m->have == 0)
			m->rec_off = m->st.total;
		long k = mig_step(m, p + used, n - used, event, err, errlen);
		if (k < 0)
			return -1;
		used += (size_t)k;
	}
	return (long)used;
}

/* ---- the merge ---- */

struct base_ent { uint64_t addr, slot; };

static int ent_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct base_ent *)a)->addr, y = ((const struct base_ent *)b)->addr;
	return x < y ? -1 : x > y;
}

/* Output by reference where possible: iovecs on the inputs' mappings,
 * small parts copied into scratch, one writev per 256 pieces. */
#define WV_MAX 256
struct wv {
	int fd, failed;
	uint64_t len;
	int n;
	size_t used;
	struct iovec iov[WV_MAX];
	unsigned char scratch[WV_MAX * 80];
};

static void wv_flush(struct wv *w)
{
	struct iovec *v = w->iov;
	int n = w->n;
	while (n > 0 && !w->failed) {
		ssize_t k = writev(w->fd, v, n > IOV_MAX ? IOV_MAX : n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			w->failed = errno ? errno : EIO;
			break;
		}
		size_t left = (size_t)k;
		for (; n > 0 && left >= v->iov_len; n--, v++)
			left -= v->iov_len;
		if (n > 0 && left) {
			v->iov_base = (char *)v->iov_base + left;
			v->iov_len -= left;
		}
	}
	w->n = 0;
	w->used = 0;
}

static void wv_ref(struct wv *w, const void *p, size_t n)
{
	if (!n)
		return;
	struct iovec *last = w->n ? &w->iov[w->n - 1] : NULL;
	if (last && (const char *)last->iov_base + last->iov_len == (const char *)p) {
		last->iov_len += n;
	} else {
		if (w->n == WV_MAX)
			wv_flush(w);
		w->iov[w->n++] = (struct iovec){ (void *)p, n };
	}
	w->len += n;
}

static void wv_copy(struct wv *w, const void *p, size_t n)
{
	if (w->n == WV_MAX || w->used + n > sizeof(w->scratch))
		wv_flush(w);
	memcpy(w->scratch + w->used, p, n);
	wv_ref(w, w->scratch + w->used, n);
	w->used += n;
}

static int page_is_zero(const unsigned char *p)
{
	for (size_t i = 0; i < MOAT_SNAP_PAGE; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		if (v)
			return 0;
	}
	return 1;
}

struct merge {
	const unsigned char *base;     /* the base memfd, mapped */
	struct base_ent *ents;         /* its addresses, ascending */
	size_t nents;
	const unsigned char **pages;   /* a region's pages with content */
	struct moat_snap_run *runs;    /* and its runs */
	size_t pcap, rcap, np, nr;
	uint64_t memory;
	int ref;                       /* moat_snap_merge_ref: base pages named, */
	uint64_t *refs;                /* each run's first base page, or INLINE */
	uint64_t nref;                 /* and how many pages the region names */
};

/* Walks the runs of a checked REGION record. */
struct run_it {
	const unsigned char *p;
	uint32_t left;
	struct moat_snap_run run;
	uint64_t k;
};

static int run_next(struct run_it *it, uint64_t *page, const unsigned char **data)
{
	while (it->k == it->run.npages) {
		if (!it->left)
			return 0;
		memcpy(&it->run, it->p, sizeof(it->run));
		it->p += sizeof(it->run);
		it->left--;
		it->k = 0;
	}
	*page = it->run.first + it->k;
	*data = it->p + it->k * MOAT_SNAP_PAGE;
	if (++it->k == it->run.npages)
		it->p += it->run.npages * MOAT_SNAP_PAGE;
	return 1;
}

/* Room for one more run (and its base reference). */
static int merge_more_runs(struct merge *g)
{
	if (g->nr < g->rcap)
		return 0;
	size_t cap = g->rcap ? 2 * g->rcap : 256;
	struct moat_snap_run *v = realloc(g->runs, cap * sizeof(*v));
	if (v)
		g->runs = v;
	uint64_t *f = v ? realloc(g->refs, cap * sizeof(*f)) : NULL;
	if (!f)
		return -1;
	g->refs = f, g->rcap = cap;
	return 0;
}

/* REF mode: page i of the region is base page 'slot', never read here
 * (its bytes are not touched: a zero page costs a run, not a scan). */
static int merge_push_ref(struct merge *g, uint64_t i, uint64_t slot)
{
	struct moat_snap_run *last = g->nr ? &g->runs[g->nr - 1] : NULL;
	g->nref++;
	if (last && g->refs[g->nr - 1] != MOAT_SNAP_REF_INLINE &&
	    last->first + last->npages == i && g->refs[g->nr - 1] + last->npages == slot) {
		last->npages++;
		return 0;
	}
	if (merge_more_runs(g) < 0)
		return -1;
	g->refs[g->nr] = slot;
	g->runs[g->nr++] = (struct moat_snap_run){ i, 1 };
	return 0;
}

/* Page index i of the region has content p (not zero): into the runs. */
static int merge_push(struct merge *g, uint64_t i, const unsigned char *p)
{
	if (page_is_zero(p))
		return 0;
	if (g->np == g->pcap) {
		size_t cap = g->pcap ? 2 * g->pcap : 1024;
		const unsigned char **v = realloc(g->pages, cap * sizeof(*v));
		if (!v)
			return -1;
		g->pages = v, g->pcap = cap;
	}
	g->pages[g->np++] = p;
	if (g->nr && g->runs[g->nr - 1].first + g->runs[g->nr - 1].npages == i &&
	    g->refs[g->nr - 1] == MOAT_SNAP_REF_INLINE) {
		g->runs[g->nr - 1].npages++;
		return 0;
	}
	if (merge_more_runs(g) < 0)
		return -1;
	g->refs[g->nr] = MOAT_SNAP_REF_INLINE;
	g->runs[g->nr++] = (struct moat_snap_run){ i, 1 };
	return 0;
}

/* The pages of a BASE region with content: its runs' and the base's
 * inside it, in ascending order, a run's page before the base's. */
static int merge_collect(struct merge *g, const struct moat_snap_region *r,
			 const unsigned char *runs)
{
	size_t lo = 0, hi = g->nents;
	while (lo < hi) { /* the first base page at or above the region */
		size_t mid = lo + (hi - lo) / 2;
		if (g->ents[mid].addr < r->addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct run_it it = { .p = runs, .left = r->nruns };
	uint64_t ri = 0, end = r->addr + r->size;
	const unsigned char *rp = NULL;
	int have_run = run_next(&it, &ri, &rp);
	g->np = g->nr = g->nref = 0;
	for (size_t b = lo;;) {
		int have_base = b < g->nents && g->ents[b].addr < end;
		uint64_t bi = have_base ? (g->ents[b].addr - r->addr) / MOAT_SNAP_PAGE : 0;
		if (!have_run && !have_base)
			return 0;
		if (have_run && (!have_base || ri <= bi)) {
			if (merge_push(g, ri, rp) < 0)
				return -1;
			b += have_base && ri == bi;
			have_run = run_next(&it, &ri, &rp);
		} else {
			if ((g->ref ? merge_push_ref(g, bi, g->ents[b].slot)
			     : merge_push(g, bi, g->base + g->ents[b].slot * MOAT_SNAP_PAGE)) < 0)
				return -1;
			b++;
		}
	}
}

static int merge_region(struct merge *g, struct wv *w, const struct moat_snap_rec *rec,
			char *err, size_t errlen)
{
	const unsigned char *body = (const unsigned char *)(rec + 1);
	struct moat_snap_region r;
	memcpy(&r, body, sizeof(r));
	const unsigned char *runs = body + sizeof(r) + r.uri_len;
	if (!(r.flags & MOAT_SNAP_REGION_BASE)) {
		/* as it is; its runs count as memory */
		const unsigned char *p = runs;
		for (uint32_t k = 0; k < r.nruns; k++) {
			struct moat_snap_run run;
			memcpy(&run, p, sizeof(run));
			g->memory += run.npages * MOAT_SNAP_PAGE;
			p += sizeof(run) + run.npages * MOAT_SNAP_PAGE;
		}
		wv_ref(w, rec, sizeof(*rec) + ((rec->len + 7) & ~7ull));
		return 0;
	}
	if (merge_collect(g, &r, runs) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	uint64_t len = sizeof(r) + r.uri_len + g->nr * sizeof(struct moat_snap_run) +
		       (g->ref ? g->nr * sizeof(uint64_t) : 0) + g->np * (uint64_t)MOAT_SNAP_PAGE;
	if (len > MOAT_SNAP_MAX_IMAGE - w->len) {
		snprintf(err, errlen, "the image would be larger than %llu bytes",
			 (unsigned long long)MOAT_SNAP_MAX_IMAGE);
		return -1;
	}
	struct moat_snap_rec out = { .type = MOAT_SNAP_REGION, .len = len };
	r.flags &= ~(uint32_t)MOAT_SNAP_REGION_BASE;
	r.flags |= g->ref ? MOAT_SNAP_REGION_REF : 0;
	r.nruns = (uint32_t)g->nr;
	if (g->nr > UINT32_MAX) {
		snprintf(err, errlen, "region %#" PRIx64 ": too many runs", r.addr);
		return -1;
	}
	wv_copy(w, &out, sizeof(out));
	wv_copy(w, &r, sizeof(r));
	wv_ref(w, body + sizeof(r), r.uri_len);
	static const unsigned char zeros[8];
	for (size_t k = 0, at = 0; k < g->nr; k++) {
		int inl = g->refs[k] == MOAT_SNAP_REF_INLINE;
		wv_copy(w, &g->runs[k], sizeof(g->runs[k]));
		if (g->ref)
			wv_copy(w, &g->refs[k], sizeof(g->refs[k]));
		for (uint64_t j = 0; inl && j < g->runs[k].npages; j++)
			wv_ref(w, g->pages[at++], MOAT_SNAP_PAGE);
	}
	wv_ref(w, zeros, (8 - len % 8) % 8);
	g->memory += (g->np + g->nref) * (uint64_t)MOAT_SNAP_PAGE;
	return 0;
}

/* The base's addresses in ascending order, from the index. */
/* The base's addresses in ascending order, brought up to date at each
 * ROUND, while the app still runs: only the slots new since the last
 * ROUND are sorted, then merged in.  The last ROUND comes before FINAL
 * (no PAGES after it), so the merge, while the app is stopped, finds it
 * done.  Without memory it is left for the merge to do whole. */
static void mig_sort_base(struct moat_mig *m)
{
	if (m->mode != MOAT_MIG_KEEP || m->nsorted == m->nslots)
		return;
	uint64_t nnew = m->nslots - m->nsorted, k = 0;
	struct base_ent *all = malloc(m->nslots * sizeof(*all));
	struct base_ent *fresh = malloc(nnew * sizeof(*fresh)); /* the new ones */
	if (!all || !fresh) {
		free(all), free(fresh), free(m->sorted);
		m->sorted = NULL, m->nsorted = 0;
		return;
	}
	for (uint64_t i = 0; i < m->cap && k < nnew; i++)
		if (m->keys[i] && m->slots[i] >= m->nsorted)
			fresh[k++] = (struct base_ent){ (m->keys[i] - 1) << 12, m->slots[i] };
	qsort(fresh, nnew, sizeof(*fresh), ent_cmp);
	uint64_t a = 0, b = 0, out = 0; /* merged with the old ones */
	while (a < m->nsorted || b < nnew)
		all[out++] = b == nnew || (a < m->nsorted && m->sorted[a].addr < fresh[b].addr)
			     ? m->sorted[a++] : fresh[b++];
	free(fresh);
	free(m->sorted);
	m->sorted = all, m->nsorted = m->nslots;
}

static int merge_index(struct moat_mig *m, struct merge *g)
{
	if (m->sorted && m->nsorted == m->nslots) { /* done at the last ROUND */
		g->ents = malloc((m->nslots ? m->nslots : 1) * sizeof(*g->ents));
		if (!g->ents)
			return -1;
		memcpy(g->ents, m->sorted, m->nslots * sizeof(*g->ents));
		g->nents = m->nslots;
		return 0;
	}
	g->ents = malloc((m->nslots ? m->nslots : 1) * sizeof(*g->ents));
	if (!g->ents)
		return -1;
	for (uint64_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			g->ents[g->nents++] = (struct base_ent){ (m->keys[i] - 1) << 12, m->slots[i] };
	qsort(g->ents, g->nents, sizeof(*g->ents), ent_cmp);
	return 0;
}

/* Write the merged image of the checked FINAL 'img' to w. */
static int merge_write(struct merge *g, struct wv *w, const unsigned char *img, size_t len,
		       uint64_t *info_off, char *err, size_t errlen)
{
	wv_ref(w, img, sizeof(struct moat_snap_header));
	size_t off = sizeof(struct moat_snap_header);
	const struct moat_snap_rec *rec;
	while ((rec = moat_snap_next(img, len, &off))) {
		if (rec->type == MOAT_SNAP_INFO)
			*info_off = w->len;
		if (rec->type == MOAT_SNAP_REGION) {
			if (merge_region(g, w, rec, err, errlen) < 0)
				return -1;
		} else {
			wv_ref(w, rec, sizeof(*rec) + ((rec->len + 7) & ~7ull));
		}
	}
	wv_ref(w, img + off, sizeof(struct moat_snap_rec)); /* END */
	wv_flush(w);
	if (!w->failed && w->len > MOAT_SNAP_MAX_IMAGE) {
		snprintf(err, errlen, "the image would be larger than %llu bytes",
			 (unsigned long long)MOAT_SNAP_MAX_IMAGE);
		return -1;
	}
	if (w->failed) {
		snprintf(err, errlen, "writing the image: %s", strerror(w->failed));
		return -1;
	}
	return 0;
}

static void *map_fd(int fd, uint64_t len)
{
	void *p = mmap(NULL, len ? len : 1, PROT_READ, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* moat_snap_merge, or with ref moat_snap_merge_ref (the base's pages
 * named, not copied: the base need not even be mapped). */
static int merge(struct moat_mig *m, int ref, int *fd, size_t *len, char *err, size_t errlen)
{
	char why[400];
	if (m->mode != MOAT_MIG_KEEP || m->state != MS_DONE) {
		snprintf(err, errlen, "the migration stream is not whole");
		return -1;
	}
	const unsigned char *img = map_fd(m->final_fd, m->final_len);
	struct merge g = { .ref = ref };
	struct wv *w = calloc(1, sizeof(*w));
	int r = -1, out = memfd_create("moat-mig-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint64_t info_off = 0;
	if (!img || !w || out < 0 || merge_index(m, &g) < 0 ||
	    (m->nslots && !ref && !(g.base = map_fd(m->base_fd, m->nslots * MOAT_SNAP_PAGE)))) {
		snprintf(err, errlen, "merging: %s", strerror(errno ? errno : ENOMEM));
		goto done;
	}
	if (check_image(img, m->final_len, 1, 0, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the final image: %s", why);
		goto done;
	}
	w->fd = out;
	if (merge_write(&g, w, img, m->final_len, &info_off, err, errlen) < 0)
		goto done;
	/* INFO's memory: now the runs of the whole image */
	if (info_off && pwrite_all(out, &g.memory, sizeof(g.memory), info_off +
				   sizeof(struct moat_snap_rec) +
				   offsetof(struct moat_snap_info, memory)) < 0) {
		snprintf(err, errlen, "writing the image: %s", strerror(errno));
		goto done;
	}
	void *merged = map_fd(out, w->len);
	if (!merged || (ref ? moat_snap_check_ref(merged, w->len, m->nslots, why, sizeof(why))
			: moat_snap_check(merged, w->len, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "the merged image: %s", merged ? why : strerror(errno));
		if (merged)
			munmap(merged, w->len ? w->len : 1);
		goto done;
	}
	munmap(merged, w->len ? w->len : 1);
	*fd = out, *len = w->len;
	out = -1;
	r = 0;
done:
	if (out >= 0)
		close(out);
	if (img)
		munmap((void *)img, m->final_len ? m->final_len : 1);
	if (g.base)
		munmap((void *)g.base, m->nslots * MOAT_SNAP_PAGE);
	free(g.ents);
	free(g.pages);
	free(g.runs);
	free(g.refs);
	free(w);
	return r;
}

int moat_snap_merge(struct moat_mig *m, int *fd, size_t *len, char *err, size_t errlen)
{
	return merge(m, 0, fd, len, err, errlen);
}

int moat_snap_merge_ref(struct moat_mig *m, int *fd, size_t *len, int *base_fd,
			uint64_t *base_pages, char *err, size_t errlen)
{
	struct stat st;
	if (merge(m, 1, fd, len, err, errlen) < 0)
		return -1;
	/* The base as the image names it: whole pages, and no byte of it
	 * changes from here on (the parser is done with it). */
	int b = fcntl(m->base_fd, F_DUPFD_CLOEXEC, 3);
	if (b < 0 || fstat(b, &st) < 0 || (uint64_t)st.st_size != m->nslots * MOAT_SNAP_PAGE ||
	    fcntl(b, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		snprintf(err, errlen, "handing the base over: %s",
			 b < 0 || errno ? strerror(errno) : "its size is not its pages'");
		if (b >= 0)
			close(b);
		close(*fd);
		*fd = -1;
		return -1;
	}
	*base_fd = b, *base_pages = m->nslots;
	return 0;
}
