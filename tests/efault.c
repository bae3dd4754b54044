/*
 * efault.c -- bad pointers in system call arguments give -1 and EFAULT
 * (or EINVAL where Linux says so), never a crash, printed so that a
 * native run and a moat run can be compared line by line
 * (tests/test_efault.sh).  Three kinds of bad pointer: (void *)-1, NULL
 * where Linux faults on it, and an address in moat-pico's image
 * (0x6f0000000000 + offset; unmapped natively).  The last part tries to
 * make the host kernel write into the image through read, readv, pread,
 * recvfrom and getrandom: every attempt must fail with EFAULT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <asm/prctl.h>

#define IMAGE 0x6f0000000000UL
#define IMAGE_SPAN (16UL << 20)

static void *const bad[] = { (void *)-1, NULL, (void *)(IMAGE + 0x1000),
			     (void *)(IMAGE + 0x200000), (void *)0x7ffffffff000UL };
static const char *const bad_name[] = { "-1", "NULL", "image", "image+2M", "top" };
#define NBAD (sizeof(bad) / sizeof(bad[0]))

static void show(const char *call, const char *which, long r)
{
	printf("%-28s %-8s %s\n", call, which, r < 0 ? strerror(errno) : "ok");
	fflush(stdout);
}

/* Each call with each bad pointer in the place named. */
#define TRY(call, expr)                                            \
	for (size_t i = 0; i < NBAD; i++) {                        \
		void *p = bad[i];                                  \
		errno = 0;                                         \
		show(call, bad_name[i], (long)(expr));             \
	}

static void outputs(void)
{
	TRY("sysinfo", syscall(SYS_sysinfo, p));
	TRY("getrlimit", syscall(SYS_getrlimit, RLIMIT_NOFILE, p));
	TRY("setrlimit", syscall(SYS_setrlimit, RLIMIT_NOFILE, p));
	TRY("prlimit64 new", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, p, NULL));
	TRY("prlimit64 old", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, p));
	TRY("gettimeofday", p ? syscall(SYS_gettimeofday, p, NULL) : 0);
	TRY("gettimeofday tz", p ? syscall(SYS_gettimeofday, NULL, p) : 0);
	TRY("clock_gettime", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p));
	TRY("clock_getres", p ? syscall(SYS_clock_getres, CLOCK_MONOTONIC, p) : 0);
	TRY("time", p ? syscall(SYS_time, p) : 0);
	TRY("uname", syscall(SYS_uname, p));
	TRY("getrusage", syscall(SYS_getrusage, RUSAGE_SELF, p));
	TRY("times", p ? syscall(SYS_times, p) : 0);
	TRY("nanosleep req", syscall(SYS_nanosleep, p, NULL));
	TRY("clock_nanosleep req", syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, p, NULL));
	TRY("rt_sigaction new", syscall(SYS_rt_sigaction, SIGUSR1, p, NULL, 8));
	TRY("rt_sigaction old", p ? syscall(SYS_rt_sigaction, SIGUSR1, NULL, p, 8) : 0);
	TRY("rt_sigprocmask set", syscall(SYS_rt_sigprocmask, SIG_BLOCK, p, NULL, 8));
	TRY("rt_sigprocmask old", p ? syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, p, 8) : 0);
	TRY("rt_sigpending", syscall(SYS_rt_sigpending, p, 8));
	TRY("rt_sigsuspend", syscall(SYS_rt_sigsuspend, p, 8));
	TRY("rt_sigtimedwait set", syscall(SYS_rt_sigtimedwait, p, NULL, NULL, 8));
	TRY("sigaltstack new", p ? syscall(SYS_sigaltstack, p, NULL) : 0);
	TRY("sigaltstack old", p ? syscall(SYS_sigaltstack, NULL, p) : 0);
	TRY("getresuid", syscall(SYS_getresuid, p, p, p));
	TRY("getresgid", syscall(SYS_getresgid, p, p, p));
	TRY("setgroups", syscall(SYS_setgroups, 1, p));
	TRY("capget", syscall(SYS_capget, p, NULL));
	TRY("sched_getaffinity", syscall(SYS_sched_getaffinity, 0, 128, p));
	TRY("sched_setaffinity", syscall(SYS_sched_setaffinity, 0, 128, p));
	TRY("sched_getparam", p ? syscall(SYS_sched_getparam, 0, p) : 0);
	TRY("getcpu", p ? syscall(SYS_getcpu, p, NULL, NULL) : 0);
	TRY("pipe", syscall(SYS_pipe, p));
	TRY("pipe2", syscall(SYS_pipe2, p, O_CLOEXEC));
	TRY("getrandom", syscall(SYS_getrandom, p, 16, 0));
}

