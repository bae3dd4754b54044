/*
 * filter_rules.c -- the allowlist of host calls a picoprocess may make
 * from the PAL's gate, compiled once, at build time, with libseccomp.
 *
 * This is a build tool, not part of moat: the Makefile runs it and it
 * prints build/gen/filter_allowlist.inc, which monitor/filter.c includes.
 * So the monitor neither loads libseccomp nor compiles the filter on every
 * start (about 1 ms and 100 KiB per monitor), and the program it installs
 * is the one checked in the build.  It prints the BPF program (default
 * KILL_PROCESS; foreign architectures and x32 numbers are killed too),
 * the same rules in libseccomp's readable form (`moat filter`), and how
 * many distinct calls they allow.
 *
 * docs/security.md lists every allowed call with its reason; keep the
 * two in step (tests/test_build.sh checks them against `moat filter`).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "moat/channel.h"

#define PAL_THREAD_FLAGS                                                 \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
	 CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
#define PAL_FORK_FLAGS (CLONE_CHILD_SETTID | SIGCHLD)

/* Calls allowed from the gate with any arguments. */
static const int plain_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(close), SCMP_SYS(ftruncate), SCMP_SYS(fsync),
	SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(munmap),
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(futex), SCMP_SYS(clock_gettime),
	SCMP_SYS(sched_yield), SCMP_SYS(getrandom),
	/* processes of this picoprocess: its own pid namespace and Landlock
	 * domain keep wait and kill inside it */
	SCMP_SYS(wait4), SCMP_SYS(kill), SCMP_SYS(pipe2),
	/* process groups and sessions, within that namespace and the
	 * session the sandbox starts it in */
	SCMP_SYS(setpgid), SCMP_SYS(getpgid), SCMP_SYS(setsid),
	/* the kernel's own continuation of a sleep stopped by SIGSTOP */
	SCMP_SYS(restart_syscall),
	/* waiting on pipes and consoles with signals open */
	SCMP_SYS(ppoll),
	/* interval timers: they signal only the calling process */
	SCMP_SYS(setitimer),
	/* connections the monitor made or listened for */
	SCMP_SYS(accept4), SCMP_SYS(shutdown),
	/* BSD locks on the picoprocess's own files */
	SCMP_SYS(flock),
};

static int add_rules(scmp_filter_ctx ctx)
{
	int r = 0;
	for (size_t i = 0; i < sizeof(plain_calls) / sizeof(plain_calls[0]); i++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, plain_calls[i], 0);
	/* Replies (with descriptors) come from the monitor channel.  Requests
	 * go out with write(); there is no sendmsg, sendto or connect. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvmsg), 1,
			      SCMP_A0(SCMP_CMP_EQ, MOAT_CHANNEL_FD));
	/* Threads, and plain fork: never new namespaces. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      SCMP_A0(SCMP_CMP_EQ, PAL_THREAD_FLAGS));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			      SCMP_A0(SCMP_CMP_EQ, PAL_FORK_FLAGS));
	/* A forked child moves its new channel onto MOAT_CHANNEL_FD, and a
	 * closed console slot (0-2) gets a placeholder.  Nothing ever moves
	 * *from* 0-2: a console may be a host socket, whose peer could pass
	 * descriptors in through recvmsg on fd 3. */
	/* The kernel reads a descriptor as a 32-bit int, so "oldfd > 2" on
	 * the 64-bit argument would let 0x100000000 through as descriptor 0.
	 * libseccomp allows one test per argument, so oldfd in [3, 65536)
	 * is spelled out: 3, then [2^k, 2^(k+1)) for k = 2..15, each as a
	 * masked equality that also requires the high bits to be zero. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup3), 3,
			      SCMP_A0(SCMP_CMP_EQ, 3),
			      SCMP_A1(SCMP_CMP_LE, MOAT_CHANNEL_FD),
			      SCMP_A2(SCMP_CMP_EQ, 0));
	for (int k = 2; k < 16; k++)
		r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(dup3), 3,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, ~((1ULL << k) - 1), 1ULL << k),
				      SCMP_A1(SCMP_CMP_LE, MOAT_CHANNEL_FD),
				      SCMP_A2(SCMP_CMP_EQ, 0));
	/* Sockets: only ones the monitor passed in (accept4, shutdown,
	 * the connect result), and local pairs.  No socket(), connect(),
	 * bind(), sendto() or sendmsg(). */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
			      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
			      SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
			      SCMP_A2(SCMP_CMP_EQ, SO_ERROR));
	/* fcntl only for record locks (F_GETLK, F_SETLK). */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
			      SCMP_A1(SCMP_CMP_EQ, F_GETLK));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
			      SCMP_A1(SCMP_CMP_EQ, F_SETLK));
	/* stat of a descriptor (AT_EMPTY_PATH), and directfs's stat beneath a
	 * donated directory: a real descriptor (a non-negative 32-bit int,
	 * the high bits zero: never AT_FDCWD, so never the empty root), and
	 * never following a final symbolic link.  Replaces fstat. */
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 2,
			      SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffff80000000ULL, 0),
			      SCMP_A3(SCMP_CMP_MASKED_EQ, AT_SYMLINK_NOFOLLOW,
				      AT_SYMLINK_NOFOLLOW));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
			      SCMP_A0(SCMP_CMP_EQ, ARCH_SET_FS));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
			      SCMP_A0(SCMP_CMP_EQ, ARCH_SET_GS));
	return r;
}

