/*
 * flood.c -- make the monitor hold things for a picoprocess.
 *
 *   flood requests N
 *         bypass the LibOS and PAL: write N MOAT_OP_STAT requests for "/"
 *         on the monitor channel (fd 3) through the PAL's gate, and read
 *         no reply.  The monitor must not block on the full channel (it
 *         ends the picoprocess); were it to block, both would wait for
 *         ever.  Prints "wrote N" after every 500 and at the end.
 *   flood listings DIR N
 *         open directory DIR N times through the LibOS (each open makes
 *         the monitor write a listing of it), holding every descriptor;
 *         print "held N", then wait until DIR/../go exists, and read the
 *         first and the last listing: "first: E entries, last: E entries"
 *   flood churn DIR FILE N
 *         open and close DIR and FILE N times each (a long life's worth
 *         of opens); print "churned N"; wait for DIR/../go as above
 *
 * Built static by the Makefile (build/tests/flood); it runs as an
 * ordinary app inside `moat run`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "moat/channel.h"

/* A host call through the PAL's gate ('syscall; ret'), as escape.c. */
static long gate3(long nr, long a1, long a2, long a3)
{
	long ret = nr;
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "call *%[gate]\n\t"
			 "add $128, %%rsp"
			 : "+a"(ret)
			 : [gate] "r"((uintptr_t)MOAT_GATE_ADDR), "D"(a1), "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

static int flood_requests(long n)
{
	char req[sizeof(struct moat_msg_hdr) + 2];
	struct moat_msg_hdr hdr = { MOAT_OP_STAT, 2, 0, 0 };
	memcpy(req, &hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), "/", 2);
	long i;
	for (i = 0; i < n; i++) {
		long r = gate3(SYS_write, MOAT_CHANNEL_FD, (long)req, sizeof(req));
		if (r < 0) {
			printf("write %ld: %s\n", i, strerror((int)-r));
			return 1;
		}
		if ((i + 1) % 500 == 0) {
			printf("wrote %ld\n", i + 1);
			fflush(stdout);
		}
	}
	printf("wrote %ld\n", i);
	return 0;
}

/* Wait (up to 60 s) for the test to say go: DIR/../go exists. */
static void wait_go(const char *dir)
{
	char go[4096];
	snprintf(go, sizeof(go), "%s/../go", dir);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct stat st;
	for (int i = 0; i < 3000 && stat(go, &st) < 0; i++)
		nanosleep(&ts, NULL);
}

static long entries(int fd)
{
	DIR *d = fdopendir(fd);
	long n = 0;
	if (!d)
		return -errno;
	rewinddir(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int flood_listings(const char *dir, long n)
{
	int *fds = calloc((size_t)n, sizeof(int));
	if (!fds)
		return 1;
	for (long i = 0; i < n; i++) {
		fds[i] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fds[i] < 0) {
			printf("open %ld: %s\n", i, strerror(errno));
			return 1;
		}
	}
	printf("held %ld\n", n);
	fflush(stdout);
	wait_go(dir);
	long first = entries(fds[0]);
	long last = entries(fds[n - 1]);
	printf("first: %ld entries, last: %ld entries\n", first, last);
	return 0;
}

static int churn(const char *dir, const char *file, long n)
{
	for (long i = 0; i < n; i++) {
		int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int f = open(file, O_RDONLY | O_CLOEXEC);
		if (d < 0 || f < 0) {
			printf("open %ld: %s\n", i, strerror(errno));
			return 1;
		}
		close(d);
		close(f);
	}
	printf("churned %ld\n", n);
	fflush(stdout);
	wait_go(dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "requests"))
		return flood_requests(atol(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "listings") && atol(argv[3]) > 0)
		return flood_listings(argv[2], atol(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "churn"))
		return churn(argv[2], argv[3], atol(argv[4]));
	fprintf(stderr, "usage: flood requests N | listings DIR N | churn DIR FILE N\n");
	return 2;
}
