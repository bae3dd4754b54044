/*
 * sync.c -- handles, threads and synchronisation objects (semaphores,
 * events, waits on several objects, address waits), on Linux futexes.
 * Memory is in vm.c, clocks and timers in time.c, random bits in
 * random.c, the console placeholder in console.c.
 *
 * Waiting is deliberately simple: every state change of a waitable object
 * bumps one generation word and wakes its waiters, and objects_wait_any
 * rechecks its handles after each change.  It is correct for any number
 * of objects and threads, and cheap while picoprocesses have few threads.
 * A wait that involves host streams (alone, or with PAL objects: an
 * event loop's sockets plus an eventfd, say) sleeps in ppoll on the
 * streams and on a wake pipe that every bump writes to while such a wait
 * is on.
 */
#include <asm/prctl.h>
#include <linux/futex.h>
#include <linux/sched.h>

#include "pal.h"

struct pal_handle pal_handles[PAL_MAX_HANDLES];
static volatile int handles_lock;
static struct pal_thread *records; /* every thread record (record_take) */
static volatile int records_lock;
volatile uint32_t pal_generation;

struct pal_sem { volatile int count; int max; };
struct pal_event { volatile int set; uint32_t kind; };
struct pal_thread {
	volatile int tid;      /* cleared by the kernel when the thread ends */
	volatile int resumed;
	uint32_t flags;        /* MOAT_THREAD_* */
	volatile int closed;   /* the handle is closed: reusable once tid is 0 */
	void *arg;
	void *altstack;        /* PAL_ALTSTACK_SIZE, made by the first thread */
	struct pal_thread *next; /* every record (records) */
};

#define PAL_THREAD_FLAGS                                                 \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
	 CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

long pal_clone_thread(unsigned long flags, void *sp, volatile int *ptid,
		      volatile int *ctid, unsigned long tls);
void pal_thread_trampoline(void);

static long futex(volatile void *addr, int op, int val, int64_t timeout_ns)
{
	struct __kernel_timespec ts, *tsp = 0;
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	return host_futex(addr, op, val, tsp);
}

/* Locks have three states: 0 free, 1 held, 2 held and maybe waited on.
 * Only an unlock of a lock in state 2 wakes the host futex, so an
 * uncontended lock and unlock costs no host call. */
static int lock_try(volatile int *l)
{
	int c = 0;
	return __atomic_compare_exchange_n(l, &c, 1, 0, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

void pal_lock(volatile int *l)
{
	if (lock_try(l))
		return;
	while (__atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE))
		futex(l, FUTEX_WAIT_PRIVATE, 2, -1);
}

int pal_lock_within(volatile int *l, int64_t ns)
{
	if (lock_try(l))
		return 0;
	for (int64_t waited = 0; __atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE);
	     waited += 1000000) {
		if (waited >= ns)
			return -1;
		futex(l, FUTEX_WAIT_PRIVATE, 2, 1000000);
	}
	return 0;
}

void pal_unlock(volatile int *l)
{
	if (__atomic_exchange_n(l, 0, __ATOMIC_RELEASE) == 2)
		futex(l, FUTEX_WAKE_PRIVATE, 1, -1);
}

void pal_handles_fork_lock(void) { pal_lock(&handles_lock); }
void pal_handles_fork_unlock(void) { pal_unlock(&handles_lock); }

long pal_handle_alloc(int type, int fd, void *obj)
{
	long h = -MOAT_EMFILE;
	pal_lock(&handles_lock);
	for (int i = 3; i < PAL_MAX_HANDLES; i++) {
		if (pal_handles[i].type == PAL_H_FREE) {
			pal_handles[i] = (struct pal_handle){ .type = type, .fd = fd,
							      .obj = obj };
			h = i;
			break;
		}
	}
	pal_unlock(&handles_lock);
	return h;
}

struct pal_handle *pal_handle_get(moat_handle h, int type)
{
	if (h < 0 || h >= PAL_MAX_HANDLES || pal_handles[h].type != type)
		return 0;
	return &pal_handles[h];
}

volatile uint32_t pal_signal_seq;

/* Called from the host signal handler: no locks, only atomics. */
void pal_signal_arrived(void)
{
	__atomic_add_fetch(&pal_signal_seq, 1, __ATOMIC_SEQ_CST);
	pal_generation_bump();
}

/* Is 'mask' (as the host reports it: without KILL and STOP, which no
 * mask holds) a quiet thread's outside a trap? */
