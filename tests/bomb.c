/*
 * bomb.c -- exhaust one resource, and say how far it got.
 *
 *   bomb memory       allocate and touch 8 MiB at a time until it fails
 *   bomb fds          dup(1) until it fails
 *   bomb disk FILE    write 1 MiB blocks to FILE until it fails
 *   bomb threads      start threads that sleep until it fails
 *   bomb forks        fork children that sleep until it fails
 *   bomb busy         spin forever
 *
 * Output: one line "bomb WHAT: N UNITS, then: ERROR" when the resource ran
 * out, with status 0.  If it is killed first, the memory and disk modes
 * have printed their progress ("... N MiB") on the way.  The picoprocess
 * runs it as an ordinary app (built static, tests/test_security_limits.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	long n = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(what, "memory")) {
		for (;; n += 8) {
			char *p = malloc(8 << 20);
			if (!p)
				break;
			memset(p, 1, 8 << 20);
			if (n % 64 == 0)
				printf("bomb memory: %ld MiB\n", n);
		}
		printf("bomb memory: %ld MiB, then: %s\n", n, strerror(ENOMEM));
	} else if (!strcmp(what, "fds")) {
		while (dup(1) >= 0)
			n++;
		printf("bomb fds: %ld descriptors, then: %s\n", n, strerror(errno));
	} else if (!strcmp(what, "disk") && argc > 2) {
		static char block[1 << 20];
		signal(SIGXFSZ, SIG_IGN); /* a write past RLIMIT_FSIZE fails instead */
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			printf("bomb disk: open %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		memset(block, 'x', sizeof(block));
		for (;;) {
			ssize_t w = write(fd, block, sizeof(block));
			if (w < (ssize_t)sizeof(block)) {
				if (w >= 0)
					errno = ENOSPC; /* a short write: the device is full */
				break;
			}
			if (++n % 16 == 0)
				printf("bomb disk: %ld MiB\n", n);
		}
		printf("bomb disk: %ld MiB, then: %s\n", n, strerror(errno));
	} else if (!strcmp(what, "threads")) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 64 << 10);
		int e;
		while ((e = pthread_create(&t, &a, sleeper, NULL)) == 0)
			n++;
		printf("bomb threads: %ld threads, then: %s\n", n, strerror(e));
		_exit(0);
	} else if (!strcmp(what, "forks")) {
		pid_t pid;
		while ((pid = fork()) >= 0) {
			if (pid == 0)
				for (;;)
					pause();
			n++;
		}
		printf("bomb forks: %ld processes, then: %s\n", n, strerror(errno));
		kill(0, SIGKILL);
	} else if (!strcmp(what, "busy")) {
		for (volatile unsigned long i = 0;; i++)
			;
	} else {
		fprintf(stderr, "usage: bomb memory|fds|disk FILE|threads|forks|busy\n");
		return 2;
	}
	return 0;
}
