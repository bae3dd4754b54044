/*
 * misc.c -- identity, time, randomness, limits, names: the system calls
 * that need no stream.
 */
#include <asm/prctl.h>
#include <linux/prctl.h>
#include <linux/resource.h>
#include <linux/time_types.h>
#include <linux/utsname.h>

#include "libos.h"

long sys_exit_group(int code)
{
	abi->process_exit(code & 0xff, 0);
	__builtin_unreachable();
}

long sys_getpid(void) { return proc.pid; }
long sys_gettid(void) { return thread_tid(); }
long sys_getuid(void) { return proc.uid; }
long sys_getgid(void) { return proc.gid; }

long sys_getresuid(uint32_t *r, uint32_t *e, uint32_t *s)
{
	*r = *e = *s = proc.uid;
	return 0;
}

long sys_getresgid(uint32_t *r, uint32_t *e, uint32_t *s)
{
	*r = *e = *s = proc.gid;
	return 0;
}

long sys_getgroups(int n, uint32_t *list)
{
	(void)list;
	return n < 0 ? -EINVAL : 0;
}

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

long sys_clock_gettime(int id, struct __kernel_timespec *ts)
{
	if (id < 0 || id > 11)
		return -EINVAL;
	long ns = abi->system_time(clock_of(id));
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
	return 0;
}

long sys_clock_getres(int id, struct __kernel_timespec *ts)
{
	if (id < 0 || id > 11)
		return -EINVAL;
	if (ts)
		ts->tv_sec = 0, ts->tv_nsec = 1;
	return 0;
}

long sys_gettimeofday(long *tv, void *tz)
{
	(void)tz;
	if (tv) {
		long ns = abi->system_time(MOAT_CLOCK_REALTIME);
		tv[0] = ns / 1000000000;
		tv[1] = (ns % 1000000000) / 1000;
	}
	return 0;
}

long sys_time(long *t)
{
	long s = abi->system_time(MOAT_CLOCK_REALTIME) / 1000000000;
	if (t)
		*t = s;
	return s;
}

/* Sleep until 'end' on 'clock'.  A signal that runs a handler (or ends
 * the process) interrupts it: -EINTR, and *rem gets what was left; a
 * blocked or ignored one does not. */
static long sleep_until(uint32_t clock, int64_t end, struct __kernel_timespec *rem)
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
			rem->tv_sec = left / 1000000000;
			rem->tv_nsec = left % 1000000000;
		}
		return -EINTR;
	}
}

static int bad_time(const struct __kernel_timespec *t)
{
	return t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000;
}

long sys_nanosleep(const struct __kernel_timespec *req, struct __kernel_timespec *rem)
{
	if (bad_time(req))
		return -EINVAL;
	return sleep_until(MOAT_CLOCK_MONOTONIC, abi->system_time(MOAT_CLOCK_MONOTONIC) +
				req->tv_sec * 1000000000 + req->tv_nsec, rem);
}

long sys_clock_nanosleep(int id, int flags, const struct __kernel_timespec *req,
			 struct __kernel_timespec *rem)
{
	if (bad_time(req))
		return -EINVAL;
	uint32_t c = clock_of(id);
	int64_t want = req->tv_sec * 1000000000 + req->tv_nsec;
	if (flags & 1) /* TIMER_ABSTIME: no remainder */
		return sleep_until(c, want, NULL);
	return sleep_until(c, abi->system_time(c) + want, rem);
}

long sys_getrandom(void *buf, size_t len, unsigned flags)
{
	(void)flags;
	return abi->random_bits(buf, len);
}

long sys_arch_prctl(int code, uint64_t addr)
{
	switch (code) {
	case ARCH_SET_FS:
		thread_set_fsbase(addr);
		return abi->segment_base_set(MOAT_SEGMENT_FS, addr);
	case ARCH_GET_FS:
		*(uint64_t *)addr = thread_get_fsbase();
		return 0;
	case ARCH_SET_GS:
		return -EPERM; /* %gs holds the LibOS's thread pointer */
	default:
		return -EINVAL;
	}
}

struct rlimit64_k { uint64_t cur, max; };
static struct rlimit64_k limits[16] = {
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
			limits[i] = (struct rlimit64_k){ ~0UL, ~0UL };
	/* [Limits] files: the app's table holds that many, as natively
	 * under RLIMIT_NOFILE (the table has LIBOS_MAX_FDS slots at most). */
	if (boot->max_files && boot->max_files < LIBOS_MAX_FDS)
		limits[RLIMIT_NOFILE] = (struct rlimit64_k){ boot->max_files, boot->max_files };
}

