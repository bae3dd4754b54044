/*
 * host.h -- the host system calls the PAL makes, one typed wrapper each.
 *
 * Every host call goes through the gate (gate.S); these wrappers give each
 * call its parameter list, so a missing or extra argument is a compile
 * error rather than a zero the kernel reads as a length.  The set is the
 * seccomp allowlist's (monitor/filter_rules.c): a wrapper here that the
 * filter does not allow would kill the picoprocess.
 */
#ifndef MOAT_PAL_HOST_H
#define MOAT_PAL_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>
#include <linux/time_types.h>

/* The gate.  Only the wrappers below call it. */
long pal_syscall6(long nr, long a1, long a2, long a3, long a4, long a5,
		  long a6);

/* Host layouts the wrappers take (x86-64 Linux). */
struct stat;
struct sock_fprog;
struct host_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};
struct host_stack { void *sp; int flags; size_t size; };
struct host_pollfd { int fd; short events, revents; };
struct host_itimerval { long isec, iusec, vsec, vusec; };
struct host_iovec { void *base; size_t len; };
struct host_msghdr {
	void *name;
	int namelen;
	struct host_iovec *iov;
	size_t iovlen;
	void *control;
	size_t controllen;
	unsigned flags;
};
struct host_flock { short type, whence; long start, len; int pid; };

/* The kernel's sigset is one 64-bit word. */
#define HOST_SIGSET_SIZE 8

#define HOST_CALL(nr, a, b, c, d, e, f) \
	pal_syscall6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* --- descriptors --- */

static inline long host_read(int fd, void *buf, size_t len)
{
	return HOST_CALL(__NR_read, fd, buf, len, 0, 0, 0);
}

static inline long host_write(int fd, const void *buf, size_t len)
{
	return HOST_CALL(__NR_write, fd, buf, len, 0, 0, 0);
}

static inline long host_pread64(int fd, void *buf, size_t len, uint64_t off)
{
	return HOST_CALL(__NR_pread64, fd, buf, len, off, 0, 0);
}

static inline long host_pwrite64(int fd, const void *buf, size_t len, uint64_t off)
{
	return HOST_CALL(__NR_pwrite64, fd, buf, len, off, 0, 0);
}

static inline long host_close(int fd)
{
	return HOST_CALL(__NR_close, fd, 0, 0, 0, 0, 0);
}

/* fstat is newfstatat with AT_EMPTY_PATH (0x1000): the filter allows
 * newfstatat only with AT_SYMLINK_NOFOLLOW (0x100) and a descriptor,
 * which also serves directfs.c, and no separate fstat. */
static inline long host_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return HOST_CALL(__NR_newfstatat, dirfd, path, st, flags, 0, 0);
}

static inline long host_fstat(int fd, struct stat *st)
{
	return host_fstatat(fd, "", st, 0x1000 | 0x100);
}

static inline long host_ftruncate(int fd, uint64_t len)
{
	return HOST_CALL(__NR_ftruncate, fd, len, 0, 0, 0, 0);
}

static inline long host_fsync(int fd)
{
	return HOST_CALL(__NR_fsync, fd, 0, 0, 0, 0, 0);
}

static inline long host_dup3(int old, int new_fd, int flags)
{
	return HOST_CALL(__NR_dup3, old, new_fd, flags, 0, 0, 0);
}

static inline long host_pipe2(int fds[2], int flags)
{
	return HOST_CALL(__NR_pipe2, fds, flags, 0, 0, 0, 0);
}

static inline long host_flock(int fd, int op)
{
	return HOST_CALL(__NR_flock, fd, op, 0, 0, 0, 0);
}

/* fcntl only as the filter allows it: F_GETLK and F_SETLK. */
static inline long host_fcntl_lock(int fd, int cmd, struct host_flock *fl)
{
	return HOST_CALL(__NR_fcntl, fd, cmd, fl, 0, 0, 0);
}

/* sigmask NULL: the caller's mask stays (and no size is passed). */
static inline long host_ppoll(struct host_pollfd *fds, unsigned n,
			      const struct __kernel_timespec *timeout,
			      const uint64_t *sigmask)
{
	return HOST_CALL(__NR_ppoll, fds, n, timeout, sigmask,
			 sigmask ? HOST_SIGSET_SIZE : 0, 0);
}

/* --- sockets --- */

static inline long host_socketpair(int domain, int type, int proto, int fds[2])
{
	return HOST_CALL(__NR_socketpair, domain, type, proto, fds, 0, 0);
}