static int is_quiet(uint64_t mask)
{
	return (mask | (1ull << 8) | (1ull << 18)) == PAL_QUIET_MASK;
}

/* Has a quiet thread (MOAT_THREAD_QUIET) ever been made?  Until one is,
 * no thread can have its mask, and the mask need not be looked at before
 * it is opened: that saves a host call on every wait. */
static volatile int quiet_made;

/* A wait's mask: every host signal open, so that one interrupts it;
 * but a quiet thread keeps its own, or an app's signal or a PAUSE sent
 * to the process could land on it (a layer's worker, which the layers
 * above do not know: the checkpointer ends the picoprocess then). */
uint64_t pal_signals_wait_mask(void)
{
	uint64_t cur = 0;
	if (!__atomic_load_n(&quiet_made, __ATOMIC_SEQ_CST))
		return 0;
	host_rt_sigprocmask(0 /* SIG_BLOCK */, 0, &cur);
	return is_quiet(cur) ? PAL_QUIET_MASK : 0;
}

/* Open the mask, and return the old one for pal_signals_restore.  One
 * host call that sets and reads at once, unless a quiet thread may be
 * the caller; a mask that was open (a call by the rewritten fast path,
 * not by a trap) needs no restoring. */
uint64_t pal_signals_open(void)
{
	uint64_t none = 0, old = 0;
	if (!__atomic_load_n(&quiet_made, __ATOMIC_SEQ_CST)) {
		host_rt_sigprocmask(2 /* SIG_SETMASK */, &none, &old);
		return old;
	}
	host_rt_sigprocmask(0 /* SIG_BLOCK */, 0, &old);
	if (old && !is_quiet(old))
		host_rt_sigprocmask(2 /* SIG_SETMASK */, &none, 0);
	return old;
}

void pal_signals_restore(uint64_t old)
{
	if (old && !is_quiet(old))
		host_rt_sigprocmask(2 /* SIG_SETMASK */, &old, 0);
}

/* Wake pipes for every wait that involves streams ("mixed": ppoll on
 * host descriptors, where objects and signals only bump the generation
 * word, and ppoll cannot wait on a futex).  A waiter holds a slot (and its pipe, made on first
 * use and kept) for the length of one ppoll; a bump writes a byte to each
 * held slot.  The waiter raises mixed_waiters and then looks at the
 * generation again, and the bump raises the generation and then looks at
 * mixed_waiters, so one of them always sees the other. */
#define WAKE_SLOTS 32
static struct wake_slot {
	volatile int held;
	volatile int written;  /* a bump wrote since the last drain */
	int rfd, wfd;
} wake_slots[WAKE_SLOTS] = { [0 ... WAKE_SLOTS - 1] = { 0, 0, -1, -1 } };
static volatile int mixed_waiters;

/* Threads asleep on the generation word (pal_generation_wait).  A bump
 * raises the word and then looks at the count, a waiter raises the count
 * and then sleeps only while the word is unchanged: one always sees the
 * other, and a bump nobody waits for costs no host call. */
static volatile int gen_waiters;

long pal_generation_wait(uint32_t gen, int64_t timeout_ns)
{
	__atomic_add_fetch(&gen_waiters, 1, __ATOMIC_SEQ_CST);
	long r = futex(&pal_generation, FUTEX_WAIT_PRIVATE, (int)gen, timeout_ns);
	__atomic_sub_fetch(&gen_waiters, 1, __ATOMIC_SEQ_CST);
	return r;
}

void pal_generation_bump(void)
{
	__atomic_add_fetch(&pal_generation, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&gen_waiters, __ATOMIC_SEQ_CST))
		futex(&pal_generation, FUTEX_WAKE_PRIVATE, 0x7fffffff, -1);
	if (__atomic_load_n(&mixed_waiters, __ATOMIC_SEQ_CST) == 0)
		return;
	for (int i = 0; i < WAKE_SLOTS; i++) {
		struct wake_slot *w = &wake_slots[i];
		int wfd = w->wfd;
		if (__atomic_load_n(&w->held, __ATOMIC_SEQ_CST) && wfd >= 0 &&
		    !__atomic_exchange_n(&w->written, 1, __ATOMIC_SEQ_CST)) {
			char b = 0;
			host_write(wfd, &b, 1);
		}
	}
}

