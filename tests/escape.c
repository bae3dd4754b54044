/*
 * escape.c -- try to reach the host from inside a picoprocess.
 *
 *   escape MODE ATTEMPT [ARG]
 *
 * MODE
 *   raw   execute a 'syscall' instruction from the app's own code (not a
 *         libc wrapper): the seccomp filter traps it and the LibOS decides.
 *   gate  load the registers by the kernel convention and 'call' the PAL's
 *         gate at MOAT_GATE_ADDR (0x6f0000000000: 'syscall; ret'), so the
 *         host kernel sees the call coming from the one allowed address and
 *         only the filter's allowlist stands in the way.
 *
 * ATTEMPT [ARG]
 *   openat PATH     openat(AT_FDCWD, PATH, O_RDONLY)
 *   socket [PORT]   socket(AF_INET, SOCK_STREAM, 0); if that works, connect
 *                   to 127.0.0.1:PORT
 *   ptrace PID      ptrace(PTRACE_ATTACH, PID)
 *   kill PID        kill(PID, SIGKILL)
 *   kill1           kill(1, SIGKILL)
 *   killall         kill(-1, SIGKILL)
 *   killgroup       kill(0, SIGKILL): the caller's process group, which
 *                   the host shell shares with moat unless the sandbox
 *                   starts the picoprocess in a session of its own
 *   mount DIR       mount("tmpfs", DIR, "tmpfs", 0, NULL)
 *   unshare         unshare(CLONE_NEWUSER)
 *   execve CMD      execve("/bin/sh", {"sh", "-c", CMD}, {NULL})
 *   fork [pal]      clone(SIGCHLD) -- a new process rather than a thread;
 *                   with "pal", the flags the PAL itself forks with
 *                   (CLONE_CHILD_SETTID | SIGCHLD).  A child exits at once.
 *   chmodlink PATH  forge a MOAT_OP_SETATTR (chmod 0777, no-follow) for
 *                   PATH, a symlink in a writable mapping to a host file
 *   channel PATH    bypass the LibOS and PAL: write a MOAT_OP_OPEN request
 *                   for PATH on the monitor channel (fd 3), as the PAL
 *                   does, and read the reply with recvmsg
 *   chanread PATH [HOW]
 *                   forge a MOAT_OP_OPEN for PATH (a = HOW, default 1:
 *                   read); a descriptor passed back is read and up to
 *                   4 KiB of it printed ("received descriptor, read N
 *                   bytes: ...", control bytes as '.')
 *   chanstat PATH   forge a MOAT_OP_STAT (following links)
 *   chanreadlink PATH
 *                   forge a MOAT_OP_READLINK
 *   sendto FD PORT  in a child forked with the PAL's flags (so that the
 *                   parent keeps the monitor channel open), move FD onto
 *                   the channel's number (dup3(FD, 3, 0)) and sendmsg a
 *                   UDP datagram through it to 127.0.0.1:PORT: the filter
 *                   checks sendmsg's descriptor by number only.  Matters
 *                   where FD is a host socket given as a console (stdin).
 *                   Result: 0 if the child sent it, else -errno; -EINTR
 *                   after "the child was killed by signal N".
 *   threads N       create N host threads with clone() and the PAL's exact
 *                   thread flags (allowlisted), report how many started,
 *                   then exit (which ends them all)
 *   ftruncate FD    ftruncate(FD, 0) -- on a console descriptor the host
 *                   file behind it, if any, is the caller's own
 *   udprelay GRANTED PORT
 *                   through the LibOS, send one UDP datagram to the
 *                   granted 127.0.0.1:GRANTED (the monitor makes a relay);
 *                   then write forged relay packets (struct moat_datagram
 *                   headers) with host write() on every descriptor from 5
 *                   to 63: one addressed to 127.0.0.1:PORT, one to the
 *                   granted port.  Result: how many descriptors took them.
 *
 * Output: one line, "MODE ATTEMPT: RESULT (ERRNO-NAME)", e.g.
 * "raw openat: -2 (ENOENT)".  In gate mode a line "gate ATTEMPT: calling
 * the gate" comes first, because the filter usually ends the process
 * before the result can be printed.  Exit status 0 once a result has been
 * printed, 2 on a usage error.
 *
 * Built static by the Makefile (build/tests/escape); it runs as an
 * ordinary app inside `moat run`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "moat/channel.h"

static int gate_mode;

/* A system call from the app's own code: the instruction pointer is here,
 * not at the gate. */
