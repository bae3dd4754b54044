/*
 * fuzz_channel.c -- libFuzzer target: one packet on a picoprocess's
 * monitor channel, served by the monitor's own code.
 *
 * The input is written as one SOCK_SEQPACKET packet, exactly as a
 * hijacked PAL could, and moat_channel_serve() receives, parses
 * (moat_request_parse) and handles it against a policy with a read-only
 * and a writable mapping of fixture directories full of hostile links.
 * There are no network grants, so no request makes network traffic; the
 * endpoint parser still sees every MOAT_OP_NET.
 * A zombie child that had a (permissive) seccomp filter stands in for the
 * picoprocess, so HELLO passes and a kill for a protocol violation lands
 * on it without effect.
 *
 * With bit 0x40 of the header's last byte set, the packet is a flood: it
 * is sent FLOOD_MAX times (as many as the socket takes) and served after
 * each, with no reply read, as a hijacked PAL could; the monitor must
 * neither block (libFuzzer's timeout would catch it) nor keep serving a
 * channel whose replies pile up.
 *
 * Beyond the sanitizers, it traps when:
 *  - a request that changes something succeeds in the read-only mapping;
 *  - anything outside the writable fixture changes: the canary file's
 *    mode, size or link count, or the set of names beside it;
 *  - the read-only mapping nested in the writable fixture (rw/nest, also
 *    mapped at /nest) changes or moves, whatever path reaches it.
 *  - a flood of requests that are each answered did not end the
 *    picoprocess for not reading its replies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include "monitor_int.h"

static char base[256], ro[300], rw[300], outside[300], canary[320], nest[320];
static struct stat canary_st, ro_file_st, nest_file_st;
static int outside_names, ro_names, nest_names;
static struct pico pp;
static int peer = -1;

static void die(const char *what)
{
	perror(what);
	abort();
}

/* The picoprocess's stand-in: a child that installs a permissive seccomp
 * filter and exits.  Left unreaped, it is a zombie whose status still
 * says "Seccomp: 2", and the monitor's SIGKILL for a violation reaches
 * it harmlessly, so it never needs replacing. */
static pid_t stand_in(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = { 1, &allow };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(1);
		_exit(0);
	}
	return pid;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	/* Never through a link: the fixture's "root" link points at "/". */
	if (flag != FTW_SL && flag != FTW_SLN)
		chmod(path, 0700);
	return remove(path) < 0 && errno != ENOENT ? 0 : 0;
}

static void cleanup(void)
{
	if (base[0])
		nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int count_names(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST)
		return; /* still there (its content may differ: that is fine) */
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(p);
	close(fd);
}

static void link_to(const char *dir, const char *name, const char *target)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (symlink(target, p) < 0 && errno != EEXIST)
		die(p);
}

/* The hostile tree, in both mappings: links out by absolute and
 * relative paths, to the mapping's parent, a loop, a FIFO. */
