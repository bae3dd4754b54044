/*
 * ckpt/stop.c -- stopping every thread at a point where its whole state
 * is its app context plus memory, and letting it go again.
 *
 * The monitor raises PAUSE on every thread (abi.h).  Each thread, once
 * back in app code through the exception upcall, parks here: it copies
 * its context (registers, FS and GS bases, vector state) into a slot and
 * waits.  The first to park coordinates: when all live threads have
 * parked (or CK_STOP_NS has passed: no checkpoint then, and nothing
 * changes), it writes the image and, by the verdict, ends the picoprocess
 * or ends the pause and lets everyone go.
 */
#include "ckpt.h"

const struct moat_abi *ck_below;
const struct moat_upcalls *ck_above;
struct ck_options ck_opt;
struct ck_thread ck_threads[CK_MAX_THREADS];
static uint8_t fp_areas[CK_MAX_THREADS][CK_FP_MAX] __attribute__((aligned(64)));

static volatile int phase;      /* 0 running, 1 pausing */
static volatile int32_t parked; /* threads parked in this pause */
static uint32_t pause_round;    /* bumped when a pause ends: parked threads go */
static moat_handle ev_all;      /* the last thread to park tells the first */

void ck_say(const char *prefix, const char *a, const char *b, const char *c)
{
	char line[600];
	ext_msg(line, sizeof(line), prefix, a, b, c);
	size_t n = strlen(line);
	if (n < sizeof(line) - 1)
		line[n++] = '\n';
	ck_below->stream_write(2, MOAT_OFFSET_STREAM, line, n);
}

void ck_stop_init(void)
{
	for (int i = 0; i < CK_MAX_THREADS; i++)
		ck_threads[i].fp = fp_areas[i];
	ev_all = (moat_handle)ck_below->event_create(MOAT_EVENT_SYNCHRONIZATION, 0);
}

/* Bytes of the host's vector state at fp: an XSAVE image when the
 * kernel's software-reserved bytes say so, else the 512-byte FXSAVE. */
static uint32_t fp_size(const uint8_t *fp, uint32_t *xsave)
{
	uint32_t magic1, xstate_size;
	memcpy(&magic1, fp + 464, 4);
	memcpy(&xstate_size, fp + 480, 4);
	*xsave = magic1 == 0x46505853u && xstate_size >= 576 && xstate_size <= CK_FP_MAX;
	return *xsave ? xstate_size : 512;
}

static void save_thread(struct ck_thread *t, const struct moat_context *c)
{
	const uint64_t *r = &c->rax;
	for (int i = 0; i < 18; i++)
		t->regs[i] = r[i];
	__asm__ volatile("rdfsbase %0" : "=r"(t->fsbase));
	t->gsbase = ck_self();
	t->fpsize = 0;
	t->xsave = 0;
	if (c->fpstate) {
		t->fpsize = fp_size(c->fpstate, &t->xsave);
		memcpy(t->fp, c->fpstate, t->fpsize);
	}
}

void ck_pause_end(void)
{
	struct moat_context zero = { 0 };
	struct moat_exception e = { .kind = MOAT_EXC_PAUSE, .code = 0,
				    .flags = MOAT_EXC_IN_PLATFORM, .ctx = &zero,
				    .pid = ck_generation };
	ck_above->exception(&e);
}

static int all_parked(void)
{
	return __atomic_load_n(&parked, __ATOMIC_SEQ_CST) >=
	       __atomic_load_n(&ck_live_threads, __ATOMIC_SEQ_CST);
}

