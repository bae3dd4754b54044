/*
 * prctl.c -- process and architecture controls: prctl, arch_prctl and
 * personality.
 */
#include <asm/prctl.h>
#include <linux/prctl.h>

#include "libos.h"
#include "uaccess.h"

long sys_prctl(int op, unsigned long a2)
{
	switch (op) {
	case PR_SET_NAME: { /* at most 15 bytes are kept, as on Linux */
		char name[sizeof(proc.comm)];
		long n = strncpy_from_user(name, (const char *)a2, sizeof(name));
		if (n == -EFAULT)
			return -EFAULT;
		name[sizeof(name) - 1] = 0;
		rt_strlcpy(proc.comm, name, sizeof(proc.comm));
		return 0;
	}
	case PR_GET_NAME:
		return copy_to_user((char *)a2, proc.comm, sizeof(proc.comm));
	/* Process attributes kept and reported back.  The parent-death
	 * signal is recorded but not sent: a picoprocess's processes end
	 * together with its first one. */
	case PR_SET_DUMPABLE:
		if (a2 > 1)
			return -EINVAL;
		proc.undumpable = !a2;
		return 0;
	case PR_GET_DUMPABLE:
		return !proc.undumpable;
	case PR_SET_PDEATHSIG:
		if (a2 > 64)
			return -EINVAL;
		proc.pdeathsig = (int)a2;
		return 0;
	case PR_GET_PDEATHSIG:
		return put_user((int *)a2, proc.pdeathsig);
	case PR_SET_KEEPCAPS:
		if (a2 > 1)
			return -EINVAL;
		proc.keepcaps = (int)a2;
		return 0;
	case PR_GET_KEEPCAPS:
		return proc.keepcaps;
	case PR_SET_NO_NEW_PRIVS:
		if (a2 != 1)
			return -EINVAL;
		proc.no_new_privs = 1;
		return 0;
	case PR_GET_NO_NEW_PRIVS:
		return proc.no_new_privs;
	case PR_SET_CHILD_SUBREAPER:
		proc.subreaper = !!a2;
		return 0;
	case PR_GET_CHILD_SUBREAPER:
		return put_user((int *)a2, proc.subreaper);
	case PR_CAPBSET_READ: /* the virtual root's bounding set: all of them */
		return a2 <= 40 ? 1 : -EINVAL;
	default:
		klog("prctl: option %d is not supported", op);
		return -EINVAL;
	}
}

long sys_arch_prctl(int code, uint64_t addr)
{
	switch (code) {
	case ARCH_SET_FS:
		thread_set_fsbase(addr);
		return abi->segment_base_set(MOAT_SEGMENT_FS, addr);
	case ARCH_GET_FS:
		return put_user((uint64_t *)addr, thread_get_fsbase());
	case ARCH_SET_GS:
		return -EPERM; /* %gs holds the LibOS's thread pointer */
	default:
		return -EINVAL;
	}
}

/* The execution domain: kept and reported, never applied (ADDR_NO_RANDOMIZE
 * and READ_IMPLIES_EXEC change nothing inside the picoprocess). */
long sys_personality(unsigned long persona)
{
	static unsigned long current; /* PER_LINUX */
	unsigned long old = current;
	if (persona != 0xffffffffUL)
		current = persona & 0xffffffffUL;
	return (long)old;
}