static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5,
			long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret = nr;
	__asm__ volatile("syscall"
			 : "+a"(ret)
			 : "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The same call made by jumping into the PAL's gate.  'call' pushes a
 * return address, so step over the red zone the compiler may be using
 * below the stack pointer first. */
static long gate_syscall(long nr, long a1, long a2, long a3, long a4, long a5,
			 long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret = nr;
	__asm__ volatile("sub $128, %%rsp\n\t"
			 "call *%[gate]\n\t"
			 "add $128, %%rsp"
			 : "+a"(ret)
			 : [gate] "r"((uintptr_t)MOAT_GATE_ADDR), "D"(a1),
			   "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory", "cc");
	return ret;
}

static long sys6(long nr, long a1, long a2, long a3, long a4, long a5,
		 long a6)
{
	return gate_mode ? gate_syscall(nr, a1, a2, a3, a4, a5, a6)
			 : raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}
#define SYS(nr, a1, a2, a3, a4) sys6(nr, (long)(a1), (long)(a2), \
				     (long)(a3), (long)(a4), 0, 0)

static const char *err_name(long r)
{
	static const struct { int e; const char *name; } names[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" },
		{ EINTR, "EINTR" }, { EIO, "EIO" }, { EBADF, "EBADF" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EACCES, "EACCES" },
		{ EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { ENOTDIR, "ENOTDIR" },
		{ EINVAL, "EINVAL" }, { EROFS, "EROFS" }, { ENOSYS, "ENOSYS" },
		{ ELOOP, "ELOOP" }, { ECONNREFUSED, "ECONNREFUSED" },
		{ ENETUNREACH, "ENETUNREACH" }, { EAFNOSUPPORT, "EAFNOSUPPORT" },
		{ ENOTSOCK, "ENOTSOCK" }, { EPROTO, "EPROTO" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { EEXIST, "EEXIST" },
		{ EXDEV, "EXDEV" }, { EISDIR, "EISDIR" },
	};
	if (r >= 0)
		return "success";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == -r)
			return names[i].name;
	return "?";
}

static void report(const char *mode, const char *attempt, long r)
{
	printf("%s %s: %ld (%s)\n", mode, attempt, r, err_name(r));
	fflush(stdout);
}

/* Forge any request on the monitor channel: header (op, a, b) and
 * payload; the reply's data goes to 'out' (up to 'outlen' bytes, the
 * count to *got), a passed descriptor to *fd.  Returns the result. */
static long channel_req(uint32_t op, int32_t a, uint32_t b, const void *payload,
			size_t plen, void *out, size_t outlen, long *got, int *fd)
{
	static char req[MOAT_MSG_MAX];
	struct moat_msg_hdr hdr = { op, (uint32_t)plen, a, b };
	memcpy(req, &hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), payload, plen);
	long r = SYS(SYS_write, MOAT_CHANNEL_FD, req, sizeof(hdr) + plen, 0);
	if (r < 0)
		return r;
	struct moat_msg_hdr rh;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec riov[2] = { { &rh, sizeof(rh) }, { out, outlen } };
	struct msghdr rm = { .msg_iov = riov, .msg_iovlen = 2,
			     .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	r = SYS(SYS_recvmsg, MOAT_CHANNEL_FD, &rm, 0, 0);
	if (r < 0)
		return r;
	if (r < (long)sizeof(rh))
		return -EPROTO;
	*got = r - (long)sizeof(rh);
	struct cmsghdr *c = CMSG_FIRSTHDR(&rm);
	*fd = c && c->cmsg_type == SCM_RIGHTS ? *(int *)CMSG_DATA(c) : -1;
	return rh.a;
}

/* Forge one open request on the monitor channel and read the answer.
 * Returns the monitor's result; a descriptor passed back is noted. */
static long channel_open(const char *path, int *got_fd)
{
	char ignored[1];
	long got;
	size_t plen = strnlen(path, MOAT_PATH_MAX - 1) + 1;
	return channel_req(MOAT_OP_OPEN, 1 /* MOAT_ACCESS_READ */, 0, path, plen,
			   ignored, 0, &got, got_fd);
}


/* chanread/chanstat/chanreadlink: one forged request for PATH; a file
 * passed back is read (up to 4 KiB, control bytes shown as '.'). */
static long channel_path_op(const char *what, const char *path, long how)
{
	static char data[MOAT_PATH_MAX];
	uint32_t op = !strcmp(what, "chanstat") ? MOAT_OP_STAT
		      : !strcmp(what, "chanreadlink") ? MOAT_OP_READLINK : MOAT_OP_OPEN;
	long got = 0;
	int fd = -1;
	long r = channel_req(op, (int32_t)how, 0644, path, strlen(path) + 1, data,
			     sizeof(data), &got, &fd);
	if (op == MOAT_OP_READLINK && r > 0)
		printf("%s: %ld bytes of link text\n", what, r);
	if (fd >= 0) {
		long n = SYS(SYS_read, fd, data, sizeof(data), 0);
		for (long i = 0; i < n; i++)
			if (data[i] < 32 || data[i] > 126)
				data[i] = '.';
		printf("%s: received descriptor, read %ld bytes: %.*s\n", what, n,
		       n > 0 ? (int)n : 0, data);
	}
	return r;
}

/* Forge a MOAT_OP_SETATTR request (chmod, with the no-follow bit) on the
 * monitor channel: the monitor must not follow a final symlink on the
 * host. */
static long channel_chmod(const char *path, unsigned mode)
{
	static char req[MOAT_MSG_MAX];
	size_t plen = strnlen(path, MOAT_PATH_MAX - 1) + 1;
	int64_t times[2] = { 0, 0 };
	struct moat_msg_hdr hdr = { MOAT_OP_SETATTR, (uint32_t)(plen + sizeof(times)),
				    1 /* MOAT_ATTR_MODE */ | 1 << 8 /* nofollow */, mode };
	memcpy(req, &hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), path, plen);
	memcpy(req + sizeof(hdr) + plen, times, sizeof(times));
	long r = SYS(SYS_write, MOAT_CHANNEL_FD, req, sizeof(hdr) + plen + sizeof(times), 0);
	if (r < 0)
		return r;
	struct moat_msg_hdr rh;
	struct iovec riov = { &rh, sizeof(rh) };
	struct msghdr rm = { .msg_iov = &riov, .msg_iovlen = 1 };
	r = SYS(SYS_recvmsg, MOAT_CHANNEL_FD, &rm, 0, 0);
	if (r < (long)sizeof(rh))
		return r < 0 ? r : -EPROTO;
	return rh.a;
}

