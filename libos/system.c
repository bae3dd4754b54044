/*
 * system.c -- the machine as the app sees it: uname, sysinfo, and the
 * random bits of getrandom.
 */
#include <linux/utsname.h>

#include "libos.h"
#include "linux_abi.h"

long sys_uname(struct new_utsname *u)
{
	memset(u, 0, sizeof(*u));
	rt_strlcpy(u->sysname, "Linux", sizeof(u->sysname));
	rt_strlcpy(u->nodename, "moat", sizeof(u->nodename));
	rt_strlcpy(u->release, "6.1.0-moat", sizeof(u->release));
	rt_strlcpy(u->version, "#1 SMP moat picoprocess", sizeof(u->version));
	rt_strlcpy(u->machine, "x86_64", sizeof(u->machine));
	rt_strlcpy(u->domainname, "(none)", sizeof(u->domainname));
	return 0;
}

/* What the picoprocess may use, as the monitor said at launch. */
long sys_sysinfo(struct l_sysinfo *si)
{
	memset(si, 0, sizeof(*si));
	si->uptime = abi->system_time(MOAT_CLOCK_MONOTONIC) / 1000000000;
	si->totalram = boot->mem_bytes;
	si->freeram = boot->mem_bytes / 2;
	si->procs = (unsigned short)thread_count();
	si->mem_unit = 1;
	return 0;
}

long sys_getrandom(void *buf, size_t len, unsigned flags)
{
	(void)flags;
	return abi->random_bits(buf, len);
}
