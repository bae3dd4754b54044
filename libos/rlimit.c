/*
 * rlimit.c -- resource limits: getrlimit, setrlimit, prlimit64, kept by
 * the LibOS.  Only RLIMIT_NOFILE is applied (fd_limit, for the
 * descriptor table); the others are kept and reported back.
 */
#include <linux/resource.h>

#include "libos.h"
#include "linux_abi.h"
#include "rlimit.h"
#include "uaccess.h"

static struct l_rlimit limits[16] = {
	[RLIMIT_STACK] = { 8UL << 20, ~0UL },
	[RLIMIT_NOFILE] = { LIBOS_MAX_FDS, LIBOS_MAX_FDS },
	[RLIMIT_CORE] = { 0, 0 },
};

static void init_limits(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	for (int i = 0; i < 16; i++)
		if (i != RLIMIT_STACK && i != RLIMIT_NOFILE && i != RLIMIT_CORE)
			limits[i] = (struct l_rlimit){ ~0UL, ~0UL };
	/* [Limits] files: the app's table holds that many, as natively
	 * under RLIMIT_NOFILE (the table has LIBOS_MAX_FDS slots at most). */
	if (boot->max_files && boot->max_files < LIBOS_MAX_FDS)
		limits[RLIMIT_NOFILE] = (struct l_rlimit){ boot->max_files, boot->max_files };
}

/* One more than the highest descriptor the app may have now. */
int fd_limit(void)
{
	init_limits();
	uint64_t n = limits[RLIMIT_NOFILE].rlim_cur;
	return n < LIBOS_MAX_FDS ? (int)n : LIBOS_MAX_FDS;
}

long sys_prlimit64(int pid, unsigned res, const struct l_rlimit *unl,
		   struct l_rlimit *ol)
{
	struct l_rlimit nl;
	if (unl && copy_from_user(&nl, unl, sizeof(nl)) < 0)
		return -EFAULT;
	if (pid != 0 && pid != 1)
		return -ESRCH;
	if (res >= 16)
		return -EINVAL;
	init_limits();
	if (unl && nl.rlim_cur > nl.rlim_max)
		return -EINVAL;
	if (ol && copy_to_user(ol, &limits[res], sizeof(*ol)) < 0)
		return -EFAULT;
	if (unl) {
		/* Raising a hard limit needs privilege, which the virtual root
		 * has, except for RLIMIT_NOFILE: its ceiling is the table's
		 * size and the manifest's [Limits] files. */
		if (nl.rlim_max > limits[res].rlim_max && (proc.uid != 0 || res == RLIMIT_NOFILE))
			return -EPERM;
		limits[res] = nl;
	}
	return 0;
}

/* getrlimit and setrlimit have no "nothing" pointer: NULL faults. */
long sys_getrlimit(unsigned res, struct l_rlimit *rl)
{
	if (!rl)
		return -EFAULT;
	return sys_prlimit64(0, res, NULL, rl);
}

long sys_setrlimit(unsigned res, const struct l_rlimit *rl)
{
	if (!rl)
		return -EFAULT;
	return sys_prlimit64(0, res, rl, NULL);
}