/* A free slot with its pipe, held; NULL if none (the caller polls). */
static struct wake_slot *wake_slot_take(void)
{
	for (int i = 0; i < WAKE_SLOTS; i++) {
		struct wake_slot *w = &wake_slots[i];
		if (__atomic_exchange_n(&w->held, 1, __ATOMIC_SEQ_CST))
			continue;
		if (w->rfd < 0) {
			int fds[2];
			if (host_pipe2(fds, 02000000 | 04000 /* CLOEXEC, NONBLOCK */) < 0) {
				__atomic_store_n(&w->held, 0, __ATOMIC_SEQ_CST);
				return 0;
			}
			w->rfd = fds[0];
			w->wfd = fds[1];
		}
		if (__atomic_exchange_n(&w->written, 0, __ATOMIC_SEQ_CST)) {
			char b; /* the byte of a bump the last holder slept through */
			host_read(w->rfd, &b, 1);
		}
		return w;
	}
	return 0;
}

/* In a forked child: the pipes are the parent's, whose bumps would wake
 * (and be drained by) the child's waits. */
void pal_wake_after_fork(void)
{
	for (int i = 0; i < WAKE_SLOTS; i++) {
		struct wake_slot *w = &wake_slots[i];
		if (w->rfd >= 0) {
			host_close(w->rfd);
			host_close(w->wfd);
		}
		*w = (struct wake_slot){ 0, 0, -1, -1 };
	}
	mixed_waiters = 0;
	gen_waiters = 0; /* the parent's waiters are not the child's */
	records_lock = 0; /* a thread of the parent's may have held it */
}

/* Sleep until a stream in hs is readable, the generation moves past gen
 * (a signal moves it too), or 'left' ns pass (-1: no limit).  0 if no
 * wake slot could be had, so the caller must poll. */
static int wait_mixed(uint32_t n, const moat_handle *hs, uint32_t gen, int64_t left)
{
	struct wake_slot *w = wake_slot_take();
	if (!w)
		return 0;
	__atomic_add_fetch(&mixed_waiters, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&pal_generation, __ATOMIC_SEQ_CST) == gen) {
		struct host_pollfd p[65];
		uint32_t np = 0;
		for (uint32_t i = 0; i < n; i++)
			if (pal_handles[hs[i]].type == PAL_H_STREAM)
				p[np].fd = pal_handles[hs[i]].fd, p[np++].events = 1 /* POLLIN */;
		p[np].fd = w->rfd, p[np++].events = 1;
		struct __kernel_timespec ts = { left / 1000000000, left % 1000000000 };
		if (host_ppoll(p, np, left < 0 ? 0 : &ts, 0) > 0 && p[np - 1].revents) {
			/* Drain whatever a bump wrote (the flag may lag the byte). */
			char buf[16];
			__atomic_store_n(&w->written, 0, __ATOMIC_SEQ_CST);
			host_read(w->rfd, buf, sizeof(buf));
		}
	}
	__atomic_sub_fetch(&mixed_waiters, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&w->held, 0, __ATOMIC_SEQ_CST);
	return 1;
}

/* --- threads --- */

/* Thread records, each with the signal stack its thread runs its traps
 * on, are kept and reused: a record is free again once its handle is
 * closed and the kernel has cleared its tid (CHILD_CLEARTID), which it
 * does only after the thread stopped touching user memory.  A thread
 * thus costs no mmap of its own, and 10000 threads in a row take no
 * more memory than one. */
static struct pal_thread *record_take(void)
{
	struct pal_thread *t;
	pal_lock(&records_lock);
	for (t = records; t; t = t->next)
		if (__atomic_load_n(&t->closed, __ATOMIC_ACQUIRE) &&
		    __atomic_load_n(&t->tid, __ATOMIC_ACQUIRE) == 0)
			break;
	if (t) {
		t->closed = 0;
	} else {
		t = pal_pages(sizeof(*t));
		t->next = records;
		records = t;
	}
	pal_unlock(&records_lock);
	return t;
}

static void altstack_set(void *base)
{
	struct host_stack ss = { base, 0, PAL_ALTSTACK_SIZE };
	if (host_sigaltstack(&ss, 0) < 0)
		pal_fatal("cannot set the signal stack");
}

void pal_altstack_install(void)
{
	altstack_set(pal_pages(PAL_ALTSTACK_SIZE));
}

