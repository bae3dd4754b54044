/* timerfd.c -- a periodic timerfd woken through epoll, and its expiry count. */
#include <sys/timerfd.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdint.h>
#include <unistd.h>
#include <time.h>
int main(void) {
	int t = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { {0, 50000000}, {0, 100000000} };
	timerfd_settime(t, 0, &its, NULL);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = t };
	epoll_ctl(ep, EPOLL_CTL_ADD, t, &ev);
	struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
	int n = epoll_wait(ep, &ev, 1, 1000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	uint64_t c; read(t, &c, 8);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	printf("ready=%d after~%s count=%llu\n", n, ms >= 90 && ms < 200 ? "100ms" : "WRONG", (unsigned long long)c);
	usleep(120000); read(t, &c, 8); printf("periodic count=%s\n", c >= 2 ? ">=2" : "WRONG");
	return 0;
}