/* One more than the highest descriptor the app may have now. */
int fd_limit(void)
{
	init_limits();
	uint64_t n = limits[RLIMIT_NOFILE].cur;
	return n < LIBOS_MAX_FDS ? (int)n : LIBOS_MAX_FDS;
}

long sys_prlimit64(int pid, unsigned res, const struct rlimit64_k *nl,
		   struct rlimit64_k *ol)
{
	if (pid != 0 && pid != 1)
		return -ESRCH;
	if (res >= 16)
		return -EINVAL;
	init_limits();
	if (ol)
		*ol = limits[res];
	if (nl) {
		if (nl->cur > nl->max || nl->max > limits[res].max)
			return -EPERM; /* raising a hard limit needs privilege */
		limits[res] = *nl;
	}
	return 0;
}

long sys_getrlimit(unsigned res, struct rlimit64_k *rl)
{
	return sys_prlimit64(0, res, NULL, rl);
}

long sys_setrlimit(unsigned res, const struct rlimit64_k *rl)
{
	return sys_prlimit64(0, res, rl, NULL);
}

long sys_prctl(int op, unsigned long a2)
{
	switch (op) {
	case PR_SET_NAME:
		rt_strlcpy(proc.comm, (const char *)a2, sizeof(proc.comm));
		return 0;
	case PR_GET_NAME:
		memcpy((char *)a2, proc.comm, sizeof(proc.comm));
		return 0;
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
		*(int *)a2 = proc.pdeathsig;
		return 0;
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
		*(int *)a2 = proc.subreaper;
		return 0;
	case PR_CAPBSET_READ: /* the virtual root's bounding set: all of them */
		return a2 <= 40 ? 1 : -EINVAL;
	default:
		klog("prctl: option %d is not supported", op);
		return -EINVAL;
	}
}

long sys_sched_yield(void)
{
	return abi->thread_yield();
}



/* --- interval timers --- */

struct kitimerval { long isec, iusec, vsec, vusec; };

static uint64_t tv_ns(long sec, long usec)
{
	return (uint64_t)sec * 1000000000 + (uint64_t)usec * 1000;
}

