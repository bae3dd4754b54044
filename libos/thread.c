/*
 * thread.c -- Linux threads and futexes on the ABI's threads and events.
 *
 * Each app thread has a struct lthread.  The LibOS finds the current one
 * through %gs (its first word points to itself): %fs belongs to the app's
 * libc, and x86-64 Linux programs leave %gs alone.
 *
 * A futex wait queues the thread on a hash bucket and blocks on the
 * thread's own synchronisation event; a wake dequeues waiters and sets
 * their events.  The queue, not the event, decides who was woken, so a
 * timeout racing a wake is resolved under the bucket lock.
 */
#include <linux/futex.h>
#include <linux/sched.h>

#include "libos.h"
#include "uaccess.h"
#include "linux_abi.h"

#define KSTACK_SIZE (64 * 1024)
#define BUCKETS 64
#define FIRST_EXTRA_TID (1 << 22) /* above any pid the namespace hands out */

struct lthread {
	struct lthread *self;      /* %gs:0 */
	void *fast_top;            /* %gs:8: top of the fast-path stack (rewrite.c) */
	volatile int fast_arrived; /* %gs:16: a host signal came in platform code */
	void *fast_stack;
	uint64_t retry_rip;        /* rewrite_fault: last fault retried, the */
	uint64_t retry_epoch;      /* patching epoch then, and how many times */
	int retries;               /* in a row since */
	int tid;
	moat_handle event;         /* futex wake-ups */
	int *clear_tid;            /* CLONE_CHILD_CLEARTID */
	void *kstack;              /* start-up stack, freed at exit */
	uint64_t fsbase;
	struct moat_context start; /* register state a new thread begins in */
	/* futex queue */
	struct lthread *next;
	uint32_t *wait_addr;
	uint32_t bitset;
	int queued;
	struct lthread *list_next; /* all threads */
	struct thread_sig sig;
	int sigwait;               /* blocked until a signal is posted */
	void (*internal)(void *);  /* a LibOS thread: runs internal(arg) */
	void *internal_arg;
};

_Static_assert(__builtin_offsetof(struct lthread, fast_top) == 8 &&
	       __builtin_offsetof(struct lthread, fast_arrived) == 16,
	       "libos/context.S reads these at %gs:8 and %gs:16");

struct bucket {
	volatile int lock;
	struct lthread *head;
};

static struct bucket buckets[BUCKETS];
static volatile int threads_lock;
static struct lthread *threads;
static int live_threads;
static int next_tid = FIRST_EXTRA_TID;
/* Threads of this process in a shared futex wait (sys_exit's wake). */
static volatile int shared_waiters;

void libos_context_jump(const struct moat_context *ctx);

static struct lthread *thread_current(void)
{
	struct lthread *t;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(t));
	return t;
}

struct thread_sig *thread_sig(void)
{
	return &thread_current()->sig;
}

/* Sleep on the thread's own event until a signal interrupts the wait. */
/* Sleep until a host signal interrupts the wait, or a signal in 'wanted'
 * is posted inside the LibOS (thread_wake_sigwaiters).  The flag and the
 * pending set are checked crosswise, so a post cannot slip between. */
void thread_block_until_signal_in(uint64_t wanted)
{
	struct lthread *t = thread_current();
	__atomic_store_n(&t->sigwait, 1, __ATOMIC_SEQ_CST);
	if (!(signal_pending_set() & wanted))
		abi->objects_wait_any(1, &t->event, MOAT_WAIT_FOREVER);
	spin_lock(&threads_lock);
	__atomic_store_n(&t->sigwait, 0, __ATOMIC_SEQ_CST);
	abi->event_clear(t->event); /* a late wake must not reach a futex wait */
	spin_unlock(&threads_lock);
}

/* A host signal came while this thread ran LibOS or PAL code: the fast
 * path (rewrite.c) looks at this before it returns to the app. */
static volatile int gs_ready; /* %gs holds an lthread in every thread */