/* Threads for the 'threads' attempt.  The new thread's stack holds the
 * address of thread_park: through the gate, the gate's own 'ret' pops it
 * (the PAL's protocol); from a raw 'syscall', the child (rax 0) executes
 * the 'ret' below.  No libc in the threads: %fs is the main thread's. */
static volatile int park_word;
static volatile int started;

static _Noreturn void thread_park(void)
{
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		sys6(SYS_futex, (long)&park_word, 0 /* FUTEX_WAIT */, 0, 0, 0, 0);
}

static long clone_thread(long flags, uint64_t *sp, int *tid)
{
	register long r10 __asm__("r10") = (long)tid;
	long ret = SYS_clone;
	if (gate_mode)
		__asm__ volatile("sub $128, %%rsp\n\t"
				 "call *%[gate]\n\t"
				 "add $128, %%rsp"
				 : "+a"(ret)
				 : [gate] "r"((uintptr_t)MOAT_GATE_ADDR),
				   "D"(flags), "S"(sp), "d"(tid), "r"(r10)
				 : "rcx", "r11", "r8", "r9", "memory", "cc");
	else
		__asm__ volatile("syscall\n\t"
				 "test %%rax, %%rax\n\t"
				 "jnz 1f\n\t"
				 "ret\n"
				 "1:"
				 : "+a"(ret)
				 : "D"(flags), "S"(sp), "d"(tid), "r"(r10)
				 : "rcx", "r11", "r8", "r9", "memory", "cc");
	return ret;
}