/* The first thread to park: wait for the others, write, decide. */
static void coordinate(void)
{
	int64_t end = ck_below->system_time(MOAT_CLOCK_MONOTONIC) + CK_STOP_NS;
	while (!all_parked()) {
		int64_t left = end - ck_below->system_time(MOAT_CLOCK_MONOTONIC);
		if (left <= 0)
			break;
		ck_below->objects_wait_any(1, &ev_all, left < 10000000 ? left : 10000000);
	}
	char why[160] = "";
	if (!all_parked()) {
		char a[16], b[16];
		rt_snprintf(a, sizeof(a), "%d", parked);
		rt_snprintf(b, sizeof(b), "%d", ck_live_threads);
		ext_msg(why, sizeof(why), a, " of ", b,
			" threads came to a stop within 2 s (a thread that stays busy "
			"without a system call cannot be captured)");
	}
	int verdict = ck_checkpoint((uint32_t)parked, why[0] ? why : NULL);
	if (verdict == MOAT_SNAP_VERDICT_END)
		ck_below->process_exit(0, 0);
	/* Ready for the next pause before this one ends: a thread that
	 * begins the next one must find nothing of this one left. */
	__atomic_store_n(&parked, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&phase, 0, __ATOMIC_SEQ_CST);
	ck_pause_end();
	__atomic_add_fetch(&pause_round, 1, __ATOMIC_SEQ_CST);
	ck_below->address_wait(&pause_round, MOAT_ADDR_WAKE, 0x7fffffff, 0);
}

/* Until the pause of 'round' ends (a signal only makes it look again). */
static void wait_release(uint32_t round)
{
	while (__atomic_load_n(&pause_round, __ATOMIC_SEQ_CST) == round)
		ck_below->address_wait(&pause_round, MOAT_ADDR_WAIT, round, MOAT_WAIT_FOREVER);
}

static void park(const struct moat_context *ctx)
{
	/* Read before being counted: the pause cannot end until then. */
	uint32_t round = __atomic_load_n(&pause_round, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&phase, __ATOMIC_SEQ_CST))
		return; /* a pause that gave up on this thread has ended */
	int32_t slot = __atomic_fetch_add(&parked, 1, __ATOMIC_SEQ_CST);
	if (slot >= CK_MAX_THREADS) {
		wait_release(round);
		return;
	}
	save_thread(&ck_threads[slot], ctx);
	if (slot == 0) {
		coordinate();
		return;
	}
	if (all_parked())
		ck_below->event_set(ev_all);
	wait_release(round);
}

/* The first PAUSE of a checkpoint starts the pause; the rest join it.
 * Nothing is reset here: a thread that parks between this thread's
 * start and a reset would be forgotten (two threads would both take
 * slot 0), so the coordinator resets before it ends a pause. */