void thread_note_signal(void)
{
	if (!__atomic_load_n(&gs_ready, __ATOMIC_SEQ_CST))
		return;
	struct lthread *t = thread_current();
	if (t)
		__atomic_store_n(&t->fast_arrived, 1, __ATOMIC_SEQ_CST);
}

void thread_clear_signal_note(void)
{
	__atomic_store_n(&thread_current()->fast_arrived, 0, __ATOMIC_SEQ_CST);
}

/* How many times in a row this thread has now retried a fault at rip. */
int thread_retry_fault(uint64_t rip, uint64_t epoch)
{
	struct lthread *t = thread_current();
	if (t->retry_rip != rip || t->retry_epoch != epoch) {
		t->retry_rip = rip;
		t->retry_epoch = epoch;
		t->retries = 0;
	}
	return ++t->retries;
}

int thread_has_fast_stack(void)
{
	return thread_current()->fast_top != NULL;
}

void thread_block_until_signal(void)
{
	thread_block_until_signal_in(~thread_sig()->blocked);
}

/* After signal_post from a LibOS thread: wake whoever sleeps for one. */
void thread_wake_sigwaiters(void)
{
	spin_lock(&threads_lock);
	for (struct lthread *t = threads; t; t = t->list_next)
		if (__atomic_load_n(&t->sigwait, __ATOMIC_SEQ_CST))
			abi->event_set(t->event);
	spin_unlock(&threads_lock);
}

int thread_tid(void)
{
	return thread_current()->tid;
}

void thread_set_fsbase(uint64_t base)
{
	thread_current()->fsbase = base;
}

uint64_t thread_get_fsbase(void)
{
	return thread_current()->fsbase;
}

/* Records of ended threads, with their start-up and fast-path stacks
 * and their event, for the next threads to reuse: creating a thread then
 * maps nothing.  A thread puts its record here in sys_exit, where it
 * already runs on the PAL's signal stack with host signals blocked, and
 * touches the record no more.  Bounded, so that a burst of many threads
 * does not keep their handles and stacks for ever. */
#define SPARES_MAX 16
static struct lthread *spares;
static int nspares;

static struct lthread *spare_take(int tid)
{
	spin_lock(&threads_lock);
	struct lthread *t = spares;
	if (t) {
		spares = t->list_next;
		nspares--;
	}
	spin_unlock(&threads_lock);
	if (!t)
		return NULL;
	void *kstack = t->kstack, *fast_stack = t->fast_stack;
	moat_handle ev = t->event;
	memset(t, 0, sizeof(*t));
	t->kstack = kstack;
	t->fast_stack = fast_stack;
	if (fast_stack)
		t->fast_top = (void *)(((uint64_t)fast_stack + FAST_STACK_SIZE) & ~15ULL);
	t->event = ev;
	abi->event_clear(ev); /* a set that came too late for the last owner */
	t->self = t;
	t->tid = tid;
	return t;
}

static struct lthread *thread_fresh(int tid)
{
	struct lthread *t = kzalloc(sizeof(*t));
	if (!t)
		return NULL;
	long ev = abi->event_create(MOAT_EVENT_SYNCHRONIZATION, 0);
	if (ev < 0) {
		kfree(t);
		return NULL;
	}
	t->self = t;
	t->tid = tid;
	t->event = (moat_handle)ev;
	if (rewrite_enabled()) {
		t->fast_stack = kmalloc(FAST_STACK_SIZE);
		if (t->fast_stack)
			t->fast_top = (void *)(((uint64_t)t->fast_stack + FAST_STACK_SIZE) & ~15ULL);
	}
	return t;
}

static struct lthread *thread_new(int tid)
{
	struct lthread *t = spare_take(tid);
	if (!t)
		t = thread_fresh(tid);
	if (!t)
		return NULL;
	spin_lock(&threads_lock);
	t->list_next = threads;
	threads = t;
	live_threads++;
	spin_unlock(&threads_lock);
	return t;
}