void pal_thread_main(struct pal_thread *t)
{
	/* The creator was inside a trap handler with every signal blocked,
	 * and clone copied that mask; a blocked SIGSYS would make the kernel
	 * reset the trap handler for the whole process. */
	uint64_t none = 0, quiet = PAL_QUIET_MASK;
	host_rt_sigprocmask(2 /* SIG_SETMASK */,
			    t->flags & MOAT_THREAD_QUIET ? &quiet : &none, 0);
	if (!t->altstack)
		t->altstack = pal_pages(PAL_ALTSTACK_SIZE);
	altstack_set(t->altstack);
	while (!__atomic_load_n(&t->resumed, __ATOMIC_ACQUIRE))
		futex(&t->resumed, FUTEX_WAIT_PRIVATE, 0, -1);
	pal_upcalls->thread_start(t->arg);
	pal_thread_exit(0);
}

long pal_thread_create(void *arg, void *stack, size_t size, uint32_t flags)
{
	if (size < 16384 || (flags & ~(uint32_t)(MOAT_THREAD_SUSPENDED | MOAT_THREAD_QUIET)))
		return -MOAT_EINVAL;
	if (flags & MOAT_THREAD_QUIET)
		__atomic_store_n(&quiet_made, 1, __ATOMIC_SEQ_CST);
	struct pal_thread *t = record_take();
	t->arg = arg;
	t->flags = flags;
	t->resumed = !(flags & MOAT_THREAD_SUSPENDED);
	long h = pal_handle_alloc(PAL_H_THREAD, -1, t);
	if (h < 0) {
		__atomic_store_n(&t->closed, 1, __ATOMIC_RELEASE);
		return h;
	}
	uint64_t *sp = (uint64_t *)RT_ALIGN_DOWN((uint64_t)stack + size, 16);
	sp -= 2;
	sp[0] = (uint64_t)pal_thread_trampoline;
	sp[1] = (uint64_t)t;
	long r = pal_clone_thread(PAL_THREAD_FLAGS, sp, &t->tid, &t->tid, 0);
	if (r < 0) {
		pal_handles[h].type = PAL_H_FREE;
		__atomic_store_n(&t->closed, 1, __ATOMIC_RELEASE);
		return r == -11 ? -MOAT_EAGAIN : r;
	}
	return h;
}

long pal_thread_resume(moat_handle h)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_THREAD);
	if (!ph)
		return -MOAT_EBADF;
	struct pal_thread *t = ph->obj;
	if (__atomic_exchange_n(&t->resumed, 1, __ATOMIC_RELEASE))
		return -MOAT_EINVAL;
	futex(&t->resumed, FUTEX_WAKE_PRIVATE, 1, -1);
	return 0;
}

void pal_thread_exit(int32_t *clear_word)
{
	if (clear_word) {
		__atomic_store_n(clear_word, 0, __ATOMIC_RELEASE);
		futex(clear_word, FUTEX_WAKE, 0x7fffffff, -1);
	}
	pal_generation_bump();
	/* The kernel clears pal_thread.tid after this (CHILD_CLEARTID), and
	 * waiters on the handle see it through the generation word. */
	for (;;)
		host_exit(0);
}

long pal_thread_delay(uint64_t ns)
{
	int64_t deadline = pal_system_time(MOAT_CLOCK_MONOTONIC) + (int64_t)ns;
	uint32_t seq = __atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST);
	uint64_t mask = pal_signals_open();
	long r = 0;
	for (;;) {
		uint32_t gen = __atomic_load_n(&pal_generation, __ATOMIC_SEQ_CST);
		int64_t left = deadline - pal_system_time(MOAT_CLOCK_MONOTONIC);
		if (left <= 0)
			break;
		if (__atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST) != seq) {
			r = -MOAT_EINTR;
			break;
		}
		/* A signal bumps the generation, so one landing between the
		 * check and the wait makes the wait return at once. */
		pal_generation_wait(gen, left);
	}
	pal_signals_restore(mask);
	return r;
}

long pal_segment_base_set(uint32_t which, uint64_t base)
{
	if (which > MOAT_SEGMENT_GS)
		return -MOAT_EINVAL;
	return host_arch_prctl(which == MOAT_SEGMENT_FS ? ARCH_SET_FS : ARCH_SET_GS, base);
}

long pal_thread_yield(void)
{
	host_sched_yield();
	return 0;
}

/* --- semaphores and events --- */

long pal_semaphore_create(uint32_t initial, uint32_t max)
{
	if (initial > max || max > 0x7fffffff)
		return -MOAT_EINVAL;
	struct pal_sem *s = pal_pages(sizeof(*s));
	s->count = (int)initial;
	s->max = (int)max;
	return pal_handle_alloc(PAL_H_SEM, -1, s);
}