/* The export of 'ctx' (BPF or PFC, by 'export') as bytes; NULL on failure. */
static char *export_to_memory(scmp_filter_ctx ctx, int (*export)(const scmp_filter_ctx, int),
			      size_t *len)
{
	int fd = memfd_create("moat-filter", MFD_CLOEXEC);
	if (fd < 0 || export(ctx, fd) < 0)
		return NULL;
	off_t size = lseek(fd, 0, SEEK_END);
	char *buf = malloc((size_t)size + 1);
	if (!buf || pread(fd, buf, (size_t)size, 0) != size)
		return NULL;
	close(fd);
	buf[size] = 0;
	*len = (size_t)size;
	return buf;
}

int main(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	size_t blen, plen;
	char *bpf, *pfc;
	if (!ctx || add_rules(ctx) != 0 ||
	    !(bpf = export_to_memory(ctx, seccomp_export_bpf, &blen)) ||
	    !(pfc = export_to_memory(ctx, seccomp_export_pfc, &plen))) {
		fprintf(stderr, "filter_rules: cannot build the seccomp allowlist\n");
		return 1;
	}
	printf("/* Generated by monitor/filter_rules.c at build time; do not edit. */\n");
	printf("static const struct sock_filter allowlist[] = {\n");
	const struct sock_filter *f = (const struct sock_filter *)bpf;
	for (size_t i = 0; i < blen / sizeof(*f); i++)
		printf("\t{ 0x%04x, %u, %u, 0x%08x },\n", f[i].code, f[i].jt, f[i].jf, f[i].k);
	printf("};\n\nstatic const char allowlist_pfc[] =\n\t\"");
	for (size_t i = 0; i < plen; i++) {
		unsigned char c = (unsigned char)pfc[i];
		if (c == '\n')
			printf(i + 1 < plen ? "\\n\"\n\t\"" : "\\n");
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 32 || c > 126)
			printf("\\%03o", c);
		else
			putchar(c);
	}
	printf("\";\n\n");
	/* plain + recvmsg + clone + dup3 + socketpair + getsockopt + fcntl
	 * + newfstatat + arch_prctl */
	printf("#define ALLOWLIST_CALLS %zu\n",
	       sizeof(plain_calls) / sizeof(plain_calls[0]) + 8);
	seccomp_release(ctx);
	return 0;
}
