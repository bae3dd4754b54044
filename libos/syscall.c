/*
 * syscall.c -- the Linux system call table of the LibOS.
 *
 * Every 'syscall' the app executes arrives here through the exception
 * upcall.  Unknown numbers return -ENOSYS and are named once on the debug
 * log, so a missing call shows up in `moat run --debug` rather than as a
 * mystery.
 */
#include <asm/unistd.h>

#include "libos.h"
#include "moat/extension.h"

typedef long (*sys_fn)(long, long, long, long, long, long);

#define DECL(name) long sys_##name()
DECL(read); DECL(write); DECL(open); DECL(close); DECL(stat); DECL(fstat);
DECL(lstat); DECL(lseek); DECL(mmap); DECL(mprotect); DECL(munmap);
DECL(brk); DECL(rt_sigaction); DECL(rt_sigprocmask); DECL(ioctl);
DECL(pread64); DECL(pwrite64); DECL(readv); DECL(writev); DECL(access);
DECL(sched_yield); DECL(mremap); DECL(madvise); DECL(dup); DECL(dup2);
DECL(nanosleep); DECL(getpid); DECL(exit); DECL(kill); DECL(uname);
DECL(fcntl); DECL(fsync); DECL(ftruncate); DECL(getcwd); DECL(chdir);
DECL(fchdir); DECL(rename); DECL(mkdir); DECL(rmdir); DECL(creat);
DECL(unlink); DECL(readlink); DECL(umask); DECL(gettimeofday);
DECL(getrlimit); DECL(getuid); DECL(getgid); DECL(getppid); DECL(getpgrp);
DECL(getgroups); DECL(getresuid); DECL(getresgid); DECL(getpgid);
DECL(getsid); DECL(sigaltstack); DECL(arch_prctl); DECL(setrlimit);
DECL(prctl); DECL(gettid); DECL(tkill); DECL(time); DECL(getdents64);
DECL(set_tid_address); DECL(clock_gettime); DECL(clock_getres);
DECL(clock_nanosleep); DECL(exit_group); DECL(tgkill); DECL(openat);
DECL(mkdirat); DECL(newfstatat); DECL(unlinkat); DECL(renameat);
DECL(readlinkat); DECL(faccessat); DECL(set_robust_list); DECL(dup3);
DECL(prlimit64); DECL(renameat2); DECL(getrandom); DECL(statx);
DECL(faccessat2); DECL(close_range); DECL(sched_getaffinity);
DECL(statfs); DECL(fstatfs); DECL(getxattr); DECL(listxattr); DECL(setxattr);
DECL(socket); DECL(futex); DECL(fork); DECL(wait4); DECL(waitid);
DECL(pipe); DECL(pipe2); DECL(rt_sigsuspend); DECL(pause);
DECL(rt_sigpending); DECL(rt_sigtimedwait); DECL(poll); DECL(ppoll);
DECL(select); DECL(pselect6); DECL(fchmodat); DECL(chmod); DECL(fchmod);
DECL(utimensat); DECL(utimes); DECL(utime); DECL(fchownat); DECL(chown);
DECL(lchown); DECL(fchown); DECL(symlinkat); DECL(symlink); DECL(linkat);
DECL(link); DECL(truncate); DECL(fallocate); DECL(setitimer); DECL(getitimer);
DECL(alarm); DECL(epoll_create1); DECL(epoll_create); DECL(epoll_ctl);
DECL(epoll_wait); DECL(epoll_pwait); DECL(eventfd2); DECL(eventfd); DECL(signalfd4); DECL(signalfd); DECL(mincore); DECL(personality);
DECL(rt_sigqueueinfo); DECL(rt_tgsigqueueinfo);
DECL(sysinfo); DECL(copy_file_range); DECL(sendfile); DECL(socketpair);
DECL(bind); DECL(listen); DECL(connect); DECL(accept4); DECL(accept);
DECL(getsockname); DECL(getpeername); DECL(shutdown); DECL(setsockopt);
DECL(getsockopt); DECL(sendto); DECL(recvfrom); DECL(sendmsg); DECL(recvmsg);
DECL(setresuid); DECL(setresgid); DECL(setuid); DECL(setgid); DECL(setreuid);
DECL(setregid); DECL(setfsuid); DECL(setfsgid); DECL(setgroups); DECL(setpgid);
DECL(setsid); DECL(getrusage); DECL(flock); DECL(msync); DECL(timerfd_create); DECL(timerfd_settime);
DECL(timerfd_gettime); DECL(memfd_create); DECL(capget); DECL(capset);
DECL(timer_create); DECL(timer_settime); DECL(timer_gettime);
DECL(timer_getoverrun); DECL(timer_delete); DECL(times); DECL(getpriority);
DECL(setpriority); DECL(sched_getscheduler); DECL(sched_setscheduler);
DECL(sched_getparam); DECL(sched_setparam); DECL(sched_get_priority_max);
DECL(sched_get_priority_min); DECL(sched_setaffinity); DECL(getcpu);
DECL(membarrier); DECL(mlock); DECL(mlock2); DECL(munlock); DECL(mlockall);
DECL(munlockall); DECL(preadv); DECL(pwritev); DECL(preadv2); DECL(pwritev2);
DECL(sync_file_range); DECL(syncfs); DECL(readahead); DECL(removexattr);
DECL(futimesat); DECL(sendmmsg); DECL(recvmmsg); DECL(epoll_pwait2);

