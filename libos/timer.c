/*
 * timer.c -- the timers that raise signals: POSIX timers (timer_create,
 * timer_settime, timer_gettime, timer_getoverrun and timer_delete) and
 * the interval timers (setitimer, getitimer, alarm).
 *
 * The interval timers are the ABI's timer_set, one per ITIMER_* (the
 * values of MOAT_TIMER_REAL, _VIRTUAL and _PROF), kept by the host.
 *
 * A process's timers are a table in the LibOS and one LibOS thread (made
 * at the first timer_create) that sleeps until the earliest expiry, on
 * an event that timer_settime and timer_delete set to make it look
 * again.  An expiry raises the timer's signal with si_code SI_TIMER, its
 * id, overrun count and sigev_value: posted in the LibOS (waking threads
 * that sleep for a signal), and, for a signal that has a host handler,
 * also sent as a host signal to the process so that a blocking call is
 * interrupted as on Linux.  SIGEV_THREAD_ID (what glibc's SIGEV_THREAD
 * uses) is treated as process-directed.  As on Linux, a forked child has
 * no timers and execve deletes them.
 */
#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

#define MAX_TIMERS 64
#define SIGEV_SIGNAL_K 0
#define SIGEV_NONE_K 1
#define SIGEV_THREAD_ID_K 4
#define SI_TIMER_K (-2)
#define TIMER_ABSTIME_K 1

struct ptimer {
	int used;
	uint32_t clock;      /* MOAT_CLOCK_* */
	int notify, signo;
	uint64_t value;
	int64_t next;        /* next expiry on 'clock', 0 disarmed */
	int64_t interval;
	int overrun;         /* expirations folded into the signal queued */
	int last_overrun;    /* what timer_getoverrun says */
};

static struct ptimer timers[MAX_TIMERS];
static volatile int timers_lock;
static int thread_started;
static moat_handle kick = MOAT_NO_HANDLE; /* wakes the timer thread */

static int64_t monotonic_of(uint32_t clock, int64_t at)
{
	if (clock == MOAT_CLOCK_MONOTONIC)
		return at;
	return at - abi->system_time(MOAT_CLOCK_REALTIME) +
	       abi->system_time(MOAT_CLOCK_MONOTONIC);
}

/* Signals the PAL turns into interrupts (not traps, not the stop and
 * libc-internal ones, which the host must never see). */
static int host_deliverable(int sig)
{
	switch (sig) {
	case 4: case 5: case 7: case 8: case 9: case 11: case 19: case 31:
	case 18: case 20: case 21: case 22: case 32: case 33:
		return 0;
	default:
		return sig >= 1 && sig <= 64;
	}
}

/* The timer thread's work on one expired timer (under the lock). */
static void fire(int id, struct ptimer *t, int64_t now)
{
	int64_t missed = 0;
	if (t->interval) {
		missed = (now - t->next) / t->interval;
		t->next += (missed + 1) * t->interval;
	} else {
		t->next = 0;
	}
	if (t->notify == SIGEV_NONE_K)
		return;
	int queued = !!(signal_pending_set() & (1ULL << (t->signo - 1)));
	/* Still pending: Linux counts this expiry as an overrun of the one
	 * queued, and the count travels with it. */
	t->overrun = queued ? t->overrun + (int)missed + 1 : (int)missed;
	t->last_overrun = t->overrun;
	struct { int tid, overrun; uint64_t value; } info = { id, t->overrun, t->value };
	signal_set_info(t->signo, SI_TIMER_K, &info, sizeof(info));
	if (queued)
		return;
	signal_post(t->signo);
	thread_wake_sigwaiters();
	if (host_deliverable(t->signo))
		abi->process_control(MOAT_PROC_SIGNAL, proc.pid, t->signo);
}

static void timer_thread(void *arg)
{
	(void)arg;
	for (;;) {
		libos_park_if_paused(); /* a checkpoint holds this thread too */
		int64_t wake = -1;
		spin_lock(&timers_lock);
		for (int i = 0; i < MAX_TIMERS; i++) {
			struct ptimer *t = &timers[i];
			if (!t->used || !t->next)
				continue;
			int64_t now = abi->system_time(t->clock);
			if (now >= t->next)
				fire(i, t, now);
			if (t->next) {
				int64_t m = monotonic_of(t->clock, t->next);
				if (wake < 0 || m < wake)
					wake = m;
			}
		}
		spin_unlock(&timers_lock);
		int64_t left = MOAT_WAIT_FOREVER;
		if (wake >= 0) {
			left = wake - abi->system_time(MOAT_CLOCK_MONOTONIC);
			if (left < 0)
				left = 0;
		}
		abi->objects_wait_any(1, &kick, left);
	}
}