/* Sleep by a timed futex wait on a word nobody wakes: the PAL sleeps the
 * same way, so it is on the allowlist (clock_nanosleep is not). */
static void nap(const struct timespec *ts)
{
	static int never;
	SYS(SYS_futex, &never, 128 /* FUTEX_WAIT_PRIVATE */, 0, ts);
}

static long make_threads(long n)
{
	const long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
			   CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID |
			   CLONE_CHILD_CLEARTID;
	const size_t stack = 16384;
	static int tid;
	long made = 0;
	for (; made < n; made++) {
		long mem = SYS(SYS_mmap, 0, stack, 3 /* RW */, 0x22 /* PRIVATE|ANON */);
		if (mem < 0 && mem > -4096)
			return made ? made : mem;
		uint64_t *sp = (uint64_t *)(mem + (long)stack) - 2;
		sp[0] = (uint64_t)(uintptr_t)thread_park;
		long r = clone_thread(flags, sp, &tid);
		if (r < 0)
			return made ? made : r;
	}
	/* Wait (at most ~2 s) until they are all running. */
	for (int i = 0; i < 2000 && __atomic_load_n(&started, __ATOMIC_SEQ_CST) < made; i++) {
		struct timespec ts = { 0, 1000000 };
		nap(&ts);
	}
	return __atomic_load_n(&started, __ATOMIC_SEQ_CST);
}

static long send_elsewhere(int fd, int port)
{
	static int ctid;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct iovec iov = { "escaped\n", 8 };
	struct msghdr m = { .msg_name = &sa, .msg_namelen = sizeof(sa),
			    .msg_iov = &iov, .msg_iovlen = 1 };
	long pid = SYS(SYS_clone, CLONE_CHILD_SETTID | SIGCHLD, 0, 0, &ctid);
	if (pid == 0) {
		long r = SYS(SYS_dup3, fd, MOAT_CHANNEL_FD, 0, 0);
		if (r >= 0)
			r = SYS(SYS_sendmsg, MOAT_CHANNEL_FD, &m, 0, 0);
		sys6(SYS_exit_group, r >= 0 ? 0 : -r & 0xff, 0, 0, 0, 0, 0);
	}
	if (pid < 0)
		return pid;
	int status = 0;
	long w = SYS(SYS_wait4, pid, &status, 0, 0);
	if (w < 0)
		return w;
	if ((status & 0x7f) != 0) { /* killed by a signal */
		printf("sendto: the child was killed by signal %d\n", status & 0x7f);
		return -EINTR;
	}
	return -(long)((status >> 8) & 0xff);
}

