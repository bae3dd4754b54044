/*
 * time.c -- clocks and timers: the ABI's system_time on the host's
 * clock_gettime and timer_set on its interval timers (setitimer).
 */
#include <linux/time_types.h>

#include "pal.h"

long pal_system_time(uint32_t clock)
{
	struct __kernel_timespec ts;
	/* The MOAT_CLOCK_* values are the host's clock ids. */
	if (clock > MOAT_CLOCK_THREAD_CPU)
		return -MOAT_EINVAL;
	host_clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

long pal_timer_set(uint32_t which, uint64_t value_ns, uint64_t interval_ns,
		   uint64_t *old_value_ns, uint64_t *old_interval_ns)
{
	struct host_itimerval nv, ov;
	if (which > MOAT_TIMER_PROF)
		return -MOAT_EINVAL;
	/* A set-but-tiny value must not become 0, which would disarm. */
	if (value_ns && value_ns < 1000)
		value_ns = 1000;
	nv.isec = (long)(interval_ns / 1000000000);
	nv.iusec = (long)(interval_ns % 1000000000 / 1000);
	nv.vsec = (long)(value_ns / 1000000000);
	nv.vusec = (long)(value_ns % 1000000000 / 1000);
	long r = host_setitimer(which, &nv, &ov);
	if (r < 0)
		return r;
	if (old_value_ns)
		*old_value_ns = (uint64_t)ov.vsec * 1000000000 + (uint64_t)ov.vusec * 1000;
	if (old_interval_ns)
		*old_interval_ns = (uint64_t)ov.isec * 1000000000 + (uint64_t)ov.iusec * 1000;
	return 0;
}