static struct ptimer *timer_get(int id)
{
	return id >= 0 && id < MAX_TIMERS && timers[id].used ? &timers[id] : NULL;
}

long sys_timer_create(int clock, const struct l_sigevent *ev, int *idp)
{
	uint32_t c;
	switch (clock) {
	case 0: case 8: c = MOAT_CLOCK_REALTIME; break;  /* REALTIME, REALTIME_ALARM */
	case 1: case 7: case 9: c = MOAT_CLOCK_MONOTONIC; break; /* MONOTONIC, BOOTTIME(_ALARM) */
	default:
		klog("timer_create: clock %d is not supported", clock);
		return -EINVAL; /* CPU-time clocks among them */
	}
	struct l_sigevent e = { .signo = 14 /* SIGALRM */, .notify = SIGEV_SIGNAL_K };
	if (ev && copy_from_user(&e, ev, sizeof(e)) < 0)
		return -EFAULT;
	if (e.notify != SIGEV_SIGNAL_K && e.notify != SIGEV_NONE_K &&
	    e.notify != SIGEV_THREAD_ID_K)
		return -EINVAL;
	if (e.notify != SIGEV_NONE_K && (e.signo < 1 || e.signo > 64))
		return -EINVAL;
	if (e.notify == SIGEV_THREAD_ID_K && e.tid != thread_tid() && !thread_exists(e.tid))
		return -EINVAL;
	if (kick == MOAT_NO_HANDLE) {
		long r = abi->event_create(MOAT_EVENT_SYNCHRONIZATION, 0);
		if (r < 0)
			return -EAGAIN;
		kick = (moat_handle)r;
	}
	if (!thread_started) {
		if (thread_spawn_internal(timer_thread, NULL) < 0)
			return -EAGAIN;
		thread_started = 1;
	}
	spin_lock(&timers_lock);
	int id = 0;
	while (id < MAX_TIMERS && timers[id].used)
		id++;
	if (id == MAX_TIMERS) {
		spin_unlock(&timers_lock);
		return -EAGAIN;
	}
	timers[id] = (struct ptimer){ .used = 1, .clock = c, .notify = e.notify,
				      .signo = e.signo, .value = ev ? e.value : (uint64_t)id };
	spin_unlock(&timers_lock);
	if (put_user(idp, id) < 0) {
		sys_timer_delete(id);
		return -EFAULT;
	}
	return 0;
}

static void remaining(const struct ptimer *t, struct l_itimerspec *cur)
{
	int64_t left = t->next ? t->next - abi->system_time(t->clock) : 0;
	if (t->next && left < 1)
		left = 1;
	*cur = (struct l_itimerspec){ { t->interval / 1000000000, t->interval % 1000000000 },
				      { left / 1000000000, left % 1000000000 } };
}

static int bad_timespec(const struct l_timespec *t)
{
	return t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000;
}

long sys_timer_settime(int id, int flags, const struct l_itimerspec *unv,
		       struct l_itimerspec *uold)
{
	struct l_itimerspec v, o, *nv = &v;
	if (!unv)
		return -EINVAL;
	if (copy_from_user(&v, unv, sizeof(v)) < 0)
		return -EFAULT;
	if (bad_timespec(&nv->it_interval) || bad_timespec(&nv->it_value))
		return -EINVAL;
	spin_lock(&timers_lock);
	struct ptimer *t = timer_get(id);
	if (!t) {
		spin_unlock(&timers_lock);
		return -EINVAL;
	}
	remaining(t, &o);
	int64_t value = nv->it_value.tv_sec * 1000000000 + nv->it_value.tv_nsec;
	t->interval = value ? nv->it_interval.tv_sec * 1000000000 + nv->it_interval.tv_nsec : 0;
	t->overrun = 0;
	if (!value)
		t->next = 0;
	else if (flags & TIMER_ABSTIME_K)
		t->next = value > 0 ? value : 1;
	else
		t->next = abi->system_time(t->clock) + value;
	spin_unlock(&timers_lock);
	abi->event_set(kick);
	return uold && copy_to_user(uold, &o, sizeof(o)) < 0 ? -EFAULT : 0;
}

