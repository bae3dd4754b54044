/*
 * dfs_attack.c -- attacks on directfs from inside a picoprocess.
 *
 *   dfs_attack ATTEMPT [ARGS]
 *
 * The donated directories are O_PATH descriptors at MOAT_DIRFS_FD (7)
 * on, roots of detached copies of the mappings' mount trees (see
 * pal/linux/directfs.c and docs/security.md).  "gate" attempts make raw
 * host calls by calling the PAL's gate at MOAT_GATE_ADDR, as a subverted
 * LibOS would; the filter's allowlist is all that stands in the way.
 *
 *   gstat FD PATH FLAGS   newfstatat(FD, PATH, FLAGS) through the gate:
 *                         "gstat: R ino=I size=S" or "gstat: -ERRNO"
 *   gopenat FD PATH FLAGS openat(FD, PATH, FLAGS) through the gate
 *   gopenat2 FD PATH      openat2(FD, PATH, {O_RDONLY}) through the gate
 *   glinkat FD A FD2 B    linkat through the gate
 *   grenameat FD A FD2 B  renameat through the gate
 *   gfdops FD             every allowlisted call that takes a descriptor,
 *                         on FD: read, pread64, write, pwrite64, mmap,
 *                         ftruncate, fsync, flock, fcntl(F_SETLK), ppoll,
 *                         accept4, shutdown, getsockopt, recvmsg (fd 3
 *                         only: not tried): one line "gfdops NAME: R" each
 *   stat PATH / lstat PATH  through the LibOS (libc): "stat: ino=I uid=U
 *                         gid=G mode=M size=S" (M in hex, as stat -c %f)
 *                         or "stat: -ERRNO"
 *   statloop PATH N INO   stat PATH N times through the LibOS; print how
 *                         many results had inode INO, and how many failed
 *   link A B / rename A B through the LibOS: "link: 0" or "link: -ERRNO"
 *   read PATH             open and read PATH through the LibOS: its first
 *                         line, or -ERRNO
 *
 * Before a gate call, "ATTEMPT: calling the gate" is printed: the filter
 * may end the process there (status 159).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "moat/channel.h"

static long gate(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;
	__asm__ volatile("call *%[gate]"
			 : "=a"(ret), "+r"(r10), "+r"(r8), "+r"(r9)
			 : [gate] "r"((uintptr_t)MOAT_GATE_ADDR), "a"(nr), "D"(a1),
			   "S"(a2), "d"(a3)
			 : "rcx", "r11", "memory");
	return ret;
}

static void calling(const char *what)
{
	printf("%s: calling the gate\n", what);
	fflush(stdout);
}

static int gstat(int fd, const char *path, long flags)
{
	struct stat st;
	calling("gstat");
	long r = gate(SYS_newfstatat, fd, (long)path, (long)&st, flags, 0, 0);
	if (r < 0)
		printf("gstat: %ld\n", r);
	else
		printf("gstat: %ld ino=%lu size=%ld\n", r, (unsigned long)st.st_ino,
		       (long)st.st_size);
	return 0;
}

static int gfdops(int fd)
{
	static char buf[4096];
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	struct pollfd p = { fd, POLLIN, 0 };
	struct timespec zero = { 0, 0 };
	int v = 0;
	socklen_t vl = sizeof(v);
	static const char *names[] = { "read", "pread64", "write", "pwrite64", "mmap",
				       "ftruncate", "fsync", "flock", "fcntl", "ppoll",
				       "accept4", "shutdown", "getsockopt" };
	long r[13];
	calling("gfdops");
	r[0] = gate(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0);
	r[1] = gate(SYS_pread64, fd, (long)buf, sizeof(buf), 0, 0, 0);
	r[2] = gate(SYS_write, fd, (long)"x", 1, 0, 0, 0);
	r[3] = gate(SYS_pwrite64, fd, (long)"x", 1, 0, 0, 0);
	r[4] = gate(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	r[5] = gate(SYS_ftruncate, fd, 0, 0, 0, 0, 0);
	r[6] = gate(SYS_fsync, fd, 0, 0, 0, 0, 0);
	r[7] = gate(SYS_flock, fd, LOCK_EX | LOCK_NB, 0, 0, 0, 0);
	r[8] = gate(SYS_fcntl, fd, F_SETLK, (long)&fl, 0, 0, 0);
	r[9] = gate(SYS_ppoll, (long)&p, 1, (long)&zero, 0, 8, 0);
	if (r[9] == 1)
		r[9] = p.revents == POLLNVAL ? -EBADF : p.revents;
	r[10] = gate(SYS_accept4, fd, 0, 0, 0, 0, 0);
	r[11] = gate(SYS_shutdown, fd, SHUT_RDWR, 0, 0, 0, 0);
	r[12] = gate(SYS_getsockopt, fd, SOL_SOCKET, SO_ERROR, (long)&v, (long)&vl, 0);
	for (int i = 0; i < 13; i++)
		printf("gfdops %s: %ld\n", names[i], r[i]);
	return 0;
}

static int libc_stat(const char *what, const char *path)
{
	struct stat st;
	int r = !strcmp(what, "lstat") ? lstat(path, &st) : stat(path, &st);
	if (r < 0)
		printf("%s: %d\n", what, -errno);
	else
		printf("%s: ino=%lu uid=%u gid=%u mode=%x size=%ld\n", what,
		       (unsigned long)st.st_ino, st.st_uid, st.st_gid, st.st_mode,
		       (long)st.st_size);
	return 0;
}

static int statloop(const char *path, long n, unsigned long ino)
{
	long hits = 0, fails = 0;
	struct stat st;
	for (long i = 0; i < n; i++) {
		if (stat(path, &st) < 0)
			fails++;
		else if (st.st_ino == ino)
			hits++;
	}
	printf("statloop: %ld of %ld had inode %lu, %ld failed\n", hits, n, ino, fails);
	return 0;
}

static int read_first_line(const char *path)
{
	char buf[256] = { 0 };
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("read: %d\n", -errno);
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	printf("read: %.*s\n", n > 0 ? (int)strcspn(buf, "\n") : 0, buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *w = argc > 1 ? argv[1] : "";
	long r;
	if (!strcmp(w, "gstat") && argc == 5)
		return gstat(atoi(argv[2]), argv[3], strtol(argv[4], 0, 0));
	if (!strcmp(w, "gopenat") && argc == 5) {
		calling(w);
		r = gate(SYS_openat, strtol(argv[2], 0, 0), (long)argv[3], strtol(argv[4], 0, 0),
			 0, 0, 0);
		printf("gopenat: %ld\n", r);
		return 0;
	}
	if (!strcmp(w, "gopenat2") && argc == 4) {
		uint64_t how[3] = { O_RDONLY, 0, 0 };
		calling(w);
		r = gate(SYS_openat2, atoi(argv[2]), (long)argv[3], (long)how, sizeof(how), 0, 0);
		printf("gopenat2: %ld\n", r);
		return 0;
	}
	if ((!strcmp(w, "glinkat") || !strcmp(w, "grenameat")) && argc == 6) {
		calling(w);
		r = gate(w[1] == 'l' ? SYS_linkat : SYS_renameat, atoi(argv[2]), (long)argv[3],
			 atoi(argv[4]), (long)argv[5], 0, 0);
		printf("%s: %ld\n", w, r);
		return 0;
	}
	if (!strcmp(w, "gfdops") && argc == 3)
		return gfdops(atoi(argv[2]));
	if ((!strcmp(w, "stat") || !strcmp(w, "lstat")) && argc == 3)
		return libc_stat(w, argv[2]);
	if (!strcmp(w, "statloop") && argc == 5)
		return statloop(argv[2], atol(argv[3]), strtoul(argv[4], 0, 10));
	if ((!strcmp(w, "link") || !strcmp(w, "rename")) && argc == 4) {
		int rr = w[0] == 'l' ? link(argv[2], argv[3]) : rename(argv[2], argv[3]);
		printf("%s: %d\n", w, rr < 0 ? -errno : 0);
		return 0;
	}
	if (!strcmp(w, "read") && argc == 3)
		return read_first_line(argv[2]);
	fprintf(stderr, "usage: dfs_attack ATTEMPT [ARGS] (see tests/dfs_attack.c)\n");
	return 2;
}
