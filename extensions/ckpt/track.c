/*
 * ckpt/track.c -- what the layers above made through the ABI: memory
 * ranges, handles and their state, timers, threads and children.  Each
 * wrapper calls down first and records only what succeeded.
 *
 * Locking: one spin lock, held only while a table changes and never
 * across a call below.  The exception upcall may run on a thread that
 * holds it (a host signal in the middle of a wrapper), so the upcall path
 * takes it only for a thread that was in app code (stop.c), which holds
 * no lock of ours.
 */
#include "ckpt.h"

struct ck_handle ck_handles[CK_MAX_HANDLES];
struct ck_region ck_regions[CK_MAX_REGIONS];
uint32_t ck_nregions;
int32_t ck_live_threads = 1;
int32_t ck_children;
int ck_is_forked_child;
uint32_t ck_generation;
struct ck_timer ck_timers[3];

static volatile int lock_word;
static volatile uint64_t lock_owner;

/* The thread's identity: its GS base, which the LibOS points at its
 * per-thread record (0 only in the first thread before the LibOS set it,
 * when there is no other thread). */
uint64_t ck_self(void)
{
	uint64_t v;
	__asm__ volatile("rdgsbase %0" : "=r"(v));
	return v;
}

/* 0 once held; -1 if this very thread holds it already (a host signal's
 * upcall came in the middle of a wrapper): the caller then records
 * nothing, and the checkpoint is refused (tracking_lost). */
int ck_lock(void)
{
	uint64_t me = ck_self();
	if (me && __atomic_load_n(&lock_owner, __ATOMIC_SEQ_CST) == me) {
		ck_lost("a table update nested in a signal");
		return -1;
	}
	while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
		ck_below->thread_yield();
	__atomic_store_n(&lock_owner, me, __ATOMIC_SEQ_CST);
	return 0;
}