long pal_semaphore_release(moat_handle h, uint32_t count)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_SEM);
	if (!ph)
		return -MOAT_EBADF;
	struct pal_sem *s = ph->obj;
	int old = __atomic_load_n(&s->count, __ATOMIC_ACQUIRE);
	do {
		if ((int64_t)old + count > s->max)
			return -MOAT_EINVAL;
	} while (!__atomic_compare_exchange_n(&s->count, &old,
					      old + (int)count, 0,
					      __ATOMIC_ACQ_REL,
					      __ATOMIC_ACQUIRE));
	pal_generation_bump();
	return old;
}

long pal_event_create(uint32_t kind, uint32_t set)
{
	if (kind > MOAT_EVENT_SYNCHRONIZATION)
		return -MOAT_EINVAL;
	struct pal_event *e = pal_pages(sizeof(*e));
	e->kind = kind;
	e->set = !!set;
	return pal_handle_alloc(PAL_H_EVENT, -1, e);
}

static long event_store(moat_handle h, int value)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_EVENT);
	if (!ph)
		return -MOAT_EBADF;
	__atomic_store_n(&((struct pal_event *)ph->obj)->set, value,
			 __ATOMIC_RELEASE);
	if (value)
		pal_generation_bump();
	return 0;
}

long pal_event_set(moat_handle h) { return event_store(h, 1); }
long pal_event_clear(moat_handle h) { return event_store(h, 0); }

/* Take the object if it is signalled: 1 taken, 0 not, <0 bad handle. */
static int try_acquire(moat_handle h)
{
	if (h < 0 || h >= PAL_MAX_HANDLES)
		return -MOAT_EBADF;
	struct pal_handle *ph = &pal_handles[h];
	switch (ph->type) {
	case PAL_H_SEM: {
		struct pal_sem *s = ph->obj;
		int c = __atomic_load_n(&s->count, __ATOMIC_ACQUIRE);
		while (c > 0)
			if (__atomic_compare_exchange_n(&s->count, &c, c - 1, 0,
							__ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				return 1;
		return 0;
	}
	case PAL_H_EVENT: {
		struct pal_event *e = ph->obj;
		if (e->kind == MOAT_EVENT_NOTIFICATION)
			return __atomic_load_n(&e->set, __ATOMIC_ACQUIRE);
		return __atomic_exchange_n(&e->set, 0, __ATOMIC_ACQ_REL);
	}
	case PAL_H_THREAD:
		return __atomic_load_n(&((struct pal_thread *)ph->obj)->tid,
				       __ATOMIC_ACQUIRE) == 0;
	default:
		return -MOAT_EBADF;
	}
}

/* Is a stream handle readable now?  1 yes, 0 no, <0 not a stream. */
static int stream_ready(moat_handle h)
{
	struct pal_handle *ph = pal_handle_get(h, PAL_H_STREAM);
	if (!ph)
		return -MOAT_EBADF;
	if (ph->kind != MOAT_KIND_PIPE && ph->kind != MOAT_KIND_CONSOLE &&
	    ph->kind != MOAT_KIND_SOCKET && ph->kind != MOAT_KIND_SERVER &&
	    ph->kind != MOAT_KIND_DATAGRAM)
		return 1; /* files and directories never block */
	struct host_pollfd p = { ph->fd, 1 /* POLLIN */, 0 };
	struct __kernel_timespec zero = { 0, 0 };
	long r = host_ppoll(&p, 1, &zero, 0);
	return r > 0;
}

static int waits_for_thread(uint32_t n, const moat_handle *hs)
{
	for (uint32_t i = 0; i < n; i++)
		if (hs[i] >= 0 && hs[i] < PAL_MAX_HANDLES && pal_handles[hs[i]].type == PAL_H_THREAD)
			return 1;
	return 0;
}

static int try_any(uint32_t n, const moat_handle *hs, int *has_streams)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = hs[i] >= 0 && hs[i] < PAL_MAX_HANDLES &&
				pal_handles[hs[i]].type == PAL_H_STREAM
			? ((*has_streams)++, stream_ready(hs[i]))
			: try_acquire(hs[i]);
		if (r)
			return r < 0 ? r : (int)i + 1;
	}
	return 0;
}

