/*
 * sysmisc.c -- scheduling, CPU time, vectored and batched I/O calls,
 * printed so that a native run and a moat run can be compared line by
 * line (tests/test_libos_misc.sh).  Usage: sysmisc DIR (a writable dir).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <sys/personality.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static const char *err(long r)
{
	return r < 0 ? strerror(errno) : "ok";
}

static double secs(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void priority(void)
{
	errno = 0;
	printf("nice at start: %d\n", getpriority(PRIO_PROCESS, 0));
	printf("setpriority 5: %s\n", err(setpriority(PRIO_PROCESS, 0, 5)));
	printf("nice now: %d (raw %ld)\n", getpriority(PRIO_PROCESS, 0),
	       syscall(SYS_getpriority, PRIO_PROCESS, 0));
	printf("nice(2) -> %d\n", nice(2));
	const char *e = err(setpriority(PRIO_PROCESS, 0, 40));
	printf("setpriority 40 clamps: %s, nice %d\n", e, getpriority(PRIO_PROCESS, 0));
	printf("setpriority bad which: %s\n", err(setpriority(7, 0, 0)));
	printf("setpriority 0 (as root): %s\n", err(setpriority(PRIO_PROCESS, 0, 0)));
}

static void scheduler(void)
{
	struct sched_param p = { 0 };
	printf("policy %d, max FIFO %d, min FIFO %d, max OTHER %d, bad %d (%s)\n",
	       sched_getscheduler(0), sched_get_priority_max(SCHED_FIFO),
	       sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_OTHER),
	       sched_get_priority_max(42), strerror(errno));
	printf("getparam: %s, priority %d\n", err(sched_getparam(0, &p)), p.sched_priority);
	const char *e = err(sched_setscheduler(0, SCHED_BATCH, &p));
	printf("BATCH: %s, now %d\n", e, sched_getscheduler(0));
	p.sched_priority = 3;
	printf("BATCH with priority 3: %s\n", err(sched_setscheduler(0, SCHED_BATCH, &p)));
	p.sched_priority = 0;
	e = err(sched_setscheduler(0, SCHED_OTHER, &p));
	printf("back to OTHER: %s, now %d\n", e, sched_getscheduler(0));
	printf("policy of pid -1: %s\n", err(sched_getscheduler(-1)));

	cpu_set_t all, one, got;
	sched_getaffinity(0, sizeof(all), &all);
	int first = -1;
	for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
		if (CPU_ISSET(i, &all))
			first = i;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	printf("setaffinity to the first CPU: %s\n", err(sched_setaffinity(0, sizeof(one), &one)));
	printf("real-time FIFO: %s\n", err(sched_setscheduler(0, SCHED_FIFO, &(struct sched_param){ 0 })));
	sched_getaffinity(0, sizeof(got), &got);
	printf("now on %d CPU(s), the first: %s; getcpu is it: %s\n", CPU_COUNT(&got),
	       CPU_ISSET(first, &got) ? "yes" : "no", sched_getcpu() == first ? "yes" : "no");
	CPU_ZERO(&one);
	printf("empty mask: %s\n", err(sched_setaffinity(0, sizeof(one), &one)));
	printf("restore: %s\n", err(sched_setaffinity(0, sizeof(all), &all)));
}

static void cpu_time(void)
{
	struct rusage ru0, ru1;
	struct tms t0, t1;
	getrusage(RUSAGE_SELF, &ru0);
	times(&t0);
	double c0 = secs(CLOCK_PROCESS_CPUTIME_ID), w0 = secs(CLOCK_MONOTONIC);
	double th0 = secs(CLOCK_THREAD_CPUTIME_ID);
	usleep(300000); /* wall time passes, CPU time hardly */
	double c1 = secs(CLOCK_PROCESS_CPUTIME_ID), w1 = secs(CLOCK_MONOTONIC);
	printf("asleep: CPU clock far behind the wall clock: %s\n",
	       c1 - c0 < (w1 - w0) / 3 ? "yes" : "no");
	volatile unsigned long x = 0;
	/* Spin until the CPU clock says 0.15 s (a loaded machine gives this
	 * process less than its share), or 10 s of wall time pass. */
	while (secs(CLOCK_PROCESS_CPUTIME_ID) - c1 < 0.15 && secs(CLOCK_MONOTONIC) - w1 < 10)
		for (int i = 0; i < 100000; i++)
			x++;
	double c2 = secs(CLOCK_PROCESS_CPUTIME_ID), th2 = secs(CLOCK_THREAD_CPUTIME_ID);
	getrusage(RUSAGE_SELF, &ru1);
	times(&t1);
	printf("busy: process CPU clock grew by at least 0.1 s: %s, thread clock too: %s\n",
	       c2 - c1 >= 0.1 ? "yes" : "no", th2 - th0 >= 0.1 ? "yes" : "no");
	double u0 = ru0.ru_utime.tv_sec + ru0.ru_stime.tv_sec +
		    (ru0.ru_utime.tv_usec + ru0.ru_stime.tv_usec) / 1e6;
	double u1 = ru1.ru_utime.tv_sec + ru1.ru_stime.tv_sec +
		    (ru1.ru_utime.tv_usec + ru1.ru_stime.tv_usec) / 1e6;
	printf("getrusage user+system grew by at least 0.1 s: %s\n", u1 - u0 >= 0.1 ? "yes" : "no");
	printf("times() user+system grew by at least 10 ticks: %s\n",
	       (t1.tms_utime + t1.tms_stime) - (t0.tms_utime + t0.tms_stime) >= 10 ? "yes" : "no");
}

