/* signalfd.c -- signals read from a signalfd: raised by the process itself,
 * sent by a child, SIGCHLD of an exiting child woken through poll and
 * epoll, a timer's SIGALRM, the mask changed in place, several signals in
 * one read, non-blocking reads and bad arguments.  Prints what it sees;
 * the test compares the output with a native run. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* The result of a call, then errno, in that order. */
static void show(const char *what, long r)
{
	printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

static pid_t child;

static int read_one(int fd, const char *what)
{
	struct signalfd_siginfo si;
	ssize_t n = read(fd, &si, sizeof(si));
	if (n != (ssize_t)sizeof(si)) {
		printf("%s: read %zd (%s)\n", what, n, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	printf("%s: signo=%u code=%d from=%s uid=%u", what, si.ssi_signo, si.ssi_code,
	       si.ssi_pid == (uint32_t)getpid() ? "self"
	       : child && si.ssi_pid == (uint32_t)child ? "child" : si.ssi_pid ? "other" : "0",
	       si.ssi_uid);
	if (si.ssi_signo == SIGCHLD)
		printf(" status=%d", si.ssi_status);
	printf("\n");
	return (int)si.ssi_signo;
}

int main(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int fd = signalfd(-1, &mask, SFD_CLOEXEC);
	printf("signalfd: %s\n", fd >= 0 ? "ok" : strerror(errno));

	struct pollfd p = { .fd = fd, .events = POLLIN };
	printf("nothing pending: poll=%d\n", poll(&p, 1, 0));
	kill(getpid(), SIGUSR1);
	int pr = poll(&p, 1, 0);
	printf("after kill: poll=%d revents=%#x\n", pr, p.revents);
	read_one(fd, "kill self");

	/* Two pending at once come back in one read, lowest number first. */
	kill(getpid(), SIGUSR2);
	raise(SIGUSR1);
	struct signalfd_siginfo two[4];
	ssize_t n = read(fd, two, sizeof(two));
	printf("two pending: read %zd bytes, signos %u %u\n", n, two[0].ssi_signo,
	       two[1].ssi_signo);

	int nb = signalfd(fd, &mask, SFD_NONBLOCK); /* same fd, flags ignored */
	printf("modify in place returns the fd: %d\n", nb == fd);
	int fd2 = signalfd(-1, &mask, SFD_NONBLOCK);
	struct signalfd_siginfo si;
	show("non-blocking, empty", read(fd2, &si, sizeof(si)));
	show("short buffer", read(fd2, &si, 8));
	show("not a signalfd", signalfd(0, &mask, 0));
	show("not open", signalfd(999, &mask, 0));
	show("bad flags", signalfd(-1, &mask, 0x40));

	/* A child signals us while we sleep in a blocking read. */
	pid_t c = child = fork();
	if (c == 0) {
		usleep(100000);
		kill(getppid(), SIGUSR2);
		_exit(3);
	}
	int got = read_one(fd, "from child, blocking read");
	(void)got;

	/* The child's exit: SIGCHLD wakes an epoll_wait. */
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	int ready = epoll_wait(ep, &ev, 1, 5000);
	printf("epoll for SIGCHLD: %d\n", ready);
	read_one(fd, "sigchld");
	int status;
	waitpid(c, &status, 0);
	printf("child exit %d\n", WEXITSTATUS(status));

	/* A timer's SIGALRM, added to the mask in place, wakes poll. */
	sigaddset(&mask, SIGALRM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signalfd(fd, &mask, 0);
	struct itimerval it = { .it_value = { 0, 50000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	p.revents = 0;
	printf("poll for SIGALRM: %d\n", poll(&p, 1, 5000));
	read_one(fd, "timer");

	/* Removed from the mask: a pending signal is no longer readable. */
	sigdelset(&mask, SIGUSR1);
	signalfd(fd2, &mask, 0);
	raise(SIGUSR1);
	show("outside the mask", read(fd2, &si, sizeof(si)));
	sigset_t pend;
	sigpending(&pend);
	printf("still pending for the process: %d\n", sigismember(&pend, SIGUSR1));
	return 0;
}