static long sys_zero() { return 0; }
static long sys_enosys_quiet() { return -ENOSYS; }

#define E(name) [__NR_##name] = (sys_fn)(void (*)(void))sys_##name
#define ALIAS(nr, fn) [__NR_##nr] = (sys_fn)(void (*)(void))sys_##fn

static const sys_fn table[__NR_faccessat2 + 64] = {
	E(read), E(write), E(open), E(close), E(stat), E(fstat), E(lstat),
	E(lseek), E(mmap), E(mprotect), E(munmap), E(brk), E(rt_sigaction),
	E(rt_sigprocmask), E(ioctl), E(pread64), E(pwrite64), E(readv),
	E(writev), E(access), E(sched_yield), E(mremap), E(madvise), E(dup),
	E(dup2), E(nanosleep), E(getpid), E(exit), E(kill), E(uname),
	E(fcntl), E(fsync), ALIAS(fdatasync, fsync), E(ftruncate), E(getcwd),
	E(chdir), E(fchdir), E(rename), E(mkdir), E(rmdir), E(creat),
	E(unlink), E(readlink), E(umask), E(gettimeofday), E(getrlimit),
	E(getuid), E(getgid), ALIAS(geteuid, getuid), ALIAS(getegid, getgid),
	E(getppid), E(getpgrp), E(getgroups), E(getresuid), E(getresgid),
	E(getpgid), E(getsid), E(sigaltstack), E(arch_prctl), E(setrlimit),
	E(prctl), E(gettid), E(tkill), E(time), E(getdents64),
	E(set_tid_address), E(clock_gettime), E(clock_getres),
	E(clock_nanosleep), E(exit_group), E(tgkill), E(openat), E(mkdirat),
	E(newfstatat), E(unlinkat), E(renameat), E(readlinkat), E(faccessat),
	E(set_robust_list), E(dup3), E(prlimit64), E(renameat2),
	E(getrandom), E(statx), E(faccessat2), E(close_range),
	E(sched_getaffinity), E(statfs), E(fstatfs), E(getxattr),
	ALIAS(lgetxattr, getxattr), ALIAS(fgetxattr, getxattr), E(listxattr),
	ALIAS(llistxattr, listxattr), ALIAS(flistxattr, listxattr),
	E(setxattr), ALIAS(lsetxattr, setxattr), ALIAS(fsetxattr, setxattr),
	E(socket), E(futex), E(fork), ALIAS(vfork, fork), E(wait4), E(waitid),
	E(pipe), E(pipe2), E(rt_sigsuspend), E(pause), E(rt_sigpending),
	E(rt_sigtimedwait), E(poll), E(ppoll), E(select), E(pselect6),
	E(fchmodat), E(chmod), E(fchmod), E(utimensat), E(utimes), E(utime),
	E(fchownat), E(chown), E(lchown), E(fchown), E(symlinkat), E(symlink),
	E(linkat), E(link), E(truncate), E(fallocate), E(setitimer), E(getitimer),
	E(alarm), E(epoll_create1), E(epoll_create), E(epoll_ctl), E(epoll_wait),
	E(epoll_pwait), E(eventfd2), E(eventfd), E(signalfd4), E(signalfd), E(mincore), E(personality),
	E(rt_sigqueueinfo), E(rt_tgsigqueueinfo), E(sysinfo), E(copy_file_range),
	E(sendfile), E(socketpair), E(bind), E(listen), E(connect), E(accept4),
	E(accept), E(getsockname), E(getpeername), E(shutdown), E(setsockopt),
	E(getsockopt), E(sendto), E(recvfrom), E(sendmsg), E(recvmsg),
	E(setresuid), E(setresgid), E(setuid), E(setgid), E(setreuid), E(setregid),
	E(setfsuid), E(setfsgid), E(setgroups), E(setpgid), E(setsid), E(getrusage),
	E(flock), E(msync), E(timerfd_create), E(timerfd_settime), E(timerfd_gettime),
	E(memfd_create), E(capget), E(capset), E(timer_create), E(timer_settime),
	E(timer_gettime), E(timer_getoverrun), E(timer_delete), E(times),
	E(getpriority), E(setpriority), E(sched_getscheduler),
	E(sched_setscheduler), E(sched_getparam), E(sched_setparam),
	E(sched_get_priority_max), E(sched_get_priority_min),
	E(sched_setaffinity), E(getcpu), E(membarrier), E(mlock), E(mlock2),
	E(munlock), E(mlockall), E(munlockall), E(preadv), E(pwritev),
	E(preadv2), E(pwritev2), E(sync_file_range), E(syncfs), E(readahead),
	E(removexattr), ALIAS(lremovexattr, removexattr),
	ALIAS(fremovexattr, removexattr), E(futimesat), E(sendmmsg),
	E(recvmmsg), E(epoll_pwait2),
	/* Accepted with no effect inside one picoprocess. */
	[__NR_fadvise64] = (sys_fn)sys_zero, [__NR_sync] = (sys_fn)sys_zero,
	/* Declined as glibc expects on older kernels, so not worth a log. */
	[__NR_rseq] = (sys_fn)sys_enosys_quiet,
};