static void vectors(const char *dir)
{
	char path[4096], a[6] = { 0 }, b[8] = { 0 };
	snprintf(path, sizeof(path), "%s/vec.txt", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct iovec w[2] = { { "hello ", 6 }, { "vectored world", 14 } };
	printf("pwritev at 4: %zd\n", pwritev(fd, w, 2, 4));
	printf("position after pwritev: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
	struct iovec r[2] = { { a, 5 }, { b, 7 } };
	ssize_t got = preadv(fd, r, 2, 10);
	printf("preadv at 10: %zd [%s|%s]\n", got, a, b);
	lseek(fd, 6, SEEK_SET);
	got = preadv2(fd, r, 1, -1, 0);
	printf("preadv2 at -1 (the position): %zd [%.5s]\n", got, a);
	printf("position now: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
	printf("pwritev2 RWF_DSYNC: %zd\n", pwritev2(fd, w, 1, 0, RWF_DSYNC));
	printf("preadv past the end: %zd\n", preadv(fd, r, 2, 1000));
	printf("preadv negative offset: %s\n", err(preadv(fd, r, 2, -5)));
	printf("sync_file_range: %s, bad flags: %s\n", err(sync_file_range(fd, 0, 0, 0)),
	       err(sync_file_range(fd, 0, 0, 64)));
	printf("syncfs: %s, on -1: %s\n", err(syncfs(fd)), err(syncfs(-1)));
	printf("readahead: %s\n", err(readahead(fd, 0, 4096)));
	close(fd);
	int p[2];
	pipe(p);
	printf("preadv on a pipe: %s\n", err(preadv(p[0], r, 1, 0)));
	printf("readahead on a pipe: %s\n", err(readahead(p[0], 0, 10)));
	close(p[0]);
	close(p[1]);
	struct timeval tv[2] = { { 1000000000, 0 }, { 1234567890, 5 } };
	printf("futimesat: %s\n", err(futimesat(AT_FDCWD, path, tv)));
	struct stat st;
	stat(path, &st);
	printf("mtime %ld\n", (long)st.st_mtime);
	printf("removexattr: %s\n", err(removexattr(path, "user.none")));
}

static void batches(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct iovec out[3] = { { "one", 3 }, { "two!", 4 }, { "three", 5 } };
	struct mmsghdr m[3];
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++)
		m[i].msg_hdr.msg_iov = &out[i], m[i].msg_hdr.msg_iovlen = 1;
	int n = sendmmsg(sv[0], m, 3, 0);
	printf("sendmmsg: %d (%u %u %u)\n", n, m[0].msg_len, m[1].msg_len, m[2].msg_len);
	char buf[3][8];
	memset(buf, 0, sizeof(buf));
	struct iovec in[3] = { { buf[0], 3 }, { buf[1], 4 }, { buf[2], 5 } };
	memset(m, 0, sizeof(m));
	for (int i = 0; i < 3; i++)
		m[i].msg_hdr.msg_iov = &in[i], m[i].msg_hdr.msg_iovlen = 1;
	n = recvmmsg(sv[1], m, 3, 0, NULL);
	printf("recvmmsg: %d [%s|%s|%s]\n", n, buf[0], buf[1], buf[2]);
	n = recvmmsg(sv[1], m, 3, MSG_DONTWAIT, NULL);
	printf("recvmmsg on empty, non-blocking: %d %s\n", n, n < 0 ? strerror(errno) : "");
	write(sv[0], "xy", 2);
	n = recvmmsg(sv[1], m, 3, MSG_WAITFORONE, NULL);
	printf("recvmmsg MSG_WAITFORONE: %d, first %u bytes\n", n, m[0].msg_len);

	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 7 }, got[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
	struct timespec zero = { 0, 0 }, ms20 = { 0, 20000000 };
	printf("epoll_pwait2, nothing ready: %ld\n",
	       syscall(SYS_epoll_pwait2, ep, got, 2, &zero, NULL, 8));
	double t0 = secs(CLOCK_MONOTONIC);
	long r = syscall(SYS_epoll_pwait2, ep, got, 2, &ms20, NULL, 8);
	printf("epoll_pwait2 20 ms: %ld after at least 20 ms: %s\n", r,
	       secs(CLOCK_MONOTONIC) - t0 >= 0.019 ? "yes" : "no");
	write(sv[0], "z", 1);
	r = syscall(SYS_epoll_pwait2, ep, got, 2, NULL, NULL, 8);
	printf("epoll_pwait2, one ready: %ld data %u\n", r, got[0].data.u32);
	struct timespec bad = { 0, 2000000000 };
	printf("epoll_pwait2 bad timeout: %s\n",
	       err(syscall(SYS_epoll_pwait2, ep, got, 2, &bad, NULL, 8)));
}

static void memory(void)
{
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mlock: %s, munlock: %s\n", err(mlock(p, 8192)), err(munlock(p, 8192)));
	printf("mlockall(0): %s, mlockall(MCL_CURRENT): %s, munlockall: %s\n", err(mlockall(0)),
	       err(mlockall(MCL_CURRENT)), err(munlockall()));
	printf("mlock2 bad flags: %s\n", err(syscall(SYS_mlock2, p, 4096, 8)));
	munmap(p, 8192);
	long q = syscall(SYS_membarrier, 0, 0, 0);
	printf("membarrier query: %s\n", q >= 0 ? "ok" : strerror(errno));
	printf("membarrier with flags: %s\n", err(syscall(SYS_membarrier, 0, 1, 0)));
}

static void personalities(void)
{
	printf("personality query: %#x\n", personality(0xffffffff));
	printf("personality set ADDR_NO_RANDOMIZE, old: %#x\n", personality(ADDR_NO_RANDOMIZE));
	printf("personality query: %#x\n", personality(0xffffffff));
	personality(PER_LINUX);
}

static void residency(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char vec[4] = { 9, 9, 9, 9 };
	char *m = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(m, 1, 3 * pg);
	long r = mincore(m, 3 * pg, vec);
	printf("mincore of 3 touched pages: %s %d%d%d %d\n", err(r), vec[0], vec[1], vec[2], vec[3]);
	r = mincore(m + 1, pg, vec);
	printf("mincore unaligned: %s\n", err(r));
	munmap(m + pg, pg);
	r = mincore(m, 3 * pg, vec);
	printf("mincore over a hole: %s\n", err(r));
	munmap(m, 3 * pg);
}

/* sysinfo(2) fills Linux's 112-byte struct and not a byte more (the
 * LibOS's copy was once 120 bytes long and zeroed 8 bytes past it). */
static void system_info(void)
{
	unsigned char buf[128];
	memset(buf, 0xa5, sizeof(buf));
	long r = syscall(SYS_sysinfo, buf);
	int past = 0;
	for (size_t i = sizeof(struct sysinfo); i < sizeof(buf); i++)
		past += buf[i] != 0xa5;
	printf("sysinfo: %s, struct %zu bytes, %d bytes written past it\n", err(r),
	       sizeof(struct sysinfo), past);
}

static volatile int got_code, got_value, got_from_self;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	got_from_self = si->si_pid == getpid();
}

static void queued_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	sigaction(SIGUSR1, &sa, NULL);
	long r = sigqueue(getpid(), SIGUSR1, (union sigval){ .sival_int = 42 });
	printf("sigqueue to self: %s code=%d value=%d from-self=%d\n", err(r), got_code,
	       got_value, got_from_self);
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	siginfo_t si = { .si_signo = SIGUSR1, .si_code = SI_USER };
	r = syscall(SYS_rt_sigqueueinfo, c, SIGUSR1, &si);
	printf("rt_sigqueueinfo posing as kill(2) to another process: %s\n", err(r));
	si.si_code = SI_QUEUE;
	r = syscall(SYS_rt_tgsigqueueinfo, getpid(), 999999, SIGUSR1, &si);
	printf("rt_tgsigqueueinfo to no such thread: %s\n", err(r));
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	signal(SIGUSR1, SIG_DFL);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sysmisc DIR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	priority();
	scheduler();
	cpu_time();
	vectors(argv[1]);
	batches();
	memory();
	personalities();
	residency();
	system_info();
	queued_signals();
	return 0;
}
