/*
 * ckpt/precopy.c -- a migration's pre-copy: rounds of the app's memory
 * sent while the app runs on, by a thread of the checkpointer's own, and
 * what the final image may then leave out (moat/snapshot.h, "the
 * migration stream").
 *
 * A table maps every page address sent to the digest of the bytes sent;
 * a page goes again only when its digest has changed.  Digests, not dirty
 * bits: this host kernel keeps no soft-dirty bits, the ABI has no
 * write-protect upcall (and write-protected pages would make the host's
 * own writes into app buffers fail), while a digest costs about 20 ms per
 * 256 MiB.  A page the app changes back and forth between rounds is sent
 * again each time; the final image sends whatever differs at the stop.
 *
 * The thread reads app memory with no lock held: a range the app frees
 * meanwhile faults, and the fault lands in ck_precopy_exception, which
 * skips the page (the final image, taken with every thread stopped, is
 * what counts).
 *
 * At the stop every page must be hashed again, and that is most of the
 * downtime: so the thread, instead of leaving at the client's 'F', waits
 * for the final image to begin and hashes the app's anonymous memory
 * together with the pausing thread, chunk by chunk (see "the final
 * pass").  The pausing thread claims chunks too, so it finishes alone if
 * the helper has gone.
 */
#include "ckpt.h"

#define PC_BATCH 256                      /* pages per PAGES record at most */
#define PC_STACK (64u << 10)
#define PC_TABLE_MIN (1u << 14)           /* slots; a power of two */
#define PC_FINAL_WAIT_NS 5000000000LL     /* from the final pause to the 'F' */
#define FP_CHUNK 256                      /* pages a claim; a multiple of 64 */
#define FP_HELP_NS 2000000000LL           /* the helper waits this long for the stop */

struct pc_slot { uint64_t addr, digest; };  /* addr 0: free */

static struct pc_slot *table;
static uint64_t table_cap, table_used;
static volatile int state;                /* enum ck_mig_state */
static struct ck_out mig_out;
static uint8_t *batch;                    /* PC_BATCH pages on their way */
static uint64_t batch_addr, batch_n;
static int32_t thread_alive;              /* cleared by thread_exit */
static uint8_t thread_gs;                 /* the thread's GS base: ck_self() */
static uint8_t thread_stack[PC_STACK] __attribute__((aligned(64)));

uint64_t ck_page_digest_sse2(const void *page);
uint64_t ck_page_digest_avx2(const void *page);
static uint64_t (*digest_fn)(const void *);

/* ck_copy_page(dst, src): 4096 bytes; 0, or -1 if reading src faulted
 * (ck_precopy_exception moves the faulting rep movsq to the fixup). */
long ck_copy_page(void *dst, const void *src);
extern const char ck_copy_page_insn[], ck_copy_page_fixup[];
__asm__(".text\n"
	".globl ck_copy_page, ck_copy_page_insn, ck_copy_page_fixup\n"
	".hidden ck_copy_page, ck_copy_page_insn, ck_copy_page_fixup\n"
	".type ck_copy_page, @function\n"
	"ck_copy_page:\n"
	"	mov $512, %ecx\n"
	"ck_copy_page_insn:\n"
	"	rep movsq\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	"ck_copy_page_fixup:\n"
	"	mov $-1, %rax\n"
	"	ret\n"
	".size ck_copy_page, .-ck_copy_page\n");

/* AVX2 needs the CPU's word and the host kernel's (XCR0 saves YMM). */
static int have_avx2(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return 0;
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 6) != 6)
		return 0;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	return (b >> 5) & 1;
}

uint64_t ck_page_digest(const void *page)
{
	if (!digest_fn)
		digest_fn = have_avx2() ? ck_page_digest_avx2 : ck_page_digest_sse2;
	return digest_fn(page);
}

/* --- the table of pages sent --- */