long sys_timer_gettime(int id, struct l_itimerspec *ucur)
{
	struct l_itimerspec cur;
	spin_lock(&timers_lock);
	struct ptimer *t = timer_get(id);
	if (t)
		remaining(t, &cur);
	spin_unlock(&timers_lock);
	if (!t)
		return -EINVAL;
	return copy_to_user(ucur, &cur, sizeof(cur)) < 0 ? -EFAULT : 0;
}

long sys_timer_getoverrun(int id)
{
	spin_lock(&timers_lock);
	struct ptimer *t = timer_get(id);
	long r = t ? t->last_overrun : -EINVAL;
	spin_unlock(&timers_lock);
	return r;
}

long sys_timer_delete(int id)
{
	spin_lock(&timers_lock);
	struct ptimer *t = timer_get(id);
	if (t)
		t->used = 0;
	spin_unlock(&timers_lock);
	if (t)
		abi->event_set(kick);
	return t ? 0 : -EINVAL;
}

/* The child of a fork starts with no timers, and without the thread. */
void timers_after_fork(void)
{
	memset(timers, 0, sizeof(timers));
	timers_lock = 0;
	thread_started = 0;
}

void timers_reset_on_exec(void)
{
	spin_lock(&timers_lock);
	memset(timers, 0, sizeof(timers));
	spin_unlock(&timers_lock);
	if (kick != MOAT_NO_HANDLE)
		abi->event_set(kick);
}

void timers_fork_lock(void) { spin_lock(&timers_lock); }
void timers_fork_unlock(void) { spin_unlock(&timers_lock); }

/* --- interval timers --- */

static uint64_t tv_ns(int64_t sec, int64_t usec)
{
	return (uint64_t)sec * 1000000000 + (uint64_t)usec * 1000;
}

static int bad_timeval(const struct l_timeval *t)
{
	return t->tv_sec < 0 || t->tv_usec < 0 || t->tv_usec >= 1000000;
}

static struct l_timeval tv_of(uint64_t ns)
{
	return (struct l_timeval){ (int64_t)(ns / 1000000000), (int64_t)(ns % 1000000000 / 1000) };
}

/* nv NULL: a query.  Both are LibOS copies. */
static long itimer_set(int which, const struct l_itimerval *nv, struct l_itimerval *ov)
{
	uint64_t oval, oint;
	if (which < MOAT_TIMER_REAL || which > MOAT_TIMER_PROF)
		return -EINVAL;
	uint64_t val = 0, intv = 0;
	if (nv) {
		if (bad_timeval(&nv->it_interval) || bad_timeval(&nv->it_value))
			return -EINVAL;
		val = tv_ns(nv->it_value.tv_sec, nv->it_value.tv_usec);
		intv = tv_ns(nv->it_interval.tv_sec, nv->it_interval.tv_usec);
	}
	long r;
	if (nv) {
		r = abi->timer_set((uint32_t)which, val, intv, &oval, &oint);
	} else { /* a query: read by setting it back to what it was */
		r = abi->timer_set((uint32_t)which, 0, 0, &oval, &oint);
		if (r == 0 && oval)
			r = abi->timer_set((uint32_t)which, oval, oint, NULL, NULL);
	}
	if (r == 0 && ov)
		*ov = (struct l_itimerval){ tv_of(oint), tv_of(oval) };
	return r;
}

/* As Linux: a NULL new value disarms the timer (an old kernel habit it
 * keeps); an unreadable one is EFAULT; an unwritable old value is EFAULT
 * after the timer is set. */
long sys_setitimer(int which, const struct l_itimerval *unv, struct l_itimerval *uov)
{
	struct l_itimerval nv = { 0 }, ov;
	if (unv && copy_from_user(&nv, unv, sizeof(nv)) < 0)
		return -EFAULT;
	long r = itimer_set(which, &nv, &ov);
	if (r == 0 && uov && copy_to_user(uov, &ov, sizeof(ov)) < 0)
		return -EFAULT;
	return r;
}

long sys_getitimer(int which, struct l_itimerval *ucur)
{
	struct l_itimerval cur;
	long r = itimer_set(which, NULL, &cur);
	if (r == 0 && copy_to_user(ucur, &cur, sizeof(cur)) < 0)
		return -EFAULT;
	return r;
}

long sys_alarm(unsigned secs)
{
	struct l_itimerval nv = { .it_value = { secs, 0 } }, ov = { 0 };
	long r = itimer_set(MOAT_TIMER_REAL, &nv, &ov);
	if (r < 0)
		return r;
	const struct l_timeval *left = &ov.it_value;
	return left->tv_sec + (left->tv_usec >= 500000 || (left->tv_sec == 0 && left->tv_usec));
}