/* The first thread of a process (at start, and in a forked child). */
void thread_init_main(int tid)
{
	threads = NULL;
	live_threads = 0;
	struct lthread *t = thread_new(tid);
	if (!t || abi->segment_base_set(MOAT_SEGMENT_GS, (uint64_t)t) < 0)
		libos_panic("cannot set up the main thread");
	/* New threads inherit %gs from their creator until thread_start. */
	__atomic_store_n(&gs_ready, 1, __ATOMIC_SEQ_CST);
}

/* --- futexes --- */

static struct bucket *bucket_of(uint32_t *addr)
{
	return &buckets[((uint64_t)addr >> 2) % BUCKETS];
}

static void dequeue(struct bucket *b, struct lthread *t)
{
	for (struct lthread **p = &b->head; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			t->queued = 0;
			return;
		}
	}
}

static long futex_wait(uint32_t *addr, uint32_t val, int64_t timeout_ns,
		       uint32_t bitset)
{
	struct lthread *t = thread_current();
	struct bucket *b = bucket_of(addr);
	uint32_t cur;
	if (!bitset)
		return -EINVAL;
	/* Fault here, not under the bucket's lock. */
	if (get_user(&cur, addr) < 0)
		return -EFAULT;
	spin_lock(&b->lock);
	if (__atomic_load_n(addr, __ATOMIC_SEQ_CST) != val) {
		spin_unlock(&b->lock);
		return -EAGAIN;
	}
	t->wait_addr = addr;
	t->bitset = bitset;
	t->queued = 1;
	t->next = b->head;
	b->head = t;
	spin_unlock(&b->lock);

	long r = abi->objects_wait_any(1, &t->event,
				       timeout_ns < 0 ? MOAT_WAIT_FOREVER : timeout_ns);
	spin_lock(&b->lock);
	int woken = !t->queued;
	if (!woken)
		dequeue(b, t);
	spin_unlock(&b->lock);
	if (woken && r < 0)
		abi->event_clear(t->event); /* the wake's set arrived late */
	if (woken || r == 0)
		return 0; /* woken, or a stray set of the event: futex(2) allows a spurious 0 */
	return r == -EINTR ? -ERESTARTSYS : -ETIMEDOUT;
}

static long futex_wake(uint32_t *addr, int n, uint32_t bitset)
{
	struct bucket *b = bucket_of(addr);
	int woken = 0;
	if (!bitset)
		return -EINVAL;
	spin_lock(&b->lock);
	for (struct lthread **p = &b->head; *p && woken < n;) {
		struct lthread *t = *p;
		if (t->wait_addr == addr && (t->bitset & bitset)) {
			*p = t->next;
			t->queued = 0;
			abi->event_set(t->event);
			woken++;
		} else {
			p = &t->next;
		}
	}
	spin_unlock(&b->lock);
	return woken;
}

static long futex_requeue(uint32_t *addr, int nwake, int nmove,
			  uint32_t *addr2, int cmp, uint32_t val3)
{
	struct bucket *b = bucket_of(addr), *b2 = bucket_of(addr2);
	int woken = 0, moved = 0;
	/* Bucket locks are taken in table order (as threads_fork_lock does). */
	spin_lock(b < b2 ? &b->lock : &b2->lock);
	if (b2 != b)
		spin_lock(b < b2 ? &b2->lock : &b->lock);
	if (cmp && __atomic_load_n(addr, __ATOMIC_SEQ_CST) != val3) {
		if (b2 != b)
			spin_unlock(&b2->lock);
		spin_unlock(&b->lock);
		return -EAGAIN;
	}
	for (struct lthread **p = &b->head; *p;) {
		struct lthread *t = *p;
		if (t->wait_addr != addr) {
			p = &t->next;
		} else if (woken < nwake) {
			*p = t->next;
			t->queued = 0;
			abi->event_set(t->event);
			woken++;
		} else if (moved < nmove) {
			*p = t->next;
			t->wait_addr = addr2;
			t->next = b2->head;
			b2->head = t;
			moved++;
		} else {
			break;
		}
	}
	if (b2 != b)
		spin_unlock(&b2->lock);
	spin_unlock(&b->lock);
	return woken + moved;
}