static long forge_relay(int granted, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)granted),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_DGRAM, 0); /* the LibOS's, through the filter's trap */
	if (s < 0 || sendto(s, "legit", 5, 0, (struct sockaddr *)&sa, sizeof(sa)) != 5)
		return -errno;
	struct { struct moat_datagram h; char data[12]; } pkt;
	long took = 0;
	for (int fd = 5; fd < 64; fd++) {
		pkt.h = (struct moat_datagram){ htonl(INADDR_LOOPBACK), htons((uint16_t)port), 0 };
		memcpy(pkt.data, "escaped-udp!", 12);
		long r = gate_syscall(SYS_write, fd, (long)&pkt, sizeof(pkt), 0, 0, 0);
		pkt.h.port = htons((uint16_t)granted);
		memcpy(pkt.data, "forged-ok...", 12);
		if (r == (long)sizeof(pkt) &&
		    gate_syscall(SYS_write, fd, (long)&pkt, sizeof(pkt), 0, 0, 0) == (long)sizeof(pkt))
			took++;
	}
	struct timespec ts = { 0, 300000000 }; /* let the monitor relay them */
	nap(&ts);
	return took;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: escape raw|gate openat PATH | socket [PORT] | ptrace PID |\n"
		"       kill PID | kill1 | killall | killgroup | mount DIR | unshare |\n"
		"       execve CMD | fork [pal] | channel PATH | sendto FD PORT |\n"
		"       threads N | ftruncate FD | udprelay GRANTED PORT |\n"
		"       chanread PATH [HOW] | chanstat PATH | chanreadlink PATH\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *mode = argv[1], *what = argv[2];
	const char *arg = argc > 3 ? argv[3] : NULL;
	if (!strcmp(mode, "gate"))
		gate_mode = 1;
	else if (strcmp(mode, "raw"))
		return usage();
	if (gate_mode) {
		printf("gate %s: calling the gate\n", what);
		fflush(stdout);
	}

	long r;
	if (!strcmp(what, "openat") && arg) {
		r = SYS(SYS_openat, AT_FDCWD, arg, O_RDONLY, 0);
		report(mode, what, r);
		if (r >= 0) { /* show that it really is the file */
			char buf[64] = { 0 };
			long n = SYS(SYS_read, r, buf, sizeof(buf) - 1, 0);
			printf("%s openat: read %ld bytes: %.*s\n", mode, n,
			       n > 0 ? (int)strcspn(buf, "\n") : 0, buf);
		}
	} else if (!strcmp(what, "socket")) {
		/* The LibOS may hand out a socket of its own; what must fail
		 * is reaching the host, so a made socket reports its connect. */
		r = SYS(SYS_socket, AF_INET, SOCK_STREAM, 0, 0);
		if (r >= 0 && arg) {
			struct sockaddr_in sa = { .sin_family = AF_INET,
						  .sin_port = htons((uint16_t)atoi(arg)),
						  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			printf("%s socket: got descriptor %ld, connecting\n", mode, r);
			r = SYS(SYS_connect, r, &sa, sizeof(sa), 0);
		}
		report(mode, what, r);
	} else if (!strcmp(what, "ptrace") && arg) {
		r = SYS(SYS_ptrace, PTRACE_ATTACH, atol(arg), 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "kill") && arg) {
		r = SYS(SYS_kill, atol(arg), SIGKILL, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "kill1")) {
		r = SYS(SYS_kill, 1, SIGKILL, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "killall")) {
		r = SYS(SYS_kill, -1, SIGKILL, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "killgroup")) {
		r = SYS(SYS_kill, 0, SIGKILL, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "mount") && arg) {
		r = sys6(SYS_mount, (long)"tmpfs", (long)arg, (long)"tmpfs", 0, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "unshare")) {
		r = SYS(SYS_unshare, CLONE_NEWUSER, 0, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "execve") && arg) {
		char *av[] = { "sh", "-c", (char *)arg, NULL }, *ev[] = { NULL };
		r = SYS(SYS_execve, "/bin/sh", av, ev, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "fork")) {
		static int ctid;
		long flags = SIGCHLD;
		if (arg && !strcmp(arg, "pal"))
			flags |= CLONE_CHILD_SETTID;
		r = SYS(SYS_clone, flags, 0, 0, &ctid);
		if (r == 0) /* the child */
			sys6(SYS_exit_group, 0, 0, 0, 0, 0, 0);
		report(mode, what, r);
	} else if (!strcmp(what, "chmodlink") && arg) {
		r = channel_chmod(arg, 0777);
		report(mode, what, r);
	} else if (!strcmp(what, "channel") && arg) {
		int fd = -1;
		r = channel_open(arg, &fd);
		report(mode, what, r);
		if (fd >= 0)
			printf("%s channel: received host descriptor %d\n", mode, fd);
	} else if ((!strcmp(what, "chanread") || !strcmp(what, "chanstat") ||
		    !strcmp(what, "chanreadlink")) && arg) {
		r = channel_path_op(what, arg, argc > 4 ? strtol(argv[4], NULL, 0) : 1);
		report(mode, what, r);
	} else if (!strcmp(what, "sendto") && arg && argc > 4) {
		r = send_elsewhere(atoi(arg), atoi(argv[4]));
		report(mode, what, r);
	} else if (!strcmp(what, "threads") && arg) {
		r = make_threads(atol(arg));
		report(mode, what, r);
		if (r > 0) { /* stay a moment so the host can count them */
			struct timespec ts = { 0, 300000000 };
			nap(&ts);
		}
	} else if (!strcmp(what, "udprelay") && arg && argc > 4) {
		r = forge_relay(atoi(arg), atoi(argv[4]));
		report(mode, what, r);
	} else if (!strcmp(what, "ftruncate") && arg) {
		r = SYS(SYS_ftruncate, atol(arg), 0, 0, 0);
		report(mode, what, r);
	} else {
		return usage();
	}
	return 0;
}