static struct pc_slot *slot_of(uint64_t addr)
{
	uint64_t mask = table_cap - 1;
	uint64_t i = ((addr >> 12) * 0x9E3779B97F4A7C15ull >> 32) & mask;
	while (table[i].addr && table[i].addr != addr)
		i = (i + 1) & mask;
	return &table[i];
}

static int table_grow(void)
{
	uint64_t old_cap = table_cap, cap = old_cap ? old_cap * 2 : PC_TABLE_MIN;
	struct pc_slot *old = table, *fresh = ck_pages(cap * sizeof(*fresh));
	if (!fresh)
		return -1;
	table = fresh, table_cap = cap;
	for (uint64_t i = 0; i < old_cap; i++)
		if (old[i].addr)
			*slot_of(old[i].addr) = old[i];
	ck_pages_free(old, old_cap * sizeof(*old));
	return 0;
}

static int remember(uint64_t addr, uint64_t digest)
{
	if ((table_used + 1) * 2 > table_cap && table_grow() < 0)
		return -1;
	struct pc_slot *s = slot_of(addr);
	if (!s->addr)
		s->addr = addr, table_used++;
	s->digest = digest;
	return 0;
}

/* Does the base hold what a page with this digest holds? */
static int known(uint64_t addr, uint64_t digest)
{
	const struct pc_slot *s = slot_of(addr);
	return s->addr ? s->digest == digest : digest == 0;
}

static void table_forget(void)
{
	ck_pages_free(table, table_cap * sizeof(*table));
	table = NULL, table_cap = table_used = 0;
}

/* --- the final pass --- */

/* A range of anonymous memory hashed at the stop; its pages are bits
 * [first, first + npages) of fp_diff, first a multiple of FP_CHUNK so
 * that a chunk lies in one range and its bitmap words are one thread's. */
struct fp_range { uint64_t addr, npages, first; };

static struct fp_range *fp_ranges;
static uint32_t fp_nranges;
static uint64_t *fp_diff;                 /* 1: the page differs from the base */
static void *fp_block;                    /* fp_ranges and fp_diff */
static size_t fp_block_size;
static uint64_t fp_nchunks, fp_next, fp_done; /* chunks: all, claimed, hashed */
static uint32_t fp_go;                    /* 0 wait, 1 hash, 2 leave */
static int fp_ok;                         /* fp_diff is this stop's */

/* The range holding bit idx (the ranges are sorted by first). */
static const struct fp_range *fp_range_of(uint64_t idx)
{
	uint32_t lo = 0, hi = fp_nranges;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (fp_ranges[mid].first <= idx)
			lo = mid;
		else
			hi = mid;
	}
	return &fp_ranges[lo];
}

/* Claim chunks and hash their pages until none is left. */
static void fp_work(void)
{
	uint64_t k;
	while ((k = __atomic_fetch_add(&fp_next, 1, __ATOMIC_ACQ_REL)) < fp_nchunks) {
		uint64_t idx = k * FP_CHUNK;
		const struct fp_range *r = fp_range_of(idx);
		uint64_t p = idx - r->first, end = p + FP_CHUNK;
		if (end > r->npages)
			end = r->npages;
		for (; p < end; p++) {
			uint64_t addr = r->addr + p * 4096;
			if (!known(addr, ck_page_digest((const void *)addr)))
				fp_diff[(r->first + p) / 64] |= 1ull << ((r->first + p) % 64);
		}
		__atomic_fetch_add(&fp_done, 1, __ATOMIC_RELEASE);
	}
}

static void fp_release(uint32_t go)
{
	__atomic_store_n(&fp_go, go, __ATOMIC_RELEASE);
	ck_below->address_wait(&fp_go, MOAT_ADDR_WAKE, 1, 0);
}