static void begin(void)
{
	int idle = 0;
	__atomic_compare_exchange_n(&phase, &idle, 1, 0, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

volatile int ck_restoring;

static void ck_exception(struct moat_exception *e)
{
	if (ck_precopy_exception(e))
		return; /* the checkpointer's own thread: nothing for the LibOS */
	/* A resume is rebuilding the LibOS's memory: a signal (the end of a
	 * child forked only to reach a pid) has no one to go to yet. */
	if (ck_restoring && (e->kind == MOAT_EXC_INTERRUPT || e->kind == MOAT_EXC_PAUSE))
		return;
	if (e->kind == MOAT_EXC_PAUSE) {
		if (!e->code)
			return;
		begin();
	}
	ck_above->exception(e);
	if (__atomic_load_n(&phase, __ATOMIC_SEQ_CST) && !(e->flags & MOAT_EXC_IN_PLATFORM))
		park(e->ctx);
}

static void ck_thread_start(void *arg)
{
	ck_precopy_thread(arg);
	if ((char *)arg >= (char *)ck_threads &&
	    (char *)arg < (char *)(ck_threads + CK_MAX_THREADS))
		ck_jump(arg); /* a thread of a resumed image */
	ck_above->thread_start(arg);
}

const struct moat_upcalls ck_upcalls = {
	.thread_start = ck_thread_start,
	.exception = ck_exception,
};

/* ck_jump(t): become thread t.  Vector state first (XRSTOR of every
 * component the image's header lists, or FXRSTOR), then the bases
 * through the ABI, then every general register at once with IRETQ from
 * the current stack, so that nothing is written below the app's stack
 * pointer (its red zone survives).  Offsets follow struct ck_thread. */
void ck_jump_regs(const struct ck_thread *t);
__asm__(
	".text\n"
	".globl ck_jump_regs\n"
	".hidden ck_jump_regs\n"
	".type ck_jump_regs, @function\n"
	"ck_jump_regs:\n"
	"	mov %rdi, %r15\n"
	"	mov 160(%r15), %rsi\n"          /* fp */
	"	cmpl $0, 172(%r15)\n"           /* xsave */
	"	je 1f\n"
	"	mov $-1, %eax\n"
	"	mov $-1, %edx\n"
	"	xrstor64 (%rsi)\n"
	"	jmp 2f\n"
	"1:	cmpl $0, 168(%r15)\n"           /* fpsize */
	"	je 2f\n"
	"	fxrstor64 (%rsi)\n"
	"2:	xor %eax, %eax\n"
	"	mov %ss, %ax\n"
	"	push %rax\n"                    /* ss */
	"	push 56(%r15)\n"                /* rsp */
	"	mov 136(%r15), %rax\n"
	"	and $0x254dd5, %rax\n"
	"	or $0x202, %rax\n"
	"	push %rax\n"                    /* rflags */
	"	mov %cs, %ax\n"
	"	push %rax\n"                    /* cs */
	"	push 128(%r15)\n"               /* rip */
	"	mov 0(%r15), %rax\n"
	"	mov 8(%r15), %rbx\n"
	"	mov 16(%r15), %rcx\n"
	"	mov 24(%r15), %rdx\n"
	"	mov 32(%r15), %rsi\n"
	"	mov 40(%r15), %rdi\n"
	"	mov 48(%r15), %rbp\n"
	"	mov 64(%r15), %r8\n"
	"	mov 72(%r15), %r9\n"
	"	mov 80(%r15), %r10\n"
	"	mov 88(%r15), %r11\n"
	"	mov 96(%r15), %r12\n"
	"	mov 104(%r15), %r13\n"
	"	mov 112(%r15), %r14\n"
	"	mov 120(%r15), %r15\n"
	"	iretq\n"
	".size ck_jump_regs, .-ck_jump_regs\n");

_Static_assert(__builtin_offsetof(struct ck_thread, fp) == 160, "ck_thread layout");
_Static_assert(__builtin_offsetof(struct ck_thread, fpsize) == 168, "ck_thread layout");
_Static_assert(__builtin_offsetof(struct ck_thread, xsave) == 172, "ck_thread layout");

volatile int32_t ck_threads_ready;
static uint32_t threads_go; /* 1 once the resume is complete */

void ck_threads_go(void)
{
	__atomic_store_n(&threads_go, 1, __ATOMIC_SEQ_CST);
	ck_below->address_wait(&threads_go, MOAT_ADDR_WAKE, 0x7fffffff, 0);
}

/* A resumed thread waits here, its bases set, until the first thread
 * has put everything else back (timers, the "running" notice): no app
 * code runs before the resume can no longer fail. */
_Noreturn void ck_jump(const struct ck_thread *t)
{
	ck_below->segment_base_set(MOAT_SEGMENT_FS, t->fsbase);
	ck_below->segment_base_set(MOAT_SEGMENT_GS, t->gsbase);
	__atomic_add_fetch(&ck_threads_ready, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&threads_go, __ATOMIC_SEQ_CST))
		ck_below->address_wait(&threads_go, MOAT_ADDR_WAIT, 0, MOAT_WAIT_FOREVER);
	ck_jump_regs(t);
	__builtin_unreachable();
}

static void ck_start(void)
{
	if (ck_opt.resume)
		ck_resume();
}

const struct moat_abi *ckpt_init(struct moat_ext_args *a)
{
	char err[200];
	ck_below = a->below;
	if (ck_parse_options(a->options, &ck_opt, err, sizeof(err)) < 0)
		return NULL;
	ck_stop_init();
	const struct moat_abi *top = ck_track_table(a->below);
	ck_lock();
	ck_region_add((uint64_t)a->state_start,
		      (uint64_t)((char *)a->state_end - (char *)a->state_start),
		      MOAT_PROT_READ | MOAT_PROT_WRITE, MOAT_SNAP_IMAGE, 0, NULL, 0);
	ck_unlock();
	ck_resume_set_state(a->state_start, a->state_end);
	a->upcalls = &ck_upcalls;
	a->above = &ck_above;
	a->wants |= MOAT_EXT_WANT_PAUSE;
	a->start = ck_start;
	return top;
}