static uint8_t reported[(sizeof(table) / sizeof(table[0]) + 7) / 8 + 64];

static void report_unimplemented(uint64_t nr)
{
	if (boot->flags & MOAT_BOOT_NOTES) {
		/* Every time, for the extension below that counts them. */
		char note[96];
		int n = rt_snprintf(note, sizeof(note), MOAT_NOTE_PREFIX "enosys %lu %s",
				    (unsigned long)nr, nr < syscall_names_len && syscall_names[nr]
				    ? syscall_names[nr] : "unknown");
		abi->debug_log(note, (size_t)n);
	}
	uint64_t bit = nr < sizeof(reported) * 8 ? nr : sizeof(reported) * 8 - 1;
	if (reported[bit / 8] & (1 << (bit % 8)))
		return;
	reported[bit / 8] |= (uint8_t)(1 << (bit % 8));
	const char *name = nr < syscall_names_len && syscall_names[nr]
				   ? syscall_names[nr] : "unknown";
	klog("unimplemented syscall %lu (%s): ENOSYS", (unsigned long)nr, name);
}

long syscall_dispatch(struct moat_context *c)
{
	uint64_t nr = c->rax;
	long r = -ENOSYS;
	thread_sig()->syscall_nr = nr;
	if (nr == __NR_rt_sigreturn)
		r = sys_rt_sigreturn(c);
	else if (nr == __NR_clone)
		r = thread_clone(c, c->rdi, c->rsi, (int *)c->rdx, (int *)c->r10, c->r8);
	else if (nr == __NR_execve)
		r = process_execve(c, -100, (const char *)c->rdi, (char *const *)c->rsi,
				   (char *const *)c->rdx);
	else if (nr == __NR_execveat)
		r = process_execve(c, (int)c->rdi, (const char *)c->rsi,
				   (char *const *)c->rdx, (char *const *)c->r10);
	else if (nr == __NR_clone3)
		r = thread_clone3(c, (const struct clone_args_k *)c->rdi, c->rsi);
	else if (nr < RT_ARRAY_LEN(table) && table[nr])
		r = table[nr]((long)c->rdi, (long)c->rsi, (long)c->rdx,
			      (long)c->r10, (long)c->r8, (long)c->r9);
	else
		report_unimplemented(nr);
	if (boot->flags & MOAT_BOOT_TRACE)
		klog("%s(%lx, %lx, %lx, %lx) = %ld",
		     nr < syscall_names_len && syscall_names[nr] ? syscall_names[nr] : "?",
		     c->rdi, c->rsi, c->rdx, c->r10, r);
	return r;
}
