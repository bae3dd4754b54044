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
 */
#include "ckpt.h"

#define PC_BATCH 256                      /* pages per PAGES record at most */
#define PC_STACK (64u << 10)
#define PC_TABLE_MIN (1u << 14)           /* slots; a power of two */
#define PC_FINAL_WAIT_NS 5000000000LL     /* from the final pause to the 'F' */

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
	return known(addr, ck_page_digest((const void *)addr));
}

void ck_mig_end(void)
{
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
