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

/* poll, ppoll, and the epoll scan */
struct l_pollfd { int fd; short events, revents; };

/* epoll_ctl, epoll_wait: packed on x86-64 (12 bytes) */
struct l_epoll_event {
	uint32_t events;
	uint64_t data;
} __attribute__((packed));

/* statfs, fstatfs */
struct l_statfs {
	int64_t f_type, f_bsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree;
	int32_t f_fsid[2];
	int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};

/* read from a signalfd: struct signalfd_siginfo of <sys/signalfd.h> */
struct l_signalfd_siginfo {
	uint32_t ssi_signo;
	int32_t ssi_errno, ssi_code;
	uint32_t ssi_pid, ssi_uid;
	int32_t ssi_fd;
	uint32_t ssi_tid, ssi_band, ssi_overrun, ssi_trapno;
	int32_t ssi_status, ssi_int;
	uint64_t ssi_ptr, ssi_utime, ssi_stime, ssi_addr;
	uint16_t ssi_addr_lsb, pad2;
	int32_t ssi_syscall;
	uint64_t ssi_call_addr;
	uint32_t ssi_arch;
	uint8_t pad[28];
};

/* --- sockets --- */

/* AF_INET addresses; port and address in network order */
struct l_sockaddr_in {
	uint16_t sin_family;
	uint16_t sin_port;
	uint32_t sin_addr;
	uint8_t sin_zero[8];
};

/* sendmsg, recvmsg */
struct l_msghdr {
	void *msg_name;
	unsigned msg_namelen;
	struct l_iovec *msg_iov;
	size_t msg_iovlen;
	void *msg_control;
	size_t msg_controllen;
	int msg_flags;
};

/* sendmmsg, recvmmsg */
struct l_mmsghdr {
	struct l_msghdr msg_hdr;
	unsigned msg_len;
};

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
_Static_assert(sizeof(struct l_iovec) == 16, "struct iovec");
_Static_assert(sizeof(struct l_pollfd) == 8, "struct pollfd");
_Static_assert(sizeof(struct l_epoll_event) == 12, "struct epoll_event");
_Static_assert(sizeof(struct l_statfs) == 120, "struct statfs");
_Static_assert(sizeof(struct l_signalfd_siginfo) == 128, "struct signalfd_siginfo");
_Static_assert(sizeof(struct l_sockaddr_in) == 16, "struct sockaddr_in");
_Static_assert(sizeof(struct l_msghdr) == 56, "struct msghdr");
_Static_assert(sizeof(struct l_mmsghdr) == 64, "struct mmsghdr");
_Static_assert(sizeof(struct l_sysinfo) == 112, "struct sysinfo");
_Static_assert(sizeof(struct l_rusage) == 144, "struct rusage");
_Static_assert(sizeof(struct l_siginfo) == 128, "siginfo_t");
_Static_assert(sizeof(struct l_sigevent) == 64, "struct sigevent");
_Static_assert(sizeof(struct l_stack) == 24, "stack_t");
_Static_assert(sizeof(struct l_clone_args) == 88, "struct clone_args");

#endif /* MOAT_LIBOS_LINUX_ABI_H */