long pal_objects_wait_any(uint32_t n, const moat_handle *hs, int64_t timeout)
{
	if (n == 0 || n > 64)
		return -MOAT_EINVAL;
	uint32_t seq = __atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST);
	uint32_t gen = __atomic_load_n(&pal_generation, __ATOMIC_SEQ_CST);
	int streams = 0;
	int r = try_any(n, hs, &streams);
	/* Taken, or a poll that found nothing: no need to open the signal
	 * mask (two host calls) for a wait that does not sleep. */
	if (r || timeout == 0)
		return r < 0 ? r : r ? r - 1 : -MOAT_ETIMEDOUT;
	int64_t deadline = timeout < 0 ? -1
			   : pal_system_time(MOAT_CLOCK_MONOTONIC) + timeout;
	uint64_t mask = pal_signals_open();
	long result;
	for (;;) {
		if (r) {
			result = r < 0 ? r : r - 1;
			break;
		}
		if (__atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST) != seq) {
			result = -MOAT_EINTR;
			break;
		}
		int64_t left = -1;
		if (deadline >= 0) {
			left = deadline - pal_system_time(MOAT_CLOCK_MONOTONIC);
			if (left <= 0) {
				result = -MOAT_ETIMEDOUT;
				break;
			}
		}
		/* A thread's end bumps the generation just before the kernel
		 * clears its tid, so a wait on a thread looks again every 10 ms. */
		if (waits_for_thread(n, hs) && (left < 0 || left > 10000000))
			left = 10000000;
		if (!(streams && wait_mixed(n, hs, gen, left))) {
			/* Stream data raises no bump: without a wake pipe, poll. */
			if (streams && (left < 0 || left > 1000000))
				left = 1000000;
			pal_generation_wait(gen, left);
		}
		gen = __atomic_load_n(&pal_generation, __ATOMIC_SEQ_CST);
		streams = 0;
		r = try_any(n, hs, &streams);
	}
	pal_signals_restore(mask);
	return result;
}

/* --- address waits --- */

/* Host futexes without the private flag: they match by physical page, so
 * processes sharing the memory meet.  Waits are sliced so that a signal
 * (which bumps pal_signal_seq) ends them promptly. */
long pal_address_wait(uint32_t *addr, uint32_t op, uint32_t value, int64_t timeout)
{
	if (op == MOAT_ADDR_WAKE)
		return futex(addr, FUTEX_WAKE, (int)(value > 0x7fffffff ? 0x7fffffff : value), -1);
	if (op != MOAT_ADDR_WAIT)
		return -MOAT_EINVAL;
	int64_t deadline = timeout < 0 ? -1
			   : pal_system_time(MOAT_CLOCK_MONOTONIC) + timeout;
	uint32_t seq = __atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST);
	uint64_t mask = pal_signals_open();
	long r;
	for (;;) {
		int64_t left = 10000000;
		if (deadline >= 0) {
			int64_t l = deadline - pal_system_time(MOAT_CLOCK_MONOTONIC);
			if (l <= 0) {
				r = -MOAT_ETIMEDOUT;
				break;
			}
			left = l < left ? l : left;
		}
		r = futex(addr, FUTEX_WAIT, (int)value, left);
		if (r == 0 || r == -MOAT_EAGAIN)
			break; /* woken (or spuriously: the caller rechecks), or changed */
		if (__atomic_load_n(&pal_signal_seq, __ATOMIC_SEQ_CST) != seq) {
			r = -MOAT_EINTR;
			break;
		}
		if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != value) {
			r = 0;
			break;
		}
	}
	pal_signals_restore(mask);
	return r;
}

/* --- handles --- */

long pal_object_close(moat_handle h)
{
	if (h < 0 || h >= PAL_MAX_HANDLES || pal_handles[h].type == PAL_H_FREE)
		return -MOAT_EBADF;
	struct pal_handle *ph = &pal_handles[h];
	if (ph->type == PAL_H_STREAM && ph->fd > 2)
		host_close(ph->fd);
	else if (ph->type == PAL_H_STREAM && ph->fd >= 0)
		pal_console_park(ph->fd);
	/* Sync objects are a page each and stay mapped: another thread may
	 * still be waiting on them.  A thread record is reused (record_take). */
	if (ph->type == PAL_H_THREAD)
		__atomic_store_n(&((struct pal_thread *)ph->obj)->closed, 1, __ATOMIC_RELEASE);
	pal_lock(&handles_lock);
	ph->type = PAL_H_FREE;
	pal_unlock(&handles_lock);
	return 0;
}