static int64_t timeout_of(const struct l_timespec *ts, int absolute,
			  int realtime)
{
	if (!ts)
		return -1;
	int64_t ns = ts->tv_sec * 1000000000LL + ts->tv_nsec; /* a copy (sys_futex) */
	if (absolute) {
		ns -= abi->system_time(realtime ? MOAT_CLOCK_REALTIME
						: MOAT_CLOCK_MONOTONIC);
		if (ns < 0)
			ns = 0;
	}
	return ns;
}

/* A futex without FUTEX_PRIVATE_FLAG may live in memory shared with other
 * processes (process-shared mutexes, POSIX semaphores in /dev/shm): the
 * waiters of another process are not in our buckets, so go to the PAL's
 * address waits, which the host matches across processes.  Bitsets are
 * widened to "any": a spurious wake-up is allowed, a lost one is not. */
static long shared_futex(uint32_t *addr, int cmd, uint32_t val,
			 const struct l_timespec *ts, int realtime, uint32_t val3)
{
	long r;
	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		__atomic_add_fetch(&shared_waiters, 1, __ATOMIC_SEQ_CST);
		r = abi->address_wait(addr, MOAT_ADDR_WAIT, val,
				      timeout_of(ts, cmd == FUTEX_WAIT_BITSET, realtime));
		__atomic_sub_fetch(&shared_waiters, 1, __ATOMIC_SEQ_CST);
		return r == -EINTR ? -ERESTARTSYS : r;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		(void)val3;
		return abi->address_wait(addr, MOAT_ADDR_WAKE, val, 0);
	default:
		klog("futex: shared operation %d not supported", cmd);
		return -ENOSYS;
	}
}

long sys_futex(uint32_t *addr, int op, uint32_t val,
	       const struct l_timespec *ts, uint32_t *addr2, uint32_t val3)
{
	int cmd = op & FUTEX_CMD_MASK;
	int realtime = !!(op & FUTEX_CLOCK_REALTIME);
	struct l_timespec tcopy;
	if ((uint64_t)addr & 3)
		return -EINVAL;
	if (ts && (cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET)) {
		if (copy_from_user(&tcopy, ts, sizeof(tcopy)) < 0)
			return -EFAULT;
		if (tcopy.tv_sec < 0 || tcopy.tv_nsec < 0 || tcopy.tv_nsec >= 1000000000)
			return -EINVAL;
		ts = &tcopy;
	}
	if (cmd == FUTEX_CMP_REQUEUE) {
		uint32_t cur;
		if (get_user(&cur, addr) < 0)
			return -EFAULT;
	}
	if (!(op & FUTEX_PRIVATE_FLAG))
		return shared_futex(addr, cmd, val, ts, realtime, val3);
	switch (cmd) {
	case FUTEX_WAIT:
		return futex_wait(addr, val, timeout_of(ts, 0, 0), FUTEX_BITSET_MATCH_ANY);
	case FUTEX_WAIT_BITSET:
		return futex_wait(addr, val, timeout_of(ts, 1, realtime), val3);
	case FUTEX_WAKE:
		return futex_wake(addr, (int)val, FUTEX_BITSET_MATCH_ANY);
	case FUTEX_WAKE_BITSET:
		return futex_wake(addr, (int)val, val3);
	case FUTEX_REQUEUE:
		return futex_requeue(addr, (int)val, (int)(uint64_t)ts, addr2, 0, 0);
	case FUTEX_CMP_REQUEUE:
		return futex_requeue(addr, (int)val, (int)(uint64_t)ts, addr2, 1, val3);
	default:
		klog("futex: operation %d not supported", cmd);
		return -ENOSYS;
	}
}

/* --- clone and exit --- */

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | \
		      CLONE_THREAD | CLONE_SYSVSEM)