static inline long host_accept4(int fd, void *addr, int *addrlen, int flags)
{
	return HOST_CALL(__NR_accept4, fd, addr, addrlen, flags, 0, 0);
}

static inline long host_shutdown(int fd, int how)
{
	return HOST_CALL(__NR_shutdown, fd, how, 0, 0, 0, 0);
}

static inline long host_getsockopt(int fd, int level, int name, void *val, int *len)
{
	return HOST_CALL(__NR_getsockopt, fd, level, name, val, len, 0);
}

static inline long host_recvmsg(int fd, struct host_msghdr *m, int flags)
{
	return HOST_CALL(__NR_recvmsg, fd, m, flags, 0, 0, 0);
}

/* --- memory --- */

static inline long host_mmap(void *addr, size_t len, int prot, int flags, int fd,
			     uint64_t off)
{
	return HOST_CALL(__NR_mmap, addr, len, prot, flags, fd, off);
}

static inline long host_mprotect(void *addr, size_t len, int prot)
{
	return HOST_CALL(__NR_mprotect, addr, len, prot, 0, 0, 0);
}

static inline long host_munmap(void *addr, size_t len)
{
	return HOST_CALL(__NR_munmap, addr, len, 0, 0, 0, 0);
}

/* --- signals --- */

static inline long host_rt_sigaction(int sig, const struct host_sigaction *act,
				     struct host_sigaction *old)
{
	return HOST_CALL(__NR_rt_sigaction, sig, act, old, HOST_SIGSET_SIZE, 0, 0);
}

static inline long host_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old)
{
	return HOST_CALL(__NR_rt_sigprocmask, how, set, old, HOST_SIGSET_SIZE, 0, 0);
}

static inline long host_sigaltstack(const struct host_stack *ss, struct host_stack *old)
{
	return HOST_CALL(__NR_sigaltstack, ss, old, 0, 0, 0, 0);
}

static inline long host_kill(int pid, int sig)
{
	return HOST_CALL(__NR_kill, pid, sig, 0, 0, 0, 0);
}

static inline long host_setitimer(int which, const struct host_itimerval *nv,
				  struct host_itimerval *old)
{
	return HOST_CALL(__NR_setitimer, which, nv, old, 0, 0, 0);
}

/* --- threads, processes, time --- */

static inline long host_futex(const volatile void *addr, int op, uint32_t val,
			      const struct __kernel_timespec *timeout)
{
	return HOST_CALL(__NR_futex, addr, op, val, timeout, 0, 0);
}

static inline long host_sched_yield(void)
{
	return HOST_CALL(__NR_sched_yield, 0, 0, 0, 0, 0, 0);
}

/* Fork-style clone only (no new stack); threads start in gate.S. */
static inline long host_clone(unsigned long flags, volatile int32_t *child_tid)
{
	return HOST_CALL(__NR_clone, flags, 0, 0, child_tid, 0, 0);
}

static inline long host_wait4(int pid, int32_t *status, int options)
{
	return HOST_CALL(__NR_wait4, pid, status, options, 0, 0, 0);
}

static inline long host_exit(int code)
{
	return HOST_CALL(__NR_exit, code, 0, 0, 0, 0, 0);
}

static inline long host_exit_group(int code)
{
	return HOST_CALL(__NR_exit_group, code, 0, 0, 0, 0, 0);
}

static inline long host_setpgid(int pid, int pgid)
{
	return HOST_CALL(__NR_setpgid, pid, pgid, 0, 0, 0, 0);
}

static inline long host_getpgid(int pid)
{
	return HOST_CALL(__NR_getpgid, pid, 0, 0, 0, 0, 0);
}

static inline long host_setsid(void)
{
	return HOST_CALL(__NR_setsid, 0, 0, 0, 0, 0, 0);
}

static inline long host_clock_gettime(int clock, struct __kernel_timespec *ts)
{
	return HOST_CALL(__NR_clock_gettime, clock, ts, 0, 0, 0, 0);
}

static inline long host_getrandom(void *buf, size_t len, unsigned flags)
{
	return HOST_CALL(__NR_getrandom, buf, len, flags, 0, 0, 0);
}

static inline long host_arch_prctl(int code, unsigned long addr)
{
	return HOST_CALL(__NR_arch_prctl, code, addr, 0, 0, 0, 0);
}

static inline long host_seccomp(unsigned op, unsigned flags, const struct sock_fprog *prog)
{
	return HOST_CALL(__NR_seccomp, op, flags, prog, 0, 0, 0);
}

#undef HOST_CALL

#endif /* MOAT_PAL_HOST_H */
