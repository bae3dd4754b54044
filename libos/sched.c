/*
 * sched.c -- scheduling calls: sched_yield, nice values, policies, CPU
 * affinity, getcpu and membarrier.
 *
 * The host schedules a picoprocess as one process among others, under the
 * CPU limits of its manifest; nothing here changes that.  What the app
 * sets is kept and reported back, as a process would see on a machine of
 * its own, within what the host gives: no real-time policy (the sandbox
 * cannot grant one, so it is refused with EPERM rather than pretended),
 * and only CPUs the picoprocess may run on.
 */
#include "libos.h"
#include "uaccess.h"
#include "linux_abi.h"

#define PRIO_PROCESS 0
#define PRIO_PGRP    1
#define PRIO_USER    2

#define SCHED_OTHER 0
#define SCHED_FIFO  1
#define SCHED_RR    2
#define SCHED_BATCH 3
#define SCHED_IDLE  5
#define SCHED_RESET_ON_FORK 0x40000000

static int nice_value;           /* -20..19 */
static int policy = SCHED_OTHER; /* OTHER, BATCH or IDLE */
static uint64_t affinity;        /* 0: every CPU there is */

static uint64_t cpus_present(void)
{
	uint32_t n = boot->ncpus ? boot->ncpus : 1;
	return n >= 64 ? ~0ULL : (1ULL << n) - 1;
}

static uint64_t cpus_allowed(void)
{
	return affinity ? affinity : cpus_present();
}

/* Only this process is known by pid; its group and session are its own. */
static int is_self(int pid)
{
	return pid == 0 || pid == proc.pid;
}

static long check_target(int which, int who)
{
	switch (which) {
	case PRIO_PROCESS: return is_self(who) ? 0 : -ESRCH;
	case PRIO_PGRP: return who == 0 || who == 1 ? 0 : -ESRCH;
	case PRIO_USER: return who == 0 || (uint32_t)who == proc.uid ? 0 : -ESRCH;
	default: return -EINVAL;
	}
}

/* The raw call returns 20 - nice, so that no success looks like an error. */
long sys_getpriority(int which, int who)
{
	long r = check_target(which, who);
	return r < 0 ? r : 20 - nice_value;
}

long sys_setpriority(int which, int who, int prio)
{
	long r = check_target(which, who);
	if (r < 0)
		return r;
	prio = prio < -20 ? -20 : prio > 19 ? 19 : prio;
	if (prio < nice_value && proc.uid != 0)
		return -EACCES; /* raising priority needs CAP_SYS_NICE */
	nice_value = prio;
	return 0;
}

long sys_sched_getscheduler(int pid)
{
	if (pid < 0)
		return -EINVAL;
	return is_self(pid) ? policy : -ESRCH;
}

long sys_sched_getparam(int pid, struct l_sched_param *p)
{
	if (pid < 0 || !p)
		return -EINVAL;
	if (!is_self(pid))
		return -ESRCH;
	return put_user(&p->priority, 0);
}

long sys_sched_setscheduler(int pid, int pol, const struct l_sched_param *up)
{
	struct l_sched_param param, *p = &param;
	if (pid < 0 || !up)
		return -EINVAL;
	if (copy_from_user(p, up, sizeof(*p)) < 0)
		return -EFAULT;
	if (!is_self(pid))
		return -ESRCH;
	pol &= ~SCHED_RESET_ON_FORK;
	switch (pol) {
	case SCHED_OTHER: case SCHED_BATCH: case SCHED_IDLE:
		if (p->priority != 0)
			return -EINVAL;
		policy = pol;
		return 0;
	case SCHED_FIFO: case SCHED_RR:
		if (p->priority < 1 || p->priority > 99)
			return -EINVAL;
		klog("sched_setscheduler: real-time scheduling is not available in a picoprocess");
		return -EPERM;
	default:
		return -EINVAL;
	}
}

long sys_sched_setparam(int pid, const struct l_sched_param *up)
{
	struct l_sched_param p;
	if (pid < 0 || !up)
		return -EINVAL;
	if (copy_from_user(&p, up, sizeof(p)) < 0)
		return -EFAULT;
	if (!is_self(pid))
		return -ESRCH;
	return p.priority == 0 ? 0 : -EINVAL;
}

long sys_sched_get_priority_max(int pol)
{
	switch (pol) {
	case SCHED_FIFO: case SCHED_RR: return 99;
	case SCHED_OTHER: case SCHED_BATCH: case SCHED_IDLE:
	case 6 /* SCHED_DEADLINE: no static priority */: return 0;
	default: return -EINVAL;
	}
}

long sys_sched_get_priority_min(int pol)
{
	long r = sys_sched_get_priority_max(pol);
	return r > 0 ? 1 : r;
}

long sys_sched_getaffinity(int pid, size_t len, uint64_t *mask)
{
	if (!is_self(pid))
		return -ESRCH;
	if (len < 8 || len % 8)
		return -EINVAL;
	if (put_user(mask, cpus_allowed()) < 0)
		return -EFAULT;
	return 8;
}

/* A mask with no CPU the picoprocess has is EINVAL, as on Linux. */
long sys_sched_setaffinity(int pid, size_t len, const uint64_t *mask)
{
	if (!is_self(pid))
		return -ESRCH;
	uint64_t m;
	if (len < 8)
		return -EINVAL;
	if (get_user(&m, mask) < 0)
		return -EFAULT;
	uint64_t want = m & cpus_present();
	if (!want)
		return -EINVAL;
	affinity = want == cpus_present() ? 0 : want;
	return 0;
}

/* The host does not say which CPU runs the thread: the first it may use,
 * which is a CPU it can run on, and NUMA node 0. */
long sys_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
	(void)cache;
	if (cpu && put_user(cpu, (unsigned)__builtin_ctzll(cpus_allowed())) < 0)
		return -EFAULT;
	if (node && put_user(node, 0u) < 0)
		return -EFAULT;
	return 0;
}

/* MEMBARRIER_CMD_QUERY answers that no command is supported, which every
 * user of membarrier checks for and falls back from. */
long sys_membarrier(int cmd, unsigned flags, int cpu)
{
	(void)cpu;
	if (flags)
		return -EINVAL;
	return cmd == 0 ? 0 : -EINVAL;
}

long sys_sched_yield(void)
{
	return abi->thread_yield();
}