static long thread_clone(struct moat_context *ctx, uint64_t flags, uint64_t newsp,
			 int *ptid, int *ctid, uint64_t tls)
{
	if (!(flags & CLONE_VM) || !(flags & CLONE_THREAD))
		return process_clone(ctx, flags, newsp, ctid);
	if ((flags & THREAD_FLAGS) != THREAD_FLAGS) {
		klog("clone: flags %lx are not a thread", (unsigned long)flags);
		return -EINVAL;
	}
	struct lthread *t = thread_new(__atomic_fetch_add(&next_tid, 1, __ATOMIC_SEQ_CST));
	if (!t)
		return -EAGAIN;
	t->start = *ctx;
	t->start.rax = 0;
	t->sig.blocked = thread_current()->sig.blocked;
	t->sig.ss_flags = 2; /* SS_DISABLE: a new thread has no altstack */
	t->start.rsp = newsp;
	t->fsbase = flags & CLONE_SETTLS ? tls : thread_current()->fsbase;
	/* Bad addresses are ignored, as on Linux (it faults silently). */
	if (flags & CLONE_PARENT_SETTID)
		put_user(ptid, t->tid);
	if (flags & CLONE_CHILD_SETTID)
		put_user(ctid, t->tid);
	if (flags & CLONE_CHILD_CLEARTID)
		t->clear_tid = ctid;
	long r = 0;
	if (!t->kstack) {
		r = abi->vm_alloc(0, KSTACK_SIZE, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
		if (r >= 0)
			t->kstack = (void *)r;
	}
	if (r >= 0)
		r = abi->thread_create(t, t->kstack, KSTACK_SIZE, 0);
	if (r < 0) {
		klog("clone: cannot create a thread: %ld", r);
		return -EAGAIN;
	}
	abi->object_close((moat_handle)r);
	return t->tid;
}

void thread_start(void *arg)
{
	struct lthread *t = arg;
	abi->segment_base_set(MOAT_SEGMENT_GS, (uint64_t)t);
	if (t->internal) {
		t->internal(t->internal_arg);
		abi->thread_exit(NULL);
	}
	abi->segment_base_set(MOAT_SEGMENT_FS, t->fsbase);
	libos_context_jump(&t->start);
}

/* A thread of the LibOS's own (the POSIX timers' clock): it runs fn(arg)
 * on a stack of its own, is no app thread (not counted, not listed, no
 * tid), and ends with the process. */
long thread_spawn_internal(void (*fn)(void *), void *arg)
{
	struct lthread *t = kzalloc(sizeof(*t));
	if (!t)
		return -ENOMEM;
	long ev = abi->event_create(MOAT_EVENT_SYNCHRONIZATION, 0);
	long r = ev < 0 ? ev : abi->vm_alloc(0, KSTACK_SIZE, MOAT_PROT_READ | MOAT_PROT_WRITE, 0);
	if (r >= 0) {
		t->self = t;
		t->tid = -1;
		t->event = (moat_handle)ev;
		t->sig.blocked = ~0ULL;
		t->internal = fn;
		t->internal_arg = arg;
		t->kstack = (void *)r;
		r = abi->thread_create(t, t->kstack, KSTACK_SIZE, 0);
	}
	if (r < 0) {
		if (t->kstack)
			abi->vm_free(t->kstack, KSTACK_SIZE);
		if (ev >= 0)
			abi->object_close((moat_handle)ev);
		kfree(t);
		return r;
	}
	abi->object_close((moat_handle)r);
	return 0;
}

/* Remove t from the process, unless it is the last thread: returns 1
 * then, and the caller ends the process instead. */
static int unlink_thread(struct lthread *t)
{
	spin_lock(&threads_lock);
	if (live_threads == 1) {
		spin_unlock(&threads_lock);
		return 1;
	}
	for (struct lthread **p = &threads; *p; p = &(*p)->list_next) {
		if (*p == t) {
			*p = t->list_next;
			break;
		}
	}
	live_threads--;
	spin_unlock(&threads_lock);
	return 0;
}

/* exit(2): end this thread; the last one ends the process. */
long sys_exit(int code)
{
	struct lthread *t = thread_current();
	if (unlink_thread(t)) {
		ipc_exit();
		rewrite_report();
		abi->process_exit(code & 0xff, 0);
	}
	if (t->clear_tid && put_user(t->clear_tid, 0) == 0) {
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		futex_wake((uint32_t *)t->clear_tid, 1, FUTEX_BITSET_MATCH_ANY);
		/* glibc's pthread_join waits with a shared futex: wake that too
		 * (a thread's tid word is this process's, so only a waiter of
		 * ours can be there) */
		if (__atomic_load_n(&shared_waiters, __ATOMIC_SEQ_CST))
			abi->address_wait((uint32_t *)t->clear_tid, MOAT_ADDR_WAKE, 0x7fffffff, 0);
	}
	/* Neither stack is in use: exit always comes by the trap path, on
	 * the PAL's signal stack. */
	spin_lock(&threads_lock);
	int keep = nspares < SPARES_MAX;
	if (keep) {
		t->list_next = spares;
		spares = t;
		nspares++;
	}
	spin_unlock(&threads_lock);
	if (!keep) {
		if (t->kstack)
			abi->vm_free(t->kstack, KSTACK_SIZE);
		t->fast_top = NULL;
		kfree(t->fast_stack);
		abi->object_close(t->event);
	}
	/* From here on t may be another thread's (or, not kept, stays
	 * allocated): this upcall still runs with %gs pointing at it, but
	 * with host signals blocked nothing reads it before the end. */
	abi->thread_exit(NULL);
	__builtin_unreachable();
}

/* Find a thread of this process by tid (for tgkill). */
int thread_exists(int tid)
{
	int found = 0;
	spin_lock(&threads_lock);
	for (struct lthread *t = threads; t; t = t->list_next)
		found |= t->tid == tid;
	spin_unlock(&threads_lock);
	return found;
}

static long thread_clone3(struct moat_context *ctx, const struct l_clone_args *a,
			  size_t size)
{
	if (size < 64)
		return -EINVAL;
	return thread_clone(ctx, a->flags, a->stack + a->stack_size,
			    (int *)a->parent_tid, (int *)a->child_tid, a->tls);
}

/* clone and clone3 take the caller's whole context: the child resumes
 * from a copy of it. */
long sys_clone(struct moat_context *c)
{
	return thread_clone(c, c->rdi, c->rsi, (int *)c->rdx, (int *)c->r10, c->r8);
}

long sys_clone3(struct moat_context *c)
{
	return thread_clone3(c, (const struct l_clone_args *)c->rdi, c->rsi);
}

/* In a forked child only the forking thread exists. */
void thread_after_fork(int pid, int *clear_tid)
{
	struct lthread *self = thread_current();
	memset(buckets, 0, sizeof(buckets));
	threads = self;
	self->list_next = NULL;
	self->queued = 0;
	self->tid = pid;
	self->clear_tid = clear_tid;
	live_threads = 1;
	threads_lock = 0;
	shared_waiters = 0;
}

int thread_count(void)
{
	return live_threads;
}

/* Around fork: no thread may hold the thread list or a futex bucket when
 * the child's copy is taken, or the child would wait on it forever. */
void threads_fork_lock(void)
{
	spin_lock(&threads_lock);
	for (int i = 0; i < BUCKETS; i++)
		spin_lock(&buckets[i].lock);
}

void threads_fork_unlock(void)
{
	for (int i = BUCKETS - 1; i >= 0; i--)
		spin_unlock(&buckets[i].lock);
	spin_unlock(&threads_lock);
}

/* --- thread ids and the robust list --- */

long sys_gettid(void) { return thread_tid(); }

long sys_set_tid_address(int *ctid)
{
	(void)ctid;
	return thread_tid();
}

long sys_set_robust_list(void *head, size_t len)
{
	(void)head;
	return len == 24 ? 0 : -EINVAL;
}
