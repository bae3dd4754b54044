/*
 * time.c -- clocks, sleeps and CPU time: clock_gettime and friends,
 * nanosleep, clock_nanosleep, getrusage and times.
 *
 * Every clock is the ABI's system_time; POSIX timers and interval
 * timers, which raise signals, are in timer.c.
 */
#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

static uint32_t clock_of(int id)
{
	/* REALTIME, REALTIME_COARSE, TAI read the wall clock; PROCESS_ and
	 * THREAD_CPUTIME_ID the CPU clocks; the rest count from boot. */
	switch (id) {
	case 0: case 5: case 11: return MOAT_CLOCK_REALTIME;
	case 2: return MOAT_CLOCK_PROCESS_CPU;
	case 3: return MOAT_CLOCK_THREAD_CPU;
	default: return MOAT_CLOCK_MONOTONIC;
	}
}

long sys_clock_gettime(int id, struct l_timespec *ts)
{
	if (id < 0 || id > 11)
		return -EINVAL;
	long ns = abi->system_time(clock_of(id));
	struct l_timespec t = { ns / 1000000000, ns % 1000000000 };
	return copy_to_user(ts, &t, sizeof(t));
}

long sys_clock_getres(int id, struct l_timespec *ts)
{
	if (id < 0 || id > 11)
		return -EINVAL;
	/* The coarse clocks tick with the host's jiffy: 4 ms for Debian's
	 * HZ=250, an upper bound for the others.  Programs size margins by
	 * it (the host rounds interval timers up to a jiffy). */
	struct l_timespec t = { 0, id == 5 || id == 6 ? 4000000 : 1 };
	return ts ? copy_to_user(ts, &t, sizeof(t)) : 0;
}

long sys_gettimeofday(struct l_timeval *tv, void *tz)
{
	if (tv) {
		long ns = abi->system_time(MOAT_CLOCK_REALTIME);
		struct l_timeval t = { ns / 1000000000, (ns % 1000000000) / 1000 };
		if (copy_to_user(tv, &t, sizeof(t)) < 0)
			return -EFAULT;
	}
	if (tz) { /* UTC, no daylight saving time */
		int zone[2] = { 0, 0 };
		return copy_to_user(tz, zone, sizeof(zone));
	}
	return 0;
}

long sys_time(long *t)
{
	long s = abi->system_time(MOAT_CLOCK_REALTIME) / 1000000000;
	if (t && put_user(t, s) < 0)
		return -EFAULT;
	return s;
}

/* Sleep until 'end' on 'clock'.  A signal that runs a handler (or ends
 * the process) interrupts it: -EINTR, and *rem gets what was left; a
 * blocked or ignored one does not. */
static long sleep_until(uint32_t clock, int64_t end, struct l_timespec *rem)
{
	for (;;) {
		int64_t left = end - abi->system_time(clock);
		if (left <= 0)
			return 0;
		long r = abi->thread_delay((uint64_t)left);
		if (r == -EINTR && __atomic_load_n(&libos_paused, __ATOMIC_SEQ_CST))
			return -ERESTARTSYS; /* a checkpoint's stop (abi.h, PAUSE) */
		if (r != -EINTR || !signal_interrupts_now())
			continue;
		left = end - abi->system_time(clock);
		if (rem) {
			left = left < 0 ? 0 : left;
			struct l_timespec t = { left / 1000000000, left % 1000000000 };
			if (copy_to_user(rem, &t, sizeof(t)) < 0)
				return -EFAULT;
		}
		return -EINTR;
	}
}

static int bad_time(const struct l_timespec *t)
{
	return t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000;
}

long sys_nanosleep(const struct l_timespec *ureq, struct l_timespec *rem)
{
	struct l_timespec req;
	if (copy_from_user(&req, ureq, sizeof(req)) < 0)
		return -EFAULT;
	if (bad_time(&req))
		return -EINVAL;
	return sleep_until(MOAT_CLOCK_MONOTONIC, abi->system_time(MOAT_CLOCK_MONOTONIC) +
				req.tv_sec * 1000000000 + req.tv_nsec, rem);
}

long sys_clock_nanosleep(int id, int flags, const struct l_timespec *ureq,
			 struct l_timespec *rem)
{
	struct l_timespec req;
	if (copy_from_user(&req, ureq, sizeof(req)) < 0)
		return -EFAULT;
	if (bad_time(&req))
		return -EINVAL;
	uint32_t c = clock_of(id);
	int64_t want = req.tv_sec * 1000000000 + req.tv_nsec;
	if (flags & 1) /* TIMER_ABSTIME: no remainder */
		return sleep_until(c, want, NULL);
	return sleep_until(c, abi->system_time(c) + want, rem);
}

/* The CPU time the host counted for this process (RUSAGE_SELF) or
 * thread (RUSAGE_THREAD), all of it as user time: the host does not split
 * it for the picoprocess, and the LibOS's work is the app's system time
 * anyway.  Children's time, memory and I/O counts are not known: zero,
 * not invented. */
long sys_getrusage(int who, struct l_rusage *ru)
{
	if (who != 0 && who != -1 && who != 1)
		return -EINVAL;
	struct l_rusage r = { 0 };
	if (who != -1) {
		long ns = abi->system_time(who == 1 ? MOAT_CLOCK_THREAD_CPU
						    : MOAT_CLOCK_PROCESS_CPU);
		r.ru_utime = (struct l_timeval){ ns / 1000000000, ns % 1000000000 / 1000 };
	}
	return copy_to_user(ru, &r, sizeof(r));
}

/* times(2): clock ticks (USER_HZ, 100 a second), as getrusage splits
 * them; the result counts from an arbitrary point, as on Linux. */
long sys_times(struct l_tms *tms)
{
	struct l_tms t = { .tms_utime = abi->system_time(MOAT_CLOCK_PROCESS_CPU) / 10000000 };
	if (tms && copy_to_user(tms, &t, sizeof(t)) < 0)
		return -EFAULT;
	return abi->system_time(MOAT_CLOCK_MONOTONIC) / 10000000;
}