long sys_setitimer(int which, const struct kitimerval *nv, struct kitimerval *ov)
{
	uint64_t oval, oint;
	if (which < 0 || which > 2)
		return -EINVAL;
	uint64_t val = 0, intv = 0;
	if (nv) {
		if (nv->iusec < 0 || nv->iusec >= 1000000 || nv->vusec < 0 ||
		    nv->vusec >= 1000000 || nv->isec < 0 || nv->vsec < 0)
			return -EINVAL;
		val = tv_ns(nv->vsec, nv->vusec);
		intv = tv_ns(nv->isec, nv->iusec);
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
		*ov = (struct kitimerval){ (long)(oint / 1000000000), (long)(oint % 1000000000 / 1000),
					   (long)(oval / 1000000000), (long)(oval % 1000000000 / 1000) };
	return r;
}

long sys_getitimer(int which, struct kitimerval *cur)
{
	return sys_setitimer(which, NULL, cur);
}

long sys_alarm(unsigned secs)
{
	struct kitimerval nv = { 0, 0, (long)secs, 0 }, ov = { 0, 0, 0, 0 };
	long r = sys_setitimer(0, &nv, &ov);
	if (r < 0)
		return r;
	return ov.vsec + (ov.vusec >= 500000 || (ov.vsec == 0 && ov.vusec));
}

struct ksysinfo {
	long uptime;
	unsigned long loads[3];
	unsigned long totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	unsigned short procs, pad;
	unsigned long totalhigh, freehigh;
	unsigned mem_unit;
	char rest[8];
};

/* What the picoprocess may use, as the monitor said at launch. */
long sys_sysinfo(struct ksysinfo *si)
{
	memset(si, 0, sizeof(*si));
	si->uptime = abi->system_time(MOAT_CLOCK_MONOTONIC) / 1000000000;
	si->totalram = boot->mem_bytes;
	si->freeram = boot->mem_bytes / 2;
	si->procs = (unsigned short)thread_count();
	si->mem_unit = 1;
	return 0;
}

/* --- identity: virtual, inside the picoprocess only ---
 * One uid and one gid stand for real, effective and saved ids.  The
 * virtual root may become anyone; anyone else may only stay who they
 * are.  Nothing here changes what the host lets the picoprocess do. */

static long set_id(uint32_t *cur, long want)
{
	if (want == -1 || (uint32_t)want == *cur)
		return 0;
	if (want < 0)
		return -EINVAL;
	if (proc.uid != 0)
		return -EPERM;
	*cur = (uint32_t)want;
	return 0;
}

long sys_setresuid(long r, long e, long s)
{
	long rc = set_id(&proc.uid, e != -1 ? e : r != -1 ? r : s);
	return rc;
}

long sys_setresgid(long r, long e, long s)
{
	return set_id(&proc.gid, e != -1 ? e : r != -1 ? r : s);
}

long sys_setuid(long uid) { return sys_setresuid(uid, uid, uid); }
long sys_setgid(long gid) { return sys_setresgid(gid, gid, gid); }
long sys_setreuid(long r, long e) { return sys_setresuid(r, e, -1); }
long sys_setregid(long r, long e) { return sys_setresgid(r, e, -1); }

long sys_setfsuid(long uid) { (void)uid; return proc.uid; }
long sys_setfsgid(long gid) { (void)gid; return proc.gid; }

long sys_setgroups(long n, const uint32_t *list)
{
	(void)list;
	if (n < 0 || n > 65536)
		return -EINVAL;
	return proc.uid == 0 ? 0 : -EPERM;
}

/* Process groups and sessions are the host's, inside the picoprocess's
 * pid namespace and the session it starts as (pid 1 leads both). */
long sys_setpgid(int pid, int pgid)
{
	if (pid < 0 || pgid < 0)
		return -EINVAL;
	return abi->process_control(MOAT_PROC_SET_GROUP, pid, pgid);
}

long sys_getpgid(int pid)
{
	return pid < 0 ? -ESRCH : abi->process_control(MOAT_PROC_GET_GROUP, pid, 0);
}

long sys_getpgrp(void)
{
	return sys_getpgid(0);
}

long sys_setsid(void)
{
	long r = abi->process_control(MOAT_PROC_NEW_SESSION, 0, 0);
	if (r > 0)
		proc.sid = (int)r;
	return r;
}

/* The session is known for this process (inherited across fork); for
 * another, which has no host call to ask, the caller's own session is
 * the answer unless that process made one of its own. */
long sys_getsid(int pid)
{
	int own = proc.sid ? proc.sid : 1;
	if (pid == 0 || pid == proc.pid)
		return own;
	long g = sys_getpgid(pid);
	return g < 0 ? g : own;
}

/* The CPU time the host counted for this process (RUSAGE_SELF) or
 * thread (RUSAGE_THREAD), all of it as user time: the host does not split
 * it for the picoprocess, and the LibOS's work is the app's system time
 * anyway.  Children's time, memory and I/O counts are not known: zero,
 * not invented. */
long sys_getrusage(int who, long *ru)
{
	if (who != 0 && who != -1 && who != 1)
		return -EINVAL;
	memset(ru, 0, 144);
	if (who != -1) {
		long ns = abi->system_time(who == 1 ? MOAT_CLOCK_THREAD_CPU
						    : MOAT_CLOCK_PROCESS_CPU);
		ru[0] = ns / 1000000000, ru[1] = ns % 1000000000 / 1000;
	}
	return 0;
}

/* times(2): clock ticks (USER_HZ, 100 a second), as getrusage splits
 * them; the result counts from an arbitrary point, as on Linux. */
long sys_times(long *tms)
{
	if (tms) {
		tms[0] = abi->system_time(MOAT_CLOCK_PROCESS_CPU) / 10000000;
		tms[1] = tms[2] = tms[3] = 0;
	}
	return abi->system_time(MOAT_CLOCK_MONOTONIC) / 10000000;
}

struct kcap_header { uint32_t version; int pid; };
struct kcap_data { uint32_t effective, permitted, inheritable; };

/* The virtual root has every capability inside; others have none.  They
 * mean nothing to the host either way. */
long sys_capget(struct kcap_header *h, struct kcap_data *d)
{
	if (h->version != 0x20080522 && h->version != 0x20071026) {
		h->version = 0x20080522;
		return d ? -EINVAL : 0;
	}
	if (h->pid != 0 && h->pid != proc.pid)
		return -ESRCH;
	if (d) {
		uint32_t all = proc.uid == 0 ? ~0u : 0;
		d[0] = (struct kcap_data){ all, all, 0 };
		d[1] = (struct kcap_data){ all & 0x1ff, all & 0x1ff, 0 };
	}
	return 0;
}

long sys_capset(struct kcap_header *h, const struct kcap_data *d)
{
	(void)d;
	if (h->pid != 0 && h->pid != proc.pid)
		return -EPERM;
	return 0; /* dropping capabilities inside changes nothing outside */
}
