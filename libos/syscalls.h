/*
 * syscalls.h -- prototypes of the system-call handlers, made from
 * libos/syscalls.def.  Every file defining a handler sees its prototype,
 * so a parameter list that disagrees with the list is a compile error.
 */
#ifndef MOAT_LIBOS_SYSCALLS_H
#define MOAT_LIBOS_SYSCALLS_H

#include <stddef.h>
#include <stdint.h>

/* The Linux layouts the handlers take, declared here at file scope so a
 * prototype names the same type as its handler.  The l_* ones are
 * defined once, in linux_abi.h; the others come from uapi headers. */
struct l_cap_data;
struct l_cap_header;
struct l_epoll_event;
struct l_iovec;
struct l_itimerspec;
struct l_itimerval;
struct l_mmsghdr;
struct l_mq_attr;
struct l_msghdr;
struct l_pollfd;
struct l_rlimit;
struct l_rusage;
struct l_sched_param;
struct l_sembuf;
struct l_sigaction;
struct l_sigevent;
struct l_siginfo;
struct l_stack;
struct l_statfs;
struct l_sysinfo;
struct l_timespec;
struct l_timeval;
struct l_tms;
struct moat_context;
struct new_utsname;
struct stat;
struct statx;

#define SYSCALL0(name) long sys_##name(void);
#define SYSCALL1(name, t0) long sys_##name(t0);
#define SYSCALL2(name, t0, t1) long sys_##name(t0, t1);
#define SYSCALL3(name, t0, t1, t2) long sys_##name(t0, t1, t2);
#define SYSCALL4(name, t0, t1, t2, t3) long sys_##name(t0, t1, t2, t3);
#define SYSCALL5(name, t0, t1, t2, t3, t4) \
	long sys_##name(t0, t1, t2, t3, t4);
#define SYSCALL6(name, t0, t1, t2, t3, t4, t5) \
	long sys_##name(t0, t1, t2, t3, t4, t5);
#define ALIAS(name, other)
#define CONTEXT(name) long sys_##name(struct moat_context *ctx);
#define RETURN(name, value)
#include "syscalls.def"

#endif /* MOAT_LIBOS_SYSCALLS_H */
