/*
 * linux_abi.h -- the Linux x86-64 layouts the LibOS reads from and
 * writes to the app: one definition and one name each.
 *
 * Prefix 'l_' means "as Linux lays it out", nothing else (the LibOS's
 * own services are k*: kmalloc, klog).  Field names are Linux's where a
 * handler reads them by name; the layouts are the kernel's, checked
 * below where a mistake would be silent.  Types the LibOS takes whole
 * from the uapi headers (struct stat, struct statx, struct new_utsname,
 * struct sigcontext) are not repeated here.
 */
#ifndef MOAT_LIBOS_LINUX_ABI_H
#define MOAT_LIBOS_LINUX_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <asm/sigcontext.h>

/* --- time --- */

struct l_timespec { int64_t tv_sec, tv_nsec; };
struct l_timeval { int64_t tv_sec, tv_usec; };
/* getrusage, wait4, waitid: CPU times, then 14 counters */
struct l_rusage { struct l_timeval ru_utime, ru_stime; long counts[14]; };
/* times: clock ticks */
struct l_tms { long tms_utime, tms_stime, tms_cutime, tms_cstime; };
/* setitimer, getitimer */
struct l_itimerval { struct l_timeval it_interval, it_value; };
/* timer_settime, timerfd_settime */
struct l_itimerspec { struct l_timespec it_interval, it_value; };

/* --- I/O --- */

struct l_iovec { void *iov_base; size_t iov_len; };

/* --- limits, identity, the system --- */

struct l_rlimit { uint64_t rlim_cur, rlim_max; };

struct l_cap_header { uint32_t version; int pid; };
struct l_cap_data { uint32_t effective, permitted, inheritable; };

struct l_sysinfo {
	long uptime;
	unsigned long loads[3];
	unsigned long totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	unsigned short procs, pad;
	unsigned long totalhigh, freehigh;
	unsigned mem_unit;   /* then padding to 112 bytes: no _f[] on x86-64 */
};

struct l_sched_param { int priority; };

/* --- processes and threads --- */

struct l_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
		stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* --- signals --- */

struct l_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

struct l_stack { void *sp; int flags; int pad; size_t size; };

struct l_ucontext {
	uint64_t flags;
	struct l_ucontext *link;
	struct l_stack stack;
	struct sigcontext mc;
	uint64_t sigmask;
};

/* 128 bytes; the union's view follows si_code's kind. */
struct l_siginfo {
	int signo, errno_, code, pad;
	union {
		struct { int pid, uid; } kill;        /* SI_USER, SI_QUEUE */
		struct { int pid, uid, status; } chld; /* SIGCHLD, waitid */
		void *addr;                            /* SIGSEGV & co */
		char pad2[112];
	};
};

/* What a handler finds on its stack: the return to its restorer, then
 * the context rt_sigreturn restores, then the siginfo. */
struct l_rt_sigframe {
	uint64_t pretcode;
	struct l_ucontext uc;
	struct l_siginfo info;
};

/* timer_create */
struct l_sigevent {
	uint64_t value;      /* sigev_value */
	int signo;
	int notify;
	int tid;             /* SIGEV_THREAD_ID */
	int pad[11];
};

_Static_assert(sizeof(struct l_timespec) == 16, "struct timespec");
_Static_assert(sizeof(struct l_itimerval) == 32, "struct itimerval");
_Static_assert(sizeof(struct l_itimerspec) == 32, "struct itimerspec");
_Static_assert(sizeof(struct l_sysinfo) == 112, "struct sysinfo");
_Static_assert(sizeof(struct l_rusage) == 144, "struct rusage");
_Static_assert(sizeof(struct l_siginfo) == 128, "siginfo_t");
_Static_assert(sizeof(struct l_sigevent) == 64, "struct sigevent");
_Static_assert(sizeof(struct l_stack) == 24, "stack_t");
_Static_assert(sizeof(struct l_clone_args) == 88, "struct clone_args");

#endif /* MOAT_LIBOS_LINUX_ABI_H */