/* The pre-copy thread after the 'F': help with the final pass, then
 * leave (at once if the stop takes no image; after FP_HELP_NS if it
 * never comes: the pausing thread then hashes alone).  A quiet thread
 * keeps its host mask in a blocking downcall, so no PAUSE or app signal
 * lands on it while it sleeps (ck_precopy_exception would end the
 * picoprocess). */
static void fp_help(void)
{
	int64_t end = ck_below->system_time(MOAT_CLOCK_MONOTONIC) + FP_HELP_NS, left;
	uint32_t go;
	while (!(go = __atomic_load_n(&fp_go, __ATOMIC_ACQUIRE)) &&
	       (left = end - ck_below->system_time(MOAT_CLOCK_MONOTONIC)) > 0)
		ck_below->address_wait(&fp_go, MOAT_ADDR_WAIT, 0, left);
	if (go == 1)
		fp_work();
}

/* Anonymous private memory readable now: what the final pass hashes.
 * Not the LibOS's data (MOAT_SNAP_IMAGE): the checkpointer itself writes
 * there until find_runs hashes it, page by page, as before. */
static int fp_eligible(const struct ck_region *r)
{
	return r->kind == MOAT_SNAP_ANON && !(r->flags & MOAT_SNAP_REGION_SHARED) && r->dirty &&
	       (r->prot & MOAT_PROT_READ);
}

/* List the ranges and the bitmap.  0, or -1 (no memory). */
static int fp_plan(void)
{
	uint32_t n = 0;
	uint64_t bits = 0;
	for (uint32_t i = 0; i < ck_nregions; i++)
		if (fp_eligible(&ck_regions[i]))
			n++, bits += (ck_regions[i].size / 4096 + FP_CHUNK - 1) / FP_CHUNK * FP_CHUNK;
	if (!n)
		return -1;
	size_t rsize = (n * sizeof(struct fp_range) + 63) & ~(size_t)63;
	fp_block_size = (rsize + bits / 8 + 4095) & ~(size_t)4095;
	if (!(fp_block = ck_pages(fp_block_size)))
		return -1;
	fp_ranges = fp_block, fp_diff = (uint64_t *)((char *)fp_block + rsize);
	fp_nranges = 0, bits = 0;
	for (uint32_t i = 0; i < ck_nregions; i++) {
		const struct ck_region *r = &ck_regions[i];
		if (!fp_eligible(r))
			continue;
		fp_ranges[fp_nranges++] = (struct fp_range){ r->addr, r->size / 4096, bits };
		bits += (r->size / 4096 + FP_CHUNK - 1) / FP_CHUNK * FP_CHUNK;
	}
	fp_nchunks = bits / FP_CHUNK;
	return 0;
}

/* The final pass, by the pausing thread with the pre-copy thread's help:
 * every thread of the app is stopped, so the pages hold still. */
static void fp_run(void)
{
	if (fp_plan() < 0) {
		fp_release(2);
		return;
	}
	__atomic_store_n(&fp_next, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&fp_done, 0, __ATOMIC_RELAXED);
	fp_release(1);
	fp_work();
	while (__atomic_load_n(&fp_done, __ATOMIC_ACQUIRE) < fp_nchunks)
		ck_below->thread_yield(); /* the helper is in its last chunk */
	fp_ok = 1;
}

/* The final pass's word on the page at addr: 1 same, 0 differs, -1 not
 * hashed by it. */
