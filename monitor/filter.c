/*
 * filter.c -- the seccomp filter every picoprocess runs under.
 *
 * Two parts, one program:
 *   1. A hand-written prefix: if the instruction pointer is not just past
 *      the PAL's gate (MOAT_GATE_ADDR + 2), return TRAP, so the LibOS
 *      emulates the call.  libseccomp cannot test the instruction pointer.
 *   2. libseccomp's allowlist for calls made from the gate, with argument
 *      checks, default KILL_PROCESS.  It also rejects foreign
 *      architectures and x32 numbers.
 * docs/security.md lists every allowed call with its reason; keep the
 * two in step (tests/test_filter.sh checks the count).
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "moat/channel.h"
#include "monitor.h"

#define PAL_THREAD_FLAGS                                                 \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
	 CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
#define PAL_FORK_FLAGS (CLONE_CHILD_SETTID | SIGCHLD)

/* Calls allowed from the gate with any arguments. */
static const int plain_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(pread64), SCMP_SYS(pwrite64),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(ftruncate), SCMP_SYS(fsync),
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
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
			      SCMP_A0(SCMP_CMP_EQ, ARCH_SET_FS));
	r |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(arch_prctl), 1,
			      SCMP_A0(SCMP_CMP_EQ, ARCH_SET_GS));
	return r;
}

int moat_filter_count(void)
{
	/* plain + recvmsg + clone + dup3 + socketpair + getsockopt + fcntl
	 * + arch_prctl */
	return (int)(sizeof(plain_calls) / sizeof(plain_calls[0])) + 7;
}

/* The allowlist in libseccomp's readable form (for `moat filter`). */
int moat_filter_print(int fd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = !ctx || add_rules(ctx) != 0 || seccomp_export_pfc(ctx, fd) < 0 ? -1 : 0;
	if (ctx)
		seccomp_release(ctx);
	return r;
}

struct sock_filter *moat_filter_build(size_t *len, char *err, size_t errlen)
{
	const struct sock_filter prefix[] = {
		/* seccomp_data: nr @0, arch @4, instruction_pointer @8 */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 (uint32_t)((MOAT_GATE_ADDR + 2) >> 32), 0, 2),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 8),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 (uint32_t)(MOAT_GATE_ADDR + 2), 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
	};
	const size_t np = sizeof(prefix) / sizeof(prefix[0]);
	struct sock_filter *out = NULL;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int mfd = memfd_create("moat-filter", MFD_CLOEXEC);
	if (!ctx || mfd < 0 || add_rules(ctx) != 0 || seccomp_export_bpf(ctx, mfd) < 0) {
		snprintf(err, errlen, "cannot build the seccomp filter");
		goto done;
	}
	off_t size = lseek(mfd, 0, SEEK_END);
	size_t n = (size_t)size / sizeof(struct sock_filter);
	out = calloc(np + n, sizeof(*out));
	memcpy(out, prefix, sizeof(prefix));
	if (pread(mfd, out + np, (size_t)size, 0) != size) {
		snprintf(err, errlen, "cannot read back the seccomp filter");
		free(out);
		out = NULL;
		goto done;
	}
	*len = np + n;
done:
	if (mfd >= 0)
		close(mfd);
	if (ctx)
		seccomp_release(ctx);
	return out;
}