void ck_unlock(void)
{
	__atomic_store_n(&lock_owner, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
}

static const char *lost_why;

void ck_lost(const char *why)
{
	if (!lost_why)
		lost_why = why;
}

const char *ck_tracking_lost(void)
{
	return lost_why;
}

void *ck_pages(size_t size)
{
	long r = ck_below->vm_alloc(0, size, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
	return r < 0 ? NULL : (void *)r;
}

void ck_pages_free(void *p, size_t size)
{
	if (p)
		ck_below->vm_free(p, size);
}

/* Strings: a power-of-two class allocator on pages of our own, so that
 * URIs of any length (up to MOAT_URI_MAX) cost what they need. */
#define NCLASSES 8 /* 32 .. 4096 bytes */
static void *free_lists[NCLASSES];

static int class_of(size_t n)
{
	int c = 0;
	while ((32u << c) < n)
		c++;
	return c;
}

char *ck_strdup(const char *s)
{
	size_t n = strnlen(s, MOAT_URI_MAX - 1) + 1;
	int c = class_of(n + 1);
	size_t sz = 32u << c;
	char *p = free_lists[c];
	if (p) {
		free_lists[c] = *(void **)p;
	} else {
		char *chunk = ck_pages(65536);
		if (!chunk)
			return NULL;
		for (size_t off = sz; off + sz <= 65536; off += sz) {
			*(void **)(chunk + off) = free_lists[c];
			free_lists[c] = chunk + off;
		}
		p = chunk;
	}
	p[0] = (char)c; /* the class, in front of the text */
	memcpy(p + 1, s, n - 1);
	p[n] = 0;
	return p + 1;
}

void ck_strfree(char *s)
{
	if (!s)
		return;
	char *p = s - 1;
	int c = p[0];
	*(void **)p = free_lists[c];
	free_lists[c] = p;
}

/* --- regions: sorted, disjoint --- */

static uint32_t region_find(uint64_t addr) /* first region ending after addr */
{
	uint32_t lo = 0, hi = ck_nregions;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (ck_regions[mid].addr + ck_regions[mid].size <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int region_insert(uint32_t at, const struct ck_region *r)
{
	if (ck_nregions == CK_MAX_REGIONS) {
		ck_lost("more memory ranges than the checkpointer tracks (8192)");
		return -1;
	}
	memmove(&ck_regions[at + 1], &ck_regions[at],
		(ck_nregions - at) * sizeof(ck_regions[0]));
	ck_regions[at] = *r;
	ck_nregions++;
	return 0;
}

static void region_drop(uint32_t at)
{
	ck_strfree(ck_regions[at].uri);
	memmove(&ck_regions[at], &ck_regions[at + 1],
		(ck_nregions - at - 1) * sizeof(ck_regions[0]));
	ck_nregions--;
}

/* Split the region holding 'addr' so that one starts there. */
static void region_split(uint64_t addr)
{
	uint32_t i = region_find(addr);
	if (i == ck_nregions || ck_regions[i].addr >= addr)
		return;
	struct ck_region tail = ck_regions[i];
	uint64_t cut = addr - tail.addr;
	ck_regions[i].size = cut;
	tail.addr = addr;
	tail.size -= cut;
	if (tail.kind == MOAT_SNAP_FILE)
		tail.offset += cut;
	if (tail.uri)
		tail.uri = ck_strdup(tail.uri);
	region_insert(i + 1, &tail);
}

void ck_region_remove(uint64_t addr, uint64_t size)
{
	uint64_t end = addr + ((size + 4095) & ~4095ULL);
	region_split(addr);
	region_split(end);
	uint32_t i = region_find(addr);
	while (i < ck_nregions && ck_regions[i].addr < end)
		region_drop(i);
}

void ck_region_add(uint64_t addr, uint64_t size, uint32_t prot, uint32_t kind,
		   uint32_t flags, const char *uri, uint64_t offset)
{
	size = (size + 4095) & ~4095ULL;
	ck_region_remove(addr, size); /* a fixed mapping replaces */
	struct ck_region r = {
		.addr = addr, .size = size, .prot = prot, .kind = kind, .flags = flags,
		.dirty = kind == MOAT_SNAP_IMAGE || (prot & MOAT_PROT_WRITE) != 0,
		.offset = offset, .uri = uri ? ck_strdup(uri) : NULL,
	};
	region_insert(region_find(addr), &r);
}

void ck_region_protect(uint64_t addr, uint64_t size, uint32_t prot)
{
	uint64_t end = addr + ((size + 4095) & ~4095ULL);
	region_split(addr);
	region_split(end);
	for (uint32_t i = region_find(addr); i < ck_nregions && ck_regions[i].addr < end; i++) {
		ck_regions[i].prot = prot;
		if (prot & MOAT_PROT_WRITE)
			ck_regions[i].dirty = 1;
	}
}

/* --- handles --- */

int32_t ck_self_pid = 1;

moat_handle ck_real(moat_handle v)
{
	if (v < 0 || v >= CK_MAX_HANDLES)
		return MOAT_NO_HANDLE;
	const struct ck_handle *c = &ck_handles[v];
	uint8_t t = __atomic_load_n(&c->type, __ATOMIC_ACQUIRE);
	return t == CK_H_FREE || t == CK_H_CLAIMED ? MOAT_NO_HANDLE : c->real;
}

/* One past the highest slot ever given a type: the checkpoint's walks of
 * the table stop there.  Walking all CK_MAX_HANDLES slots (1.1 MiB) made
 * a first checkpoint fault in ~290 pages of zeros, ~10 us each. */
static uint32_t handles_top = 3;

uint32_t ck_handles_top(void)
{
	return __atomic_load_n(&handles_top, __ATOMIC_ACQUIRE);
}

static void raise_top(long v)
{
	uint32_t top = __atomic_load_n(&handles_top, __ATOMIC_RELAXED);
	while ((uint32_t)v >= top &&
	       !__atomic_compare_exchange_n(&handles_top, &top, (uint32_t)v + 1, 1,
					    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		;
}

/* Take slot v if free: lock-free, since a wrapper nested in a signal's
 * upcall must still give its handle a number. */
static int claim(long v)
{
	uint8_t free_ = CK_H_FREE;
	if (!__atomic_compare_exchange_n(&ck_handles[v].type, &free_, CK_H_CLAIMED, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return 0;
	raise_top(v);
	return 1;
}

long ck_handle_new(long r)
{
	long v = -1;
	if (r >= 0 && r < CK_MAX_HANDLES && claim(r))
		v = r;
	for (long k = 3; v < 0 && k < CK_MAX_HANDLES; k++)
		if (claim(k))
			v = k;
	if (v < 0) {
		ck_below->object_close((moat_handle)r);
		return -MOAT_EMFILE;
	}
	ck_handles[v].real = (int32_t)r;
	ck_handles[v].uri = NULL;
	ck_handles[v].object = 0;
	__atomic_store_n(&ck_handles[v].type, CK_H_OPAQUE, __ATOMIC_RELEASE);
	return v;
}

void ck_handle_bind(long v, long r)
{
	if (v < 0 || v >= CK_MAX_HANDLES)
		return;
	ck_handles[v] = (struct ck_handle){ .type = CK_H_OPAQUE, .real = (int32_t)r };
	raise_top(v);
}

uint64_t ck_object_id(void)
{
	static uint64_t salt, next;
	if (!salt || (uint32_t)next == 0) {
		ck_below->random_bits(&salt, sizeof(salt));
		salt |= 1;
		next = 1;
	}
	/* even: a pair's ends are id (read, or the first) and id | 1 */
	return (salt + (__atomic_fetch_add(&next, 1, __ATOMIC_SEQ_CST) << 1)) & ~1ULL;
}

int ck_pushback(long h, const char *buf, uint64_t len)
{
	struct ck_handle *c = &ck_handles[h];
	uint64_t cap = (len + 4095) & ~4095ULL;
	char *p = ck_pages(cap);
	if (!p)
		return -1;
	memcpy(p, buf, len);
	if (c->pushback)
		ck_pages_free(c->pushback, c->pb_cap);
	c->pushback = p, c->pb_len = len, c->pb_off = 0, c->pb_cap = cap;
	return 0;
}

static void pushback_drop(struct ck_handle *c)
{
	if (c->pushback)
		ck_pages_free(c->pushback, c->pb_cap);
	c->pushback = NULL;
	c->pb_len = c->pb_off = c->pb_cap = 0;
}

/* Forget what slot h described; it keeps its real handle. */
static void forget(long h)
{
	struct ck_handle *c = &ck_handles[h];
	pushback_drop(c);
	if (c->uri && c->uri != c->uri_inline)
		ck_strfree(c->uri);
	c->uri = NULL;
}

void ck_handle_clear(long h)
{
	if (h < 0 || h >= CK_MAX_HANDLES)
		return;
	forget(h);
	__atomic_store_n(&ck_handles[h].type, CK_H_FREE, __ATOMIC_RELEASE);
}

void ck_handle_stream(long h, uint32_t origin, const char *uri, uint32_t access,
		      uint32_t options, int32_t peer)
{
	if (h < 0 || h >= CK_MAX_HANDLES)
		return;
	forget(h);
	raise_top(h);
	struct ck_handle *c = &ck_handles[h];
	c->type = CK_H_STREAM;
	c->origin = (uint8_t)origin;
	c->access = access;
	c->options = options & ~(MOAT_OPEN_CREATE | MOAT_OPEN_EXCL | MOAT_OPEN_TRUNCATE);
	c->peer = peer;
	c->kind = 0;
	size_t n = uri ? strlen(uri) : 0;
	if (n < CK_URI_INLINE) {
		memcpy(c->uri_inline, uri ? uri : "", n + 1);
		c->uri = c->uri_inline;
	} else {
		c->uri = ck_strdup(uri);
		if (!c->uri)
			ck_lost("no memory for a stream's name");
	}
}

void ck_handle_set(long h, uint32_t type, uint32_t a, uint32_t b)
{
	if (h < 0 || h >= CK_MAX_HANDLES)
		return;
	forget(h);
	raise_top(h);
	struct ck_handle *c = &ck_handles[h];
	c->a = a, c->b = b, c->object = 0;
	c->type = (uint8_t)type;
}

/* --- the wrappers --- */

static struct moat_abi table;

static long w_thread_create(void *arg, void *stack, size_t size, uint32_t flags)
{
	long r = ck_below->thread_create(arg, stack, size, flags);
	if (r < 0)
		return r;
	__atomic_add_fetch(&ck_live_threads, 1, __ATOMIC_SEQ_CST);
	long v = ck_handle_new(r);
	if (v >= 0 && ck_lock() == 0) {
		ck_handle_set(v, CK_H_THREAD, 0, 0);
		ck_unlock();
	}
	return v;
}

static void w_thread_exit(int32_t *clear_word)
{
	__atomic_sub_fetch(&ck_live_threads, 1, __ATOMIC_SEQ_CST);
	ck_below->thread_exit(clear_word);
	__builtin_unreachable();
}

/* Semaphores and events: only their kind is recorded here.  Their state
 * is read at the stop (image.c), when no thread is in a set or a wait:
 * tracking it call by call would race a waker against a waiter. */
static long w_semaphore_create(uint32_t initial, uint32_t max)
{
	long r = ck_below->semaphore_create(initial, max);
	long v = r < 0 ? r : ck_handle_new(r);
	if (v >= 0 && ck_lock() == 0) {
		ck_handle_set(v, CK_H_SEM, initial, max);
		ck_unlock();
	}
	return v;
}

static long w_event_create(uint32_t kind, uint32_t set)
{
	long r = ck_below->event_create(kind, set);
	long v = r < 0 ? r : ck_handle_new(r);
	if (v >= 0 && ck_lock() == 0) {
		ck_handle_set(v, CK_H_EVENT, kind, set != 0);
		ck_unlock();
	}
	return v;
}

static long w_vm_alloc(void *addr, size_t size, uint32_t prot, uint32_t flags)
{
	long r = ck_below->vm_alloc(addr, size, prot, flags);
	if (r >= 0) {
		if (ck_lock() < 0)
			return r;
		ck_region_add((uint64_t)r, size, prot, MOAT_SNAP_ANON,
			      flags & MOAT_MAP_SHARED ? MOAT_SNAP_REGION_SHARED : 0, NULL, 0);
		ck_unlock();
	}
	return r;
}

/* After a successful vm_free or stream_unmap (the same to the host). */
static long untracked(long r, void *addr, size_t size)
{
	if (r >= 0 && ck_lock() == 0) {
		ck_region_remove((uint64_t)addr, size);
		ck_unlock();
	}
	return r;
}

static long w_vm_free(void *addr, size_t size)
{
	return untracked(ck_below->vm_free(addr, size), addr, size);
}

static long w_vm_protect(void *addr, size_t size, uint32_t prot)
{
	long r = ck_below->vm_protect(addr, size, prot);
	if (r >= 0) {
		if (ck_lock() < 0)
			return r;
		ck_region_protect((uint64_t)addr, size, prot);
		ck_unlock();
	}
	return r;
}

static long w_stream_map(moat_handle h, void *addr, uint64_t off, size_t size,
			 uint32_t prot, uint32_t flags)
{
	long r = ck_below->stream_map(ck_real(h), addr, off, size, prot, flags);
	if (r >= 0) {
		if (ck_lock() < 0)
			return r;
		const char *uri = h >= 0 && h < CK_MAX_HANDLES && ck_handles[h].type == CK_H_STREAM ?
					  ck_handles[h].uri : "";
		ck_region_add((uint64_t)r, size, prot, MOAT_SNAP_FILE,
			      flags & MOAT_MAP_SHARED ? MOAT_SNAP_REGION_SHARED : 0, uri, off);
		ck_unlock();
	}
	return r;
}

static long w_stream_unmap(void *addr, size_t size)
{
	return untracked(ck_below->stream_unmap(addr, size), addr, size);
}

static long w_stream_open(const char *uri, uint32_t access, uint32_t options, uint32_t mode)
{
	long r = ck_below->stream_open(uri, access, options, mode);
	if (r < 0 || (options & MOAT_OPEN_MKDIR))
		return r;
	long v = ck_handle_new(r);
	if (v >= 0 && ck_lock() == 0) {
		ck_handle_stream(v, MOAT_SNAP_OPENED, uri, access, options, -1);
		ck_unlock();
	}
	return v;
}

static long w_stream_pipe(moat_handle *rd, moat_handle *wr, uint32_t flags)
{
	moat_handle r_rd, r_wr;
	long r = ck_below->stream_pipe(&r_rd, &r_wr, flags);
	if (r < 0)
		return r;
	long v_rd = ck_handle_new(r_rd);
	long v_wr = v_rd < 0 ? (ck_below->object_close(r_wr), -1) : ck_handle_new(r_wr);
	if (v_wr < 0) {
		if (v_rd >= 0)
			ck_below->object_close(r_rd), ck_handle_clear(v_rd);
		return -MOAT_EMFILE;
	}
	*rd = (moat_handle)v_rd, *wr = (moat_handle)v_wr;
	int duplex = (flags & MOAT_PIPE_DUPLEX) != 0;
	if (ck_lock() < 0)
		return r;
	uint64_t id = ck_object_id();
	ck_handle_stream(v_rd, duplex ? MOAT_SNAP_DUPLEX : MOAT_SNAP_PIPE_READ, "",
			 duplex ? MOAT_ACCESS_RDWR : MOAT_ACCESS_READ, 0, (int32_t)v_wr);
	ck_handle_stream(v_wr, duplex ? MOAT_SNAP_DUPLEX : MOAT_SNAP_PIPE_WRITE, "",
			 duplex ? MOAT_ACCESS_RDWR : MOAT_ACCESS_WRITE, 0, (int32_t)v_rd);
	ck_handles[v_rd].object = id;
	ck_handles[v_wr].object = id | 1;
	ck_unlock();
	return r;
}

static long w_stream_wait_for_client(moat_handle h, uint32_t nonblock, char *peer, size_t len)
{
	long r = ck_below->stream_wait_for_client(ck_real(h), nonblock, peer, len);
	long v = r < 0 ? r : ck_handle_new(r);
	if (v >= 0 && ck_lock() == 0) {
		ck_handle_stream(v, MOAT_SNAP_CLOSED, "", MOAT_ACCESS_RDWR, 0, -1);
		ck_unlock();
	}
	return v;
}

static long w_object_close(moat_handle h)
{
	moat_handle real = ck_real(h);
	if (real == MOAT_NO_HANDLE)
		return -MOAT_EBADF;
	long r = ck_below->object_close(real);
	if (r < 0)
		return r;
	if (ck_lock() < 0) {
		__atomic_store_n(&ck_handles[h].type, CK_H_FREE, __ATOMIC_RELEASE);
		return r;
	}
	int32_t p = ck_handles[h].type == CK_H_STREAM ? ck_handles[h].peer : -1;
	if (p >= 0 && p < CK_MAX_HANDLES && ck_handles[p].type == CK_H_STREAM &&
	    ck_handles[p].peer == h)
		ck_handles[p].peer = -1;
	ck_handle_clear(h);
	ck_unlock();
	return r;
}

/* --- the calls that only name handles: the real one goes below --- */

static long w_thread_resume(moat_handle h)
{
	return ck_below->thread_resume(ck_real(h));
}

static long w_semaphore_release(moat_handle h, uint32_t n)
{
	return ck_below->semaphore_release(ck_real(h), n);
}

static long w_event_set(moat_handle h)
{
	return ck_below->event_set(ck_real(h));
}

static long w_event_clear(moat_handle h)
{
	return ck_below->event_clear(ck_real(h));
}

/* Does handle h hold bytes given back after a checkpoint? */
static int pushed_back(moat_handle h)
{
	return h >= 0 && h < CK_MAX_HANDLES && ck_handles[h].type == CK_H_STREAM &&
	       ck_handles[h].pushback;
}

static long w_objects_wait_any(uint32_t count, const moat_handle *hs, int64_t timeout)
{
	moat_handle real[64];
	if (count == 0 || count > 64)
		return ck_below->objects_wait_any(count, hs, timeout);
	for (uint32_t i = 0; i < count; i++) {
		if (pushed_back(hs[i]))
			return i; /* readable now */
		real[i] = ck_real(hs[i]);
	}
	return ck_below->objects_wait_any(count, real, timeout);
}

static long w_stream_read(moat_handle h, uint64_t off, void *buf, size_t len)
{
	if (pushed_back(h) && ck_lock() == 0) {
		struct ck_handle *c = &ck_handles[h];
		uint64_t n = 0;
		if (c->pushback) {
			n = c->pb_len - c->pb_off < len ? c->pb_len - c->pb_off : len;
			memcpy(buf, c->pushback + c->pb_off, n);
			c->pb_off += n;
			if (c->pb_off == c->pb_len)
				pushback_drop(c);
		}
		ck_unlock();
		if (n)
			return (long)n;
	}
	return ck_below->stream_read(ck_real(h), off, buf, len);
}

static long w_stream_write(moat_handle h, uint64_t off, const void *buf, size_t len)
{
	return ck_below->stream_write(ck_real(h), off, buf, len);
}

static long w_stream_set_length(moat_handle h, uint64_t len)
{
	return ck_below->stream_set_length(ck_real(h), len);
}

static long w_stream_flush(moat_handle h)
{
	return ck_below->stream_flush(ck_real(h));
}

static long w_stream_attr_query_by_handle(moat_handle h, struct moat_attr *at)
{
	return ck_below->stream_attr_query_by_handle(ck_real(h), at);
}

static long w_stream_shutdown(moat_handle h, uint32_t how)
{
	return ck_below->stream_shutdown(ck_real(h), how);
}

static long w_stream_lock(moat_handle h, uint32_t op, uint32_t type, uint64_t *start,
			  uint64_t *len, int32_t *pid)
{
	return ck_below->stream_lock(ck_real(h), op, type, start, len, pid);
}

struct ck_kid ck_kids[MOAT_SNAP_MAX_CHILDREN];
uint32_t ck_nkids;

static void kid_drop(uint32_t i)
{
	ck_kids[i] = ck_kids[--ck_nkids];
}

static long w_process_fork(int32_t *self_pid)
{
	long r = ck_below->process_fork(self_pid);
	if (r > 0) {
		__atomic_add_fetch(&ck_children, 1, __ATOMIC_SEQ_CST);
		if (ck_lock() == 0) {
			if (ck_nkids < MOAT_SNAP_MAX_CHILDREN)
				ck_kids[ck_nkids++] = (struct ck_kid){ .pid = (int32_t)r };
			ck_unlock();
		}
	} else if (r == 0) {
		ck_is_forked_child = 1, ck_children = 0, ck_nkids = 0, ck_live_threads = 1;
		ck_self_pid = *self_pid;
	}
	return r;
}

/* A child the checkpointer reaped that 'pid' (as wait4's) asks for:
 * its pid, with *status; else 0.  Group waits take any: the group of a
 * child that ended is not known any more. */
static long kid_reaped(int32_t pid, int32_t *status)
{
	long found = 0;
	if (!ck_nkids || ck_lock() < 0)
		return 0;
	for (uint32_t i = 0; i < ck_nkids && !found; i++) {
		if (!ck_kids[i].ended || (pid > 0 && ck_kids[i].pid != pid))
			continue;
		found = ck_kids[i].pid;
		if (status)
			*status = ck_kids[i].status;
		kid_drop(i);
	}
	ck_unlock();
	if (found)
		__atomic_sub_fetch(&ck_children, 1, __ATOMIC_SEQ_CST);
	return found;
}

static long w_process_wait(int32_t pid, uint32_t options, int32_t *status)
{
	long k = kid_reaped(pid, status);
	if (k)
		return k;
	long r = ck_below->process_wait(pid, options, status);
	if (r > 0) {
		__atomic_sub_fetch(&ck_children, 1, __ATOMIC_SEQ_CST);
		if (ck_lock() == 0) {
			for (uint32_t i = 0; i < ck_nkids; i++)
				if (ck_kids[i].pid == r) {
					kid_drop(i);
					break;
				}
			ck_unlock();
		}
	}
	return r;
}

static long w_timer_set(uint32_t which, uint64_t value, uint64_t interval,
			uint64_t *old_value, uint64_t *old_interval)
{
	long r = ck_below->timer_set(which, value, interval, old_value, old_interval);
	if (r >= 0 && which < 3) {
		ck_timers[which].armed = value != 0;
		ck_timers[which].value_ns = value;
		ck_timers[which].interval_ns = interval;
	}
	return r;
}

/* CLOCK_MONOTONIC as the layers above see it: on resume it goes on from
 * where the checkpoint stopped it (restore.c sets the offset), so it
 * never runs backwards on another host and does not count the time the
 * picoprocess was not running, as across a laptop's suspend. */
int64_t ck_mono_offset;

static long w_system_time(uint32_t clock)
{
	long r = ck_below->system_time(clock);
	return clock == MOAT_CLOCK_MONOTONIC && r >= 0 ? r + ck_mono_offset : r;
}

const struct moat_abi *ck_track_table(const struct moat_abi *below)
{
	table = *below;
	for (int h = 0; h < 3; h++)
		ck_handles[h] = (struct ck_handle){ .type = CK_H_BOOT, .real = h };
	table.thread_create = w_thread_create;
	table.thread_exit = w_thread_exit;
	table.semaphore_create = w_semaphore_create;
	table.event_create = w_event_create;
	table.vm_alloc = w_vm_alloc;
	table.vm_free = w_vm_free;
	table.vm_protect = w_vm_protect;
	table.stream_map = w_stream_map;
	table.stream_unmap = w_stream_unmap;
	table.stream_open = w_stream_open;
	table.stream_pipe = w_stream_pipe;
	table.stream_wait_for_client = w_stream_wait_for_client;
	table.object_close = w_object_close;
	table.process_fork = w_process_fork;
	table.thread_resume = w_thread_resume;
	table.semaphore_release = w_semaphore_release;
	table.event_set = w_event_set;
	table.event_clear = w_event_clear;
	table.objects_wait_any = w_objects_wait_any;
	table.stream_read = w_stream_read;
	table.stream_write = w_stream_write;
	table.stream_set_length = w_stream_set_length;
	table.stream_flush = w_stream_flush;
	table.stream_attr_query_by_handle = w_stream_attr_query_by_handle;
	table.stream_shutdown = w_stream_shutdown;
	table.stream_lock = w_stream_lock;
	table.process_wait = w_process_wait;
	table.timer_set = w_timer_set;
	table.system_time = w_system_time;
	return &table;
}