static const char *self_path; /* this program: execve's vectors are read
				 after the file is found (Linux 6.x) */

/* Path strings and execve's vectors, read from the app. */
static void paths(void)
{
	char *bad_argv[] = { (char *)-1, NULL };
	char *argv[] = { "x", NULL };
	TRY("open path", syscall(SYS_open, p, O_RDONLY));
	TRY("access path", syscall(SYS_access, p, F_OK));
	TRY("mkdir path", syscall(SYS_mkdir, p, 0700));
	TRY("chdir path", syscall(SYS_chdir, p));
	TRY("execve path", syscall(SYS_execve, p, argv, NULL));
	TRY("execve argv", p ? syscall(SYS_execve, self_path, p, NULL) : -1);
	TRY("execve envp", p ? syscall(SYS_execve, self_path, argv, p) : -1);
	errno = 0;
	show("execve argv[0]", "-1", syscall(SYS_execve, self_path, bad_argv, NULL));
}

static void waits(void)
{
	for (size_t i = 0; i < NBAD; i++) {
		if (!bad[i])
			continue; /* NULL means "no status" */
		pid_t pid = fork();
		if (pid == 0)
			_exit(3);
		errno = 0;
		long r = syscall(SYS_wait4, pid, bad[i], 0, NULL);
		show("wait4 status", bad_name[i], r);
		/* The child was reaped all the same. */
		errno = 0;
		show("wait4 again", bad_name[i], syscall(SYS_wait4, pid, NULL, WNOHANG, NULL));
	}
}