static void populate(const char *dir)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/sub", dir);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		die(p);
	put(dir, "file", "data\n");
	put(p, "inner", "inner\n");
	link_to(dir, "abs", canary);
	link_to(dir, "rel", "../outside/canary");
	link_to(dir, "up", "..");
	link_to(dir, "root", "/");
	link_to(dir, "loop", "loop");
	link_to(dir, "virt", "/ro/file");
	link_to(dir, "self", "/proc/self/root/etc/passwd");
	link_to(p, "back", "../../outside");
	/* Texts with a 3000-byte component (issue 12, finding 2): absolute,
	 * relative, mid-path and after "..": each must be ENAMETOOLONG, never
	 * a copy into a NAME_MAX + 1 buffer. */
	static char text[3200];
	char longname[3001];
	memset(longname, 'A', 3000);
	longname[3000] = 0;
	snprintf(text, sizeof(text), "/rw/%s", longname);
	link_to(dir, "longabs", text);
	link_to(dir, "longrel", longname);
	snprintf(text, sizeof(text), "sub/%s/x", longname);
	link_to(dir, "longmid", text);
	snprintf(text, sizeof(text), "../%s", longname);
	link_to(dir, "longdots", text);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	if (mkfifo(p, 0644) < 0 && errno != EEXIST)
		die(p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char err[512];
	/* $TMPDIR lets a test give each run a folder of its own, to check
	 * that this run, not another one beside it, cleaned up. */
	const char *tmp = getenv("TMPDIR");
	snprintf(base, sizeof(base), "%s/moat-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base))
		die("mkdtemp");
	atexit(cleanup);
	snprintf(ro, sizeof(ro), "%s/ro", base);
	snprintf(rw, sizeof(rw), "%s/rw", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(canary, sizeof(canary), "%s/canary", outside);
	if (mkdir(ro, 0755) < 0 || mkdir(rw, 0777) < 0 || mkdir(outside, 0755) < 0)
		die("mkdir");
	put(outside, "canary", "secret\n");
	chmod(canary, 0600);
	populate(ro);
	populate(rw);
	/* A read-only mapping nested in the writable one (finding 4): it
	 * must stay unchanged whatever is renamed or written through /rw. */
	snprintf(nest, sizeof(nest), "%s/nest", rw);
	if (mkdir(nest, 0755) < 0 && errno != EEXIST)
		die(nest);
	put(nest, "file", "nested\n");
	if (stat(canary, &canary_st) < 0)
		die(canary);
	outside_names = count_names(outside);
	ro_names = count_names(ro);
	snprintf(err, sizeof(err), "%s/file", ro);
	if (stat(err, &ro_file_st) < 0)
		die(err);
	snprintf(err, sizeof(err), "%s/file", nest);
	if (stat(err, &nest_file_st) < 0)
		die(err);
	nest_names = count_names(nest);

	struct moat_manifest m;
	moat_manifest_init(&m, "fuzz");
	m.entry = strdup("/ro/file");
	if (moat_manifest_map(&m, ro, "/ro", 0, 0, err, sizeof(err)) < 0 ||
	    moat_manifest_map(&m, rw, "/rw", 1, 0, err, sizeof(err)) < 0 ||
	    moat_manifest_map(&m, canary, "/deep/single", 0, 0, err, sizeof(err)) < 0 ||
	    moat_manifest_map(&m, nest, "/nest", 0, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_channel: %s\n", err);
		abort();
	}
	pp.policy = moat_policy_new(&m, err, sizeof(err));
	if (!pp.policy) {
		fprintf(stderr, "fuzz_channel: %s\n", err);
		abort();
	}
	moat_manifest_free(&m);
	snprintf(pp.name, sizeof(pp.name), "fuzz");
	pp.snap_later = -1; /* no image comes later: "snapshot:in" is answered */
	pp.pid = stand_in();
	return 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_mode == b->st_mode && a->st_size == b->st_size &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void check_outside(void)
{
	struct stat st;
	char p[256];
	snprintf(p, sizeof(p), "%s/file", ro);
	if (stat(p, &st) < 0 || !same_file(&st, &ro_file_st) || count_names(ro) != ro_names) {
		fprintf(stderr, "fuzz_channel: a request changed the read-only mapping\n");
		__builtin_trap();
	}
	snprintf(p, sizeof(p), "%s/file", nest);
	if (stat(p, &st) < 0 || !same_file(&st, &nest_file_st) || count_names(nest) != nest_names) {
		fprintf(stderr, "fuzz_channel: a request moved or changed the nested read-only mapping\n");
		__builtin_trap();
	}
	if (lstat(canary, &st) < 0 || !same_file(&st, &canary_st) ||
	    count_names(outside) != outside_names) {
		fprintf(stderr, "fuzz_channel: a request changed the host outside its mapping\n");
		__builtin_trap();
	}
}

static int changes_something(const struct moat_msg_hdr *h)
{
	switch (h->op) {
	case MOAT_OP_DELETE: case MOAT_OP_RENAME: case MOAT_OP_SYMLINK:
	case MOAT_OP_LINK:
		return 1;
	case MOAT_OP_SETATTR:
		return (h->a & 15) != 0;
	case MOAT_OP_OPEN:
		return (h->a & MOAT_ACCESS_WRITE) ||
		       (h->a & (MOAT_OPEN_CREATE | MOAT_OPEN_TRUNCATE | MOAT_OPEN_MKDIR));
	}
	return 0;
}

/* Read every reply; close any descriptor passed with one. */
static int32_t drain(uint32_t op)
{
	char buf[MOAT_MSG_MAX + 64];
	int32_t result = 1; /* no reply */
	for (;;) {
		union {
			char c[CMSG_SPACE(4 * sizeof(int))];
			struct cmsghdr align;
		} cm;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = cm.c, .msg_controllen = sizeof(cm.c) };
		ssize_t n = recvmsg(peer, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n <= 0)
			return result;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int nfd = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < nfd; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
		struct moat_msg_hdr rh;
		if ((size_t)n >= sizeof(rh)) {
			memcpy(&rh, buf, sizeof(rh));
			if (rh.op == op)
				result = rh.a;
		}
	}
}

#define FLOOD_MAX 400

/* Would a well-formed request with this header get a reply? */
static int always_answered(const struct moat_msg_hdr *h)
{
	switch (h->op) {
	case MOAT_OP_OPEN: case MOAT_OP_STAT: case MOAT_OP_READLINK:
	case MOAT_OP_DELETE: case MOAT_OP_RENAME: case MOAT_OP_SETATTR:
	case MOAT_OP_SYMLINK: case MOAT_OP_LINK: case MOAT_OP_CHANNEL:
		return 1;
	}
	return 0;
}

/* The flood: send and serve until the monitor gives up on the channel. */
static void flood(const uint8_t *data, size_t size)
{
	struct moat_request rq;
	struct moat_msg_hdr h;
	int sent = 0, served = 0;
	memcpy(&h, data, sizeof(h));
	while (sent < FLOOD_MAX && send(peer, data, size, MSG_DONTWAIT) == (ssize_t)size) {
		sent++;
		if (moat_channel_serve(&pp, 0) < 0)
			return;
		served++;
	}
	for (; served < sent; served++) /* queued, not yet served */
		if (moat_channel_serve(&pp, 0) < 0)
			return;
	if (pp.hello && served >= FLOOD_MAX && always_answered(&h) &&
	    moat_request_parse(data, size, &rq) == 0 && !pp.exit.by_monitor) {
		fprintf(stderr, "fuzz_channel: %d unread replies and the channel still served\n",
			served);
		__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair");
	int sndbuf = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	peer = sv[1];
	int chans[1] = { sv[0] };
	pp.chans = malloc(sizeof(int));
	pp.chans[0] = chans[0];
	pp.nchans = 1;
	/* Has the picoprocess said hello yet?  Yes, unless the top bit of
	 * the header's b field (a mode or a signal number) is set. */
	pp.hello = size < 16 || !(data[15] & 0x80);
	memset(&pp.exit, 0, sizeof(pp.exit));
	pp.reported_exit = 0;

	if (size >= 16 && (data[15] & 0x40)) {
		flood(data, size);
	} else if (size == 0 || send(peer, data, size, MSG_DONTWAIT) == (ssize_t)size) {
		if (size == 0)
			shutdown(peer, SHUT_WR);
		moat_channel_serve(&pp, 0);
	}
	struct moat_msg_hdr h = { 0 };
	if (size >= sizeof(h))
		memcpy(&h, data, sizeof(h));
	int32_t result = drain(h.op);
	if (size >= sizeof(h) && result >= 0 && result != 1 && changes_something(&h)) {
		struct moat_request rq;
		if (moat_request_parse(data, size, &rq) == 0 && rq.path &&
		    (!strncmp(rq.path, "/ro", 3) || !strncmp(rq.path, "/deep", 5)) &&
		    (!rq.path2 || h.op == MOAT_OP_SYMLINK || !strncmp(rq.path2, "/ro", 3))) {
			fprintf(stderr, "fuzz_channel: op %u on %s succeeded in a read-only mapping\n",
				h.op, rq.path);
			__builtin_trap();
		}
	}
	check_outside();
	moat_sockets_close(&pp); /* relays and unix names it made */

	for (int c = 0; c < pp.nchans; c++)
		if (pp.chans[c] >= 0)
			close(pp.chans[c]);
	free(pp.chans);
	pp.chans = NULL;
	pp.nchans = 0;
	close(peer);
	/* The writable fixture may have been rearranged: put it back. */
	populate(rw);
	return 0;
}
