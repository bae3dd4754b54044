/*
 * system.c -- the machine as the app sees it: uname, sysinfo, and the
 * random bits of getrandom.
 */
#include <linux/utsname.h>

#include "libos.h"
#include "linux_abi.h"
#include "uaccess.h"

long sys_uname(struct new_utsname *uu)
{
	struct new_utsname n, *u = &n;
	memset(u, 0, sizeof(*u));
	rt_strlcpy(u->sysname, "Linux", sizeof(u->sysname));
	rt_strlcpy(u->nodename, "moat", sizeof(u->nodename));
	rt_strlcpy(u->release, "6.1.0-moat", sizeof(u->release));
	rt_strlcpy(u->version, "#1 SMP moat picoprocess", sizeof(u->version));
	rt_strlcpy(u->machine, "x86_64", sizeof(u->machine));
	rt_strlcpy(u->domainname, "(none)", sizeof(u->domainname));
	return copy_to_user(uu, u, sizeof(*u));
}

/* What the picoprocess may use, as the monitor said at launch. */
long sys_sysinfo(struct l_sysinfo *usi)
{
	struct l_sysinfo si = {
		.uptime = abi->system_time(MOAT_CLOCK_MONOTONIC) / 1000000000,
		.totalram = boot->mem_bytes,
		.freeram = boot->mem_bytes / 2,
		.procs = (unsigned short)thread_count(),
		.mem_unit = 1,
	};
	return copy_to_user(usi, &si, sizeof(si));
}

long sys_getrandom(void *buf, size_t len, unsigned flags)
{
	/* GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE; the last two exclude
	 * each other.  The host's pool is always ready: no flag changes
	 * what is returned. */
	if ((flags & ~7u) || (flags & 6u) == 6u)
		return -EINVAL;
	if (len > 0x7fffffff) /* a read is capped at INT_MAX, as on Linux */
		len = 0x7fffffff;
	if (!user_range_ok(buf, len))
		return -EFAULT;
	return abi->random_bits(buf, len);
}