static int fp_same(uint64_t addr)
{
	if (!fp_ok || addr < fp_ranges[0].addr)
		return -1;
	uint32_t lo = 0, hi = fp_nranges;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (fp_ranges[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	const struct fp_range *r = &fp_ranges[lo];
	if (addr >= r->addr + r->npages * 4096)
		return -1;
	uint64_t b = r->first + (addr - r->addr) / 4096;
	return !(fp_diff[b / 64] >> (b % 64) & 1);
}

static void fp_forget(void)
{
	if (__atomic_load_n(&fp_go, __ATOMIC_ACQUIRE) == 0)
		fp_release(2); /* no final pass: the helper leaves */
	if (fp_block)
		ck_pages_free(fp_block, fp_block_size);
	fp_block = NULL, fp_ranges = NULL, fp_diff = NULL, fp_nranges = 0, fp_ok = 0;
}

/* --- rounds --- */

static int flush(void)
{
	if (!batch_n)
		return 0;
	struct moat_snap_pages p = { .addr = batch_addr, .npages = batch_n };
	ck_put_rec(&mig_out, MOAT_SNAP_PAGES, sizeof(p) + batch_n * 4096);
	ck_put(&mig_out, &p, sizeof(p));
	ck_put(&mig_out, batch, batch_n * 4096);
	batch_n = 0;
	return mig_out.failed ? -1 : 0;
}

/* Copy the page at addr into the batch; keep it there if it differs
 * from what was sent last.  0 or -1 (the stream failed, no memory). */
static int offer_page(uint64_t addr, uint64_t *sent)
{
	if (batch_n && (batch_n == PC_BATCH || batch_addr + batch_n * 4096 != addr) &&
	    flush() < 0)
		return -1;
	uint8_t *slot = batch + batch_n * 4096;
	if (ck_copy_page(slot, (const void *)addr) < 0)
		return 0; /* gone meanwhile */
	uint64_t d = ck_page_digest(slot);
	if (known(addr, d))
		return 0;
	if (remember(addr, d) < 0)
		return -1;
	if (!batch_n)
		batch_addr = addr;
	batch_n++;
	(*sent)++;
	return 0;
}

/* The memory a round looks at: private anonymous memory and the LibOS's
 * data, readable now.  File mappings and shared memory go in the final
 * image, as in a checkpoint. */
static int eligible(const struct ck_region *r)
{
	return (r->kind == MOAT_SNAP_ANON || r->kind == MOAT_SNAP_IMAGE) &&
	       !(r->flags & MOAT_SNAP_REGION_SHARED) && r->dirty && (r->prot & MOAT_PROT_READ);
}

/* The next eligible range at or after cursor (regions are sorted). */
static int next_range(uint64_t cursor, uint64_t *start, uint64_t *end)
{
	int found = 0;
	ck_lock();
	for (uint32_t i = 0; i < ck_nregions && !found; i++) {
		const struct ck_region *r = &ck_regions[i];
		if (r->addr + r->size <= cursor || !eligible(r))
			continue;
		*start = r->addr > cursor ? r->addr : cursor;
		*end = r->addr + r->size;
		found = 1;
	}
	ck_unlock();
	return found;
}

static int one_round(uint32_t round)
{
	int64_t t0 = ck_below->system_time(MOAT_CLOCK_MONOTONIC);
	uint64_t cursor = 0, start, end, sent = 0, scanned = 0;
	while (next_range(cursor, &start, &end)) {
		for (uint64_t a = start; a < end; a += 4096, scanned++)
			if (offer_page(a, &sent) < 0)
				return -1;
		cursor = end;
	}
	if (flush() < 0)
		return -1;
	struct moat_snap_round r = {
		.round = round, .pages = sent, .scanned = scanned,
		.ns = (uint64_t)(ck_below->system_time(MOAT_CLOCK_MONOTONIC) - t0),
	};
	ck_put_rec(&mig_out, MOAT_SNAP_ROUND, sizeof(r));
	ck_put(&mig_out, &r, sizeof(r));
	return mig_out.failed ? -1 : 0;
}

static char client_says(void)
{
	char c = 0;
	long r;
	do
		r = ck_below->stream_read(mig_out.h, MOAT_OFFSET_STREAM, &c, 1);
	while (r == -MOAT_EINTR);
	return r == 1 ? c : MOAT_SNAP_ROUND_ABORT;
}

/* The pre-copy thread: rounds until the client says final (the stream
 * is then the coordinator's) or abort (the app goes on as if nothing). */
static _Noreturn void precopy_main(void)
{
	ck_below->segment_base_set(MOAT_SEGMENT_GS, (uint64_t)&thread_gs);
	for (uint32_t round = 0; one_round(round) == 0; round++) {
		char c = client_says();
		if (c == MOAT_SNAP_ROUND_AGAIN)
			continue;
		if (c == MOAT_SNAP_ROUND_FINAL) {
			__atomic_store_n(&state, CK_MIG_FINAL, __ATOMIC_SEQ_CST);
			fp_help();
			ck_below->thread_exit(&thread_alive);
		}
		break;
	}
	ck_below->object_close(mig_out.h);
	table_forget();
	__atomic_store_n(&state, CK_MIG_NONE, __ATOMIC_SEQ_CST);
	ck_below->thread_exit(&thread_alive);
	__builtin_unreachable();
}

int ck_precopy_thread(void *arg)
{
	if (arg != (void *)&thread_gs)
		return 0;
	precopy_main();
}

int ck_precopy_start(const struct ck_out *o)
{
	if (__atomic_load_n(&thread_alive, __ATOMIC_SEQ_CST))
		return -1; /* the last migration's thread is still leaving */
	if (!batch && !(batch = ck_pages(PC_BATCH * 4096)))
		return -1;
	table_forget();
	if (table_grow() < 0)
		return -1;
	mig_out = *o;
	batch_n = 0;
	fp_forget();
	fp_go = 0, fp_done = fp_next = fp_nchunks = 0;
	__atomic_store_n(&state, CK_MIG_PRECOPY, __ATOMIC_SEQ_CST);
	__atomic_store_n(&thread_alive, 1, __ATOMIC_SEQ_CST);
	long h = ck_below->thread_create(&thread_gs, thread_stack, PC_STACK, MOAT_THREAD_QUIET);
	if (h < 0) {
		__atomic_store_n(&thread_alive, 0, __ATOMIC_SEQ_CST);
		__atomic_store_n(&state, CK_MIG_NONE, __ATOMIC_SEQ_CST);
		table_forget();
		return -1;
	}
	ck_below->object_close((moat_handle)h); /* the thread goes on */
	return 0;
}

enum ck_mig_state ck_mig_state(void)
{
	return (enum ck_mig_state)__atomic_load_n(&state, __ATOMIC_SEQ_CST);
}

int ck_mig_final(struct ck_out *o)
{
	int64_t end = ck_below->system_time(MOAT_CLOCK_MONOTONIC) + PC_FINAL_WAIT_NS;
	while (ck_mig_state() == CK_MIG_PRECOPY &&
	       ck_below->system_time(MOAT_CLOCK_MONOTONIC) < end)
		ck_below->thread_delay(1000000);
	if (ck_mig_state() != CK_MIG_FINAL)
		return 0;
	*o = mig_out;
	return 1;
}

int ck_mig_same(uint64_t addr)
{
	if (!fp_ok && fp_go == 0)
		fp_run(); /* the first page asked: all at once, on two threads */
	int same = fp_same(addr);
	return same >= 0 ? same : known(addr, ck_page_digest((const void *)addr));
}

void ck_mig_end(void)
{
	fp_forget();
	table_forget();
	__atomic_store_n(&state, CK_MIG_NONE, __ATOMIC_SEQ_CST);
}

int ck_precopy_exception(struct moat_exception *e)
{
	if (ck_self() != (uint64_t)&thread_gs)
		return 0;
	if (e->kind == MOAT_EXC_MEMFAULT && e->ctx &&
	    e->ctx->rip == (uint64_t)ck_copy_page_insn) {
		e->ctx->rip = (uint64_t)ck_copy_page_fixup;
		return 1;
	}
	ck_say("moat: checkpoint: ", "the pre-copy thread failed; the picoprocess ends", "", "");
	ck_below->process_exit(0, 11);
	return 1;
}