/* Buffers the host kernel fills or reads: read, write and friends. */
static void buffers(void)
{
	int fds[2], sv[2];
	char c = 'x';
	if (pipe(fds) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	char *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(gone, 4096);
	void *more[] = { gone };
	for (size_t i = 0; i < NBAD + 1; i++) {
		void *p = i < NBAD ? bad[i] : more[0];
		const char *w = i < NBAD ? bad_name[i] : "unmapped";
		write(fds[1], &c, 1);
		errno = 0; show("read", w, read(fds[0], p, 1));
		errno = 0; show("write", w, write(fds[1], p, 1));
		struct iovec iov = { p, 1 };
		errno = 0; show("readv", w, readv(fds[0], &iov, 1));
		errno = 0; show("writev", w, writev(fds[1], &iov, 1));
		errno = 0; show("readv array", w, readv(fds[0], p, 1));
		write(sv[1], &c, 1);
		errno = 0; show("recvfrom", w, recvfrom(sv[0], p, 1, 0, NULL, NULL));
		errno = 0; show("sendto", w, sendto(sv[0], p, 1, 0, NULL, 0));
		/* Drain what got through, if anything did. */
		char sink[8];
		while (read(fds[0], sink, sizeof(sink)) > 0) {}
		while (read(sv[1], sink, sizeof(sink)) > 0) {}
		while (read(sv[0], sink, sizeof(sink)) > 0) {}
	}
	/* A bad fd's EBADF comes before the buffer's EFAULT. */
	errno = 0; show("read bad fd", "-1", read(-1, (void *)-1, 1));
	errno = 0; show("read wronly fd", "-1", read(fds[1], (void *)-1, 1));
	/* Lengths negative as a ssize_t are EINVAL. */
	struct iovec big[2] = { { &c, 1 }, { &c, (size_t)-1 } };
	errno = 0; show("writev len -1", "len", writev(fds[1], big, 2));
	errno = 0; show("readv len -1", "len", readv(fds[0], big, 2));
	big[1].iov_len = SIZE_MAX / 2 + 1;
	errno = 0; show("writev len 2^63", "len", writev(fds[1], big, 2));
	static struct iovec many[1025];
	errno = 0; show("writev 1025", "count", writev(fds[1], many, 1025));
}

/* Calls whose values the LibOS reads or writes itself: the stat family,
 * getcwd, readlink, socket calls, poll/select/epoll, timerfd, signalfd,
 * eventfd, timers, utimes, prctl, fcntl and ioctl arguments. */
static void leftovers(void)
{
	int fds[2], sv[2], efd = eventfd(0, EFD_NONBLOCK);
	int ep = epoll_create1(0), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	int exe = open("/proc/self/exe", O_RDONLY);
	struct epoll_event ev = { .events = EPOLLOUT };
	struct itimerspec its = { { 0, 0 }, { 100, 0 } };
	struct itimerval itv = { { 0, 0 }, { 100, 0 } };
	timer_t tid;
	uint64_t one = 1;
	if (pipe(fds) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	epoll_ctl(ep, EPOLL_CTL_ADD, fds[1], &ev); /* always ready: a copy happens */
	TRY("stat buf", syscall(SYS_stat, "/", p));
	TRY("lstat buf", syscall(SYS_lstat, "/", p));
	TRY("fstat buf", syscall(SYS_fstat, exe, p));
	TRY("newfstatat buf", syscall(SYS_newfstatat, AT_FDCWD, "/", p, 0));
	TRY("statx buf", syscall(SYS_statx, AT_FDCWD, "/", 0, 0x7ff, p));
	TRY("statfs buf", syscall(SYS_statfs, "/", p));
	TRY("fstatfs buf", syscall(SYS_fstatfs, exe, p));
	TRY("getcwd buf", syscall(SYS_getcwd, p, 4096));
	TRY("readlink buf", syscall(SYS_readlink, "/proc/self/exe", p, 64));
	TRY("readlink procfs buf", syscall(SYS_readlink, "/proc/self/cwd", p, 64));
	TRY("socketpair sv", syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, p));
	TRY("getsockname addr", ({ socklen_t l = 64; syscall(SYS_getsockname, sv[0], p, &l); }));
	TRY("getsockname len", syscall(SYS_getsockname, sv[0], (char[64]){ 0 }, p));
	TRY("getsockopt val", ({ socklen_t l = 4;
		syscall(SYS_getsockopt, sv[0], SOL_SOCKET, SO_TYPE, p, &l); }));
	TRY("getsockopt len", syscall(SYS_getsockopt, sv[0], SOL_SOCKET, SO_TYPE, (int[1]){ 0 }, p));
	TRY("setsockopt val", syscall(SYS_setsockopt, sv[0], SOL_SOCKET, SO_KEEPALIVE, p, 4));
	TRY("sendmsg header", syscall(SYS_sendmsg, sv[0], p, MSG_DONTWAIT));
	TRY("recvmsg header", syscall(SYS_recvmsg, sv[0], p, MSG_DONTWAIT));
	TRY("poll fds", syscall(SYS_poll, p, 1, 0));
	TRY("ppoll timeout", p ? syscall(SYS_ppoll, NULL, 0, p, NULL, 8) : 0);
	TRY("ppoll mask", p ? syscall(SYS_ppoll, NULL, 0, &(struct timespec){ 0, 0 }, p, 8) : 0);
	TRY("select readfds", p ? syscall(SYS_select, 1, p, NULL, NULL,
					   &(struct timeval){ 0, 0 }) : 0);
	TRY("select timeout", p ? syscall(SYS_select, 0, NULL, NULL, NULL, p) : 0);
	TRY("pselect6 sigdata", p ? syscall(SYS_pselect6, 0, NULL, NULL, NULL,
					     &(struct timespec){ 0, 0 }, p) : 0);
	TRY("epoll_ctl event", syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, fds[0], p));
	TRY("epoll_wait events", syscall(SYS_epoll_wait, ep, p, 1, 0));
	TRY("epoll_pwait mask", p ? syscall(SYS_epoll_pwait, ep, &ev, 1, 0, p, 8) : 0);
	TRY("timerfd_settime new", syscall(SYS_timerfd_settime, tfd, 0, p, NULL));
	TRY("timerfd_settime old", p ? syscall(SYS_timerfd_settime, tfd, 0, &its, p) : 0);
	TRY("timerfd_gettime", syscall(SYS_timerfd_gettime, tfd, p));
	TRY("signalfd mask", syscall(SYS_signalfd4, -1, p, 8, 0));
	write(efd, &one, 8);
	TRY("eventfd write", write(efd, p, 8));
	TRY("eventfd read", ({ write(efd, &one, 8); read(efd, p, 8); }));
	TRY("timer_create id", syscall(SYS_timer_create, CLOCK_MONOTONIC, NULL, p));
	TRY("timer_create sevp", p ? syscall(SYS_timer_create, CLOCK_MONOTONIC, p, &tid) : 0);
	syscall(SYS_timer_create, CLOCK_MONOTONIC, &(struct sigevent){ .sigev_notify = SIGEV_NONE },
		&tid);
	TRY("timer_settime new", p ? syscall(SYS_timer_settime, tid, 0, p, NULL) : 0);
	TRY("timer_settime old", p ? syscall(SYS_timer_settime, tid, 0, &its, p) : 0);
	TRY("timer_gettime", syscall(SYS_timer_gettime, tid, p));
	TRY("setitimer new", p ? syscall(SYS_setitimer, ITIMER_VIRTUAL, p, NULL) : 0);
	TRY("setitimer old", p ? syscall(SYS_setitimer, ITIMER_VIRTUAL, &itv, p) : 0);
	TRY("getitimer", syscall(SYS_getitimer, ITIMER_VIRTUAL, p));
	TRY("utimensat times", p ? syscall(SYS_utimensat, AT_FDCWD, "/proc/self/exe", p, 0) : 0);
	TRY("utimes times", p ? syscall(SYS_utimes, "/proc/self/exe", p) : 0);
	TRY("utime times", p ? syscall(SYS_utime, "/proc/self/exe", p) : 0);
	TRY("prctl PR_GET_NAME", syscall(SYS_prctl, PR_GET_NAME, p));
	TRY("prctl PR_SET_NAME", syscall(SYS_prctl, PR_SET_NAME, p));
	TRY("prctl PR_GET_PDEATHSIG", syscall(SYS_prctl, PR_GET_PDEATHSIG, p));
	TRY("arch_prctl ARCH_GET_FS", syscall(SYS_arch_prctl, ARCH_GET_FS, p));
	TRY("fcntl F_GETLK", syscall(SYS_fcntl, exe, F_GETLK, p));
	TRY("fcntl F_SETLK", syscall(SYS_fcntl, exe, F_SETLK, p));
	TRY("fcntl F_GETOWN_EX", syscall(SYS_fcntl, exe, F_GETOWN_EX, p));
	TRY("ioctl FIONBIO", syscall(SYS_ioctl, fds[0], FIONBIO, p));
	TRY("ioctl FIONREAD", syscall(SYS_ioctl, fds[0], FIONREAD, p));
	TRY("sendfile offset", p ? syscall(SYS_sendfile, fds[1], exe, p, 1) : 0);
	char sink[64];
	while (read(fds[0], sink, sizeof(sink)) > 0) {}
	timer_delete(tid);
	close(exe), close(tfd), close(ep), close(efd);
	close(fds[0]), close(fds[1]), close(sv[0]), close(sv[1]);
}

/* The host kernel must never write into moat-pico's image on the app's
 * behalf: every page of the image's span, through each call. */
static void image_writes(void)
{
	int fds[2], sv[2], reached = 0;
	if (pipe(fds) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	int fd = open("/proc/self/exe", O_RDONLY);
	write(fds[1], "y", 1);
	write(sv[1], "z", 1);
	for (uint64_t a = IMAGE; a < IMAGE + IMAGE_SPAN; a += 4096) {
		void *p = (void *)a;
		struct iovec iov = { p, 1 };
		long r[] = {
			read(fds[0], p, 1), readv(fds[0], &iov, 1), pread(fd, p, 1, 0),
			recvfrom(sv[0], p, 1, 0, NULL, NULL), syscall(SYS_getrandom, p, 1, 0),
		};
		for (size_t k = 0; k < sizeof(r) / sizeof(r[0]); k++)
			if (r[k] >= 0 || (errno != EFAULT && errno != EAGAIN))
				reached++;
	}
	printf("writes into the image that got through: %d\n", reached);
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	outputs();
	paths();
	waits();
	buffers();
	leftovers();
	image_writes();
	printf("done\n");
	return 0;
}
